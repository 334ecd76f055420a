"""Notebook 01's build-it exercises: each check cell, run on the course's version (passes), on a blank (not
attempted yet) and on typical wrong versions (fails, naming the case), and the course's versions themselves."""

import math
import warnings
from collections import Counter

import pytest
import regex

import notebook_cells
from course_utils import bpe, storyworld
from course_utils.checks import check_function

PATTERN = bpe.GPT4_SPLIT_PATTERN
CORPUS = "cats lovely love cats lovely low cat love"   # section 3's corpus

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, namespace: dict) -> str:
    return notebook_cells.run_check_cell("01_tokenization", capsys, exercise, namespace)


blank = notebook_cells.blank


def namespace(**names) -> dict:
    return dict(math=math, warnings=warnings, Counter=Counter, regex=regex, bpe=bpe, PATTERN=PATTERN,
                check_function=check_function, count_pairs=bpe.count_pairs, merge=bpe.merge, corpus=CORPUS,
                train_text=storyworld.StoryWorld(seed=0).story(0).text * 20, **names)


def chunks_of(text):
    return [(list(chunk.encode("utf-8")), n) for chunk, n in Counter(regex.findall(PATTERN, text)).items()]


# -- 1.3: one merge step (its check now falls back too) ----------------------------------------------------


def test_merge_check_falls_back_to_the_package(capsys):
    ns = namespace()
    ns["merge"] = blank
    out = run_check_cell(capsys, "1.3", ns)
    assert "returned None" in out and "Using the course's version" in out
    assert ns["merge"] is bpe.merge


# -- 1.4: the training loop ----------------------------------------------------------------------------------


def course_train_bpe(text, vocab_size):
    """The notebook's solution."""
    words, merges = chunks_of(text), {}
    for new_id in range(256, vocab_size - 1):
        counts = {}
        for ids, n in words:
            bpe.count_pairs(ids, counts, n)
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        words = [(bpe.merge(ids, pair, new_id), n) for ids, n in words]
        merges[pair] = new_id
    return merges


def ties_by_first_counted(text, vocab_size):
    words, merges = chunks_of(text), {}
    for new_id in range(256, vocab_size - 1):
        counts = {}
        for ids, n in words:
            bpe.count_pairs(ids, counts, n)
        if not counts:
            break
        pair = max(counts, key=counts.get)   # ties: whichever pair was counted first
        words = [(bpe.merge(ids, pair, new_id), n) for ids, n in words]
        merges[pair] = new_id
    return merges


def unweighted(text, vocab_size):
    words, merges = chunks_of(text), {}
    for new_id in range(256, vocab_size - 1):
        counts = {}
        for ids, n in words:
            bpe.count_pairs(ids, counts)     # each distinct chunk counted once
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        words = [(bpe.merge(ids, pair, new_id), n) for ids, n in words]
        merges[pair] = new_id
    return merges


def counted_once(text, vocab_size):
    counts = {}
    for ids, n in chunks_of(text):
        bpe.count_pairs(ids, counts, n)
    ranked = sorted(counts, key=lambda p: (-counts[p], p))[:vocab_size - 257]   # the pairs of the raw bytes only
    return {pair: 256 + i for i, pair in enumerate(ranked)}


def never_stops(text, vocab_size):
    words, merges = chunks_of(text), {}
    for new_id in range(256, vocab_size - 1):
        counts = {}
        for ids, n in words:
            bpe.count_pairs(ids, counts, n)
        pair = min(counts, key=lambda p: (-counts[p], p))   # ValueError once no pair is left
        words = [(bpe.merge(ids, pair, new_id), n) for ids, n in words]
        merges[pair] = new_id
    return merges


def one_merge_too_many(text, vocab_size):
    return course_train_bpe(text, vocab_size + 1)   # forgets the ID kept for <|endoftext|>


