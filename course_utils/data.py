"""Pretraining data: windows of a token stream, other objectives' examples, and corpus curation.

- ``SlidingWindowDataset``: (context, next-token target) pairs cut from one long token stream.
- ``mask_tokens`` / ``span_corrupt``: the same text made into masked-LM (BERT) and span-corruption (T5)
  examples.
- ``exact_duplicates``, ``minhash_signature``, ``estimate_jaccard``, ``near_duplicates``, ``scrub_pii``: cleaning
  a web-like corpus (``shingle_hash`` is the family of hash functions MinHash draws from).

Notebook 05 builds each of these step by step.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from typing import Sequence

import torch

from .validation import check_token_ids, is_int, is_number

__all__ = ["SlidingWindowDataset", "mask_tokens", "span_corrupt", "exact_duplicates", "shingles",
           "shingle_hash", "minhash_signature", "estimate_jaccard", "jaccard", "near_duplicates", "scrub_pii",
           "PII_PATTERNS"]


class SlidingWindowDataset(torch.utils.data.Dataset):
    """Windows of `block_size` tokens taken every `stride` tokens; the target is the window shifted by one.

    stride == block_size: windows touch but do not overlap (each token is a target once);
    stride < block_size: windows overlap (more, correlated examples)."""

    def __init__(self, ids: Sequence[int] | torch.Tensor, block_size: int, stride: int | None = None):
        ids = torch.as_tensor(ids)
        if ids.is_floating_point() and ids.numel():   # converting would silently truncate 2.7 to 2
            raise TypeError(f"ids must be integer token IDs, got dtype {ids.dtype}")
        self.ids = ids.to(torch.long)
        if self.ids.dim() != 1:
            raise ValueError(f"ids must be a 1-D token stream, got shape {tuple(self.ids.shape)}")
        self.block_size = block_size
        self.stride = block_size if stride is None else stride    # stride=0 is an error, not "the default"
        if not is_int(block_size) or not is_int(self.stride) or block_size < 1 or self.stride < 1:
            raise ValueError(f"block_size and stride must be ints >= 1, got {block_size!r} and {self.stride!r}")
        if len(self.ids) < block_size + 1:
            raise ValueError(f"need at least block_size + 1 = {block_size + 1} tokens, got {len(self.ids)}")

    def __len__(self) -> int:
        return (len(self.ids) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        start = (i % len(self)) * self.stride
        x = self.ids[start:start + self.block_size]              # (T,) context
        y = self.ids[start + 1:start + 1 + self.block_size]      # (T,) the next token at every position
        return x, y


IGNORE_INDEX = -100  # cross_entropy skips targets with this value


def mask_tokens(ids: torch.Tensor, mask_id: int, vocab_size: int, rate: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM recipe. Pick `rate` of the positions; of those, 80% become [MASK], 10% a random
    token, 10% stay as they are. Targets are the original tokens at picked positions, IGNORE_INDEX elsewhere."""
    check_token_ids(ids, "ids")
    if not is_number(rate) or not 0 < rate < 1:
        raise ValueError(f"rate must be a share in (0, 1) (BERT picks 0.15 of the positions), got {rate!r}")
    if not is_int(vocab_size) or vocab_size < 1:
        raise ValueError(f"vocab_size must be an int >= 1 (random replacements are drawn from it), "
                         f"got {vocab_size!r}")
    picked = torch.rand(ids.shape, generator=generator) < rate
    targets = torch.where(picked, ids, torch.full_like(ids, IGNORE_INDEX))
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[picked & (roll < 0.8)] = mask_id
    random_positions = picked & (roll >= 0.8) & (roll < 0.9)
    inputs[random_positions] = torch.randint(vocab_size, (int(random_positions.sum()),), generator=generator)
    return inputs, targets


def span_corrupt(words: Sequence[str], spans: Sequence[tuple[int, int]]) -> tuple[list[str], list[str]]:
    """T5's span corruption: each span [start, end) is replaced by a sentinel <X0>, <X1>, ... in the input;
    the target lists each sentinel followed by the words it hid."""
    inputs, targets, position = [], [], 0
    for n, (start, end) in enumerate(sorted(spans)):
        if start < position or end <= start or end > len(words):
            raise ValueError(f"spans must be non-overlapping, non-empty and inside the text, got {list(spans)}")
        inputs += list(words[position:start]) + [f"<X{n}>"]
        targets += [f"<X{n}>"] + list(words[start:end])
        position = end
    return inputs + list(words[position:]), targets


