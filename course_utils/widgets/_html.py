"""Small HTML helpers shared by the widgets: visible whitespace, colours, and a static view."""

from __future__ import annotations

import html

# Light colours that keep black text readable; neighbouring tokens get different ones.
PALETTE = ("#c6e2ff", "#ffd8a8", "#c3f0c8", "#f3c4e6", "#fff3a3", "#d9d2ff", "#b9f0ea", "#ffc9c9")

_VISIBLE = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}


def visible(text: str) -> str:
    """Whitespace made visible: 'a b\\n' -> 'a·b↵'."""
    return "".join(_VISIBLE.get(ch, ch) for ch in text)


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StaticView:
    """A rendering that shows as HTML in a notebook (also on GitHub) and as plain text in a terminal."""

    def __init__(self, html_text: str, plain_text: str):
        self.html = html_text
        self.text = plain_text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


class WidgetShell:
    """An ipywidgets widget whose plain-text form is one readable line instead of the widget's repr."""

    def __init__(self, widget, description: str):
        self.widget = widget
        self.description = description

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle = dict(bundle) if bundle else {}
        bundle["text/plain"] = self.description
        return bundle

    def __repr__(self) -> str:
        return self.description
