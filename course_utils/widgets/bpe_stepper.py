"""BPE step-through: watch the trainer merge by merge on a small corpus.

Pure functions (unit-tested): ``bpe_trace(text, n_merges)`` runs BPE training and records every step: the
pair-count table the trainer looked at, the pair it chose, and the corpus after the merge; ``step_html`` /
``step_text`` render one step. ``show(text)`` displays the static rendering of the first merge, then returns
the interactive version (edit the corpus and the new words to tokenize, step with the slider or the buttons)::

    from course_utils.widgets import bpe_stepper
    bpe_stepper.show("cats lovely love cats lovely low cat love")

The corpus is split into words and runs of whitespace (pattern ``\\S+|\\s+``), as in the classic word-level
walk-through: merges stay inside a word. The merges are exactly those of
``BPETokenizer.train(text, vocab_size, pattern=WORD_SPLIT, special_tokens=())`` (the tests check it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import regex

from ..bpe import count_pairs, merge
from ._html import PALETTE, StaticView, WidgetShell, escape, shorten, visible

__all__ = ["WORD_SPLIT", "Step", "Trace", "bpe_trace", "step_html", "step_text", "show", "DEFAULT_CORPUS"]

WORD_SPLIT = r"\S+|\s+"
DEFAULT_CORPUS = "cats lovely love cats lovely low cat love"
DEFAULT_PROBE = "lovely cats catlike lowly"
MAX_CHARS = 10_000   # longer corpora are cut: the stepper is for looking, the trainer is for training
TABLE_ROWS = 10
WORDS_SHOWN = 40
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")


@dataclass
class Step:
    number: int                                  # merges done after this step (0: the starting point)
    pair_counts: list                            # [((a, b), count), ...] best first, as counted before the merge
    chosen: tuple[int, int] | None               # the pair merged in this step (None at step 0 / when done)
    new_id: int | None
    words: list                                  # [(token IDs, count), ...] after the merge, most frequent first


@dataclass
class Trace:
    text: str
    steps: list[Step]
    vocab: dict = field(default_factory=dict)    # ID -> bytes, bytes plus every merge in the trace
    cut: bool = False                            # the corpus was longer than MAX_CHARS
    requested: int = 0                           # merges asked for; fewer steps means the corpus ran out of pairs

    @property
    def ran_out(self) -> bool:
        return len(self.steps) - 1 < self.requested

    @property
    def merges(self) -> dict:
        return {s.chosen: s.new_id for s in self.steps if s.chosen is not None}


def bpe_trace(text: str, n_merges: int = 10) -> Trace:
    """Run ``n_merges`` BPE merges on ``text`` (or fewer, if it runs out of pairs) and record each step."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    if not isinstance(n_merges, int) or n_merges < 0:
        raise ValueError(f"n_merges must be a non-negative int, got {n_merges!r}")
    cut = len(text) > MAX_CHARS
    text = text[:MAX_CHARS]
    chunks = Counter(regex.findall(WORD_SPLIT, text))
    words = sorted(((list(w.encode("utf-8")), n) for w, n in chunks.items()), key=lambda item: -item[1])
    vocab = {i: bytes([i]) for i in range(256)}

    def counted(words):
        counts: dict = {}
        for ids, n in words:
            count_pairs(ids, counts, n)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    counts = counted(words)
    steps = [Step(0, counts, None, None, words)]
    for new_id in range(256, 256 + n_merges):
        if not counts:
            break
        pair = counts[0][0]  # the most frequent pair, ties to the smallest IDs: the trainer's rule
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        words = [(merge(ids, pair, new_id), n) for ids, n in words]
        steps.append(Step(new_id - 255, counts, pair, new_id, words))
        counts = counted(words)
    return Trace(text, steps, vocab, cut, n_merges)


def _token(vocab: dict, token_id: int) -> str:
    return vocab[token_id].decode("utf-8", errors="backslashreplace")


