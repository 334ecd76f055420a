"""Every widget leaves a picture where no kernel and no JavaScript run: GitHub, nbviewer, the course website.

A live widget is only a reference to a model in a running kernel (``application/vnd.jupyter.widget-view+json``)
and a one-line ``text/plain`` repr such as ``VBox(children=...)``. A reader without a kernel sees the static
picture the course displays with it instead: the widget's own ``text/html`` fallback (its default state) or an
output beside it (a figure, an HTML rendering). Each committed notebook is rendered here to HTML with nbconvert,
with no widget manager and no JavaScript, and every cell that shows a widget must show something a person can
read: a picture, or at least a sentence of text.
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# What a page without JavaScript can show, best first (nbconvert's own list leads with the widget view and JS).
STATIC_PRIORITY = ["text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/plain"]
MIN_TEXT = 40  # visible characters: about a sentence


def _widget_notebooks() -> list[Path]:
    found = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any(WIDGET_VIEW in o.get("data", {}) for c in cells if c["cell_type"] == "code" for o in c["outputs"]):
            found.append(path)
    return found


class _Visible(HTMLParser):
    """The text a reader sees, and whether there is a picture."""

    def __init__(self):
        super().__init__()
        self.text, self.pictures, self._hidden = [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "svg"):
            self.pictures += 1
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def _render_without_javascript(cell: dict) -> _Visible:
    """One cell's outputs as nbconvert writes them for a page with no widget manager and no JavaScript. The
    widget's own text/plain repr is dropped first: it names the widget's class, it does not show it."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    cell = copy.deepcopy(cell)
    for output in cell["outputs"]:
        data = output.get("data", {})
        if WIDGET_VIEW in data:
            data.pop(WIDGET_VIEW)
            data.pop("text/plain", None)
    cell["outputs"] = [o for o in cell["outputs"] if o.get("data", True)]  # nothing left to show: no output
    config = Config()
    config.HTMLExporter.exclude_input = True
    config.NbConvertBase.display_data_priority = STATIC_PRIORITY
    body, _ = HTMLExporter(config=config, template_name="basic").from_notebook_node(
        nbformat.from_dict({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    visible = _Visible()
    visible.feed(body)
    return visible


@pytest.mark.parametrize("notebook", _widget_notebooks(), ids=lambda p: p.stem)
def test_every_widget_cell_shows_a_picture_without_javascript(notebook):
    code = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    blank = []
    for index, cell in enumerate(code):
        if not any(WIDGET_VIEW in o.get("data", {}) for o in cell["outputs"]):
            continue
        visible = _render_without_javascript(cell)
        text = re.sub(r"\s+", " ", "".join(visible.text)).strip()
        if not visible.pictures and len(text) < MIN_TEXT:
            first_line = cell.source.strip().splitlines()[-1][:60]
            blank.append(f"code cell {index} ({first_line!r}): {text!r}")
    assert not blank, f"{notebook.name}: widget cells that show nothing without a kernel:\n" + "\n".join(blank)


def test_a_widget_without_a_fallback_is_caught():
    """The check above fails on what GitHub would show blank: a bare widget view with its class name."""
    bare_widget = {"output_type": "display_data", "metadata": {},
                   "data": {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                            "text/plain": "VBox(children=(Textarea(value='Once upon a time'), HTML(value='...')))"}}
    cell = {"cell_type": "code", "id": "explorer", "source": "explorer", "metadata": {}, "execution_count": 1,
            "outputs": [bare_widget]}
    visible = _render_without_javascript(nbformat.from_dict(cell))
    assert not visible.pictures and len("".join(visible.text).strip()) < MIN_TEXT
