"""Byte-level BPE (byte pair encoding), the tokenizer family of GPT-2, GPT-4 and most LLMs since.

The idea in four lines:

1. text -> UTF-8 bytes, so the 256 byte values are the first 256 tokens and no text is ever "unknown";
2. a regex pre-splits the text into chunks (words with their leading space, numbers, punctuation, runs of
   whitespace), and merges never cross a chunk boundary;
3. training repeatedly finds the most frequent adjacent pair of tokens and merges it into a new token;
4. encoding replays the merges, earliest first; decoding concatenates the tokens' bytes.

Example::

    from course_utils.bpe import BPETokenizer

    tok = BPETokenizer.train(text, vocab_size=512)       # 256 bytes + 255 merges + <|endoftext|>
    ids = tok.encode("Once upon a time")
    assert tok.decode(ids) == "Once upon a time"
    enc = tok.to_tiktoken()                               # the same tokenizer as a fast tiktoken.Encoding
    assert enc.encode("Once upon a time") == ids

    from course_utils.bpe import course_tokenizer
    enc = course_tokenizer().to_tiktoken()                # the course's tokenizer, trained on storyworld

Training comes in two versions that learn exactly the same merges (the tests check it):

* ``"naive"`` recounts every pair in the corpus after each merge: the textbook loop, easy to read;
* ``"incremental"`` (the default) counts once, then after each merge updates only the counts around the
  places where the merged pair occurred. Its cost grows with the number of merged occurrences, not with
  corpus size times number of merges.

Ties between equally frequent pairs go to the smallest pair of IDs, so training is deterministic.

Token IDs: 0-255 are the bytes, 256... the merges in the order they were learned (an ID is its merge's rank),
then the special tokens. Encoding follows tiktoken's rules for special tokens (``allowed_special``,
``disallowed_special``), so ``BPETokenizer`` and ``to_tiktoken()`` can be compared call for call.

The layout follows Karpathy's minbpe (github.com/karpathy/minbpe); the split patterns are tiktoken's.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import heapq
import math
import os
import tempfile
import warnings
from collections import Counter, defaultdict
from typing import Iterable, Sequence

import regex

from .download import OFFLINE_ENV
from .tokenizer_base import Tokenizer, check_ids, check_text

__all__ = [
    "BPETokenizer", "count_pairs", "merge", "apply_merges", "course_tokenizer", "load_tiktoken",
    "GPT2_SPLIT_PATTERN", "GPT4_SPLIT_PATTERN", "ENDOFTEXT", "COURSE_VOCAB_SIZE", "REAL_ENCODINGS",
]

# GPT-2's pre-tokenizer (tiktoken's r50k_base): 's 't 're 've 'm 'll 'd, letters, digits and other symbols,
# each with an optional leading space, and whitespace (a run keeps its last space for the next word).
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
# GPT-4's (tiktoken's cl100k_base): case-insensitive contractions, numbers in groups of at most 3 digits,
# newlines kept apart from other whitespace.
GPT4_SPLIT_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                      r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
ENDOFTEXT = "<|endoftext|>"
COURSE_VOCAB_SIZE = 512

_CACHE_LIMIT = 100_000  # chunks remembered by the encoder (GPT-2's encoder.py keeps the same kind of cache)


# --------------------------------------------------------------------------------------------------
# The two primitives of BPE
# --------------------------------------------------------------------------------------------------

def count_pairs(ids: Sequence[int], counts: dict | None = None, weight: int = 1) -> dict:
    """Count adjacent pairs: [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}.

    Adds ``weight`` per occurrence into ``counts`` when given (to count many chunks into one table)."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` by ``new_id``, left to right: merge([1, 1, 1], (1, 1), 9) == [9, 1]."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def apply_merges(ids: Sequence[int], merges: dict[tuple[int, int], int]) -> list[int]:
    """Encode one chunk: replay ``merges`` on its token IDs, always the earliest-learned merge present first
    (the lowest new ID), until no pair present was ever merged. ``apply_merges([97, 98, 99], {(98, 99): 256,
    (97, 98): 257}) == [97, 256]``: ``b c`` was learned first, so ``a b`` is never formed."""
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, math.inf))
        if pair not in merges:
            break  # no pair of this chunk was ever merged
        ids = merge(ids, pair, merges[pair])
    return ids


def _best_pair(counts: dict) -> tuple[int, int]:
    """The most frequent pair; among equally frequent ones the smallest (deterministic tie-break)."""
    return min(counts, key=lambda pair: (-counts[pair], pair))