def _apply(trace: Trace, k: int, word: str) -> list[int]:
    ids = list(word.encode("utf-8"))
    for step in trace.steps[1:k + 1]:
        ids = merge(ids, step.chosen, step.new_id)
    return ids


def _boxes(trace: Trace, ids: list[int], new_id: int | None) -> str:
    out = []
    for k, i in enumerate(ids):
        colour = "#ffcf5c" if i == new_id else PALETTE[k % 2]
        out.append(f'<span style="background:{colour};border-radius:3px;padding:0 3px;white-space:pre">'
                   f'{escape(visible(_token(trace.vocab, i)))}</span>')
    return " ".join(out)  # a plain space between tokens keeps them apart where styles are not shown


def _probe_words(probe: str) -> list[str]:
    """At most 10 words of at most 40 characters: the stepper is for looking at a few."""
    return [w[:40] for w in probe.split()[:10]]


def _visible_words(words):
    """The words, without single whitespace characters (they sit between words and never merge)."""
    return [(ids, n) for ids, n in words if not (len(ids) == 1 and ids[0] in _WHITESPACE)]


def step_html(trace: Trace, k: int, probe: str = DEFAULT_PROBE) -> str:
    """HTML for step ``k``: the pair-count table (chosen pair highlighted), the merge, the corpus after it."""
    k = max(0, min(k, len(trace.steps) - 1))
    step = trace.steps[k]
    vocab = trace.vocab
    pair_name = (lambda p: f"{escape(visible(_token(vocab, p[0])))} + {escape(visible(_token(vocab, p[1])))}")
    last = len(trace.steps) - 1
    if not trace.text.strip():
        head = "The corpus is empty: there is nothing to count or merge."
    elif step.chosen is None:
        head = f"Step 0 of {last}: every word starts as its characters (bytes). Count the adjacent pairs."
    else:
        count = dict(step.pair_counts)[step.chosen]
        ties = sum(1 for _, c in step.pair_counts if c == count)
        tie = f" ({ties} pairs tie at {count}: the smallest IDs win)" if ties > 1 else ""
        head = (f"Step {k} of {last}: merge <b>{pair_name(step.chosen)}</b> → "
                f"<b>{escape(visible(_token(vocab, step.new_id)))}</b> (new ID {step.new_id}), "
                f"seen {count} time{'s' if count != 1 else ''}{tie}.")
    if k == last and k > 0 and trace.ran_out:
        head += " No pairs are left: every word is one token."

    rows = []
    for pair, count in step.pair_counts[:TABLE_ROWS]:
        hot = pair == step.chosen
        style = ' style="background:#ffcf5c;font-weight:bold"' if hot else ""
        rows.append(f"<tr{style}><td style='font-family:monospace;padding:1px 8px'>{pair_name(pair)}</td>"
                    f"<td style='text-align:right;padding:1px 8px'>{count}</td></tr>")
    more = len(step.pair_counts) - TABLE_ROWS
    if more > 0:
        rows.append(f"<tr><td colspan=2 style='color:#888;padding:1px 8px'>… {more} more pairs</td></tr>")
    table = ("<table style='border-collapse:collapse;font-size:13px'><tr><th style='text-align:left;padding:1px 8px'>"
             "pair</th><th style='padding:1px 8px'>count</th></tr>" + "".join(rows) + "</table>")
    if not step.pair_counts:
        table = "<i>no pairs</i>"

    shown = _visible_words(step.words)
    corpus = "<br>".join(f"{_boxes(trace, ids, step.new_id)} <span style='color:#666'>×{n}</span>"
                         for ids, n in shown[:WORDS_SHOWN]) or "<i>(empty)</i>"
    if len(shown) > WORDS_SHOWN:
        corpus += f"<br><span style='color:#888'>… {len(shown) - WORDS_SHOWN} more words</span>"
    probe_html = "<br>".join(f"{escape(w)} → {_boxes(trace, _apply(trace, k, w), None)}"
                             for w in _probe_words(probe))
    new_tokens = ", ".join(escape(visible(_token(vocab, s.new_id))) for s in trace.steps[1:k + 1]) or "none yet"
    cut = f"<div style='color:#a00'>Corpus cut to its first {MAX_CHARS:,} characters.</div>" if trace.cut else ""
    title = ("pair counts (before this merge)" if step.chosen is not None else "pair counts")
    return ("<div style='font-family:sans-serif;font-size:13px'>" + cut +
            f"<div style='margin-bottom:6px'>{head}</div>"
            "<table style='border-collapse:collapse'><tr style='vertical-align:top'>"
            f"<td style='padding-right:24px'><b>{title}</b><br>{table}</td>"
            f"<td><b>corpus after step {k}</b> (word × count)<br>"
            f"<div style='font-family:monospace;line-height:1.9'>{corpus}</div></td></tr></table>"
            f"<div style='margin-top:6px'><b>tokens learned so far:</b> {new_tokens}</div>"
            + (f"<div style='margin-top:6px'><b>new words with these merges:</b><br>"
               f"<div style='font-family:monospace;line-height:1.9'>{probe_html}</div></div>" if probe_html else "")
            + "</div>")


