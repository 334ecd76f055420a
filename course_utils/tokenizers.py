"""Tokenizers: text -> token IDs -> text.

Two simple tokenizers live here from day one:

* ``CharTokenizer``: one token per character. Handles any text made of the characters it was built on;
  sequences are long.
* ``WordTokenizer``: one token per word or punctuation mark, with the space in front of a word kept in the
  token (``" cat"``), as GPT-2's pre-tokenizer does, so decoding is plain concatenation. storyworld has a
  closed vocabulary, so every word of it is known; text with new words shows why word-level tokenizers break
  (they become ``<unk>``).
* ``ChatTokenizer``: a word tokenizer that also matches chat's special tokens (``<|user|>``) whole (07).

Notebook 01 builds these and a byte-level BPE from scratch; the BPE lives in ``course_utils.bpe``. All of them
subclass ``course_utils.tokenizer_base.Tokenizer``; ``tokenizer_from_state`` rebuilds any of them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from .bpe import BPETokenizer
from .tokenizer_base import Tokenizer, check_ids, check_text
from .validation import is_int

__all__ = ["CharTokenizer", "WordTokenizer", "ChatTokenizer", "tokenizer_from_state", "WORD_PATTERN", "CHAT_ROLES",
           "END_OF_MESSAGE", "CHAT_SPECIALS"]

# A possessive 's, a newline, a word with an optional leading space, one punctuation mark with an optional
# leading space, or any other single whitespace character. Every character of any text matches exactly one
# piece, so "".join(pieces) == text.
WORD_PATTERN = re.compile(r"'s|\n| ?[A-Za-z]+| ?[^\sA-Za-z]|\s")


class _StringVocabulary(Tokenizer):
    """What the character and word tokenizers share: each token is a string, ID i is ``itos[i]``."""

    def __init__(self, itos: Sequence[str]):
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in check_ids(ids, self.vocab_size))

    def state_dict(self) -> dict:
        return {"type": self.kind, "itos": list(self.itos)}

    @classmethod
    def from_state(cls, state: dict):
        return cls(cls._check_state(state)["itos"])


class CharTokenizer(_StringVocabulary):
    """Each distinct character is a token; IDs follow sorted character order."""

    kind = "char"

    def __init__(self, chars: Iterable[str]):
        super().__init__(sorted(set(chars)))
        if not self.itos:
            raise ValueError("a CharTokenizer needs at least one character")

    @classmethod
    def train(cls, text: str) -> "CharTokenizer":
        if not check_text(text):
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(text)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(check_text(text)) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}")
        return [self.stoi[ch] for ch in text]


class WordTokenizer(_StringVocabulary):
    """Whole words (with their leading space) and punctuation marks as tokens, plus ``<unk>``."""

    kind = "word"
    UNK = "<unk>"

    def __init__(self, vocab: Iterable[str]):
        super().__init__([self.UNK] + sorted({w for w in vocab if w != self.UNK}))

    @staticmethod
    def split(text: str) -> list[str]:
        """The pre-tokenizer: text -> pieces whose concatenation is the text."""
        return WORD_PATTERN.findall(check_text(text))

    @classmethod
    def train(cls, text: str, min_count: int = 1) -> "WordTokenizer":
        """Vocabulary = every piece seen at least `min_count` times."""
        if not check_text(text):
            raise ValueError("cannot build a vocabulary from empty text")
        if not is_int(min_count) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        counts = Counter(cls.split(text))
        return cls(w for w, c in counts.items() if c >= min_count)

    def encode(self, text: str) -> list[int]:
        unk = self.stoi[self.UNK]
        return [self.stoi.get(piece, unk) for piece in self.split(text)]

    def pieces(self, text: str) -> list[str]:
        return self.split(text)

    def unknown(self, text: str) -> list[bool]:
        return [piece not in self.stoi for piece in self.split(text)]


# A chat's roles and the special tokens that open and close its messages (notebook 07).
CHAT_ROLES = ("system", "user", "assistant")
END_OF_MESSAGE = "<|end|>"
CHAT_SPECIALS = tuple(f"<|{role}|>" for role in CHAT_ROLES) + (END_OF_MESSAGE,)


class ChatTokenizer(WordTokenizer):
    """A word tokenizer with special tokens. The word pattern would cut ``<|user|>`` into ``<``, ``|``,
    ``user``, ``|``, ``>``, so special tokens are matched first, whole, and only the text between them goes
    through the word pattern (tiktoken's ``allowed_special`` works the same way). The vocabulary is sorted
    like any WordTokenizer's, so token IDs move: copy weights by token string (finetune.resize_token_embeddings)."""

    kind = "chat"

    def __init__(self, vocab: Iterable[str], specials: Sequence[str] = CHAT_SPECIALS):
        self.specials = tuple(specials)
        if not self.specials:
            raise ValueError("a ChatTokenizer needs at least one special token")
        super().__init__(list(vocab) + list(self.specials))
        self._special = re.compile("(" + "|".join(re.escape(t) for t in self.specials) + ")")

    def split(self, text: str) -> list[str]:
        """Special tokens whole, the text between them split by the word pattern."""
        if not isinstance(text, str):
            raise TypeError(f"expected text as a str, got {type(text).__name__}")
        parts = self._special.split(text)
        pieces = []
        for i, part in enumerate(parts):        # re.split with a group: text, special, text, special, ...
            pieces += [part] if i % 2 else WordTokenizer.split(part)
        return pieces

    def state_dict(self) -> dict:
        return {"type": self.kind, "itos": list(self.itos), "specials": list(self.specials)}

    @classmethod
    def from_state(cls, state: dict) -> "ChatTokenizer":
        state = cls._check_state(state)
        specials = list(state["specials"])
        return cls([t for t in state["itos"] if t not in specials], specials)


def tokenizer_from_state(state: dict) -> Tokenizer:
    """Rebuild a tokenizer saved with ``state_dict()`` (as stored in checkpoints)."""
    kinds = {cls.kind: cls for cls in (CharTokenizer, WordTokenizer, ChatTokenizer, BPETokenizer)}
    kind = state.get("type") if isinstance(state, dict) else None
    if kind not in kinds:
        raise ValueError(f"unknown tokenizer type {kind!r}; expected a state dict with type one of {sorted(kinds)}")
    return kinds[kind].from_state(state)
