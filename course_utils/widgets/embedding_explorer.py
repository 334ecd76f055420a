"""Embedding-space explorer: a 2-D map of word vectors, in the spirit of TensorFlow's Embedding Projector.

    sets = {"word2vec": w2v, "TF-IDF": tfidf_vectors}          # name -> embeddings.WordVectors
    explorer = EmbeddingExplorer(sets, categories=storyworld.LEXICON.category, query="king")
    explorer      # last line of a cell: interactive in Jupyter, a static table where widgets cannot run

The picture is a pure function of the state, ``render_explorer(state, sets, categories)``: it returns an
``ExplorerView`` with a matplotlib figure (points projected to 2-D by PCA or t-SNE, coloured by category,
labelled; the searched word, its k nearest neighbours and an analogy highlighted) and an HTML panel (the
neighbours with their cosine similarity, the analogy's answer, and a clear message for any unknown word).

Neighbours and analogies are always computed in the full space, with cosine similarity; the 2-D map only
approximates those distances, which is why the panel lists them.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np
import torch
from matplotlib.figure import Figure

from ..embeddings import WordVectors
from ..validation import is_int

__all__ = ["ExplorerState", "ExplorerView", "project", "parse_expression", "render_explorer",
           "EmbeddingExplorer", "category_colours", "figure_png", "PROJECTIONS",
           "LABEL_MODES", "PALETTE"]

PROJECTIONS = ("pca", "tsne")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}
LABEL_MODES = ("categories", "all", "highlighted", "none")
MAX_SHOWN = 40        # characters of a user's text echoed back in a message
MAX_TERMS = 8         # terms in an analogy expression
OTHER = "(no category)"


@dataclass(frozen=True)
class ExplorerState:
    """Everything the picture depends on besides the data."""

    set_name: str
    projection: str = "pca"      # "pca" | "tsne"
    query: str = ""              # a word to find, with its k nearest neighbours
    k: int = 8
    analogy: str = ""            # an expression such as "queen - king + prince"
    labels: str = "categories"   # which points get a text label: see LABEL_MODES
    zoom: bool = False           # zoom the map onto the highlighted words


@dataclass
class ExplorerView:
    figure: Figure
    html: str
    neighbours: list[tuple[str, float]] = field(default_factory=list)
    analogy: list[tuple[str, float]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def _shorten(text: str, limit: int = MAX_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------
# Pure pieces: projection, parsing, rendering
# --------------------------------------------------------------------------------------------------


def project(vectors: torch.Tensor, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, d) -> (N, 2). Rows are scaled to unit length first, so that distances on the map follow cosine
    similarity. PCA: the two directions of largest variance (signs fixed so the result is reproducible).
    t-SNE (scikit-learn, exact method, seeded): keeps near neighbours near, at the price of global shape."""
    if method not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {method!r}")
    x = torch.as_tensor(vectors, dtype=torch.float64)
    if x.dim() != 2:
        raise ValueError(f"vectors must be (N, d), got shape {tuple(x.shape)}")
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 2))
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    if method == "tsne" and n >= 5:
        from sklearn.manifold import TSNE

        tsne = TSNE(n_components=2, perplexity=min(15.0, (n - 1) / 3), init="pca", method="exact",
                    random_state=seed)
        return tsne.fit_transform(x.numpy())
    centered = x - x.mean(0)
    _, _, vh = torch.linalg.svd(centered, full_matrices=False)
    components = vh[:2]
    if components.shape[0] < 2:  # fewer than two directions: pad with zeros
        components = torch.cat([components, torch.zeros(2 - components.shape[0], x.shape[1], dtype=x.dtype)])
    # the sign of a principal direction is arbitrary: make its largest entry positive
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    coords = centered @ (components * torch.where(signs == 0, 1.0, signs)).T
    return coords.numpy()


_TERM = re.compile(r"\s*([+-]?)\s*([^+\-\s][^+\-]*?)\s*(?=[+-]|$)")


