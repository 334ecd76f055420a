"""Decoding explorer: a prompt, sliders for temperature, top-k and top-p, and a seed; see the model's
next-token distribution, which tokens the settings keep, and a continuation sampled with them.

    explorer = DecodingExplorer(model, tokenizer, prompt="Once upon a time,", top_p=0.9)
    explorer          # last line of a cell: interactive in Jupyter, a static picture on GitHub

Two pure pieces, unit-tested: ``decoding_view(prompt, model, tokenizer, ...)`` computes everything shown
(a ``DecodingView``), and ``decoding_html(view)`` draws it. ``DecodingExplorer`` is the thin ipywidgets shell.

Made for the course's storyworld GPTs, with any course tokenizer (characters, words, BPE): a prompt is read
as the start of a story (a newline is put in front of it, as in training), a trailing space is dropped (the
tokens carry their space in front), and words outside a word-level vocabulary, or characters outside a
character-level one, are reported instead of being silently turned into ``<unk>``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import ipywidgets as widgets
import torch

from ..generate import generate, next_token_probs, _check_temperature, _check_top_k, _check_top_p
from ..validation import is_int

__all__ = ["Row", "DecodingView", "decoding_view", "decoding_html", "DecodingExplorer"]

MAX_PROMPT_SHOWN = 160   # characters of the prompt echoed above the continuation; longer ones are elided
MAX_UNKNOWN_SHOWN = 5


def _visible(token: str) -> str:
    """A space is '␣', a newline '⏎'."""
    return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")


@dataclass(frozen=True)
class Row:
    """One candidate next token: its probability at temperature 1 (the model as trained), at the chosen
    temperature, and in the distribution actually sampled from (0 for a filtered token)."""

    token: str
    p_model: float
    p_temperature: float
    p_sampled: float
    kept: bool


@dataclass(frozen=True)
class DecodingView:
    """Everything the explorer shows for one state. ``error`` set means the model was not run."""

    prompt: str
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int
    rows: list[Row] = field(default_factory=list)
    n_kept: int = 0                 # tokens with non-zero probability after filtering
    vocab_size: int = 0
    kept_mass: float = 0.0          # their share of the temperature-scaled distribution
    first_token: str = ""           # the first token of the continuation
    continuation: str = ""
    n_prompt_tokens: int = 0        # tokens the model saw (with the leading newline)
    n_cropped: int = 0              # tokens dropped from the front of a prompt too long for the window
    error: str | None = None


def _newline_id(tokenizer) -> int | None:
    """The token of a lone newline, which ends a story (None if the tokenizer has no such single token)."""
    try:
        ids = tokenizer.encode("\n")
    except ValueError:
        return None
    return ids[0] if len(ids) == 1 else None


def _settings_error(temperature, top_k, top_p, seed, max_new_tokens, n_rows) -> None:
    _check_temperature(temperature), _check_top_k(top_k), _check_top_p(top_p)
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if not is_int(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if not is_int(n_rows) or n_rows < 1:
        raise ValueError(f"n_rows must be an int >= 1, got {n_rows!r}")


@torch.no_grad()
def decoding_view(prompt: str, model, tokenizer, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, seed: int = 0, max_new_tokens: int = 30,
                  n_rows: int = 12) -> DecodingView:
    """Run the model on ``prompt`` and sample a continuation with these settings (temperature 0 is greedy).
    Raises ValueError for invalid settings; a prompt the model cannot read gives a view with ``error`` set."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    _settings_error(temperature, top_k, top_p, seed, max_new_tokens, n_rows)
    base = DecodingView(prompt, float(temperature), top_k, top_p, seed, vocab_size=tokenizer.vocab_size)
    text = "\n" + prompt.rstrip(" ")
    try:
        ids, pieces, unknown = tokenizer.encode(text), tokenizer.pieces(text), tokenizer.unknown(text)
    except ValueError as error:                # a character tokenizer refuses characters it never saw
        return DecodingView(**{**base.__dict__, "error": f"This model cannot read the prompt: {error}."})
    unknown = list(dict.fromkeys(p for p, u in zip(pieces, unknown) if u))
    if unknown:
        shown = ", ".join(repr(_visible(w)) for w in unknown[:MAX_UNKNOWN_SHOWN])
        more = f" and {len(unknown) - MAX_UNKNOWN_SHOWN} more" if len(unknown) > MAX_UNKNOWN_SHOWN else ""
        tips = "".join(
            [f" {_visible(w)!r} is known only after a space (a storyworld story starts with 'Once')."
             for w in unknown if not any(tokenizer.unknown(" " + w))][:2]
            + [f" {_visible(w)!r} is known only without a space in front (at the start of a line)."
               for w in unknown if w.startswith(" ") and not any(tokenizer.unknown(w[1:]))][:2])
        return DecodingView(**{**base.__dict__, "error": (
            f"Not in this model's vocabulary: {shown}{more}.{tips} Its tokenizer knows only the words and "
            f"marks of storyworld; an unknown word would reach the model as <unk>, a token it never saw in "
            f"training. Use words from a storyworld story (␣ is a space: write one space between words).")})
    window = model.config.block_size - max_new_tokens    # room for the continuation inside the window
    if window < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room in the context window "
                         f"(block_size={model.config.block_size})")
    cropped = max(0, len(ids) - window)
    idx = torch.tensor([ids[cropped:]], device=next(model.parameters()).device)
    logits = model(idx)[0][:, -1, :].cpu()                                 # (1, vocab_size)
    p_model = logits.softmax(dim=-1)[0]
    p_sampled = next_token_probs(logits, temperature, top_k, top_p)[0]
    # at T -> 0 the distribution becomes one-hot on the most likely token: greedy decoding
    p_temperature = (logits / temperature).softmax(dim=-1)[0] if temperature > 0 else p_sampled
    out = generate(model, idx, max_new_tokens, temperature, top_k, top_p,
                   generator=torch.Generator().manual_seed(seed), stop_token=_newline_id(tokenizer))
    new = out[0, idx.size(1):].tolist()
    order = torch.argsort(p_model, descending=True, stable=True)[:n_rows].tolist()
    if new[0] not in order:                     # always show the token that was actually drawn
        order[-1] = new[0]
    rows = [Row(tokenizer.decode([i]), p_model[i].item(), p_temperature[i].item(), p_sampled[i].item(),
                bool(p_sampled[i] > 0)) for i in order]
    kept = p_sampled > 0
    return DecodingView(**{**base.__dict__, "rows": rows, "n_kept": int(kept.sum()),
                           "kept_mass": p_temperature[kept].sum().item(), "first_token": tokenizer.decode(new[:1]),
                           "continuation": tokenizer.decode(new), "n_prompt_tokens": idx.size(1),
                           "n_cropped": cropped})