# ----------------------------------------------------------------------------------------------- curation

def exact_duplicates(texts: Sequence[str]) -> list[int]:
    """Indices of texts that repeat an earlier text exactly (compared by a hash of the text)."""
    seen, duplicates = set(), []
    for i, text in enumerate(texts):
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        if digest in seen:
            duplicates.append(i)
        seen.add(digest)
    return duplicates


def shingles(text: str, n: int = 5) -> set[str]:
    """The set of word n-grams of a text: two texts that share most shingles say nearly the same thing."""
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be an int >= 1 (words per shingle), got {n!r}")
    words = text.split()
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def shingle_hash(shingle: str, seed: int) -> int:
    """Hash function number `seed` of a family: a 64-bit integer from BLAKE2b salted with the seed, so that each
    seed orders the shingles in its own, effectively random way."""
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8, salt=seed.to_bytes(16, "little"))
                          .digest(), "little")


_hash = shingle_hash


def minhash_signature(shingle_set: set[str], num_perm: int = 64) -> list[int]:
    """MinHash: for each of num_perm hash functions, the smallest hash over the set. Two sets agree on a
    position with probability equal to their Jaccard similarity."""
    if not is_int(num_perm) or num_perm < 1:
        raise ValueError(f"num_perm must be an int >= 1 (hash functions in the signature), got {num_perm!r}")
    if not shingle_set:
        raise ValueError("cannot sign an empty set of shingles")
    return [min(shingle_hash(s, seed) for s in shingle_set) for seed in range(num_perm)]


def estimate_jaccard(signature_a: Sequence[int], signature_b: Sequence[int]) -> float:
    """The MinHash estimate of two sets' Jaccard similarity: the share of positions where their signatures agree."""
    if len(signature_a) != len(signature_b) or not signature_a:
        raise ValueError(f"signatures must be non-empty and of one length, got {len(signature_a)} and "
                         f"{len(signature_b)}")
    return sum(a == b for a, b in zip(signature_a, signature_b)) / len(signature_a)


def near_duplicates(texts: Sequence[str], threshold: float = 0.8, num_perm: int = 64, bands: int = 16,
                    n: int = 5, signature=minhash_signature,
                    estimate=estimate_jaccard) -> list[tuple[int, int, float]]:
    """Pairs (i, j, estimated Jaccard) with i < j whose MinHash estimate is >= threshold. Locality-sensitive
    hashing (signatures cut into `bands`) proposes candidate pairs without comparing every pair. `signature`
    and `estimate` are the MinHash functions used (notebook 05 passes the student's own)."""
    if not is_number(threshold) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a Jaccard similarity in [0, 1], got {threshold!r}")
    for name, value in (("num_perm", num_perm), ("bands", bands)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if num_perm % bands:
        raise ValueError(f"num_perm ({num_perm}) must be divisible by bands ({bands})")
    rows = num_perm // bands
    signatures = [signature(shingles(t, n), num_perm) for t in texts]
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, sig in enumerate(signatures):
        for b in range(bands):
            buckets[(b, tuple(sig[b * rows:(b + 1) * rows]))].append(i)
    candidates = {(i, j) for members in buckets.values() for k, i in enumerate(members) for j in members[k + 1:]}
    pairs = []
    for i, j in sorted(candidates):
        similarity = estimate(signatures[i], signatures[j])
        if similarity >= threshold:
            pairs.append((i, j, similarity))
    return pairs


PII_PATTERNS = {
    "EMAIL": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"),
    "PHONE": re.compile(r"\b\d{3}[-. ]\d{3}[-. ]\d{4}\b|\b\d{3}-\d{4}\b"),
}


def scrub_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace e-mail addresses and phone numbers by <EMAIL> and <PHONE>; return the text and the counts."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    counts = {}
    for label, pattern in PII_PATTERNS.items():
        text, counts[label] = pattern.subn(f"<{label}>", text)
    return text, counts
