#!/usr/bin/env python
"""Benchmark course_utils.bpe on storyworld text: training (incremental vs naive) and encoding (tiktoken vs Python).

Usage (from the repository root, in the course virtualenv):

    python benchmarks/bench_bpe.py                  # 1 MB of storyworld, a 1,000-token vocabulary
    python benchmarks/bench_bpe.py --naive-merges 50   # time only 50 naive merges and extrapolate (quicker)

What it measures, pinned to at most 2 CPUs (Python's BPE is single-threaded anyway):

1. Training a 1,000-token vocabulary on 1 MB of storyworld text. Budget: 10 s for the incremental algorithm
   (pair counts updated around each merge), printed beside the naive algorithm (all pairs recounted after every
   merge) as a ratio; both must learn identical merges. Two settings:
   - no pre-split: merges may cross spaces, so the 1,000 tokens are reachable and the whole megabyte is one
     sequence to merge in. This is the setting that shows the algorithmic difference.
   - GPT-4's pre-split (the course tokenizer's setting): storyworld has only ~170 distinct chunks, so training
     works on those and runs out of pairs at 648 tokens (it says so); both algorithms are fast here.
2. Encoding the same megabyte with the course tokenizer (512 tokens): the ``to_tiktoken()`` wrapper (Rust) against
   the pure-Python encoder, with its chunk cache (as shipped) and without; all must give identical IDs.

Not part of the test suite (pytest does not collect it). Timings depend on the machine and its load: compare runs
made on the same one.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils import bpe, storyworld  # noqa: E402

TRAIN_BUDGET_S = 10.0


class _NoCache(dict):
    """A chunk cache that never remembers: every chunk is encoded from its bytes."""

    def __setitem__(self, key, value):
        pass


def _pin_to_two_cpus() -> str:
    if hasattr(os, "sched_setaffinity"):
        try:
            cpus = sorted(os.sched_getaffinity(0))[:2]
            os.sched_setaffinity(0, cpus)
            return f"pinned to CPUs {cpus}"
        except OSError:
            pass
    return "not pinned (no sched_setaffinity)"


def _megabyte_of_storyworld(n_bytes: int) -> str:
    text = storyworld.load_split("train").text
    if len(text.encode("utf-8")) < n_bytes:
        raise SystemExit(f"storyworld's train split has fewer than {n_bytes:,} bytes")
    cut = text[:n_bytes]
    return cut[: cut.rfind("\n") + 1]  # whole stories only


def _timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _train(text, vocab_size, pattern, algorithm, naive_merges):
    if algorithm == "naive" and naive_merges is not None:
        vocab_size = min(vocab_size, 256 + naive_merges + 1)  # + <|endoftext|>
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tok, wall, cpu = _timed(lambda: bpe.BPETokenizer.train(text, vocab_size, pattern=pattern, algorithm=algorithm))
    return tok, wall, cpu, [str(w.message) for w in caught]


def bench_training(text: str, vocab_size: int, naive_merges: int | None) -> bool:
    print(f"\n1. Training a {vocab_size:,}-token vocabulary on {len(text.encode()):,} bytes of storyworld "
          f"(budget for the incremental algorithm: {TRAIN_BUDGET_S:.0f} s)")
    print(f"   {'setting':<18}{'vocab':>6}{'incremental s':>22}{'naive s':>22}{'naive / incr.':>15}"
          f"{'same merges':>13}  budget")
    print(f"   {'':<24}{'wall':>11}{'CPU':>11}{'wall':>11}{'CPU':>11}{'(CPU)':>15}")
    ok = True
    for label, pattern in [("no pre-split", None), ("GPT-4 pre-split", bpe.GPT4_SPLIT_PATTERN)]:
        fast, fast_wall, fast_cpu, notes = _train(text, vocab_size, pattern, "incremental", None)
        limit = naive_merges if pattern is None else None  # with pre-splitting the naive loop is quick anyway
        naive, naive_wall, naive_cpu, _ = _train(text, vocab_size, pattern, "naive", limit)
        estimated = len(naive.merges) < len(fast.merges)
        if estimated:  # the naive time per merge, scaled to all merges: an overestimate, since the naive
            scale = len(fast.merges) / max(1, len(naive.merges))  # loop gets cheaper as the text shrinks
            naive_wall, naive_cpu = naive_wall * scale, naive_cpu * scale
        same = list(fast.merges.items())[:len(naive.merges)] == list(naive.merges.items())
        within = fast_cpu <= TRAIN_BUDGET_S
        ok &= within and same
        mark = "*" if estimated else " "
        print(f"   {label:<18}{fast.vocab_size:>6}{fast_wall:>11.2f}{fast_cpu:>11.2f}{naive_wall:>11.1f}{mark}"
              f"{naive_cpu:>10.1f}{mark}{naive_cpu / fast_cpu:>14.1f}x{str(same):>13}  {'OK' if within else 'OVER'}")
        for note in notes:
            print(f"   ({label}: {note})")
    if naive_merges is not None:
        print(f"   * extrapolated from the first {naive_merges} naive merges "
              "(an overestimate: later merges are cheaper)")
    return ok


def bench_encoding(text: str) -> bool:
    print(f"\n2. Encoding {len(text.encode()):,} bytes with the course tokenizer "
          f"({bpe.COURSE_VOCAB_SIZE} tokens, GPT-4 pre-split)")
    course = bpe.course_tokenizer()
    enc = course.to_tiktoken()
    fresh = bpe.BPETokenizer.from_state(course.state_dict())  # an empty cache: the first encode fills it
    uncached = bpe.BPETokenizer.from_state(course.state_dict())
    uncached._cache = _NoCache()
    rows = []
    reference = enc.encode(text)  # warm-up, and the IDs everything must match
    for label, fn in [("tiktoken wrapper (Rust)", lambda: enc.encode(text)),
                      ("pure Python, chunk cache", lambda: fresh.encode(text)),
                      ("pure Python, no cache", lambda: uncached.encode(text))]:
        ids, wall, cpu = _timed(fn)
        rows.append((label, wall, cpu, ids == reference))
    tiktoken_cpu = rows[0][2]
    print(f"   {'encoder':<28}{'wall s':>9}{'CPU s':>9}{'MB/s (CPU)':>12}{'Python / tiktoken (CPU)':>25}"
          f"{'same IDs':>10}")
    for label, wall, cpu, same in rows:
        print(f"   {label:<28}{wall:>9.3f}{cpu:>9.3f}{len(text) / 1e6 / cpu:>12.2f}{cpu / tiktoken_cpu:>24.1f}x"
              f"{str(same):>10}")
    print(f"   {len(reference):,} tokens, {len(text) / len(reference):.2f} characters per token")
    return all(same for *_, same in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=1_000_000, help="size of the storyworld text (default 1 MB)")
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--naive-merges", type=int, default=None,
                        help="time only this many naive merges and extrapolate (default: all of them)")
    args = parser.parse_args(argv)

    pinned = _pin_to_two_cpus()
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs" if hasattr(os, "getloadavg") else ""
    print(f"bench_bpe: Python {platform.python_version()}, {platform.machine()}, {pinned}, {load}")
    print("The code is single-threaded: CPU seconds are what wall seconds would be on an idle machine, so budgets "
          "and ratios use them; wall seconds show the waiting for other processes.")
    text = _megabyte_of_storyworld(args.bytes)
    ok = bench_training(text, args.vocab_size, args.naive_merges)
    ok &= bench_encoding(text)
    print("\nOK" if ok else "\nFAIL: over budget or not identical")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
