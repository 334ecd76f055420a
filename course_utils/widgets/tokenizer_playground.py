"""Tokenizer playground: type text, see how several tokenizers split it.

Pure functions (unit-tested): ``token_spans(tokenizer, text)`` lists the tokens of a text, and
``playground_html`` / ``playground_text`` render them side by side as coloured spans with their IDs, token
counts and characters per token, whitespace made visible (``·`` space, ``↵`` newline, ``→`` tab).
``show(tokenizers)`` displays the static rendering of the default text, then returns the interactive version
(a text box; the rendering follows as you type)::

    from course_utils.widgets import tokenizer_playground
    tokenizer_playground.show({"characters": char_tokenizer, "GPT-2": tiktoken.get_encoding("r50k_base")})

Any tokenizer of the course works: ``CharTokenizer`` and ``WordTokenizer`` (unknown characters and words are
shown in red instead of raising), ``BPETokenizer``, and ``tiktoken.Encoding`` (GPT-2, GPT-4, ...). Tokens that
are only part of a UTF-8 character (one byte of an emoji) are shown as ``\\xf0``-style escapes, dashed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bpe import BPETokenizer
from ..tokenizer_base import Tokenizer
from ..tokenizers import CharTokenizer
from ._html import PALETTE, StaticView, WidgetShell, escape, shorten, visible

__all__ = ["Span", "token_spans", "playground_html", "playground_text", "show", "DEFAULT_TEXT"]

DEFAULT_TEXT = "Once upon a time, Lily met a dragon named Zyx.\nIt said: \"I ate 12345 cookies!\" 🐉  Ça va?"
MAX_TOKENS_SHOWN = 300  # per tokenizer; the counts always cover the whole text
MAX_TEXT = 200_000      # characters tokenized; beyond this the playground says it cut the text


@dataclass(frozen=True)
class Span:
    """One token: its text as shown, its ID (None if the tokenizer has no ID for it), and its kind."""

    text: str
    id: int | None
    kind: str = "token"  # "token" | "unknown" (not in the vocabulary) | "special" | "partial" (part of a character)


def _from_bytes(token_id: int, piece: bytes, special: bool) -> Span:
    try:
        return Span(piece.decode("utf-8"), token_id, "special" if special else "token")
    except UnicodeDecodeError:
        return Span(piece.decode("utf-8", errors="backslashreplace"), token_id, "partial")


def token_spans(tokenizer, text: str) -> list[Span]:
    """The tokens of ``text`` under ``tokenizer``, in order; their texts join back to ``text`` (up to escapes)."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    if isinstance(tokenizer, CharTokenizer):
        return [Span(ch, tokenizer.stoi.get(ch), "token" if ch in tokenizer.stoi else "unknown") for ch in text]
    if isinstance(tokenizer, BPETokenizer):
        return [_from_bytes(i, tokenizer.token_bytes(i), tokenizer.is_special(i))
                for i in tokenizer.encode(text, allowed_special="all")]
    if hasattr(tokenizer, "decode_single_token_bytes"):  # a tiktoken.Encoding
        special = set(getattr(tokenizer, "_special_tokens", {}).values())
        return [_from_bytes(i, tokenizer.decode_single_token_bytes(i), i in special)
                for i in tokenizer.encode(text, allowed_special="all")]
    if isinstance(tokenizer, Tokenizer):  # a word tokenizer: unknown words keep their text, marked
        return [Span(piece, i, "unknown" if unknown else "token") for piece, i, unknown in
                zip(tokenizer.pieces(text), tokenizer.encode(text), tokenizer.unknown(text))]
    if hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode"):
        return [Span(tokenizer.decode([i]), i) for i in tokenizer.encode(text)]
    raise TypeError(f"cannot show tokens of a {type(tokenizer).__name__}: it needs encode() and decode()")


def _prepare(text: str, tokenizers: dict):
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    if not tokenizers:
        raise ValueError("give at least one tokenizer, as a dict {name: tokenizer}")
    cut = len(text) > MAX_TEXT
    text = text[:MAX_TEXT]
    return text, cut, {name: token_spans(tok, text) for name, tok in tokenizers.items()}


