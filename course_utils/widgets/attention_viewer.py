"""Attention viewer: a GPT's attention on any text, in four views (after BertViz, Vig 2019).

    viewer = AttentionViewer(model, tokenizer, "Once upon a time, there was a girl named Lily. She ...")
    viewer            # last line of a cell: interactive in Jupyter, VS Code and Colab; an SVG on GitHub

* **head view**: the tokens twice, queries on the left and keys on the right; a line from query i to key j
  is as opaque as the weight of j in i's attention. One head or all heads of a layer (one colour each).
  Hover a token to isolate its lines; click it (or pick it in the menu) to keep only its row, with the
  weights written out.
* **model view**: every layer x head at once, as thumbnails; click one to open it in the head view.
* **neuron view**: one head, one query token: its query vector q, each earlier token's key vector k, the
  elementwise product q*k, the score q.k / sqrt(d_k) and the softmax weight. This is where the weights in
  the other two views come from.
* **heat-map**: the plain (query x key) matrix of one head, or the mean of a layer's heads, one cell per
  weight; the causal mask is the empty upper triangle.

The pictures come from pure functions of the state (``head_view_svg``, ``model_view_svg``,
``neuron_view_svg``: data + ``ViewState`` in, SVG text out), which the tests check and the notebooks display
as static images. ``AttentionViewer`` is a thin anywidget shell around them: ``attention_viewer.js`` (one ES
module, no build step) draws the controls, shows the SVG that Python renders, and handles hovering locally.
"""

from __future__ import annotations

import html
import pathlib
from dataclasses import dataclass, replace

import anywidget
import numpy as np
import torch
import traitlets

from ..model import attention_maps

__all__ = ["AttentionData", "ViewState", "head_view_svg", "model_view_svg", "neuron_view_svg", "heatmap_view_svg",
           "render_svg", "AttentionViewer", "HEAD_COLOURS", "display_token"]

HEAD_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")  # matplotlib's tab10; more heads than ten reuse them
VIEWS = ("head", "model", "neuron", "heatmap")
MIN_WEIGHT = 0.03         # lines lighter than this are not drawn (invisible anyway, and they bloat the SVG)
MAX_TOKEN_CHARS = 14      # longer tokens are elided in the pictures
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


def display_token(token: str) -> str:
    """How a token is written in the pictures: no leading space, a newline as '⏎', at most 14 characters."""
    shown = token.replace("\n", "⏎").strip() or "␣"
    return shown if len(shown) <= MAX_TOKEN_CHARS else shown[:MAX_TOKEN_CHARS - 1] + "…"


def _colour(head: int) -> str:
    return HEAD_COLOURS[head % len(HEAD_COLOURS)]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# --------------------------------------------------------------------------------------------------
