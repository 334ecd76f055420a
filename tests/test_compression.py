"""Compressors as language models: bits per character, alone and given a context."""

import gzip
import lzma
import random

import pytest

from course_utils.compression import COMPRESSORS, compressed_size, compression_bits_per_char

TEXT = "def add(a, b):\n    return a + b\n\n" * 40


def test_compressed_size_is_the_strongest_standard_level():
    data = TEXT.encode()
    assert compressed_size(data, "gzip") == len(gzip.compress(data, compresslevel=9))
    assert compressed_size(data, "lzma") == len(lzma.compress(data, preset=9))
    assert set(COMPRESSORS) == {"gzip", "bz2", "lzma"}


def test_bits_per_char_is_the_extra_bytes_over_the_context():
    alone = compression_bits_per_char(TEXT, "gzip")
    expected = 8 * (len(gzip.compress(TEXT.encode(), 9)) - len(gzip.compress(b"", 9))) / len(TEXT)
    assert alone == pytest.approx(expected)
    context = "def sub(a, b):\n    return a - b\n\n" * 40
    given = compression_bits_per_char(TEXT, "gzip", context)
    assert given == pytest.approx(8 * (len(gzip.compress((context + TEXT).encode(), 9))
                                       - len(gzip.compress(context.encode(), 9))) / len(TEXT))


def test_repetitive_text_costs_few_bits_and_seen_text_almost_none():
    for method in COMPRESSORS:
        assert compression_bits_per_char(TEXT, method) < 1.0     # 40 copies of one function
    seen = "".join(random.Random(0).choices("abcdefghijklmnopqrstuvwxyz", k=20_000))  # 20 KB, no structure
    assert compression_bits_per_char(seen, "lzma") > 3             # about log2(26) = 4.7 at best
    assert compression_bits_per_char(seen, "lzma", context=seen) < 0.1   # the same text again: nearly free


def test_gzip_forgets_after_its_window_and_lzma_does_not():
    rng = random.Random(0)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(10_000))
    filler = "".join(rng.choice("0123456789") for _ in range(40_000))     # pushes text out of gzip's 32 KB
    gzip_far = compression_bits_per_char(text, "gzip", text + filler)
    lzma_far = compression_bits_per_char(text, "lzma", text + filler)
    assert gzip_far > 3 and lzma_far < 0.5


def test_n_chars_counts_only_the_characters_asked_for():
    assert compression_bits_per_char(TEXT, "gzip", n_chars=2 * len(TEXT)) == \
        pytest.approx(compression_bits_per_char(TEXT, "gzip") / 2)


@pytest.mark.parametrize("kwargs, error", [
    (dict(text=""), ValueError), (dict(text=TEXT, method="zip"), ValueError), (dict(text=b"bytes"), TypeError),
    (dict(text=TEXT, context=None), TypeError), (dict(text=TEXT, n_chars=0), ValueError),
    (dict(text=TEXT, n_chars=True), ValueError),
])
def test_bad_arguments_fail_clearly(kwargs, error):
    with pytest.raises(error):
        compression_bits_per_char(**kwargs)


def test_compressed_size_wants_bytes():
    with pytest.raises(TypeError, match="encode"):
        compressed_size("text", "gzip")
    with pytest.raises(ValueError, match="one of"):
        compressed_size(b"x", "rar")