def _rate(text: str, n_tokens: int) -> str:
    return f"{len(text) / n_tokens:.2f} characters/token" if n_tokens else "no tokens"


def playground_html(text: str, tokenizers: dict, *, max_tokens: int = MAX_TOKENS_SHOWN) -> str:
    """HTML: for each tokenizer, its token count and the text as coloured token spans with IDs."""
    text, cut, all_spans = _prepare(text, tokenizers)
    n_bytes = len(text.encode("utf-8", errors="surrogatepass"))
    note = f" (cut to the first {MAX_TEXT:,} characters)" if cut else ""
    counts = " · ".join(f"{escape(name)} <b>{len(spans):,}</b>" for name, spans in all_spans.items())
    out = ['<div style="font-family:sans-serif;font-size:13px;line-height:1.4">',
           f'<div style="color:#444">{len(text):,} characters, {n_bytes:,} UTF-8 bytes{note} — tokens: {counts}</div>']
    for name, spans in all_spans.items():
        out.append('<div style="margin-top:8px">')
        out.append(f'<div><b>{escape(name)}</b> <span style="color:#555">— {len(spans):,} tokens, '
                   f'{_rate(text, len(spans))}</span></div>')
        out.append('<div style="font-family:monospace;font-size:14px;line-height:2.2;word-break:break-all">')
        if not spans:
            out.append('<span style="color:#888">(empty text: no tokens)</span>')
        for k, span in enumerate(spans[:max_tokens]):
            out.append(_span_html(span, k))
            if "\n" in span.text:
                out.append("<br>")
        if len(spans) > max_tokens:
            out.append(f'<span style="color:#888"> … {len(spans) - max_tokens:,} more tokens not shown</span>')
        out.append("</div></div>")
    out.append("</div>")
    return "".join(out)


_BOX = "border-radius:3px;padding:1px 2px;margin-right:1px;white-space:pre"


def _span_html(span: Span, k: int) -> str:
    style = f"background:{PALETTE[k % len(PALETTE)]};{_BOX}"
    label = "?" if span.id is None else str(span.id)
    title = f"ID {label}"
    if span.kind == "unknown":
        style = f"background:#ffb3b3;border:1px solid #d00;{_BOX}"
        title = "not in the vocabulary" + ("" if span.id is None else f": becomes ID {span.id}")
    elif span.kind == "special":
        style = f"background:#333;color:#fff;{_BOX}"
        title += " (special token)"
    elif span.kind == "partial":
        style += ";border:1px dashed #666"
        title += " (part of a character's UTF-8 bytes)"
    return (f'<span title="{escape(title)}" style="{style}">{escape(visible(span.text))}'
            f'<sub style="font-size:65%;color:#555">{escape(label)}</sub></span>')


def playground_text(text: str, tokenizers: dict, *, max_tokens: int = 60) -> str:
    """The same as plain text: tokens separated by '|', unknown ones in [brackets]."""
    text, cut, all_spans = _prepare(text, tokenizers)
    lines = [f"{len(text):,} characters" + (f" (cut to the first {MAX_TEXT:,})" if cut else "")]
    for name, spans in all_spans.items():
        shown = "|".join(f"[{visible(s.text)}]" if s.kind == "unknown" else visible(s.text) for s in spans[:max_tokens])
        more = f" … +{len(spans) - max_tokens:,}" if len(spans) > max_tokens else ""
        lines.append(f"{name}: {len(spans):,} tokens  {shorten(shown, 400)}{more}")
    return "\n".join(lines)


def show(tokenizers: dict, text: str = DEFAULT_TEXT):
    """Display a static rendering of ``text`` (what GitHub and headless runs show), then return the live one."""
    import ipywidgets as widgets
    from IPython.display import display

    display(StaticView(playground_html(text, tokenizers), playground_text(text, tokenizers)))
    box = widgets.Textarea(value=text, placeholder="Type any text", continuous_update=True,
                           layout=widgets.Layout(width="100%", height="70px"))
    view = widgets.HTML(playground_html(text, tokenizers))

    def update(change):
        view.value = playground_html(change["new"], tokenizers)

    box.observe(update, names="value")
    return WidgetShell(widgets.VBox([box, view]),
                       "Tokenizer playground: run this notebook in Jupyter to type your own text.")
