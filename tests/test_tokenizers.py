"""The tokenizer interface (course_utils.tokenizer_base.Tokenizer): the character, word and BPE tokenizers do
the same things with the same names, and no module of the package imports one that imports it back."""

import ast
import json
import pathlib

import numpy as np
import pytest
import torch

from course_utils import storyworld
from course_utils.bpe import BPETokenizer
from course_utils.tokenizer_base import Tokenizer
from course_utils.tokenizers import CharTokenizer, WordTokenizer, tokenizer_from_state

TEXT = storyworld.load_split("train", 60).text
TOKENIZERS = {"char": CharTokenizer.train(TEXT), "word": WordTokenizer.train(TEXT),
              "bpe": BPETokenizer.train(TEXT, 300)}
SAMPLE = "\nOnce upon a time, there was a girl named Lily. She had a red ball.\n"


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_every_tokenizer_has_the_interface(kind):
    tok = TOKENIZERS[kind]
    assert isinstance(tok, Tokenizer) and tok.kind == kind
    ids = tok.encode(SAMPLE)
    assert all(0 <= i < tok.vocab_size for i in ids) and tok.decode(ids) == SAMPLE
    pieces = tok.pieces(SAMPLE)
    assert len(pieces) == len(ids) and "".join(pieces) == SAMPLE
    assert pieces == [tok.decode([i]) for i in ids]          # storyworld text: every token holds its piece
    assert tok.unknown(SAMPLE) == [False] * len(ids)
    assert tok.decode(torch.tensor(ids)) == tok.decode(np.array(ids)) == SAMPLE
    again = tokenizer_from_state(tok.state_dict())
    assert type(again) is type(tok) and again.encode(SAMPLE) == ids
    assert type(tok).from_state(tok.state_dict()).encode(SAMPLE) == ids


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_bad_input_gets_clear_errors(kind):
    tok = TOKENIZERS[kind]
    for method in (tok.encode, tok.pieces, tok.unknown):
        with pytest.raises(TypeError, match="expected text as a str"):
            method(None)
    with pytest.raises(TypeError, match="sequence of token IDs"):
        tok.decode("abc")
    with pytest.raises(TypeError, match="sequence of token IDs"):
        tok.decode(7)
    for bad in ([-1], [tok.vocab_size], [True], [1.0]):
        with pytest.raises(ValueError, match=r"token IDs must be ints in \[0, "):
            tok.decode(bad)
    other = "bpe" if kind != "bpe" else "word"
    with pytest.raises(ValueError, match=f"not a {type(tok).__name__} state"):
        type(tok).from_state(TOKENIZERS[other].state_dict())


def test_pieces_of_unknown_words_and_split_characters():
    word = TOKENIZERS["word"]
    text = " Lily met a dragon named Zyx."
    assert word.pieces(text) == [" Lily", " met", " a", " dragon", " named", " Zyx", "."]
    assert word.unknown(text) == [False, False, False, True, False, True, False]
    assert word.decode(word.encode(text)) == " Lily met a<unk> named<unk>."
    bpe = TOKENIZERS["bpe"]
    text = "Ça va? 🐉"                          # characters of several UTF-8 bytes, not in storyworld
    pieces = bpe.pieces(text)
    assert "".join(pieces) == text and len(pieces) == len(bpe.encode(text))
    assert "" in pieces                       # a byte that only starts a character: the character comes later
    assert bpe.pieces("<|endoftext|>", allowed_special="all") == ["<|endoftext|>"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        TOKENIZERS["char"].pieces("Zyx 🐉")


def test_tokenizer_from_state_rejects_unknown_states():
    for state in ({"type": "bpe?"}, {}, None, ["char"]):
        with pytest.raises(ValueError, match="unknown tokenizer type"):
            tokenizer_from_state(state)


def test_the_package_has_no_import_cycle():
    """No module of course_utils imports, at any depth, a module that imports it (function-level imports
    included): the layering runs one way."""
    root = pathlib.Path(__file__).resolve().parents[1]
    paths = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (root / "course_utils").rglob("*.py")}
    imports = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in paths else target for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        imports[name] = found & paths.keys() - {name}

    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for m in imports[todo.pop()] - seen:
                seen.add(m), todo.append(m)
        return seen

    assert [m for m in sorted(paths) if m in reachable(m)] == [], "modules that import themselves back"


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_every_consumer_reads_a_model_of_any_tokenizer(kind):
    """Coreference's scoring, the attention viewer's data and the decoding explorer's view, on a tiny random
    GPT with each kind of tokenizer (BPE among them)."""
    from course_utils import coreference
    from course_utils.model import GPT, GPTConfig
    from course_utils.widgets.attention_viewer import AttentionData, render_svg, ViewState
    from course_utils.widgets.decoding_explorer import decoding_html, decoding_view

    tok = TOKENIZERS[kind]
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=512, n_layer=2, n_head=2, n_embd=16)).eval()
    stories = storyworld.load_split("train", 60).stories[:3]
    encoded = coreference.encode_stories(stories, tok)
    assert [len(p) for p in encoded.pieces] == [len(i) for i in encoded.ids]
    for link in encoded.links:   # the pronoun's token holds the pronoun; its antecedent is an earlier mention
        assert link.pronoun.startswith(encoded.pieces[link.story][link.pronoun_pos].strip())
        assert link.antecedent_pos in link.mentions and link.antecedent_pos < link.pronoun_pos
    word_level = coreference.encode_stories(stories, TOKENIZERS["word"])
    assert coreference.chance_baselines(encoded)["most_recent_name"] == \
        coreference.chance_baselines(word_level)["most_recent_name"]      # the same names, found in any tokens
    scores = coreference.score_heads(model, encoded)
    assert scores.accuracy.shape == (2, 2) and len(scores.links) == len(encoded.links) - scores.skipped

    data = AttentionData.from_model(model, tok, SAMPLE.strip())
    assert "".join(data.tokens) == SAMPLE.rstrip("\n") and data.attention.shape[:2] == (2, 2)
    assert np.allclose(data.attention.sum(-1), 1, atol=1e-5)
    assert "<svg" in render_svg(data, ViewState("neuron", selected=3))

    view = decoding_view("Once upon a time, there was a", model, tok, temperature=0.8, top_k=5, max_new_tokens=5)
    assert view.error is None and view.n_kept == 5 and view.continuation
    assert view.first_token in [r.token for r in view.rows]
    assert "Kept <b>5</b>" in decoding_html(view)
    if kind != "bpe":   # a character or word outside the vocabulary is named, not turned into <unk>
        assert ("'🐉'" if kind == "char" else "'␣Zyx'") in decoding_view("Once a Zyx 🐉", model, tok).error


def test_a_chat_tokenizer_is_saved_and_rebuilt_like_the_others():
    from course_utils.tokenizers import CHAT_SPECIALS, ChatTokenizer

    chat = ChatTokenizer(WordTokenizer.train("Once Lily had a red ball. She smiled.").itos)
    text = "<|user|> Lily had a ball.<|end|><|assistant|> She smiled.<|end|>"
    rebuilt = tokenizer_from_state(json.loads(json.dumps(chat.state_dict())))
    assert type(rebuilt) is ChatTokenizer and rebuilt.itos == chat.itos and rebuilt.specials == CHAT_SPECIALS
    assert rebuilt.encode(text) == chat.encode(text) and rebuilt.decode(rebuilt.encode(text)) == text