def test_train_check_passes_the_course_version(capsys):
    ns = namespace(train_bpe=course_train_bpe)
    assert run_check_cell(capsys, "1.4", ns).strip() == "✅ Exercise 1.4: correct!"
    assert ns["train_bpe"] is course_train_bpe


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_train_check_blank_falls_back(capsys, fn, says):
    ns = namespace(train_bpe=fn)
    out = run_check_cell(capsys, "1.4", ns)
    assert says in out and "Using the course's version" in out
    assert ns["train_bpe"](CORPUS, 260) == bpe.BPETokenizer.train(CORPUS, 260).merges


@pytest.mark.parametrize("fn, case, says", [
    (never_stops, 1, "raised ValueError"), (counted_once, 3, "missing keys [(256, 256)]"),
    (ties_by_first_counted, 4, "missing keys [(121, 120)]"), (one_merge_too_many, 4, "unexpected keys"),
    (unweighted, 5, "keys"),
])
def test_train_check_rejects_wrong_versions(capsys, fn, case, says):
    ns = namespace(train_bpe=fn)
    out = run_check_cell(capsys, "1.4", ns)
    assert "not yet — " in out and f"on case {case} of 7, {fn.__name__}(" in out and says in out, out
    assert ns["train_bpe"] is not fn


def test_the_solution_learns_the_package_merges_on_storyworld():
    text = storyworld.load_split("validation", 100).text
    assert list(course_train_bpe(text, 400).items()) == list(bpe.BPETokenizer.train(text, 400).merges.items())


# -- 1.5: the encoder ----------------------------------------------------------------------------------------


def course_encode_chunk(ids, merges):
    """The notebook's solution."""
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, math.inf))
        if pair not in merges:
            break
        ids = bpe.merge(ids, pair, merges[pair])
    return ids


def leftmost_first(ids, merges):
    while True:
        pair = next((p for p in zip(ids, ids[1:]) if p in merges), None)   # the leftmost mergeable pair
        if pair is None:
            return ids
        ids = bpe.merge(ids, pair, merges[pair])


def latest_first(ids, merges):
    while len(ids) >= 2:
        present = [p for p in zip(ids, ids[1:]) if p in merges]
        if not present:
            break
        pair = max(present, key=merges.get)   # the pair learned last
        ids = bpe.merge(ids, pair, merges[pair])
    return ids


def one_sweep(ids, merges):
    out, i = [], 0                             # merges neighbours in one left-to-right pass, never looks again
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) in merges:
            out.append(merges[ids[i], ids[i + 1]])
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def package_merges(text, vocab_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bpe.BPETokenizer.train(text, vocab_size).merges


def encode_namespace(fn) -> dict:
    return namespace(encode_chunk=fn, package_merges=package_merges, course_bpe=bpe.course_tokenizer())


def test_encode_check_passes_the_course_version(capsys):
    ns = encode_namespace(course_encode_chunk)
    assert run_check_cell(capsys, "1.5", ns).strip() == "✅ Exercise 1.5: correct!"
    assert ns["encode_chunk"] is course_encode_chunk


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_encode_check_blank_falls_back(capsys, fn, says):
    ns = encode_namespace(fn)
    out = run_check_cell(capsys, "1.5", ns)
    assert says in out and "Using the course's version" in out
    assert ns["encode_chunk"] is bpe.apply_merges


@pytest.mark.parametrize("fn, case, says", [
    (leftmost_first, 3, "at [0]: expected 97, got 257"), (latest_first, 3, "at [0]: expected 97, got 257"),
    (one_sweep, 3, "at [0]: expected 97, got 257"),
])
def test_encode_check_rejects_wrong_versions(capsys, fn, case, says):
    ns = encode_namespace(fn)
    out = run_check_cell(capsys, "1.5", ns)
    assert f"not yet — on case {case} of 9, {fn.__name__}(" in out and says in out, out
    assert ns["encode_chunk"] is bpe.apply_merges


def test_the_solution_encodes_as_the_package_and_tiktoken():
    tok = bpe.course_tokenizer()
    text = storyworld.load_split("validation", 20).text + " naïve 日本 🐉 aaaaaaa"
    ids = [i for chunk in regex.findall(PATTERN, text)
           for i in course_encode_chunk(list(chunk.encode("utf-8")), tok.merges)]
    assert ids == tok.encode(text) == tok.to_tiktoken().encode(text)
