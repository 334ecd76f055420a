"""Tokenizers: text -> token IDs -> text.

Two simple tokenizers live here from day one:

* ``CharTokenizer``: one token per character. Handles any text made of the characters it was built on;
  sequences are long.
* ``WordTokenizer``: one token per word or punctuation mark, with the space in front of a word kept in the
  token (``" cat"``), as GPT-2's pre-tokenizer does, so decoding is plain concatenation. storyworld has a
  closed vocabulary, so every word of it is known; text with new words shows why word-level tokenizers break
  (they become ``<unk>``).

Notebook 01 builds these and a byte-level BPE from scratch; the BPE lives in ``course_utils.bpe``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

__all__ = ["CharTokenizer", "WordTokenizer", "WORD_PATTERN"]

# A possessive 's, a newline, a word with an optional leading space, one punctuation mark with an optional
# leading space, or any other single whitespace character. Every character of any text matches exactly one
# piece, so "".join(pieces) == text.
WORD_PATTERN = re.compile(r"'s|\n| ?[A-Za-z]+| ?[^\sA-Za-z]|\s")


def _check_text(text) -> None:
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")


def _check_ids(ids, vocab_size: int) -> list[int]:
    if hasattr(ids, "tolist"):  # torch tensors and numpy arrays
        ids = ids.tolist()
    ids = list(ids)
    bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < vocab_size]
    if bad:
        raise ValueError(f"token IDs must be ints in [0, {vocab_size}), got {bad[:5]}")
    return ids


class CharTokenizer:
    """Each distinct character is a token; IDs follow sorted character order."""

    def __init__(self, chars: Iterable[str]):
        self.itos = sorted(set(chars))
        if not self.itos:
            raise ValueError("a CharTokenizer needs at least one character")
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    @classmethod
    def train(cls, text: str) -> "CharTokenizer":
        _check_text(text)
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}")
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in _check_ids(ids, self.vocab_size))

    def state_dict(self) -> dict:
        return {"type": "char", "itos": self.itos}


class WordTokenizer:
    """Whole words (with their leading space) and punctuation marks as tokens, plus ``<unk>``."""

    UNK = "<unk>"

    def __init__(self, vocab: Iterable[str]):
        words = [w for w in vocab if w != self.UNK]
        self.itos = [self.UNK] + sorted(set(words))
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @staticmethod
    def split(text: str) -> list[str]:
        """The pre-tokenizer: text -> pieces whose concatenation is the text."""
        _check_text(text)
        return WORD_PATTERN.findall(text)

    @classmethod
    def train(cls, text: str, min_count: int = 1) -> "WordTokenizer":
        """Vocabulary = every piece seen at least `min_count` times."""
        _check_text(text)
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts = Counter(cls.split(text))
        return cls(w for w, c in counts.items() if c >= min_count)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        unk = self.stoi[self.UNK]
        return [self.stoi.get(piece, unk) for piece in self.split(text)]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in _check_ids(ids, self.vocab_size))

    def state_dict(self) -> dict:
        return {"type": "word", "itos": self.itos}


def tokenizer_from_state(state: dict):
    """Rebuild a tokenizer saved with ``state_dict()`` (as stored in checkpoints)."""
    kinds = {"char": CharTokenizer, "word": WordTokenizer}
    if state.get("type") == "bpe":
        from .bpe import BPETokenizer  # imported here: bpe imports this module

        return BPETokenizer.from_state(state)
    if state.get("type") not in kinds:
        raise ValueError(f"unknown tokenizer type {state.get('type')!r}; expected one of {sorted(kinds) + ['bpe']}")
    return kinds[state["type"]](state["itos"])
