"""Decoding explorer: state in -> view -> HTML out, odd prompts, and the interactive shell."""

import pytest
import torch

from course_utils.model import GPT, GPTConfig, load_storyworld_gpt
from course_utils.tokenizers import WordTokenizer
from course_utils.widgets.decoding_explorer import DecodingExplorer, DecodingView, Row, decoding_html, decoding_view


TEXT = ("Once upon a time, there was a girl named Lily. She had a red ball. Lily loved her ball.\n"
        "Once there was a boy named Tom. He had a blue kite. Tom loved his kite.\n")


@pytest.fixture(scope="module")
def tiny():
    """A small random model on a tiny word vocabulary: fast, and enough to exercise every path."""
    tokenizer = WordTokenizer.train(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=48, n_layer=1, n_head=2, n_embd=16)).eval()
    return model, tokenizer


@pytest.fixture(scope="module")
def storyworld_gpt():
    model, tokenizer, _ = load_storyworld_gpt()
    return model, tokenizer


def handmade_view(**overrides):
    fields = dict(prompt="Once there was", temperature=1.5, top_k=None, top_p=0.9, seed=3,
                  rows=[Row(" a", 0.6, 0.5, 0.7, True), Row(" an", 0.3, 0.3, 0.3, True),
                        Row(" <b>", 0.1, 0.2, 0.0, False)],
                  n_kept=2, vocab_size=10, kept_mass=0.8, first_token=" a", continuation=" a girl.\n",
                  n_prompt_tokens=4)
    fields.update(overrides)
    return DecodingView(**fields)


def test_html_of_a_handmade_state():
    out = decoding_html(handmade_view())
    assert "temperature 1.5" in out and "top-p 0.9" in out and "seed 3" in out
    assert "␣a ★" in out                                   # the token drawn, whitespace visible
    assert "<s>␣&lt;b&gt;</s>" in out and "filtered" in out  # filtered tokens struck through, and escaped
    assert "Kept <b>2</b> of 10 tokens" in out and "80.0%" in out
    assert "70.0%" in out and "60.0%" in out and "50.0%" in out  # sampled / model / at this temperature
    assert "the story ended" in out and "␣a␣girl" not in out   # the continuation is shown as text


def test_temperature_one_shows_one_probability_column_and_greedy_is_labelled():
    assert decoding_html(handmade_view(temperature=1.0)).count("<th") == 4   # no separate T column
    assert decoding_html(handmade_view(temperature=1.5)).count("<th") == 5
    assert "greedy" in decoding_html(handmade_view(temperature=0.0))


def test_view_of_a_model_is_consistent(tiny):
    model, tokenizer = tiny
    view = decoding_view("Once there was a", model, tokenizer, temperature=1.2, top_k=3, seed=1, n_rows=5)
    assert view.error is None and view.n_kept == 3 and len(view.rows) == 5
    assert sum(r.kept for r in view.rows) == 3
    assert abs(sum(r.p_sampled for r in view.rows) - 1) < 1e-5
    assert all(r.p_sampled == 0 for r in view.rows if not r.kept)
    assert view.first_token in [r.token for r in view.rows if r.kept]
    assert view.continuation.startswith(view.first_token)
    again = decoding_view("Once there was a", model, tokenizer, temperature=1.2, top_k=3, seed=1, n_rows=5)
    assert again == view                                   # deterministic for a seed
    greedy = decoding_view("Once there was a", model, tokenizer, temperature=0)
    assert greedy.n_kept == 1 and greedy.rows[0].kept and greedy.rows[0].p_sampled == 1.0


def test_empty_prompt_starts_a_story(tiny):
    model, tokenizer = tiny
    view = decoding_view("", model, tokenizer)
    assert view.error is None and view.n_prompt_tokens == 1
    assert "(empty: the start of a story)" in decoding_html(view)


def test_very_long_prompt_is_cropped_to_the_window(tiny):
    model, tokenizer = tiny
    long = TEXT * 400
    view = decoding_view(long, model, tokenizer, max_new_tokens=8)
    assert view.error is None and view.n_prompt_tokens == 48 - 8 and view.n_cropped > 1000
    out = decoding_html(view)
    assert "longer than the context window" in out and len(out) < 20_000 and "…" in out


def test_unknown_words_get_a_clear_message(storyworld_gpt):
    model, tokenizer = storyworld_gpt
    view = decoding_view("Once upon a time, a dragon named Zyx", model, tokenizer)
    assert view.error and "'␣dragon'" in view.error and "'␣Zyx'" in view.error and "<unk>" in view.error
    assert not view.rows and not view.continuation
    out = decoding_html(view)
    assert "Not in this model&#x27;s vocabulary" in out or "Not in this model's vocabulary" in out
    start = decoding_view("Lily went", model, tokenizer)
    assert "known only after a space" in start.error
    many = decoding_view("qq ww ee rr tt yy uu", model, tokenizer)
    assert "and 2 more" in many.error


def test_storyworld_prompt_with_trailing_space(storyworld_gpt):
    model, tokenizer = storyworld_gpt
    view = decoding_view("Once upon a time, there was a little girl named Lily. She lived in a ", model, tokenizer,
                         temperature=1.0, top_p=0.9, seed=0)
    assert view.error is None
    kept = {r.token for r in view.rows if r.kept}
    assert kept <= {" pretty", " big", " warm", " small"} and len(kept) >= 2  # storyworld's four home adjectives


@pytest.mark.parametrize("settings", [dict(temperature=-1), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.2),
                                      dict(seed=-1), dict(max_new_tokens=0), dict(n_rows=0)])
def test_bad_settings_raise(tiny, settings):
    model, tokenizer = tiny
    with pytest.raises(ValueError):
        decoding_view("Once", model, tokenizer, **settings)


def test_bad_types():
    with pytest.raises(TypeError):
        decoding_html("not a view")
    model = None
    with pytest.raises(TypeError):
        decoding_view(3, model, None)


def test_explorer_shell_follows_its_controls(tiny):
    model, tokenizer = tiny
    explorer = DecodingExplorer(model, tokenizer, prompt="Once there was", temperature=1.0, top_p=0.9, seed=0)
    assert explorer.settings() == dict(temperature=1.0, top_k=None, top_p=0.9, seed=0)
    before = explorer.view.value
    explorer.top_k.value = 2
    assert explorer.settings()["top_k"] == 2 and "top-k 2" in explorer.view.value
    explorer.temperature.value = 0.0
    assert "greedy" in explorer.view.value
    explorer.temperature.value = 1.0
    explorer.resample.click()
    assert explorer.seed.value == 1
    explorer.text.value = "Once there was a dragon"
    assert "Not in this model" in explorer.view.value
    explorer.text.value = ""
    assert "(empty: the start of a story)" in explorer.view.value and explorer.view.value != before
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == explorer.view.value       # the static picture for GitHub / headless runs
    with pytest.raises(ValueError):
        DecodingExplorer(model, tokenizer, temperature=-1)
