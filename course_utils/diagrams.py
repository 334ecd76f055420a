"""Pictures of mechanisms: the shape of a computation, drawn before the student writes it.

Each function draws one diagram with matplotlib and returns the figure (call ``plt.show()`` in a notebook):

- ``attention_flow``   x to Q, K, V; scores, mask and softmax; the weighted sum of the values (03)
- ``residual_stream``  a pre-norm block: two branches read the stream and add back into it (04)
- ``encoder_decoder``  the two stacks and the cross-attention between them (04)
- ``kv_cache``         the key/value cache growing by one row per generated token (06)
- ``lora_bypass``      the frozen weight and its low-rank trainable bypass (07)
- ``dpo_pair``         DPO: a trained policy and a frozen reference score the same chosen and rejected answer (08)

The numbers a diagram prints (matrix sizes, parameter counts, rows computed) come from its arguments, so they
match the model the notebook builds. The axes are in inches, so a box of width 1 is an inch wide on the page.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

from .validation import is_int

# One colour per role, the same in every diagram.
COLOURS = {
    "input": "white",
    "embedding": "#fde2c8",
    "attention": "#cfe3f5",
    "feed_forward": "#d8efd3",
    "output": "#e9dcf3",
    "cross": "#f7d6d6",
    "trained": "#fbe3a6",
    "frozen": "#e4e4e4",
    "new": "#f5b041",
    "arrow": "0.3",
    "accent": "#c0392b",
}


def _canvas(width: float, height: float, title: str):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set(xlim=(0, width), ylim=(0, height))
    ax.set_aspect("equal")
    ax.axis("off")
    ax.text(width / 2, height - 0.25, title, ha="center", va="center", fontsize=10.5)
    return fig, ax


def box(ax, x: float, y: float, text: str, colour: str, w: float = 2.0, h: float = 0.7,
        fontsize: float = 9, **kwargs) -> FancyBboxPatch:
    """A rounded box centred at (x, y) with its label inside."""
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                           facecolor=colour, edgecolor="0.3", **kwargs)
    ax.add_patch(patch)
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return patch


def frame(ax, x: float, y: float, w: float, h: float) -> FancyBboxPatch:
    """A dashed frame around a group of boxes (a repeated block, a model)."""
    return box(ax, x, y, "", "none", w=w, h=h, ls="--", zorder=0, gid="frame")


def arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = COLOURS["arrow"],
          **kwargs) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.4,
                                                          shrinkA=0, shrinkB=0, **kwargs))


def _plus(ax, x: float, y: float, radius: float = 0.2) -> None:
    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor="0.3", zorder=3, gid="plus"))
    ax.text(x, y, "+", ha="center", va="center", fontsize=12, zorder=4)


def _require_positive(**values) -> None:
    for name, value in values.items():
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def attention_flow(n_tokens: int = 5, d_model: int = 64, d_head: int = 16):
    """Single-head causal attention: x is projected to Q, K and V; Q Kᵀ / √d scores every pair; the mask
    and a softmax per row turn scores into weights; the output is the weights times V."""
    _require_positive(n_tokens=n_tokens, d_model=d_model, d_head=d_head)
    T, C, d = n_tokens, d_model, d_head
    fig, ax = _canvas(10.4, 5.2, "One attention head: every token's output is a weighted mix of the values")
    box(ax, 0.9, 2.4, f"x\n({T} × {C})", COLOURS["input"], w=1.3, h=0.9)
    rows = {"Q": 3.9, "K": 2.4, "V": 0.9}
    for name, y in rows.items():
        box(ax, 2.95, y, f"${name} = x\\,W_{name}$\n({T} × {d})", COLOURS["attention"], w=1.7, h=0.85)
        arrow(ax, (1.55, 2.4), (2.1, y))
    box(ax, 5.2, 3.15, f"scores\n$QK^\\top/\\sqrt{{{d}}}$ ({T} × {T})", COLOURS["embedding"], w=2.0, h=0.9)
    arrow(ax, (3.8, 3.9), (4.2, 3.35))
    arrow(ax, (3.8, 2.4), (4.2, 2.95))
    box(ax, 7.5, 3.15, "mask: −∞ where\nj > i; softmax\nover each row", COLOURS["cross"], w=1.8, h=1.05)
    arrow(ax, (6.2, 3.15), (6.6, 3.15))
    box(ax, 7.5, 0.9, f"output = weights · V\n({T} × {d})", COLOURS["output"], w=2.2, h=0.85)
    arrow(ax, (7.5, 2.62), (7.5, 1.33))
    ax.text(7.6, 2.0, "weights", fontsize=8.5, color="0.35", ha="left", va="center")
    arrow(ax, (3.8, 0.9), (6.4, 0.9))
    # The weights' shape after the mask: query i (a row) may read keys 1..i (the shaded cells); each row sums to 1.
    cell, left, top = 0.22, 8.95, 3.7
    for i in range(T):
        for j in range(T):
            shade = COLOURS["accent"] if j <= i else "white"
            ax.add_patch(Rectangle((left + j * cell, top - (i + 1) * cell), cell, cell, facecolor=shade,
                                   alpha=0.25 + 0.6 * (j == i) if j <= i else 1.0, edgecolor="0.5", lw=0.5))
    ax.text(left + T * cell / 2, top + 0.18, "weights", ha="center", fontsize=8.5)
    ax.text(left + T * cell / 2, top - T * cell - 0.2, "rows: queries\ncolumns: keys", ha="center", va="top",
            fontsize=7.5, color="0.35")
    return fig


def residual_stream(n_layer: int = 4):
    """A pre-norm block: the stream x runs straight through; attention and the feed-forward network each read
    a normalized copy and add their result back, so x ← x + attn(LN(x)), then x ← x + ffn(LN(x))."""
    _require_positive(n_layer=n_layer)
    fig, ax = _canvas(11.0, 4.6, "The residual stream: each branch reads the stream and adds to it")
    y = 1.2
    box(ax, 1.0, y, "token + position\nembeddings", COLOURS["embedding"], w=1.6, h=0.8)
    box(ax, 10.0, y, "final LayerNorm\n→ LM head", COLOURS["embedding"], w=1.6, h=0.8)
    ax.annotate("", xy=(9.2, y), xytext=(1.8, y), arrowprops=dict(arrowstyle="-|>", color="0.2", lw=3,
                                                                  shrinkA=0, shrinkB=0))
    ax.text(1.0, y - 0.55, "the stream x: T × C", fontsize=8.5, color="0.35", ha="center", va="top")
    for start, name, colour, formula in ((2.8, "attention", COLOURS["attention"], "x + attn(LN(x))"),
                                         (5.6, "feed-forward", COLOURS["feed_forward"], "x + ffn(LN(x))")):
        join = start + 2.2
        box(ax, start + 0.3, 2.3, "LayerNorm", "white", w=1.2, h=0.5)
        box(ax, start + 1.3, 3.3, name, colour, w=1.6, h=0.6)
        arrow(ax, (start, y), (start + 0.3, 2.05))
        arrow(ax, (start + 0.3, 2.55), (start + 0.8, 3.0))
        arrow(ax, (start + 2.1, 3.3), (join, y + 0.2), connectionstyle="arc3,rad=-0.2")
        _plus(ax, join, y)
        ax.text(join, y - 0.3, formula, ha="center", va="top", fontsize=8.5)
    frame(ax, 5.35, 2.125, 5.7, 3.35)
    ax.text(8.2, 3.95, f"× {n_layer} blocks", fontsize=9, style="italic", ha="right")
    return fig


def encoder_decoder():
    """An encoder-decoder: the encoder reads the source once, bidirectionally; every decoder block reads the
    encoder's output H through cross-attention (LayerNorms and residual connections left out)."""
    fig, ax = _canvas(9.0, 5.6, "An encoder-decoder: the decoder reads the encoder's output through cross-attention")
    enc, dec = 2.2, 6.6
    encoder_boxes = [(0.4, "source: Lily had a red ball", COLOURS["input"]),
                     (1.1, "token + position embeddings", COLOURS["embedding"]),
                     (2.0, "self-attention\n(bidirectional: no mask)", COLOURS["attention"]),
                     (2.8, "feed-forward", COLOURS["feed_forward"]),
                     (3.9, "encoder output $H$\n(a vector per source token)", COLOURS["output"])]
    decoder_boxes = [(0.4, "output so far: <sep> ball red", COLOURS["input"]),
                     (1.1, "token + position embeddings", COLOURS["embedding"]),
                     (2.0, "self-attention\n(causal: only the past)", COLOURS["attention"]),
                     (2.8, "cross-attention\nQ from here; K, V from $H$", COLOURS["cross"]),
                     (3.6, "feed-forward", COLOURS["feed_forward"]),
                     (4.35, "LayerNorm → LM head", COLOURS["embedding"]),
                     (4.95, "next word: a", COLOURS["input"])]
    for x, boxes in ((enc, encoder_boxes), (dec, decoder_boxes)):
        for y, text, colour in boxes:
            box(ax, x, y, text, colour, w=2.9, h=0.6 if "\n" in text else 0.4, fontsize=8.5)
        for (y0, t0, _), (y1, t1, _) in zip(boxes, boxes[1:]):
            arrow(ax, (x, y0 + (0.3 if "\n" in t0 else 0.2)), (x, y1 - (0.3 if "\n" in t1 else 0.2)))
    frame(ax, enc, 2.4, 3.2, 1.5)
    frame(ax, dec, 2.8, 3.2, 2.3)
    ax.text(enc - 1.7, 2.4, "× encoder layers", rotation=90, ha="right", va="center", fontsize=8, style="italic")
    ax.text(dec + 1.7, 2.8, "× decoder layers", rotation=90, ha="left", va="center", fontsize=8, style="italic")
    arrow(ax, (enc + 1.45, 3.9), (dec - 1.45, 2.8), colour=COLOURS["accent"], connectionstyle="arc3,rad=-0.25")
    ax.text(4.0, 4.6, "keys and values\n(to every decoder block)", color=COLOURS["accent"], fontsize=8,
            ha="center")
    return fig