def parse_expression(text: str) -> list[tuple[int, str]]:
    """"queen - king + prince" -> [(1, "queen"), (-1, "king"), (1, "prince")]. Raises ValueError with a
    readable message on a malformed expression. Signs: "+" or "-" (a leading "+" is optional)."""
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}")
    text = text.replace("−", "-").strip()   # a typographic minus works too
    if not text:
        return []
    if len(text) > 200:
        raise ValueError(f"the expression is too long ({len(text)} characters); use a few words, "
                         "like 'queen - king + prince'")
    terms, position = [], 0
    while position < len(text):
        match = _TERM.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"could not read the expression '{_shorten(text)}'; write words joined by + and -, "
                             "like 'queen - king + prince'")
        sign, word = match.groups()
        if not sign and terms:
            raise ValueError(f"missing + or - before '{_shorten(word)}'")
        terms.append((-1 if sign == "-" else 1, word.strip()))
        position = match.end()
    if len(terms) > MAX_TERMS:
        raise ValueError(f"the expression has {len(terms)} terms; at most {MAX_TERMS} are allowed")
    return terms


# Twelve colours that stay distinct from each other (and from the grey of words without a category).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#393b79", "#e7ba52", "#637939")


def category_colours(categories: Mapping[str, str]) -> dict[str, str]:
    """category -> colour, the same for every set, so a category keeps its colour when you switch."""
    names = sorted(set(categories.values()))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _neighbour_table(title: str, rows: list[tuple[str, float]], categories: Mapping[str, str],
                     reference: str | None) -> str:
    ref_cat = categories.get(reference) if reference else None
    body = []
    for rank, (word, cos) in enumerate(rows, 1):
        cat = categories.get(word, "")
        same = " ✓" if ref_cat and cat == ref_cat else ""
        body.append(f"<tr><td style='text-align:right;padding-right:6px;color:#777'>{rank}</td>"
                    f"<td style='font-family:monospace;padding-right:10px'>{html.escape(word)}</td>"
                    f"<td style='font-family:monospace;text-align:right;padding-right:10px'>{cos:.3f}</td>"
                    f"<td style='color:#555'>{html.escape(cat)}{same}</td></tr>")
    head = ("<tr style='color:#777'><th></th><th style='text-align:left'>word</th>"
            "<th style='text-align:right;padding-right:10px'>cosine</th><th style='text-align:left'>category</th></tr>")
    return (f"<div style='font-weight:600;margin:6px 0 2px'>{title}</div>"
            f"<table style='border-collapse:collapse'>{head}{''.join(body)}</table>")


@dataclass
class _Analysis:
    """What a state asks for, worked out in the full space: everything but the picture."""

    query: str                                  # the searched word if it has a vector, else ""
    neighbours: list[tuple[str, float]]
    terms: list[tuple[int, str]]                # the analogy's terms if all have vectors, else []
    answers: list[tuple[str, float]]
    messages: list[str]
    html: str

    def figure_key(self, state: ExplorerState) -> tuple:
        """Two states with the same key draw the same picture (typing an unknown word changes only the panel)."""
        return (state.set_name, state.projection, state.labels, state.zoom, self.query,
                tuple(w for w, _ in self.neighbours), tuple(self.terms) if self.answers else (),
                self.answers[0][0] if self.answers else None)


def _check_state(state: ExplorerState, sets: Mapping[str, WordVectors]) -> WordVectors:
    if state.set_name not in sets:
        raise ValueError(f"unknown embedding set {state.set_name!r}; expected one of {list(sets)}")
    if state.projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {state.projection!r}")
    if state.labels not in LABEL_MODES:
        raise ValueError(f"labels must be one of {LABEL_MODES}, got {state.labels!r}")
    if not is_int(state.k) or state.k < 1:
        raise ValueError(f"k must be a positive int, got {state.k!r}")
    return sets[state.set_name]


