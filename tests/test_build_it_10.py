"""Notebook 10's build-it exercises: each check cell, run on the course's version (passes and is kept), on a
blank (falls back to the course's version with one printed line) and on typical wrong versions (fails, naming
the case)."""

import gzip
import hashlib

import pytest

import notebook_cells
from course_utils import compression, corpus
from course_utils.checks import check_function

pytestmark = pytest.mark.usefixtures("fresh_check_registry")

NOTEBOOK = "10_capstone"
FALLBACK = "Using the course's version"


def run_check(capsys, exercise, **names):
    return notebook_cells.run_check(NOTEBOOK, capsys, exercise, check_function=check_function, **names)


def solution(defines, **names):
    return notebook_cells.solution(NOTEBOOK, defines, **names)


# -- 10.1: a split by document -----------------------------------------------------------------------------

def split_names(**names):
    documents = [corpus.Document(f"Lib/{stem}.py", "text") for stem in ("abc", "ast", "csv", "json", "os",
                                                                        "re", "string", "typing", "uuid", "zipfile")]
    return dict(hashlib=hashlib, corpus=corpus, curated=documents, VAL_FRACTION=0.2, **names)


def _fraction(digest):
    return int(digest[:8], 16) / 16 ** 8


def python_hash(names, val_fraction):          # hash() changes from one process to the next
    val = [n for n in names if (hash(n) % 2 ** 32) / 2 ** 32 < val_fraction]
    return [n for n in names if n not in val], val


def sides_swapped(names, val_fraction):
    f = {n: _fraction(hashlib.sha256(n.encode("utf-8")).hexdigest()) for n in names}
    return [n for n in names if f[n] < val_fraction], [n for n in names if f[n] >= val_fraction]


def last_eight_digits(names, val_fraction):
    f = {n: int(hashlib.sha256(n.encode("utf-8")).hexdigest()[-8:], 16) / 16 ** 8 for n in names}
    return [n for n in names if f[n] >= val_fraction], [n for n in names if f[n] < val_fraction]


def sorted_lists(names, val_fraction):
    f = {n: _fraction(hashlib.sha256(n.encode("utf-8")).hexdigest()) for n in names}
    return sorted(n for n in names if f[n] >= val_fraction), sorted(n for n in names if f[n] < val_fraction)


def md5_instead(names, val_fraction):
    f = {n: _fraction(hashlib.md5(n.encode("utf-8")).hexdigest()) for n in names}
    return [n for n in names if f[n] >= val_fraction], [n for n in names if f[n] < val_fraction]


def test_split_solution_passes_and_is_used(capsys):
    names = solution("def split_by_hash(", **split_names())
    student = names["split_by_hash"]
    out, after = run_check(capsys, "10.1", **names)
    assert "✅ Exercise 10.1: correct!" in out and FALLBACK not in out, out
    assert after["split_by_hash"] is student


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (notebook_cells.blank, "returned None")])
def test_split_blank_falls_back(capsys, fn, says):
    out, after = run_check(capsys, "10.1", **split_names(split_by_hash=fn))
    assert says in out and f"{FALLBACK}, corpus.split_by_document, from here on." in out, out
    assert after["split_by_hash"] is after["reference_split"]
    assert after["split_by_hash"](["a", "b"], 0.5) == after["reference_split"](["a", "b"], 0.5)


@pytest.mark.parametrize("fn, case", [(python_hash, 1), (sides_swapped, 1), (last_eight_digits, 1),
                                      (sorted_lists, 1), (md5_instead, 1)])
def test_split_rejects_wrong_versions(capsys, fn, case):
    out, after = run_check(capsys, "10.1", **split_names(split_by_hash=fn))
    assert f"not yet — on case {case} of 5, {fn.__name__}(" in out, out
    assert FALLBACK in out and after["split_by_hash"] is after["reference_split"]


# -- 10.2: gzip as a language model ------------------------------------------------------------------------

def gzip_names(**names):
    train = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(800))
    val = "".join(f"def g{i}(y):\n    return y * {i}\n\n" for i in range(300))
    return dict(gzip=gzip, compression=compression, train_text=train, val_text=val, **names)


def _size(data):
    return len(gzip.compress(data, compresslevel=9))


def context_not_subtracted(text, context=""):
    return 8 * _size((context + text).encode("utf-8")) / len(text)


def per_byte(text, context=""):
    return 8 * (_size((context + text).encode("utf-8")) - _size(context.encode("utf-8"))) / len(text.encode("utf-8"))


def bytes_not_bits(text, context=""):
    return (_size((context + text).encode("utf-8")) - _size(context.encode("utf-8"))) / len(text)


def context_ignored(text, context=""):
    return 8 * (_size(text.encode("utf-8")) - _size(b"")) / len(text)


def test_gzip_solution_passes_and_is_used(capsys):
    names = solution("def gzip_bits_per_char(", **gzip_names())
    student = names["gzip_bits_per_char"]
    out, after = run_check(capsys, "10.2", **names)
    assert "✅ Exercise 10.2: correct!" in out and FALLBACK not in out, out
    assert after["gzip_bits_per_char"] is student


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (notebook_cells.blank, "returned None")])
def test_gzip_blank_falls_back(capsys, fn, says):
    out, after = run_check(capsys, "10.2", **gzip_names(gzip_bits_per_char=fn))
    assert says in out and f"{FALLBACK}, compression.compression_bits_per_char, from here on." in out, out
    text = "to be or not to be " * 20
    assert after["gzip_bits_per_char"](text, "to be") == compression.compression_bits_per_char(text, "gzip", "to be")


@pytest.mark.parametrize("fn, case", [(context_not_subtracted, 1), (per_byte, 4), (bytes_not_bits, 1),
                                      (context_ignored, 3)])
def test_gzip_rejects_wrong_versions(capsys, fn, case):
    out, after = run_check(capsys, "10.2", **gzip_names(gzip_bits_per_char=fn))
    assert f"not yet — on case {case} of 5, {fn.__name__}(" in out, out
    assert FALLBACK in out and after["gzip_bits_per_char"] is not fn


# -- 10.3: the compute line of the card --------------------------------------------------------------------

class SmallModel:
    def num_parameters(self):
        return 815_232


def flops_names(**names):
    return dict(model=SmallModel(), STEPS=300, BATCH=16, BLOCK=128, **names)


def forward_only(n_params, steps, batch_size, block_size):       # 2ND: the forward pass alone
    return 2 * n_params * steps * batch_size * block_size


def windows_not_tokens(n_params, steps, batch_size, block_size):
    return 6 * n_params * steps * batch_size


def test_flops_solution_passes_and_is_used(capsys):
    names = solution("def training_flops(", **flops_names())
    student = names["training_flops"]
    out, after = run_check(capsys, "10.3", **names)
    assert "✅ Exercise 10.3: correct!" in out and FALLBACK not in out, out
    assert after["training_flops"] is student


def test_flops_blank_falls_back(capsys):
    out, after = run_check(capsys, "10.3", **flops_names(training_flops=...))
    assert "not attempted yet" in out and FALLBACK in out, out
    assert after["training_flops"](10, 2, 3, 4) == 6 * 10 * 2 * 3 * 4


@pytest.mark.parametrize("fn", [forward_only, windows_not_tokens])
def test_flops_rejects_wrong_versions(capsys, fn):
    out, after = run_check(capsys, "10.3", **flops_names(training_flops=fn))
    assert f"not yet — on case 1 of 3, {fn.__name__}(" in out, out
    assert after["training_flops"] is not fn