def kv_cache(prompt_tokens: int = 3, new_tokens: int = 3):
    """Generation with a key/value cache: the prompt's keys and values are computed once (prefill); each new
    token computes one query, key and value, appends its key and value, and attends to the whole cache."""
    _require_positive(prompt_tokens=prompt_tokens, new_tokens=new_tokens)
    if prompt_tokens + new_tokens > 12:
        raise ValueError(f"kv_cache draws at most 12 tokens, got {prompt_tokens} + {new_tokens}")
    steps = new_tokens + 1
    cell = 0.3
    panel = (prompt_tokens + new_tokens) * cell + 0.5
    width = 0.9 + steps * panel
    fig, ax = _canvas(width, 3.6, "The KV cache: each step adds one key and one value, and reads them all")
    for step in range(steps):
        left = 0.9 + step * panel
        length = prompt_tokens + step
        title = f"prefill: {prompt_tokens} tokens" if step == 0 else f"step {step}: token {length}"
        ax.text(left, 2.85, title, fontsize=8.5, va="center")
        for row, (name, y) in enumerate((("K", 2.2), ("V", 1.6))):
            if step == 0:
                ax.text(0.55, y + cell / 2, name, ha="center", va="center", fontsize=10)
            for i in range(length):
                is_new = step == 0 or i == length - 1
                ax.add_patch(Rectangle((left + i * cell, y), cell, cell, edgecolor="0.4", lw=0.6,
                                       facecolor=COLOURS["new"] if is_new else COLOURS["frozen"]))
        query_x = left + (length - 0.5) * cell
        ax.text(query_x, 0.9, "q", ha="center", va="center", fontsize=10, color=COLOURS["accent"])
        arrow(ax, (query_x, 1.05), (query_x, 1.55), colour=COLOURS["accent"])
    without = sum(prompt_tokens + step for step in range(steps))
    with_cache = prompt_tokens + new_tokens
    ax.add_patch(Rectangle((0.9, 0.3), cell, cell, facecolor=COLOURS["new"], edgecolor="0.4", lw=0.6))
    ax.text(0.9 + 1.4 * cell, 0.3 + cell / 2, "computed this step", va="center", fontsize=8)
    ax.add_patch(Rectangle((3.0, 0.3), cell, cell, facecolor=COLOURS["frozen"], edgecolor="0.4", lw=0.6))
    ax.text(3.0 + 1.4 * cell, 0.3 + cell / 2, "read from the cache", va="center", fontsize=8)
    ax.text(width - 0.2, 0.45, f"key/value rows computed: {with_cache} with the cache, {without} without",
            ha="right", va="center", fontsize=8, color="0.35")
    return fig


