"""Next-token explorer: type a context, see each model's probabilities for the next token.

    explorer = NextTokenExplorer({"bigram": bigram_predict, "course GPT": gpt_predict}, context="Once")
    explorer          # last line of a cell: interactive in Jupyter, a static table on GitHub

A *predictor* is any function ``context: str -> list of (token text, probability)``; the view shows the top
``k`` of each, side by side, with whitespace made visible. The "add the most likely token" button appends the
first model's top token to the context: greedy generation, one click per step.
"""

from __future__ import annotations

import html
from typing import Callable, Mapping, Sequence

import ipywidgets as widgets

__all__ = ["Predictor", "next_token_html", "NextTokenExplorer", "visible"]

Predictor = Callable[[str], Sequence[tuple[str, float]]]

MAX_CONTEXT_SHOWN = 120  # characters of context echoed above the tables; long inputs are elided


def visible(token: str) -> str:
    """Make whitespace visible: a space is '␣', a newline '⏎', a tab '⇥'."""
    return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")


def _table(name: str, predictions: Sequence[tuple[str, float]] | str, k: int) -> str:
    head = f"<div style='font-weight:600;margin-bottom:4px'>{html.escape(name)}</div>"
    if isinstance(predictions, str):  # the predictor explained why it cannot answer
        return f"<div style='min-width:220px'>{head}<div style='color:#a33'>{html.escape(predictions)}</div></div>"
    rows = []
    for token, p in list(predictions)[:k]:
        width = max(1, round(160 * p))
        rows.append(
            "<tr>"
            f"<td style='font-family:monospace;padding-right:8px;white-space:pre'>{html.escape(visible(token))}</td>"
            f"<td><div style='background:#4c78a8;height:12px;width:{width}px'></div></td>"
            f"<td style='text-align:right;padding-left:6px;font-family:monospace'>{p:.1%}</td>"
            "</tr>")
    return f"<div style='min-width:220px'>{head}<table style='border-collapse:collapse'>{''.join(rows)}</table></div>"


def next_token_html(context: str, predictors: Mapping[str, Predictor], k: int = 8) -> str:
    """The whole view as HTML: the context, then one top-k table per model. A predictor that raises
    ValueError (an unknown character, say) shows its message instead of a table."""
    if not isinstance(context, str):
        raise TypeError(f"context must be a str, got {type(context).__name__}")
    if not predictors:
        raise ValueError("give at least one predictor")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    shown = context if len(context) <= MAX_CONTEXT_SHOWN else "…" + context[-MAX_CONTEXT_SHOWN:]
    shown = html.escape(visible(shown)) if shown else "<i>(empty: the start of a story)</i>"
    tables = []
    for name, predict in predictors.items():
        try:
            predictions = predict(context)
        except ValueError as exc:
            predictions = str(exc)
        tables.append(_table(name, predictions, k))
    return ("<div style='font-family:sans-serif;font-size:13px'>"
            f"<div style='margin-bottom:6px'>context: <span style='font-family:monospace'>{shown}</span>"
            f" <span style='color:#777'>({len(context)} characters)</span></div>"
            f"<div style='display:flex;gap:28px;flex-wrap:wrap'>{''.join(tables)}</div></div>")


class NextTokenExplorer(widgets.VBox):
    """Interactive shell around ``next_token_html``. Where widgets cannot run (GitHub, a static export),
    the same output carries a plain HTML rendering of the current state."""

    def __init__(self, predictors: Mapping[str, Predictor], context: str = "", k: int = 8):
        self.predictors = dict(predictors)
        next_token_html(context, self.predictors, k)  # fail early, with a clear message, on bad arguments
        self.text = widgets.Textarea(value=context, placeholder="Type a context...", continuous_update=True,
                                     layout=widgets.Layout(width="100%", height="60px"))
        self.k = widgets.IntSlider(value=k, min=1, max=20, description="top k")
        self.step = widgets.Button(description="add the most likely token", icon="plus",
                                   layout=widgets.Layout(width="auto"))  # the default width cuts the label
        self.view = widgets.HTML()
        for control in (self.text, self.k):
            control.observe(lambda _: self.render(), names="value")
        self.step.on_click(lambda _: self.add_most_likely())
        super().__init__([self.text, widgets.HBox([self.k, self.step]), self.view])
        self.render()

    def render(self) -> None:
        self.view.value = next_token_html(self.text.value, self.predictors, self.k.value)

    def add_most_likely(self) -> None:
        """Greedy decoding by hand: append the first model's most probable next token."""
        predict = next(iter(self.predictors.values()))
        try:
            predictions = predict(self.text.value)
        except ValueError:
            return
        if predictions:
            self.text.value += predictions[0][0]

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.view.value  # the static picture for front ends without widgets
        return bundle