def _analyse(state: ExplorerState, sets: Mapping[str, WordVectors], categories: Mapping[str, str]) -> _Analysis:
    wv = _check_state(state, sets)
    messages: list[str] = []
    parts: list[str] = []

    # ----- search: the word and its k nearest neighbours
    query = state.query.strip()
    neighbours: list[tuple[str, float]] = []
    if query:
        if query in wv:
            neighbours = wv.nearest(query, state.k)
            parts.append(_neighbour_table(
                f"{len(neighbours)} nearest to <code>{html.escape(query)}</code> "
                f"({wv.dim}-D, cosine similarity)", neighbours, categories, query))
        else:
            messages.append(wv.unknown_message(_shorten(query)))
            query = ""

    # ----- analogy: the words nearest to a signed sum of vectors
    answers: list[tuple[str, float]] = []
    terms: list[tuple[int, str]] = []
    if state.analogy.strip():
        try:
            terms = parse_expression(state.analogy)
        except ValueError as exc:
            messages.append(str(exc))
        unknown = [w for _, w in terms if w not in wv]
        if unknown:
            messages += [wv.unknown_message(_shorten(w)) for w in unknown]
            terms = []
        if terms:
            target = sum(sign * wv[w] for sign, w in terms)
            answers = wv.nearest(target, k=3, exclude=[w for _, w in terms])
            shown = " ".join(f"{'−' if s < 0 else '+'} {html.escape(w)}" for s, w in terms).lstrip("+ ")
            if answers:
                best, cos = answers[0]
                runners = ", ".join(f"{html.escape(w)} ({c:.3f})" for w, c in answers[1:])
                parts.append(f"<div style='font-weight:600;margin:8px 0 2px'>analogy</div>"
                             f"<div><code>{shown}</code> ≈ <b>{html.escape(best)}</b> (cosine {cos:.3f})"
                             + (f"<span style='color:#777'>; then {runners}</span>" if runners else "")
                             + "</div>")
            else:
                messages.append("no word is left to answer the analogy: every word is in the expression")

    # ----- the panel
    note = ("<div style='color:#777;margin-top:6px'>Neighbours and analogies use cosine similarity in the full "
            "space; the map only approximates it.</div>")
    message_html = "".join(f"<div style='color:#a33'>⚠ {html.escape(m)}</div>" for m in messages)
    if not parts and not messages:
        parts.append("<div style='color:#777'>Type a word in the search box to see its nearest neighbours, "
                     "or an analogy such as <code>queen - king + prince</code>.</div>")
    panel = ("<div style='font-family:sans-serif;font-size:13px'>"
             f"<div><b>{html.escape(state.set_name)}</b>: {len(wv)} words, {wv.dim} dimensions; "
             f"map: {METHOD_NAMES[state.projection]}</div>"
             f"{message_html}{''.join(parts)}{note}</div>")
    return _Analysis(query, neighbours, terms if answers else [], answers, messages, panel)


