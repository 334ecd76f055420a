"""The tokenization widgets: pure state -> HTML functions, their plain-text twins, and the thin shells."""

from __future__ import annotations

import html
import re

import pytest

from course_utils import storyworld
from course_utils.bpe import BPETokenizer
from course_utils.tokenizers import CharTokenizer, WordTokenizer
from course_utils.widgets import bpe_stepper as stepper
from course_utils.widgets import tokenizer_playground as playground


@pytest.fixture(scope="module")
def tokenizers():
    text = storyworld.load_split("train", 300).text
    return {"char": CharTokenizer.train(text), "word": WordTokenizer.train(text),
            "bpe": BPETokenizer.train(text, 400), "bpe (tiktoken)": BPETokenizer.train(text, 400).to_tiktoken()}


def _spans_text(html_text: str) -> str:
    """The token texts of a rendering, in order, with IDs and markup removed."""
    pieces = re.findall(r'<span title="[^"]*" style="[^"]*">(.*?)<sub', html_text)
    return "".join(html.unescape(p) for p in pieces)


# ------------------------------------------------------------------------------------------- playground

def test_token_spans_cover_the_text_for_every_tokenizer(tokenizers):
    text = "Once upon a time, Lily met a dragon.\n"
    for name, tok in tokenizers.items():
        spans = playground.token_spans(tok, text)
        assert "".join(s.text for s in spans) == text, name
        assert all(s.kind == "token" for s in spans if name.startswith("bpe")), name


def test_unknowns_are_marked_not_raised(tokenizers):
    spans = playground.token_spans(tokenizers["char"], "Zoe")
    assert [s.kind for s in spans] == ["unknown", "token", "token"] and spans[0].id is None
    spans = playground.token_spans(tokenizers["word"], "Once upon a Zyx")
    assert spans[-1].kind == "unknown" and spans[-1].id == 0 and spans[-1].text == " Zyx"


def test_partial_characters_and_special_tokens(tokenizers):
    for name in ("bpe", "bpe (tiktoken)"):
        spans = playground.token_spans(tokenizers[name], "🐉<|endoftext|>")
        assert [s.kind for s in spans] == ["partial"] * 4 + ["special"], name
        assert spans[0].text == "\\xf0" and spans[-1].text == "<|endoftext|>"


def test_playground_html_shows_counts_ids_and_visible_whitespace(tokenizers):
    text = "Lily ran.\nTom\tsat."
    out = playground.playground_html(text, tokenizers)
    bpe_ids = tokenizers["bpe"].encode(text)
    assert f"<b>bpe</b> <span style=\"color:#555\">— {len(bpe_ids)} tokens" in out
    assert f"<b>char</b> <span style=\"color:#555\">— {len(text)} tokens" in out
    for i in bpe_ids:
        assert f">{i}</sub>" in out
    assert "·" in out and "↵" in out and "→" in out and "<br>" in out
    assert _spans_text(playground.playground_html(text, {"bpe": tokenizers["bpe"]})) == "Lily·ran.↵Tom→sat."


def test_playground_escapes_html(tokenizers):
    out = playground.playground_html("<script>alert(1)</script> & \"q\"", {"char": tokenizers["char"]})
    assert "<script>" not in out and "&lt;" in out and "&amp;" in out


def test_playground_survives_empty_and_very_long_input(tokenizers):
    empty = playground.playground_html("", tokenizers)
    assert "(empty text: no tokens)" in empty and "0 characters" in empty
    assert "0 tokens" in playground.playground_text("", tokenizers)
    long_text = storyworld.load_split("validation", 100).text * 3  # about 100,000 characters
    out = playground.playground_html(long_text, tokenizers, max_tokens=50)
    assert out.count("<sub") == 50 * len(tokenizers)
    assert f"{len(long_text) - 50:,} more tokens not shown" in out  # the char tokenizer: one token per character
    assert len(out) < 60_000
    huge = "ab " * 100_000  # 300,000 characters: cut, and said so
    assert "cut to the first" in playground.playground_html(huge, {"char": CharTokenizer("ab ")}, max_tokens=10)


def test_playground_text_is_a_readable_fallback(tokenizers):
    out = playground.playground_text("Lily had.", {"char": tokenizers["char"], "word": tokenizers["word"]})
    assert out.splitlines() == ["9 characters", "char: 9 tokens  L|i|l|y|·|h|a|d|.", "word: 3 tokens  [Lily]|·had|."]


def test_playground_rejects_bad_input(tokenizers):
    with pytest.raises(TypeError):
        playground.playground_html(None, tokenizers)
    with pytest.raises(ValueError):
        playground.playground_html("x", {})
    with pytest.raises(TypeError):
        playground.token_spans(object(), "x")