# --------------------------------------------------------------------------------------------------
# Learning the merges
# --------------------------------------------------------------------------------------------------

def _learn_naive(words: list[tuple[list[int], int]], n_merges: int, first_id: int) -> list[tuple[int, int]]:
    """Recount all pairs after every merge. ``words``: (token IDs of a distinct chunk, how often it occurs)."""
    merges = []
    for new_id in range(first_id, first_id + n_merges):
        counts: dict = {}
        for ids, n in words:
            count_pairs(ids, counts, n)
        if not counts:
            break
        pair = _best_pair(counts)
        words = [(merge(ids, pair, new_id), n) for ids, n in words]
        merges.append(pair)
    return merges


def _learn_incremental(words: list[tuple[list[int], int]], n_merges: int, first_id: int) -> list[tuple[int, int]]:
    """The same merges as ``_learn_naive``, updating the pair counts instead of recounting.

    All chunks are laid end to end; position p holds token ``ids[p]`` and knows its neighbours ``prev[p]`` and
    ``nxt[p]`` (-1 at a chunk's ends), so merging two tokens is unlinking one position. ``counts[pair]`` is the
    pair's count (weighted by how often its chunk occurs), ``where[pair]`` lists positions where it may start,
    and a heap of (-count, pair) finds the best pair. Merging (a, b) into z at position p, with x before and y
    after, removes the pairs (x, a), (a, b), (b, y) and adds (x, z), (z, y): nothing else changes.

    ``where`` is never cleaned: a position is checked when it is used. That is safe because a position's pair
    only ever changes to one containing a newer token, so a pair that left a position never comes back to it.
    """
    ids, weight, prev, nxt = [], [], [], []
    for chunk, n in words:
        start = len(ids)
        ids += chunk
        weight += [n] * len(chunk)
        prev += [start + j - 1 if j > 0 else -1 for j in range(len(chunk))]
        nxt += [start + j + 1 if j + 1 < len(chunk) else -1 for j in range(len(chunk))]

    counts: dict = defaultdict(int)
    where: dict = defaultdict(list)
    for p, q in enumerate(nxt):
        if q != -1:
            counts[ids[p], ids[q]] += weight[p]
            where[ids[p], ids[q]].append(p)

    # Counts only ever fall, except for pairs that contain the newest token; those are pushed when they appear.
    # A popped entry whose count has fallen since is pushed back with its current count (lazy deletion).
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < n_merges:
        negative_count, pair = heapq.heappop(heap)
        if -negative_count != counts.get(pair, 0):
            if counts.get(pair, 0) > 0:
                heapq.heappush(heap, (-counts[pair], pair))
            continue
        z = first_id + len(merges)
        a, b = pair
        new_pairs = set()
        for p in sorted(where.pop(pair)):  # left to right, as merge() does
            q = nxt[p]
            if ids[p] != a or q == -1 or ids[q] != b:  # stale, or overlapped by the previous merge ("a a a")
                continue
            w, x, y = weight[p], prev[p], nxt[q]
            if x != -1:
                counts[ids[x], a] -= w
                counts[ids[x], z] += w
                where[ids[x], z].append(x)
                new_pairs.add((ids[x], z))
            if y != -1:
                counts[b, ids[y]] -= w
                counts[z, ids[y]] += w
                where[z, ids[y]].append(p)
                new_pairs.add((z, ids[y]))
            counts[pair] -= w
            ids[p], ids[q] = z, -1
            nxt[p] = y
            if y != -1:
                prev[y] = p
        del counts[pair]
        for new_pair in sorted(new_pairs):
            if counts[new_pair] > 0:
                heapq.heappush(heap, (-counts[new_pair], new_pair))
        merges.append(pair)
    return merges


# --------------------------------------------------------------------------------------------------
# The tokenizer
# --------------------------------------------------------------------------------------------------