def lora_bypass(d_in: int = 64, d_out: int = 64, rank: int = 4):
    """LoRA: the pretrained W stays frozen; a bypass B A of rank r, B starting at zero, learns the update, and
    h = W x + (α / r) B A x. After training, W + (α / r) B A is one matrix again."""
    _require_positive(d_in=d_in, d_out=d_out, rank=rank)
    if rank > min(d_in, d_out):
        raise ValueError(f"rank must be at most min(d_in, d_out) = {min(d_in, d_out)}, got {rank}")
    fig, ax = _canvas(8.4, 5.9, "LoRA: a frozen weight and a small trainable bypass beside it")
    box(ax, 4.2, 0.5, f"x ({d_in})", COLOURS["input"], w=1.2, h=0.45)
    box(ax, 2.3, 2.6, f"W\nfrozen\n{d_out} × {d_in}\n{d_in * d_out:,} numbers", COLOURS["frozen"], w=2.0, h=2.0)
    box(ax, 6.2, 1.75, f"A: {rank} × {d_in}, random", COLOURS["trained"], w=2.2, h=0.45)
    box(ax, 6.2, 3.2, f"B: {d_out} × {rank}\nzeros at first", COLOURS["trained"], w=1.5, h=0.8)
    _plus(ax, 4.2, 4.3)
    box(ax, 4.2, 4.95, "h = W x + (α / r) B A x", COLOURS["output"], w=2.6, h=0.45)
    arrow(ax, (3.9, 0.73), (2.6, 1.6))
    arrow(ax, (4.5, 0.73), (6.0, 1.52))
    arrow(ax, (6.2, 1.98), (6.2, 2.8))
    arrow(ax, (2.3, 3.6), (4.0, 4.2))
    arrow(ax, (6.0, 3.6), (4.4, 4.2))
    arrow(ax, (4.2, 4.5), (4.2, 4.72))
    ax.text(5.35, 4.1, "× α / r", fontsize=9, ha="left")
    ax.text(7.05, 2.45, f"rank {rank}", fontsize=8.5, color="0.35", ha="left")
    ax.text(4.2, 0.0, f"trained: {rank * (d_in + d_out):,} numbers, "
            f"{rank * (d_in + d_out) / (d_in * d_out):.1%} of W", ha="center", va="bottom", fontsize=8.5,
            color="0.35")
    return fig


