"""Compression is prediction: general-purpose compressors as baselines for a language model, in bits per character.

A compressor that writes a text in B bytes has, in effect, assigned it probability 2^(-8B): arithmetic coding
turns any model's probabilities into a code of about -log2 p bits, and the other way round. So a language
model's loss in bits per character and a compressor's output size per character are the same yardstick, and
gzip and lzma are baselines any model should be placed against:

* ``gzip`` (DEFLATE: repeats within a 32 KB window, then Huffman codes);
* ``bz2`` (the Burrows-Wheeler transform of 900 KB blocks);
* ``lzma`` (the xz format: repeats anywhere in a dictionary of up to 64 MB, then adaptive arithmetic coding).

A model trained on a corpus has seen the training text; the fair compressor is given it too. With a
``context``, the cost of a text is what the compressor needs *beyond* the context:

    bits per character = 8 * (C(context + text) - C(context)) / characters of the text

where C is the compressed size in bytes. With no context this is C(text) minus the size of compressing
nothing (the container's fixed header), the cost of the text itself. gzip can use only the last 32 KB of a
context; lzma remembers all of it.

Notebook 10 writes the gzip case out as an exercise.
"""

from __future__ import annotations

import bz2
import gzip
import lzma

from .validation import is_int

__all__ = ["COMPRESSORS", "compressed_size", "compression_bits_per_char"]

COMPRESSORS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    "bz2": lambda data: bz2.compress(data, compresslevel=9),
    "lzma": lambda data: lzma.compress(data, preset=9),
}


def compressed_size(data: bytes, method: str = "gzip") -> int:
    """Bytes of ``data`` compressed by ``method`` at its strongest standard level (gzip -9, bzip2 -9, xz -9)."""
    if method not in COMPRESSORS:
        raise ValueError(f"method must be one of {sorted(COMPRESSORS)}, got {method!r}")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}; encode text with .encode('utf-8')")
    return len(COMPRESSORS[method](bytes(data)))


def compression_bits_per_char(text: str, method: str = "gzip", context: str = "",
                              n_chars: int | None = None) -> float:
    """Bits per character a compressor needs for ``text`` after it has seen ``context``:
    8 * (C(context + text) - C(context)) / n_chars, with C the compressed size in bytes (UTF-8 text) and
    n_chars the characters of ``text`` unless given (to count only some of them, say without separators)."""
    if not isinstance(text, str) or not isinstance(context, str):
        raise TypeError("text and context must be str")
    if not text:
        raise ValueError("text is empty: there is nothing to compress")
    n_chars = len(text) if n_chars is None else n_chars
    if not is_int(n_chars) or n_chars < 1:
        raise ValueError(f"n_chars must be a positive int, got {n_chars!r}")
    before = context.encode("utf-8")
    extra = compressed_size(before + text.encode("utf-8"), method) - compressed_size(before, method)
    return 8 * extra / n_chars
