"""The interface every tokenizer of the course has (after ``base.py`` of Karpathy's minbpe).

``CharTokenizer`` and ``WordTokenizer`` (``course_utils.tokenizers``) and ``BPETokenizer``
(``course_utils.bpe``) subclass ``Tokenizer``, so code that only needs text -> IDs -> text, or a label
under each token, works with any of them::

    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text            # for text the tokenizer can represent
    labels = tokenizer.pieces(text)                 # one string per ID; "".join(labels) == text

The two checks the tokenizers share, ``check_text`` and ``check_ids``, live here too.
"""

from __future__ import annotations

from typing import Sequence

from .validation import is_int

__all__ = ["Tokenizer", "check_text", "check_ids"]


def check_text(text) -> str:
    """Raise a TypeError unless ``text`` is a str."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    return text


def check_ids(ids, vocab_size: int) -> list[int]:
    """``ids`` (a list, tuple, 1-D tensor or array of token IDs) as a list of ints, or a clear error: each
    must be an int in [0, vocab_size)."""
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"expected a sequence of token IDs (ints), got {type(ids).__name__}")
    if hasattr(ids, "tolist"):  # torch tensors and numpy arrays
        ids = ids.tolist()
    ids = list(ids)
    bad = [i for i in ids if not is_int(i) or not 0 <= i < vocab_size]
    if bad:
        raise ValueError(f"token IDs must be ints in [0, {vocab_size}), got {bad[:5]}")
    return ids


class Tokenizer:
    """Text -> token IDs -> text. Subclasses implement ``encode``, ``decode``, ``vocab_size``,
    ``state_dict`` and ``from_state``; ``pieces`` and ``unknown`` have defaults."""

    kind = ""  # the "type" that state_dict() records and tokenizers.tokenizer_from_state reads

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def pieces(self, text: str) -> list[str]:
        """The text of each token of ``encode(text)``, one string per ID: what a view writes under a token.
        Joined they give ``text`` back, even where a token cannot hold its piece (a word-level ``<unk>``
        keeps the word it stands for)."""
        return [self.decode([i]) for i in self.encode(text)]

    def unknown(self, text: str) -> list[bool]:
        """For each token of ``encode(text)``: does it stand for a piece it cannot hold (``<unk>``)? Never,
        for a tokenizer that represents all of its input (bytes) or refuses what it cannot (characters)."""
        return [False] * len(self.encode(text))

    def state_dict(self) -> dict:
        """A JSON-able dict with ``"type": kind``, from which ``from_state`` rebuilds the tokenizer."""
        raise NotImplementedError

    @classmethod
    def from_state(cls, state: dict) -> "Tokenizer":
        raise NotImplementedError

    @classmethod
    def _check_state(cls, state) -> dict:
        if not isinstance(state, dict) or state.get("type") != cls.kind:
            got = state.get("type") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"not a {cls.__name__} state: expected a dict with type {cls.kind!r}, got {got!r}")
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"