class BPETokenizer(Tokenizer):
    """A byte-level BPE tokenizer: merges, a split pattern and special tokens.

    ``merges`` maps a pair of token IDs to the ID of the token it makes; merges apply in order of that ID.
    ``pattern=None`` means no pre-split: merges may then cross spaces and punctuation.
    """

    kind = "bpe"

    def __init__(self, merges: dict[tuple[int, int], int] | None = None, *,
                 pattern: str | None = GPT4_SPLIT_PATTERN, special_tokens: dict[str, int] | None = None,
                 byte_ids: Sequence[int] | None = None):
        self.merges = dict(merges or {})
        self.pattern = pattern
        self._split = regex.compile(pattern) if pattern is not None else None
        # The ID of each single byte. The identity for tokenizers trained here; GPT-2 orders bytes differently.
        self.byte_ids = list(range(256)) if byte_ids is None else list(byte_ids)
        if sorted(self.byte_ids) != list(range(256)):
            raise ValueError("byte_ids must give the 256 bytes the IDs 0-255, each once")
        self.vocab: dict[int, bytes] = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        for (a, b), new_id in sorted(self.merges.items(), key=lambda item: item[1]):
            if a not in self.vocab or b not in self.vocab or new_id in self.vocab:
                raise ValueError(f"merge {(a, b)} -> {new_id} refers to an unknown token or reuses an ID")
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self.special_tokens = dict(special_tokens or {})
        for token, i in self.special_tokens.items():
            if not isinstance(token, str) or not token:
                raise ValueError(f"special tokens must be non-empty strings, got {token!r}")
            if i in self.vocab:
                raise ValueError(f"special token {token!r} reuses ID {i}")
            self.vocab[i] = token.encode("utf-8")
        if sorted(self.vocab) != list(range(len(self.vocab))):
            raise ValueError("token IDs must be 0, 1, ..., vocab_size - 1 without gaps")
        self._special_ids = set(self.special_tokens.values())
        self._cache: dict[bytes, tuple[int, ...]] = {}
        self._tiktoken = None

    # ---------------------------------------------------------------------------------------- training
    @classmethod
    def train(cls, text: str, vocab_size: int, *, pattern: str | None = GPT4_SPLIT_PATTERN,
              special_tokens: Iterable[str] = (ENDOFTEXT,), algorithm: str = "incremental") -> "BPETokenizer":
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Special tokens in the text are cut out first (they never merge) and get the last IDs. If the text runs
        out of pairs before the vocabulary is full (every chunk already one token), training stops there with a
        warning, and the tokenizer is smaller than asked.
        """
        check_text(text)
        special_tokens = list(special_tokens)
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"special tokens must be distinct, got {special_tokens}")
        if not isinstance(vocab_size, int) or vocab_size < 256 + len(special_tokens):
            raise ValueError(f"vocab_size must be an int >= 256 + {len(special_tokens)} special token(s) "
                             f"= {256 + len(special_tokens)}, got {vocab_size!r}")
        learn = {"naive": _learn_naive, "incremental": _learn_incremental}
        if algorithm not in learn:
            raise ValueError(f"algorithm must be one of {sorted(learn)}, got {algorithm!r}")

        tokenizer = cls(pattern=pattern, special_tokens={s: 256 + i for i, s in enumerate(special_tokens)})
        n_merges = vocab_size - 256 - len(special_tokens)
        chunks = Counter(tokenizer._chunks(text, allowed=set(special_tokens)))
        words = [(list(chunk), n) for chunk, n in chunks.items() if isinstance(chunk, bytes)]
        pairs = learn[algorithm](words, n_merges, 256)
        if len(pairs) < n_merges:
            warnings.warn(f"the text ran out of pairs to merge after {len(pairs)} merges: every chunk is a single "
                          f"token, so the vocabulary has {256 + len(pairs) + len(special_tokens)} tokens, not "
                          f"{vocab_size}", stacklevel=2)
        merges = {pair: 256 + i for i, pair in enumerate(pairs)}
        specials = {s: 256 + len(pairs) + i for i, s in enumerate(special_tokens)}
        return cls(merges, pattern=pattern, special_tokens=specials)

    # ---------------------------------------------------------------------------------------- encoding
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, *, allowed_special: Iterable[str] | str = frozenset(),
               disallowed_special: Iterable[str] | str = "all") -> list[int]:
        """Text -> token IDs, with tiktoken's rules for special tokens.

        A special token's text becomes its special ID only if it is in ``allowed_special`` (or that is "all").
        By default, text that contains a special token's text raises ``ValueError``, because a user's text
        should not be able to smuggle in an "end of text"; ``disallowed_special=()`` encodes it as plain text.
        """
        check_text(text)
        allowed = self._special_set(allowed_special, "allowed_special")
        disallowed = (set(self.special_tokens) - allowed if disallowed_special == "all"
                      else self._special_set(disallowed_special, "disallowed_special"))
        for token in sorted(disallowed):
            if token in text:
                raise ValueError(f"the text contains the special token {token!r}: pass allowed_special={{{token!r}}} "
                                 "to encode it as a special token, or disallowed_special=() to encode it as text")
        ids: list[int] = []
        for chunk in self._chunks(text, allowed):
            if isinstance(chunk, str):
                ids.append(self.special_tokens[chunk])
            else:
                ids.extend(self._encode_chunk(chunk))
        return ids

    def pieces(self, text: str, **encode_options) -> list[str]:
        """The text of each token of ``encode(text, **encode_options)``. A character whose UTF-8 bytes are
        split over several tokens belongs to the token that completes it (the others get ""), so the pieces
        join to the text."""
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return [utf8.decode(self.vocab[i]) for i in self.encode(text, **encode_options)]

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> token IDs, treating special tokens' text as ordinary text."""
        return self.encode(text, disallowed_special=())

    def _chunks(self, text: str, allowed: set[str]) -> list:
        """The pieces BPE works on: UTF-8 bytes of each pre-split chunk, and allowed special tokens as str."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates cannot be UTF-8: replace them by U+FFFD, as tiktoken does
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        parts = [text]
        if allowed:
            specials = "|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True))
            parts = regex.split(f"({specials})", text)
        out: list = []
        for i, part in enumerate(parts):
            if i % 2:  # regex.split puts the separators (here: special tokens) at the odd positions
                out.append(part)
            elif part:
                pieces = self._split.findall(part) if self._split is not None else [part]
                out += [piece.encode("utf-8") for piece in pieces]
        return out

    def _encode_chunk(self, chunk: bytes) -> tuple[int, ...]:
        """Apply the merges to one chunk, always the earliest-learned merge present first."""
        if chunk in self._cache:
            return self._cache[chunk]
        ids = apply_merges([self.byte_ids[b] for b in chunk], self.merges)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        result = self._cache[chunk] = tuple(ids)
        return result

    def _special_set(self, tokens: Iterable[str] | str, name: str) -> set[str]:
        if tokens == "all":
            return set(self.special_tokens)
        if isinstance(tokens, str):
            raise TypeError(f"{name} must be 'all' or a collection of special tokens, got the string {tokens!r}")
        tokens = set(tokens)
        unknown = tokens - set(self.special_tokens)
        if unknown:
            raise ValueError(f"unknown special token(s) {sorted(unknown)} in {name}; this tokenizer has "
                             f"{sorted(self.special_tokens)}")
        return tokens

    # ---------------------------------------------------------------------------------------- decoding
    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return b"".join(self.vocab[i] for i in check_ids(ids, self.vocab_size))

    def decode(self, ids: Sequence[int], errors: str = "replace") -> str:
        """Token IDs -> text. Bytes that are not valid UTF-8 (half of a character) become U+FFFD, '�'."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token (a special token's text, UTF-8 encoded)."""
        return self.decode_bytes([token_id])

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids

    # ---------------------------------------------------------------------------------------- tiktoken
    def to_tiktoken(self, name: str = "course_bpe"):
        """The same tokenizer as a ``tiktoken.Encoding`` (Rust, much faster); it gives the same IDs.

        A merge's ID is its rank, which is exactly what tiktoken's ``mergeable_ranks`` means.
        """
        if self._tiktoken is not None and self._tiktoken.name == name:
            return self._tiktoken
        import tiktoken

        ranks = {self.vocab[i]: i for i in self.vocab if i not in self._special_ids}
        if len(ranks) != self.vocab_size - len(self._special_ids):
            raise ValueError("two tokens have the same bytes; tiktoken needs one ID per byte string")
        self._tiktoken = tiktoken.Encoding(
            name, pat_str=self.pattern if self.pattern is not None else r"[\s\S]+",
            mergeable_ranks=ranks, special_tokens=self.special_tokens, explicit_n_vocab=self.vocab_size)
        return self._tiktoken

    @classmethod
    def from_tiktoken(cls, encoding) -> "BPETokenizer":
        """A pure-Python tokenizer with the merges of a tiktoken encoding (e.g. GPT-2's r50k_base).

        tiktoken stores ranks, not merges; each token's merge is recovered by running BPE on its own bytes with
        only the lower-ranked tokens, which leaves exactly two parts (as in minbpe's GPT4Tokenizer).
        """
        ranks = encoding._mergeable_ranks
        byte_ids = [ranks[bytes([b])] for b in range(256)]
        merges = {}
        for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
            if len(token) == 1:
                continue
            parts = [bytes([b]) for b in token]
            while len(parts) > 2:
                i = min(range(len(parts) - 1), key=lambda j: ranks.get(parts[j] + parts[j + 1], rank))
                if ranks.get(parts[i] + parts[i + 1], rank) >= rank:
                    break
                parts[i:i + 2] = [parts[i] + parts[i + 1]]
            if len(parts) != 2:
                raise ValueError(f"token {token!r} (rank {rank}) is not the merge of two lower-ranked tokens")
            merges[ranks[parts[0]], ranks[parts[1]]] = rank
        return cls(merges, pattern=encoding._pat_str, special_tokens=encoding._special_tokens, byte_ids=byte_ids)

    # ---------------------------------------------------------------------------------------- saving
    def state_dict(self) -> dict:
        """JSON-able state; ``tokenizers.tokenizer_from_state`` (or ``from_state``) rebuilds the tokenizer."""
        merges = sorted(self.merges.items(), key=lambda item: item[1])
        return {"type": "bpe", "pattern": self.pattern, "merges": [[a, b, i] for (a, b), i in merges],
                "special_tokens": dict(self.special_tokens), "byte_ids": list(self.byte_ids)}

    @classmethod
    def from_state(cls, state: dict) -> "BPETokenizer":
        cls._check_state(state)
        return cls({(a, b): i for a, b, i in state["merges"]}, pattern=state["pattern"],
                   special_tokens=state["special_tokens"], byte_ids=state.get("byte_ids"))

    def __repr__(self) -> str:
        split = "no pre-split" if self.pattern is None else \
            {GPT2_SPLIT_PATTERN: "GPT-2 split", GPT4_SPLIT_PATTERN: "GPT-4 split"}.get(self.pattern, "custom split")
        return (f"BPETokenizer(vocab_size={self.vocab_size}: 256 bytes + {len(self.merges)} merges + "
                f"{len(self.special_tokens)} special; {split})")