def step_text(trace: Trace, k: int, probe: str = DEFAULT_PROBE) -> str:
    """Plain-text version of ``step_html``."""
    k = max(0, min(k, len(trace.steps) - 1))
    step = trace.steps[k]
    tok = (lambda i: visible(_token(trace.vocab, i)))
    lines = []
    if step.chosen is not None:
        lines.append(f"step {k}: merge {tok(step.chosen[0])!r} + {tok(step.chosen[1])!r} -> "
                     f"{tok(step.new_id)!r} (ID {step.new_id}, count {dict(step.pair_counts)[step.chosen]})")
    else:
        lines.append(f"step {k}: start")
    lines.append("pairs: " + ", ".join(f"{tok(a)}+{tok(b)}:{c}" for (a, b), c in step.pair_counts[:TABLE_ROWS]))
    words = _visible_words(step.words)
    lines.append("corpus: " + shorten("  ".join(" ".join(tok(i) for i in ids) + f" ×{n}" for ids, n in words), 400))
    for w in _probe_words(probe):
        lines.append(f"{w} -> " + " ".join(tok(i) for i in _apply(trace, k, w)))
    return "\n".join(lines)


def show(text: str = DEFAULT_CORPUS, n_merges: int = 12, probe: str = DEFAULT_PROBE, step: int = 1):
    """Display the static rendering of ``step``, then return the interactive stepper."""
    import ipywidgets as widgets
    from IPython.display import display

    trace = bpe_trace(text, n_merges)
    display(StaticView(step_html(trace, step, probe), step_text(trace, step, probe)))

    corpus = widgets.Textarea(value=text, description="corpus", continuous_update=False,
                              layout=widgets.Layout(width="100%", height="60px"))
    slider = widgets.IntSlider(value=min(step, len(trace.steps) - 1), min=0, max=len(trace.steps) - 1,
                               description="step")
    back, forward = widgets.Button(description="◀ back"), widgets.Button(description="merge ▶")
    words = widgets.Text(value=probe, description="new words", continuous_update=False,
                         layout=widgets.Layout(width="100%"))
    view = widgets.HTML(step_html(trace, slider.value, probe))
    state = {"trace": trace}

    def show(*_):
        view.value = step_html(state["trace"], slider.value, words.value)

    def retrain(change):
        state["trace"] = bpe_trace(change["new"], n_merges)
        slider.max = len(state["trace"].steps) - 1
        show()

    corpus.observe(retrain, names="value")
    slider.observe(show, names="value")
    words.observe(show, names="value")
    back.on_click(lambda _: setattr(slider, "value", max(slider.min, slider.value - 1)))
    forward.on_click(lambda _: setattr(slider, "value", min(slider.max, slider.value + 1)))
    box = widgets.VBox([corpus, words, widgets.HBox([back, slider, forward]), view])
    return WidgetShell(box, "BPE step-through: run this notebook in Jupyter to step through the merges.")