def _draw(state: ExplorerState, wv: WordVectors, analysis: _Analysis, categories: Mapping[str, str],
          coords: np.ndarray) -> Figure:
    query, neighbours, terms, answers = analysis.query, analysis.neighbours, analysis.terms, analysis.answers
    fig = Figure(figsize=(8.4, 6.2))
    ax = fig.add_axes((0.03, 0.03, 0.69, 0.80))   # room above for a three-line title
    colours = category_colours(categories)
    cats = [categories.get(w, OTHER) for w in wv.words]
    other = np.array([c == OTHER for c in cats], dtype=bool)
    if other.any():
        ax.scatter(coords[other, 0], coords[other, 1], s=10, color="#bbbbbb", label=OTHER, zorder=1)
    for name, colour in colours.items():
        mask = np.array([c == name for c in cats], dtype=bool)
        if mask.any():
            ax.scatter(coords[mask, 0], coords[mask, 1], s=28, color=colour, label=name, zorder=2)
    highlighted = {query} | {w for w, _ in neighbours} | {w for _, w in terms} | {w for w, _ in answers[:1]}
    highlighted.discard("")
    if state.labels != "none":
        for (x, y), word, cat in zip(coords, wv.words, cats):
            show = (state.labels == "all" or word in highlighted
                    or (state.labels == "categories" and cat != OTHER))
            if show:
                colour = "#999999" if cat == OTHER else colours[cat]
                weight = "bold" if word in highlighted else "normal"
                ax.annotate(word, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=7,
                            color="black" if word in highlighted else colour, fontweight=weight, zorder=4)
    if query:
        q = coords[wv.index[query]]
        for word, _ in neighbours:
            p = coords[wv.index[word]]
            ax.plot([q[0], p[0]], [q[1], p[1]], color="black", lw=0.6, ls=":", zorder=3)
            ax.scatter(*p, s=110, facecolors="none", edgecolors="black", linewidths=1.2, zorder=5)
        ax.scatter(*q, s=240, marker="*", color="gold", edgecolors="black", linewidths=1.0, zorder=6)
    if terms and answers:
        for sign, word in terms:
            ax.scatter(*coords[wv.index[word]], s=90, marker="^" if sign > 0 else "v", color="none",
                       edgecolors="crimson", linewidths=1.4, zorder=5)
        best = coords[wv.index[answers[0][0]]]
        ax.scatter(*best, s=140, marker="D", color="crimson", edgecolors="black", zorder=6)
    if state.zoom and highlighted:
        pts = np.array([coords[wv.index[w]] for w in highlighted])
        lo, hi = pts.min(0), pts.max(0)
        pad = np.maximum((hi - lo) * 0.25, 0.05 * (coords.max(0) - coords.min(0)) + 1e-9)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    title = f"{state.set_name}: {len(wv)} words, {wv.dim}-D → 2-D by {METHOD_NAMES[state.projection]}"
    if query:
        title += f"\n★ {query} and its {len(neighbours)} nearest neighbours (cosine, in {wv.dim}-D)"
    if answers:
        title += f"\n▲ + and ▼ − terms of the analogy, ◆ its answer: {answers[0][0]}"
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(wv):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, title="category",
                  title_fontsize=8)
    return fig


def render_explorer(state: ExplorerState, sets: Mapping[str, WordVectors], categories: Mapping[str, str],
                    coords: np.ndarray | None = None) -> ExplorerView:
    """Draw one state: the map and the panel. ``coords`` (N, 2) may be passed to reuse a projection (t-SNE
    takes seconds)."""
    wv = _check_state(state, sets)
    if coords is None:
        coords = project(wv.vectors, state.projection)
    coords = np.asarray(coords, dtype=float)
    if coords.shape != (len(wv), 2):
        raise ValueError(f"coords must have shape ({len(wv)}, 2), got {coords.shape}")
    analysis = _analyse(state, sets, categories)
    figure = _draw(state, wv, analysis, categories, coords)
    return ExplorerView(figure, analysis.html, analysis.neighbours, analysis.answers, analysis.messages)


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# The interactive shell
# --------------------------------------------------------------------------------------------------


