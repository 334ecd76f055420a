"""Next-token explorer: state in -> HTML out, and the interactive shell."""

import pytest

from course_utils.widgets.next_token import NextTokenExplorer, next_token_html, visible


def uniform(context):
    return [("a", 0.5), (" b", 0.3), ("\n", 0.2)]


def picky(context):
    if "?" in context:
        raise ValueError("'?' is not in the vocabulary")
    return [("x", 1.0)]


def test_html_shows_each_model_top_k_with_visible_whitespace():
    out = next_token_html("hi", {"one": uniform, "two": picky}, k=2)
    assert "one" in out and "two" in out
    assert "␣b" in out and "⏎" not in out  # k=2 cuts the third row
    assert "50.0%" in out and "30.0%" in out and "100.0%" in out
    assert visible(" a\n\t") == "␣a⏎⇥"


def test_empty_and_very_long_input_and_predictor_errors():
    assert "(empty: the start of a story)" in next_token_html("", {"one": uniform})
    long = "word " * 10_000
    out = next_token_html(long, {"one": uniform})
    assert "…" in out and "50,000" not in out and len(out) < 3_000
    assert "is not in the vocabulary" in next_token_html("?", {"p": picky})


def test_html_is_escaped():
    out = next_token_html("<script>", {"<b>m</b>": lambda c: [("<i>", 1.0)]})
    assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;i&gt;" in out


@pytest.mark.parametrize("args, error", [
    (dict(context=3, predictors={"a": uniform}), TypeError),
    (dict(context="", predictors={}), ValueError),
    (dict(context="", predictors={"a": uniform}, k=0), ValueError),
])
def test_bad_arguments(args, error):
    with pytest.raises(error):
        next_token_html(**args)


def test_explorer_updates_on_typing_and_steps_greedily():
    explorer = NextTokenExplorer({"one": uniform}, context="hi", k=3)
    before = explorer.view.value
    explorer.text.value = "hi there"
    assert explorer.view.value != before and "hi␣there" in explorer.view.value
    explorer.add_most_likely()
    assert explorer.text.value == "hi therea"
    explorer.k.value = 1
    assert "30.0%" not in explorer.view.value
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == explorer.view.value  # static picture for GitHub / headless runs


def test_explorer_step_ignores_contexts_a_model_rejects():
    explorer = NextTokenExplorer({"p": picky}, context="?")
    explorer.add_most_likely()
    assert explorer.text.value == "?"