# --------------------------------------------------------------------------------------------------
# The course's tokenizer and the real ones
# --------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def course_tokenizer(vocab_size: int = COURSE_VOCAB_SIZE) -> BPETokenizer:
    """The course's BPE: GPT-4's split pattern, trained on storyworld's train split, with <|endoftext|>.

    Deterministic (about two seconds, mostly generating the stories). Use ``.to_tiktoken()`` for speed.
    """
    from . import storyworld

    return BPETokenizer.train(storyworld.load_split("train").text, vocab_size)


REAL_ENCODINGS = {"r50k_base": "GPT-2", "cl100k_base": "GPT-4", "o200k_base": "GPT-4o"}


def load_tiktoken(name: str, *, quiet: bool = False):
    """``tiktoken.get_encoding(name)``, or ``None`` with one printed line when it cannot be had.

    tiktoken downloads an encoding's file once and caches it (``$TIKTOKEN_CACHE_DIR``). Offline and without a
    cached copy, or with ``LLM_MECHANICS_OFFLINE=1`` and no cached copy, this says so and returns ``None``.
    GPT-2 is ``r50k_base`` (tiktoken's ``gpt2`` has the same ranks, stored in two older files).
    """
    import tiktoken  # imported here: only needed for the real encodings and to_tiktoken()

    if name not in tiktoken.list_encoding_names():
        raise ValueError(f"unknown encoding {name!r}; tiktoken knows {tiktoken.list_encoding_names()}")
    offline = os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}  # as download() reads it
    if offline and not _tiktoken_cached(name):
        if not quiet:
            print(f"{name} not available offline ({OFFLINE_ENV} is set and no cached file); skipping it.")
        return None
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # requests' ConnectionError, a timeout, an HTTP error, a bad download, ...
        if not quiet:
            if isinstance(exc, OSError) or "Connection" in type(exc).__name__:
                print(f"{name} not available offline (no cached file); skipping it.")
            else:
                print(f"{name} could not be loaded ({type(exc).__name__}: {str(exc)[:120]}); skipping it.")
        return None


def _tiktoken_cached(name: str) -> bool:
    """Whether tiktoken would find ``name``'s file in its cache without a download."""
    if name not in ("r50k_base", "p50k_base", "cl100k_base", "o200k_base"):
        return False  # the others are stored differently (gpt2: two data-gym files)
    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or \
        os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return os.path.isfile(os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()))