def test_playground_shell_shows_static_view_then_updates(tokenizers, monkeypatch):
    pytest.importorskip("ipywidgets")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    shell = playground.show({"char": tokenizers["char"]}, text="Lily")
    assert len(shown) == 1 and "Lily" in _spans_text(shown[0]._repr_html_()) and "L|i|l|y" in repr(shown[0])
    box, view = shell.widget.children
    box.value = "Tom"
    assert _spans_text(view.value) == "Tom"
    bundle = shell._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Tokenizer playground")
    assert "application/vnd.jupyter.widget-view+json" in bundle


# ------------------------------------------------------------------------------------------- BPE stepper

def test_trace_follows_the_lecture_example():
    trace = stepper.bpe_trace(stepper.DEFAULT_CORPUS, 3)
    assert len(trace.steps) == 4 and trace.steps[0].chosen is None
    first = trace.steps[1]
    assert first.chosen == (ord("l"), ord("o")) and dict(first.pair_counts)[first.chosen] == 5
    assert dict(first.pair_counts)[(ord("o"), ord("v"))] == 4
    assert dict(first.pair_counts)[(ord("c"), ord("a"))] == 3 and dict(first.pair_counts)[(ord("a"), ord("t"))] == 3
    assert trace.vocab[256] == b"lo"
    words = {bytes(b"".join(trace.vocab[i] for i in ids)): [trace.vocab[i] for i in ids] for ids, _ in first.words}
    assert words[b"lovely"] == [b"lo", b"v", b"e", b"l", b"y"]


def test_trace_merges_are_the_trainers_merges():
    text = storyworld.load_split("validation", 5).text
    trace = stepper.bpe_trace(text, 40)
    tok = BPETokenizer.train(text, 256 + 40, pattern=stepper.WORD_SPLIT, special_tokens=())
    assert trace.merges == tok.merges


def test_step_html_shows_table_choice_and_corpus():
    trace = stepper.bpe_trace(stepper.DEFAULT_CORPUS, 12)
    out = stepper.step_html(trace, 1)
    assert "merge <b>l + o</b> → <b>lo</b> (new ID 256), seen 5 times" in out
    assert 'style="background:#ffcf5c;font-weight:bold"' in out  # the chosen row
    assert "×2" in out and "lovely →" in out
    last = stepper.step_html(trace, len(trace.steps) - 1)
    assert trace.ran_out and "No pairs are left" in last
    assert stepper.step_html(trace, 99) == last and stepper.step_html(trace, -5) == stepper.step_html(trace, 0)
    text = stepper.step_text(trace, 1)
    assert text.splitlines()[0] == "step 1: merge 'l' + 'o' -> 'lo' (ID 256, count 5)"


def test_ties_are_explained():
    trace = stepper.bpe_trace(stepper.DEFAULT_CORPUS, 3)
    assert "2 pairs tie at 4: the smallest IDs win" in stepper.step_html(trace, 2)


def test_stepper_survives_empty_and_very_long_input():
    empty = stepper.bpe_trace("", 5)
    assert len(empty.steps) == 1 and "empty" in stepper.step_html(empty, 0)
    assert stepper.step_text(empty, 0).startswith("step 0")
    long_text = storyworld.load_split("validation", 200).text
    trace = stepper.bpe_trace(long_text, 5)
    assert trace.cut and len(trace.text) == stepper.MAX_CHARS
    out = stepper.step_html(trace, 5)
    assert "cut to its first" in out and "more words" in out and len(out) < 50_000


def test_stepper_rejects_bad_input():
    with pytest.raises(TypeError):
        stepper.bpe_trace(None)
    with pytest.raises(ValueError):
        stepper.bpe_trace("abc", -1)


def test_stepper_shell_steps(monkeypatch):
    pytest.importorskip("ipywidgets")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    shell = stepper.show(step=1)
    assert len(shown) == 1 and "seen 5 times" in shown[0]._repr_html_()
    corpus, words, buttons, view = shell.widget.children
    back, slider, forward = buttons.children
    forward.click()
    assert slider.value == 2 and "Step 2 of" in view.value
    back.click()
    back.click()
    back.click()
    assert slider.value == 0
    corpus.value = "aaa aaa"
    assert slider.max == 2 and "Step 0 of 2" in view.value
    words.value = "aaaa"
    assert "aaaa →" in view.value
    assert shell._repr_mimebundle_()["text/plain"].startswith("BPE step-through")


def test_each_widget_module_has_pure_renderers_and_a_show():
    from course_utils.widgets import bpe_stepper, tokenizer_playground

    for module in (bpe_stepper, tokenizer_playground):
        assert callable(module.show) and set(module.__all__) <= set(dir(module))