def dpo_pair(beta: float = 0.1):
    """DPO: the trained policy and a frozen copy of it (the reference) score the same chosen and rejected
    answer; each answer's implicit reward is β times the policy's log-probability minus the reference's, and
    the loss pushes the chosen answer's reward above the rejected one's."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
        raise ValueError(f"beta must be a positive number, got {beta!r}")
    fig, ax = _canvas(11.6, 5.0, "DPO: two copies of one model score the same pair of answers")
    box(ax, 4.3, 4.05, "policy $\\pi_\\theta$ (trained)", COLOURS["trained"], w=2.1, h=0.45)
    box(ax, 6.8, 4.05, "reference $\\pi_{\\mathrm{ref}}$ (frozen)", COLOURS["frozen"], w=2.3, h=0.45)
    for label, tag, y in (("prompt + chosen $y_w$", "w", 2.9), ("prompt + rejected $y_l$", "l", 1.3)):
        box(ax, 1.25, y, label, COLOURS["input"], w=2.1, h=0.55)
        box(ax, 4.3, y, f"$\\log \\pi_\\theta(y_{tag} \\mid x)$", COLOURS["trained"], w=1.9, h=0.55)
        box(ax, 6.8, y, f"$\\log \\pi_{{\\mathrm{{ref}}}}(y_{tag} \\mid x)$", COLOURS["frozen"], w=2.1, h=0.55)
        box(ax, 9.3, y, f"$r_{tag} = {beta:g}\\,$(policy − ref)", COLOURS["output"], w=2.1, h=0.55)
        arrow(ax, (2.3, y), (3.35, y))
        arrow(ax, (2.3, y + 0.15), (5.75, y + 0.15), connectionstyle="arc3,rad=-0.35")
        arrow(ax, (7.85, y), (8.25, y))
        arrow(ax, (4.3, y - 0.28), (8.6, y - 0.28), connectionstyle="arc3,rad=0.3")
    box(ax, 9.3, 0.35, "loss $= -\\log\\,\\sigma(r_w - r_l)$", COLOURS["cross"], w=2.5, h=0.5)
    arrow(ax, (9.3, 1.02), (9.3, 0.6))
    ax.annotate("", xy=(9.9, 0.6), xytext=(9.9, 2.62), arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1.4,
                                                                      connectionstyle="arc3,rad=-0.3"))
    ax.text(0.2, 0.35, "gradients reach the policy only;\nthe reference stays as it was", ha="left", va="center",
            fontsize=8.5, color="0.35")
    return fig