def _settings_text(view: DecodingView) -> str:
    if view.temperature == 0:
        return "temperature 0 (greedy: always the most likely token)"
    parts = [f"temperature {view.temperature:g}",
             f"top-k {view.top_k}" if view.top_k is not None else "top-k off",
             f"top-p {view.top_p:g}" if view.top_p is not None and view.top_p < 1 else "top-p off",
             f"seed {view.seed}"]
    return ", ".join(parts)


def _pct(p: float) -> str:
    return "0%" if p == 0 else "<0.1%" if p < 0.0005 else f"{p:.1%}"


def _table(view: DecodingView) -> str:
    """One row per candidate: the bar is the probability at the chosen temperature; filtered tokens are
    grey and struck through; ★ marks the token that was drawn."""
    two = view.temperature != 1.0
    label = "greedy (T → 0)" if view.temperature == 0 else f"T = {view.temperature:g}"
    cell = "text-align:right;padding-left:10px;font-family:monospace"
    head = ("<tr style='color:#555'><th style='text-align:left;padding-right:10px'>next token</th>"
            f"<th style='text-align:left'>probability, {html.escape(label)}</th>"
            "<th style='text-align:right;padding-left:10px'>model (T = 1)</th>"
            + (f"<th style='text-align:right;padding-left:10px'>{html.escape(label)}</th>" if two else "")
            + "<th style='text-align:right;padding-left:10px'>sampled from</th></tr>")
    rows = []
    for r in view.rows:
        width = max(1, round(300 * r.p_temperature))
        colour = "#4c78a8" if r.kept else "#c8c8c8"
        token = html.escape(_visible(r.token))
        token = token if r.kept else f"<s>{token}</s>"
        drawn = " ★" if r.token == view.first_token else ""
        rows.append(
            f"<tr style='color:{'#000' if r.kept else '#999'}'>"
            f"<td style='font-family:monospace;white-space:pre;padding-right:10px'>{token}{drawn}</td>"
            f"<td><div style='background:{colour};height:12px;width:{width}px'></div></td>"
            f"<td style='{cell}'>{_pct(r.p_model)}</td>"
            + (f"<td style='{cell}'>{_pct(r.p_temperature)}</td>" if two else "")
            + f"<td style='{cell}'>{_pct(r.p_sampled) if r.kept else 'filtered'}</td></tr>")
    return f"<table style='border-collapse:collapse'>{head}{''.join(rows)}</table>"


