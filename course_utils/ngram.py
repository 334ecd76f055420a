"""Count-based n-gram language models: the simplest f(tokens_{1:t}) -> P(token_{t+1}).

An n-gram model looks only at the last n-1 tokens. It estimates P(next | context) by counting, with
add-k (Laplace) smoothing so that unseen continuations keep a little probability:

    P(c | ctx) = (count(ctx + c) + k) / (count(ctx) + k * V)

Notebook 00 builds the bigram case by hand and checks it against this class. ``bigram_probabilities`` and
``cross_entropy`` are the finished versions of the two functions notebook 00 has the student write.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["NGramModel", "bigram_probabilities", "cross_entropy"]


def bigram_probabilities(counts: torch.Tensor, k: float) -> torch.Tensor:
    """The bigram table P(b | a), add-k smoothed, from pair counts: ``counts[a, b]`` is how often b follows a.

    (V, V) -> (V, V); row a is (counts[a] + k) / (count(a) + k V) and sums to 1. A character that was never
    followed by anything (a row of zeros) gets the uniform distribution.
    """
    smoothed = counts + k                                 # (V, V): every pair gets k pseudo-counts
    return smoothed / smoothed.sum(dim=1, keepdim=True)  # normalize each row (the context a), not each column


def cross_entropy(probs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """How well predicted distributions fit the tokens that came: (mean negative log-likelihood, perplexity).

    ``probs`` (N, V): row i is the model's distribution for position i; ``targets`` (N,): the token that came.
    The loss is -mean_i log probs[i, targets[i]] in nats; the perplexity is e to that power.
    """
    nll = F.nll_loss(probs.log(), targets).item()  # nll_loss picks -log_probs[i, targets[i]] and averages
    return nll, math.exp(nll)


class NGramModel:
    """An n-gram model over any sequence of hashable tokens (characters of a string, or token IDs)."""

    def __init__(self, n: int, vocab: Sequence, k: float = 0.01):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if k <= 0:
            raise ValueError(f"smoothing k must be > 0 (else unseen text has probability 0), got {k!r}")
        self.n, self.k = n, k
        self.vocab = sorted(set(vocab))
        if not self.vocab:
            raise ValueError("the vocabulary is empty")
        self.counts: dict[tuple, Counter] = defaultdict(Counter)
        self.totals: Counter = Counter()

    def fit(self, tokens: Sequence) -> "NGramModel":
        unknown = set(tokens) - set(self.vocab)
        if unknown:
            raise ValueError(f"tokens not in the vocabulary: {sorted(map(repr, unknown))[:10]}")
        for i in range(len(tokens)):
            context = tuple(tokens[max(0, i - self.n + 1):i])
            self.counts[context][tokens[i]] += 1
            self.totals[context] += 1
        return self

    def prob(self, context: Sequence, token) -> float:
        """P(token | the last n-1 tokens of context), smoothed."""
        context = tuple(context)[-(self.n - 1):] if self.n > 1 else ()
        seen = self.counts.get(context, {}).get(token, 0)  # .get: looking up must not add entries
        return (seen + self.k) / (self.totals.get(context, 0) + self.k * len(self.vocab))

    def nll(self, tokens: Sequence) -> float:
        """Mean negative log-likelihood per token, in nats (each token predicted from the ones before)."""
        if len(tokens) == 0:
            raise ValueError("cannot score an empty sequence")
        total = 0.0
        for i in range(len(tokens)):
            total -= math.log(self.prob(tokens[max(0, i - self.n + 1):i], tokens[i]))
        return total / len(tokens)

    @property
    def num_parameters(self) -> int:
        """A full table has V^(n-1) contexts x V next tokens (most are never seen)."""
        return len(self.vocab) ** self.n