# The state: what the model computed, and what the viewer shows
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttentionData:
    """Everything the views need about one text: its tokens and, for every layer and head, the attention
    weights and the query and key vectors they came from."""

    tokens: tuple[str, ...]
    attention: np.ndarray                 # (L, H, T, T); row i: how query i spreads its attention
    queries: np.ndarray | None = None     # (L, H, T, hs), for the neuron view
    keys: np.ndarray | None = None        # (L, H, T, hs)
    note: str = ""                        # e.g. "the first 128 of 300 tokens"

    def __post_init__(self):
        att = np.asarray(self.attention, dtype=np.float32)
        object.__setattr__(self, "attention", att)
        object.__setattr__(self, "tokens", tuple(self.tokens))
        if att.ndim != 4 or att.shape[2] != att.shape[3] or att.shape[2] != len(self.tokens):
            raise ValueError(f"attention must have shape (layers, heads, T, T) with T = {len(self.tokens)} "
                             f"tokens, got {att.shape}")
        for name in ("queries", "keys"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float32)
                if value.ndim != 4 or value.shape[:3] != att.shape[:3]:
                    raise ValueError(f"{name} must have shape (layers, heads, T, head size) matching "
                                     f"{att.shape[:3]}, got {value.shape}")
                object.__setattr__(self, name, value)

    @property
    def n_layers(self) -> int:
        return self.attention.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attention.shape[1]

    @classmethod
    @torch.no_grad()
    def from_model(cls, model, tokenizer, text: str, prefix: str = "\n",
                   max_tokens: int | None = None) -> "AttentionData":
        """Run a course GPT on ``prefix + text`` and keep every head's q, k and attention weights.

        The prefix is the newline that came before every story in training. Text longer than the context
        window (or ``max_tokens``) is cut to its first tokens, and ``note`` says so.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        limit = model.config.block_size if max_tokens is None else min(max_tokens, model.config.block_size)
        ids = tokenizer.encode(prefix + text)
        # each token's piece of the text; where the model got <unk> instead (a word-level vocabulary), <unk>
        pieces = [tokenizer.decode([i]) if unknown else piece for piece, i, unknown in
                  zip(tokenizer.pieces(prefix + text), ids, tokenizer.unknown(prefix + text))]
        note = ""
        if len(ids) > limit:
            note = f"showing the first {limit} of {len(ids)} tokens"
            pieces, ids = pieces[:limit], ids[:limit]
        L, H = model.config.n_layer, model.config.n_head
        T, C = len(ids), model.config.n_embd
        if T == 0:
            empty = np.zeros((L, H, 0, 0), np.float32)
            return cls((), empty, np.zeros((L, H, 0, C // H), np.float32), np.zeros((L, H, 0, C // H), np.float32))
        weights, queries, keys = attention_maps(model, torch.tensor([ids]), queries_and_keys=True)
        return cls(tuple(pieces), weights[0].numpy(), queries[0].numpy(), keys[0].numpy(), note)   # (L, H, T, ·)


@dataclass(frozen=True)
class ViewState:
    """What the viewer shows: which view, layer and head (-1: all heads), and which token is selected
    (-1: none). Out-of-range values are clamped by ``clamped``."""

    view: str = "head"
    layer: int = 0
    head: int = -1
    selected: int = -1

    def clamped(self, data: AttentionData) -> "ViewState":
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        layer = min(max(self.layer, 0), max(data.n_layers - 1, 0))
        head = min(max(self.head, -1), data.n_heads - 1)
        selected = self.selected if 0 <= self.selected < len(data.tokens) else -1
        return replace(self, layer=layer, head=head, selected=selected)


# --------------------------------------------------------------------------------------------------
# SVG pieces
# --------------------------------------------------------------------------------------------------

def _svg(width: float, height: float, body: list[str], kind: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class='llmm-attention {kind}' width='{width:.0f}' "
            f"height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}' {FONT} font-size='12'>"
            f"<rect width='100%' height='100%' fill='white'/>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int | None = None, weight: str = "",
          fill: str = "#222", extra: str = "") -> str:
    size_attr = f" font-size='{size}'" if size else ""
    weight_attr = f" font-weight='{weight}'" if weight else ""
    return (f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' fill='{fill}'{size_attr}{weight_attr}"
            f"{extra}>{_esc(text)}</text>")


def _message(text: str, kind: str) -> str:
    return _svg(420, 60, [_text(14, 34, text, fill="#666")], kind)


def _heads_shown(data: AttentionData, state: ViewState) -> list[int]:
    return list(range(data.n_heads)) if state.head < 0 else [state.head]


def _legend(heads: list[int], x: float, y: float) -> list[str]:
    out = []
    for n, h in enumerate(heads):
        out.append(f"<rect x='{x + 44 * n:.0f}' y='{y - 9:.0f}' width='10' height='10' fill='{_colour(h)}'/>")
        out.append(_text(x + 44 * n + 13, y, f"h{h}", size=11))
    return out


# --------------------------------------------------------------------------------------------------
# The three views
# --------------------------------------------------------------------------------------------------

def head_view_svg(data: AttentionData, state: ViewState = ViewState()) -> str:
    """Queries left, keys right, one line per (query, key, head) with opacity = attention weight."""
    if not data.tokens:
        return _message("No tokens: type some text.", "head-view")
    state = state.clamped(data)
    heads, T = _heads_shown(data, state), len(data.tokens)
    row, top, x_left, x_right = 16, 70, 128, 298
    width, height = 440 if len(heads) > 1 else 470, top + row * T + 12
    y = lambda i: top + row * i
    which = "all heads" if state.head < 0 else f"head {state.head}"
    body = [_text(10, 18, f"Head view · layer {state.layer} · {which}", size=13, weight="bold")]
    body += _legend(heads, 10, 38)
    if data.note:
        body.append(_text(width - 10, 38, data.note, anchor="end", size=10, fill="#a33"))
    body.append(_text(x_left, top - 20, "query", anchor="end", size=10, fill="#777"))
    body.append(_text(x_right, top - 20, "key", size=10, fill="#777"))
    att = data.attention[state.layer]                                         # (H, T, T)
    queries = range(T) if state.selected < 0 else [state.selected]
    if state.selected >= 0:  # shade the selected query, and the keys by how much it attends to them
        i = state.selected
        body.append(f"<rect x='{x_left - 118}' y='{y(i) - 12}' width='120' height='16' fill='#ffe9a8'/>")
        for j in range(i + 1):
            for n, h in enumerate(heads):
                w = float(att[h, i, j])
                if w >= 0.005:
                    seg = 120 / len(heads)
                    body.append(f"<rect x='{x_right - 2 + n * seg:.1f}' y='{y(j) - 12}' width='{seg:.1f}' "
                                f"height='16' fill='{_colour(h)}' fill-opacity='{min(w, 1.0) * 0.85:.2f}'/>")
            if len(heads) == 1 and att[heads[0], i, j] >= 0.005:
                body.append(_text(x_right + 124, y(j), f"{att[heads[0], i, j]:.2f}", size=10, fill="#555"))
    groups = []
    for h in heads:  # one group per head; one path per line, tagged with its query and key for hovering
        lines = [f"<path class='att' data-q='{i}' data-k='{j}' d='M{x_left + 4} {y(i) - 4}L{x_right - 4} {y(j) - 4}' "
                 f"stroke-opacity='{att[h, i, j]:.2f}'/>"
                 for i in queries for j in range(i + 1) if att[h, i, j] >= MIN_WEIGHT]  # causal: j <= i
        groups.append(f"<g stroke='{_colour(h)}' stroke-width='2'>{''.join(lines)}</g>")
    body.append(f"<g class='lines' fill='none'>{''.join(groups)}</g>")
    for i, token in enumerate(data.tokens):
        shown = display_token(token)
        bold = "bold" if i == state.selected else ""
        body.append(_text(x_left, y(i), shown, anchor="end", weight=bold,
                          extra=f" class='tok q' data-q='{i}' data-select='{i}'"))
        body.append(_text(x_right, y(i), shown, extra=f" class='tok k' data-k='{i}' data-select='{i}'"))
    return _svg(width, height, body, "head-view")


def model_view_svg(data: AttentionData, state: ViewState = ViewState(), min_weight: float = 0.05) -> str:
    """Every layer (rows) x head (columns) as a thumbnail of its head view."""
    if not data.tokens:
        return _message("No tokens: type some text.", "model-view")
    state = state.clamped(data)
    L, H, T = data.n_layers, data.n_heads, len(data.tokens)
    step = min(4.0, max(1.0, 160.0 / T))                                     # pixels between token ticks
    thumb_w, thumb_h, gap, left, top = 84, step * T + 8, 12, 44, 50
    width, height = left + H * (thumb_w + gap), top + L * (thumb_h + gap) + 4
    focus = " · only the lines of the selected token" if state.selected >= 0 else ""
    body = [_text(10, 18, f"Model view · {L} layers × {H} heads{focus}", size=13, weight="bold")]
    if data.note:
        body.append(_text(10, 34, data.note, size=10, fill="#a33"))
    queries = range(T) if state.selected < 0 else [state.selected]
    for h in range(H):
        body.append(_text(left + h * (thumb_w + gap) + thumb_w / 2, top - 6, f"head {h}", anchor="middle",
                          size=10, fill="#555"))
    for l in range(L):
        y0 = top + l * (thumb_h + gap)
        body.append(_text(left - 8, y0 + thumb_h / 2 + 4, f"L{l}", anchor="end", size=10, fill="#555"))
        for h in range(H):
            x0 = left + h * (thumb_w + gap)
            current = l == state.layer and (state.head == h or state.head < 0)
            border = "#333" if current else "#ccc"
            cell = [f"<rect x='{x0}' y='{y0:.1f}' width='{thumb_w}' height='{thumb_h:.1f}' fill='white' "
                    f"stroke='{border}' stroke-width='{1.5 if current else 0.8}'/>"]
            a = data.attention[l, h]
            segments = [(round(float(a[i, j]), 1), f"M{x0 + 14} {y0 + 4 + step * i:.1f}L{x0 + thumb_w - 14} "
                                                   f"{y0 + 4 + step * j:.1f}")
                        for i in queries for j in range(i + 1) if a[i, j] >= min_weight]
            cell += _paths_by_opacity(segments, f"stroke='{_colour(h)}' fill='none'", "stroke-opacity")
            cell.append(f"<rect x='{x0}' y='{y0:.1f}' width='{thumb_w}' height='{thumb_h:.1f}' fill='transparent'>"
                        f"<title>layer {l}, head {h}: click to open</title></rect>")
            body.append(f"<g class='thumb' data-layer='{l}' data-head='{h}'>{''.join(cell)}</g>")
    return _svg(width, height, body, "model-view")


def _paths_by_opacity(segments: list[tuple[float, str]], style: str, opacity_attr: str) -> list[str]:
    """Join path segments that share an opacity (rounded to 0.1) into one path: a compact SVG."""
    by_level: dict[float, list[str]] = {}
    for level, d in segments:
        if level > 0:
            by_level.setdefault(min(level, 1.0), []).append(d)
    return [f"<path {style} {opacity_attr}='{level:.1f}' d='{''.join(ds)}'/>" for level, ds in sorted(by_level.items())]


def _cells(values: np.ndarray, x: float, y: float, cell: float, scale: float) -> list[str]:
    """One coloured square per number: red positive, blue negative, as strong as |value| / scale."""
    squares: dict[str, list[tuple[float, str]]] = {"#c0392b": [], "#2e6fb7": []}
    for n, v in enumerate(values):
        strength = min(abs(float(v)) / scale, 1.0) if scale > 0 else 0.0
        squares["#c0392b" if v > 0 else "#2e6fb7"].append(
            (round(strength, 1), f"M{x + n * cell:.1f} {y:.0f}h{cell - 1:.1f}v{cell + 3:.1f}h-{cell - 1:.1f}z"))
    return [p for fill, segments in squares.items() for p in _paths_by_opacity(segments, f"fill='{fill}'", "fill-opacity")]


def neuron_view_svg(data: AttentionData, state: ViewState = ViewState()) -> str:
    """One head, one query: q, every visible key k_j, q*k_j, the score q.k_j/sqrt(d) and the weight."""
    if not data.tokens:
        return _message("No tokens: type some text.", "neuron-view")
    if data.queries is None or data.keys is None:
        return _message("The neuron view needs the query and key vectors (AttentionData.from_model).",
                        "neuron-view")
    state = state.clamped(data)
    head = max(state.head, 0)
    i = state.selected if state.selected >= 0 else len(data.tokens) - 1
    q = data.queries[state.layer, head, i]                                   # (hs,)
    k = data.keys[state.layer, head, : i + 1]                                # (i+1, hs)
    hs = q.shape[0]
    products = k * q                                                          # (i+1, hs)
    scores = products.sum(axis=1) / np.sqrt(hs)                               # (i+1,)
    weights = data.attention[state.layer, head, i, : i + 1]                   # (i+1,) = softmax(scores)
    cell = max(3.0, min(8.0, 240.0 / hs))
    x_label, x_k = 118, 126
    x_p = x_k + hs * cell + 24
    x_s = x_p + hs * cell + 54
    x_w = x_s + 12
    row, top = 16, 96
    width, height = x_w + 120, top + row * (i + 1) + 30
    q_scale, k_scale = float(max(np.abs(q).max(), 1e-9)), float(max(np.abs(k).max(), 1e-9))
    prod_scale = float(max(np.abs(products).max(), 1e-9))
    body = [_text(10, 18, f"Neuron view · layer {state.layer} · head {head} · query "
                          f"{i}: “{display_token(data.tokens[i])}”", size=13, weight="bold"),
            _text(10, 36, f"score = q·k / √{hs}; weight = softmax of the scores over the {i + 1} visible keys. "
                          "Red > 0, blue < 0; each panel scaled to its largest value.", size=10, fill="#555")]
    if data.note:
        body.append(_text(width - 10, 36, data.note, anchor="end", size=10, fill="#a33"))
    body.append(_text(x_label, 64, "query q", anchor="end", weight="bold"))
    body += _cells(q, x_k, 54, cell, q_scale)
    body += [_text(x_k, top - 12, "key k", size=10, fill="#777"),
             _text(x_p, top - 12, "q × k (elementwise)", size=10, fill="#777"),
             _text(x_s, top - 12, "score", anchor="end", size=10, fill="#777"),
             _text(x_w, top - 12, "weight", size=10, fill="#777")]
    best = int(np.argmax(weights))
    for j in range(i + 1):
        y = top + row * j
        body.append(_text(x_label, y + 9, display_token(data.tokens[j]), anchor="end",
                          weight="bold" if j == best else "", extra=f" class='tok k' data-select='{j}'"))
        body += _cells(k[j], x_k, y, cell, k_scale)
        body += _cells(products[j], x_p, y, cell, prod_scale)
        body.append(_text(x_s, y + 9, f"{scores[j]:.2f}", anchor="end", size=10))
        body.append(f"<rect x='{x_w}' y='{y + 1}' width='{80 * float(weights[j]):.1f}' height='10' "
                    f"fill='{_colour(head)}'/>")
        body.append(_text(x_w + 84, y + 9, f"{weights[j]:.2f}", size=10, fill="#555"))
    if i + 1 < len(data.tokens):
        body.append(_text(x_label, top + row * (i + 1) + 12,
                          f"+ {len(data.tokens) - i - 1} later tokens: masked (weight 0)", size=10, fill="#999"))
    return _svg(width, height, body, "neuron-view")


def heatmap_view_svg(data: AttentionData, state: ViewState = ViewState()) -> str:
    """The attention matrix as a grid: row i = query i, column j = key j, darker = more weight."""
    if not data.tokens:
        return _message("No tokens: type some text.", "heatmap-view")
    state = state.clamped(data)
    T = len(data.tokens)
    att = data.attention[state.layer]                                         # (H, T, T)
    matrix = att.mean(axis=0) if state.head < 0 else att[state.head]          # (T, T)
    which = "mean of all heads" if state.head < 0 else f"head {state.head}"
    cell = max(6.0, min(18.0, 560 / T))
    left, top = 110, 100
    width, height = left + cell * T + 20, top + cell * T + 14
    body = [_text(10, 18, f"Heat-map · layer {state.layer} · {which}", size=13, weight="bold"),
            _text(10, 36, "row = query (the token attending), column = key; each row sums to 1", size=10,
                  fill="#777")]
    if data.note:
        body.append(_text(10, 52, data.note, size=10, fill="#a33"))
    for i in range(T):
        for j in range(i + 1):                                                # causal: keys j <= i only
            w = float(matrix[i, j])
            body.append(f"<rect x='{left + j * cell:.1f}' y='{top + i * cell:.1f}' width='{cell:.1f}' "
                        f"height='{cell:.1f}' fill='#1f4e9c' fill-opacity='{min(w, 1.0):.2f}'>"
                        f"<title>{_esc(display_token(data.tokens[i]))} → "
                        f"{_esc(display_token(data.tokens[j]))}: {w:.2f}</title></rect>")
    body.append(f"<rect x='{left}' y='{top}' width='{cell * T:.1f}' height='{cell * T:.1f}' fill='none' "
                f"stroke='#ccc'/>")
    size = 10 if cell >= 10 else 7
    for i, token in enumerate(data.tokens):
        shown = display_token(token)
        bold = "bold" if i == state.selected else ""
        body.append(_text(left - 4, top + i * cell + cell * 0.75, shown, anchor="end", size=size, weight=bold,
                          extra=f" class='tok q' data-select='{i}'"))
        x = left + i * cell + cell * 0.7
        body.append(_text(x, top - 4, shown, size=size,
                          extra=f" transform='rotate(-60 {x:.1f} {top - 4})'"))
    return _svg(width, height, body, "heatmap-view")


def render_svg(data: AttentionData, state: ViewState = ViewState()) -> str:
    """The picture for a state: the head, model, neuron or heat-map view."""
    view = {"head": head_view_svg, "model": model_view_svg, "neuron": neuron_view_svg,
            "heatmap": heatmap_view_svg}
    if state.view not in view:
        raise ValueError(f"view must be one of {VIEWS}, got {state.view!r}")
    return view[state.view](data, state)


# --------------------------------------------------------------------------------------------------
# The interactive shell
# --------------------------------------------------------------------------------------------------

class AttentionViewer(anywidget.AnyWidget):
    """Type text, pick a view, layer, head and token; Python renders the SVG, the browser shows it.

    Works wherever anywidget does (JupyterLab 4, Notebook 7, VS Code, Colab). Where widgets cannot run
    (GitHub, a static export), the output carries the SVG of the current state as HTML.
    """

    _esm = pathlib.Path(__file__).with_name("attention_viewer.js")

    text = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("head").tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(-1).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    svg = traitlets.Unicode("").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    n_heads = traitlets.Int(0).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    def __init__(self, model, tokenizer, text: str = "", view: str = "head", layer: int = 0, head: int = -1,
                 selected: int = -1, max_tokens: int | None = None):
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        self._model, self._tokenizer, self._max_tokens = model, tokenizer, max_tokens
        self._ready = False  # trait notifications of the constructor itself are not changes
        self.data = AttentionData.from_model(model, tokenizer, text, max_tokens=max_tokens)
        super().__init__(text=text, view=view, layer=layer, head=head, selected=selected,
                         n_layers=self.data.n_layers, n_heads=self.data.n_heads)
        self._sync_data()
        self._ready = True
        self._render()

    @property
    def state(self) -> ViewState:
        return ViewState(self.view, self.layer, self.head, self.selected)

    def _sync_data(self) -> None:
        self.tokens = [display_token(t) for t in self.data.tokens]
        self.note = self.data.note

    @traitlets.observe("text")
    def _on_text(self, change) -> None:
        if not self._ready:
            return
        self.data = AttentionData.from_model(self._model, self._tokenizer, change["new"],
                                             max_tokens=self._max_tokens)
        with self.hold_trait_notifications():
            self.selected = -1
            self._sync_data()
        self._render()

    @traitlets.observe("view", "layer", "head", "selected")
    def _on_state(self, change) -> None:
        if self._ready:
            self._render()

    def _render(self) -> None:
        state = self.state
        if state.view not in VIEWS:
            state = replace(state, view="head")
        state = state.clamped(self.data)
        self.svg = render_svg(self.data, state)

    def __repr__(self) -> str:
        return (f"AttentionViewer({self.data.n_layers} layers × {self.data.n_heads} heads, "
                f"{len(self.data.tokens)} tokens, view={self.view!r})")

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = repr(self)
        data["text/html"] = f"<div>{self.svg}</div>"  # the static picture for front ends without widgets
        return bundle