def decoding_html(view: DecodingView) -> str:
    """The whole view as HTML: settings, the prompt, the distribution (kept tokens blue, filtered ones grey
    and struck through, ★ the token drawn), and the sampled continuation after the prompt."""
    if not isinstance(view, DecodingView):
        raise TypeError(f"expected a DecodingView, got {type(view).__name__}")
    prompt = view.prompt
    shown = prompt if len(prompt) <= MAX_PROMPT_SHOWN else "…" + prompt[-MAX_PROMPT_SHOWN:]
    shown = html.escape(shown) if shown else "<i>(empty: the start of a story)</i>"
    top = (f"<div style='color:#555;margin-bottom:6px'>{html.escape(_settings_text(view))}"
           f" · {len(prompt):,} characters of prompt</div>")
    if view.error:
        body = f"<div style='color:#a33;max-width:720px'>{html.escape(view.error)}</div>"
        return f"<div style='font-family:sans-serif;font-size:13px'>{top}<div>{shown}</div>{body}</div>"
    note = ""
    if view.n_cropped:
        note = (f"<div style='color:#a60'>The prompt is longer than the context window: the model sees only "
                f"its last {view.n_prompt_tokens} tokens ({view.n_cropped:,} dropped).</div>")
    summary = (f"<div style='margin:6px 0'>Kept <b>{view.n_kept}</b> of {view.vocab_size} tokens, "
               f"{view.kept_mass:.1%} of the probability at this temperature; renormalized, they are "
               f"what the next token is drawn from.</div>")
    ended = view.continuation.endswith("\n")
    continuation = html.escape(view.continuation.rstrip("\n"))
    story_end = " <span style='color:#777'>⏎ (the story ended)</span>" if ended else " …"
    sample = (f"<div style='margin-top:8px;max-width:760px;line-height:1.5'>"
              f"<span style='color:#777'>{shown}</span>"
              f"<span style='background:#fff3a3'>{continuation}</span>{story_end}</div>")
    return (f"<div style='font-family:sans-serif;font-size:13px'>{top}{note}{_table(view)}{summary}"
            f"<div style='font-weight:600;margin-top:8px'>A continuation sampled with these settings</div>"
            f"{sample}</div>")


class DecodingExplorer(widgets.VBox):
    """Interactive shell around ``decoding_view`` + ``decoding_html``. Where widgets cannot run (GitHub, a
    static export), the same output carries the HTML of the current state. top-k 0 on the slider means off."""

    def __init__(self, model, tokenizer, prompt: str = "", temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int = 0, max_new_tokens: int = 30, n_rows: int = 12):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.n_rows = max_new_tokens, n_rows
        # fail early, with a clear message, on bad settings
        _settings_error(temperature, top_k, top_p, seed, max_new_tokens, n_rows)
        self.text = widgets.Textarea(value=prompt, placeholder="Start a story...", continuous_update=True,
                                     layout=widgets.Layout(width="100%", height="60px"))
        self.temperature = widgets.FloatSlider(value=temperature, min=0.0, max=3.0, step=0.05,
                                               description="temperature", continuous_update=False,
                                               style={"description_width": "initial"})  # the whole label
        self.top_k = widgets.IntSlider(value=top_k or 0, min=0, max=max(50, top_k or 0),
                                       description="top-k (0 off)", continuous_update=False)
        self.top_p = widgets.FloatSlider(value=1.0 if top_p is None else top_p, min=0.05, max=1.0, step=0.05,
                                         description="top-p", continuous_update=False)
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.resample = widgets.Button(description="sample again", icon="refresh")
        self.view = widgets.HTML()
        for control in (self.text, self.temperature, self.top_k, self.top_p, self.seed):
            control.observe(lambda _: self.render(), names="value")
        self.resample.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        super().__init__([self.text, widgets.HBox([self.temperature, self.top_k]),
                          widgets.HBox([self.top_p, self.seed, self.resample]), self.view])
        self.render()

    def settings(self) -> dict:
        return dict(temperature=self.temperature.value, top_k=self.top_k.value or None,
                    top_p=None if self.top_p.value >= 1.0 else self.top_p.value, seed=self.seed.value)

    def render(self) -> None:
        view = decoding_view(self.text.value, self.model, self.tokenizer, max_new_tokens=self.max_new_tokens,
                             n_rows=self.n_rows, **self.settings())
        self.view.value = decoding_html(view)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.view.value  # the static picture for front ends without widgets
        return bundle