class EmbeddingExplorer:
    """ipywidgets controls around ``render_explorer``. Shown as the last line of a cell it is interactive in
    Jupyter; elsewhere (GitHub, a static export) the same output carries the HTML panel of its state."""

    def __init__(self, sets: Mapping[str, WordVectors], categories: Mapping[str, str],
                 state: ExplorerState | None = None, **state_fields):
        import ipywidgets as widgets

        if not sets:
            raise ValueError("give at least one embedding set")
        self.sets = dict(sets)
        self.categories = dict(categories)
        state = state or ExplorerState(set_name=next(iter(self.sets)))
        self.state = replace(state, **state_fields)
        self._coords: dict[tuple[str, str], np.ndarray] = {}
        self._figure_key: tuple | None = None
        self.view = self._render()  # fail early, with a clear message, on a bad state

        s = self.state
        short = widgets.Layout(width="250px")
        self.set_box = widgets.Dropdown(options=list(self.sets), value=s.set_name, description="vectors",
                                        layout=widgets.Layout(width="300px"))
        self.projection_box = widgets.ToggleButtons(options=[("PCA", "pca"), ("t-SNE", "tsne")],
                                                    value=s.projection, description="map",
                                                    style={"button_width": "60px"},
                                                    layout=widgets.Layout(width="240px", flex="0 0 auto"))
        self.labels_box = widgets.Dropdown(options=list(LABEL_MODES), value=s.labels, description="labels",
                                           layout=widgets.Layout(width="200px"))
        self.zoom_box = widgets.Checkbox(value=s.zoom, description="zoom to highlighted", indent=False,
                                         layout=widgets.Layout(width="160px"))
        self.query_box = widgets.Text(value=s.query, placeholder="a word, e.g. king", description="search",
                                      layout=short)
        self.k_box = widgets.IntSlider(value=s.k, min=1, max=20, description="neighbours",
                                       layout=widgets.Layout(width="260px"))
        self.analogy_box = widgets.Text(value=s.analogy, placeholder="queen - king + prince",
                                        description="analogy", layout=widgets.Layout(width="300px"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="672px", min_width="672px"))
        self.panel = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        controls = [self.set_box, self.projection_box, self.labels_box, self.zoom_box, self.query_box,
                    self.k_box, self.analogy_box]
        for control in controls:
            control.observe(lambda _: self._update(), names="value")
        self.box = widgets.VBox([
            widgets.HBox([self.set_box, self.projection_box, self.labels_box, self.zoom_box]),
            widgets.HBox([self.query_box, self.k_box, self.analogy_box]),
            widgets.HBox([self.image, self.panel]),
        ])
        self._show()
        self._figure_key = _analyse(self.state, self.sets, self.categories).figure_key(self.state)

    def _coordinates(self) -> np.ndarray:
        key = (self.state.set_name, self.state.projection)
        if key not in self._coords:
            self._coords[key] = project(self.sets[key[0]].vectors, key[1])
        return self._coords[key]

    def _render(self) -> ExplorerView:
        return render_explorer(self.state, self.sets, self.categories, self._coordinates())

    def _update(self) -> None:
        """Read the controls. The panel follows every keystroke; the map is redrawn only when it changes
        (a half-typed word changes the panel's message, not the picture)."""
        self.state = ExplorerState(self.set_box.value, self.projection_box.value, self.query_box.value,
                                   self.k_box.value, self.analogy_box.value, self.labels_box.value,
                                   self.zoom_box.value)
        analysis = _analyse(self.state, self.sets, self.categories)
        key = analysis.figure_key(self.state)
        if (self.state.set_name, self.state.projection) not in self._coords and self.state.projection == "tsne":
            self.panel.value = "<i>computing the t-SNE map (a few seconds)…</i>"
        if key != self._figure_key:
            wv = self.sets[self.state.set_name]
            figure = _draw(self.state, wv, analysis, self.categories, self._coordinates())
        else:
            figure = self.view.figure
        self.view = ExplorerView(figure, analysis.html, analysis.neighbours, analysis.answers, analysis.messages)
        self._show(redraw=key != self._figure_key)
        self._figure_key = key

    def _show(self, redraw: bool = True) -> None:
        if redraw:
            self.image.value = figure_png(self.view.figure)
        self.panel.value = self.view.html

    def __repr__(self) -> str:
        s = self.state
        return (f"EmbeddingExplorer(set={s.set_name!r}, projection={s.projection!r}, query={s.query!r}, "
                f"k={s.k}, analogy={s.analogy!r})")

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = self.view.html  # the static panel for front ends without widgets
        return bundle
