"""Word embeddings: from counts to learned vectors, and how to score them against storyworld's answer key.

* ``one_hot_lookup``: one-hot vector × embedding matrix, the long way of doing what ``nn.Embedding`` does;
* ``bag_of_words`` and ``tfidf`` from scratch. With ``tokenizer=words, lowercase=False`` (and the defaults
  ``smooth_idf=True, sublinear_tf=False, norm="l2"``) they give the numbers scikit-learn's
  ``CountVectorizer`` and ``TfidfVectorizer`` give;
* word2vec: skip-gram with negative sampling (``SkipGram``, ``train_skipgram``; Mikolov et al. 2013);
* ``WordVectors``: a table of word vectors with cosine similarity, nearest neighbours and analogies
  (3CosAdd: the word nearest to ``b - a + c``);
* scores against ground truth (``storyworld.LEXICON.category`` and ``.analogies``): neighbour purity,
  analogy accuracy, and what chance would get.

Notebook 02 builds each piece by hand and checks it against this module.

References:
1) Mikolov et al. 2013, "Distributed Representations of Words and Phrases and their Compositionality"
   https://arxiv.org/abs/1310.4546
2) scikit-learn's TF-IDF definition: https://scikit-learn.org/stable/modules/feature_extraction.html#tfidf-term-weighting
"""

from __future__ import annotations

import difflib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tokenizers import WordTokenizer
from .validation import is_number

__all__ = [
    "words", "one_hot_lookup", "bag_of_words", "tfidf", "cosine_similarity", "WordVectors", "random_vectors",
    "skipgram_pairs", "subsample_mask", "noise_distribution", "sgns_loss", "SkipGram", "SkipGramResult", "train_skipgram",
    "neighbour_purity", "chance_purity", "analogy_results", "analogy_accuracy", "score_embeddings",
]


# --------------------------------------------------------------------------------------------------
# Words, lookups, counts
# --------------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """The words of a text, case kept, without spaces, punctuation or the possessive 's:
    ``words("Lily's ball.") == ["Lily", "ball"]``. The same pieces as the course's word tokenizer."""
    return [p.strip() for p in WordTokenizer.split(text) if p.strip().isalpha()]


def one_hot_lookup(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``one_hot(ids) @ weight``: each one-hot row picks one row of the matrix. Equal to ``weight[ids]``
    and to ``nn.Embedding`` with that weight, only slower (|V| multiplications per output number)."""
    return F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype) @ weight


def bag_of_words(documents: Sequence[Sequence[str]],
                 vocabulary: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """Count matrix (n_documents, |vocabulary|), float64: entry (i, j) is how often word j occurs in
    document i. The default vocabulary is every word seen, sorted; words outside a given vocabulary are
    ignored (as scikit-learn's ``CountVectorizer(vocabulary=...)`` does)."""
    if isinstance(documents, str):
        raise TypeError("documents must be a list of token lists; for one text use [words(text)]")
    documents = [list(d) for d in documents]
    if vocabulary is None:
        vocabulary = sorted({w for d in documents for w in d})
    vocabulary = list(vocabulary)
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("the vocabulary has repeated words")
    index = {w: j for j, w in enumerate(vocabulary)}
    counts = torch.zeros(len(documents), len(vocabulary), dtype=torch.float64)
    for i, document in enumerate(documents):
        for w, c in Counter(document).items():
            if w in index:
                counts[i, index[w]] = c
    return counts, vocabulary


def tfidf(counts: torch.Tensor, *, smooth_idf: bool = True, sublinear_tf: bool = False,
          norm: str | None = "l2") -> tuple[torch.Tensor, torch.Tensor]:
    """TF-IDF weights of a count matrix (documents × words), and the idf vector.

        tf(d, w)  = count(d, w)                (or 1 + ln count with sublinear_tf)
        idf(w)    = ln((1 + n) / (1 + df(w))) + 1    (smooth_idf; else ln(n / df(w)) + 1)
        tfidf     = tf · idf, then each document row scaled to unit length (norm="l2")

    where n is the number of documents and df(w) the number of documents containing w: a word found in every
    document gets the smallest weight. These are scikit-learn's definitions.
    """
    if not isinstance(counts, torch.Tensor):
        raise TypeError(f"counts must be a tensor (documents, words), e.g. from bag_of_words, "
                        f"got {type(counts).__name__}")
    if counts.dim() != 2:
        raise ValueError(f"counts must be a (documents, words) matrix, got shape {tuple(counts.shape)}")
    if counts.numel() and not bool((counts >= 0).all()):     # also catches NaN, which is not >= 0
        bad = counts[~(counts >= 0)][0].item()
        raise ValueError(f"counts must be >= 0 (how often each word occurs in each document), got {bad}")
    if norm not in ("l2", "l1", None):
        raise ValueError(f"norm must be 'l2', 'l1' or None, got {norm!r}")
    counts = counts.to(torch.float64)
    n = counts.shape[0]
    df = (counts > 0).sum(0).to(torch.float64)
    idf = torch.log((1 + n) / (1 + df)) + 1 if smooth_idf else torch.log(n / df) + 1
    tf = torch.where(counts > 0, 1 + torch.log(counts.clamp_min(1e-300)), 0.0) if sublinear_tf else counts
    weights = tf * idf
    if norm is not None:
        size = weights.norm(p=2 if norm == "l2" else 1, dim=1, keepdim=True)
        weights = weights / torch.where(size > 0, size, 1.0)
    return weights, idf


# --------------------------------------------------------------------------------------------------
# A table of word vectors: cosine similarity, neighbours, analogies
# --------------------------------------------------------------------------------------------------


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Cosine of the angle between vectors, ``a·b / (|a| |b|)``, along the last dimension: for (N, d)
    and (M, d) inputs the (N, M) matrix of all pairs; for two (d,) vectors a 0-d tensor."""
    a_unit = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b_unit = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    if a.dim() == 1 and b.dim() == 1:
        return a_unit @ b_unit
    return a_unit @ b_unit.transpose(-1, -2)


@dataclass
class WordVectors:
    """One vector per word. ``wv["king"]`` is a vector; ``wv.nearest("king", k=5)`` the five most
    cosine-similar other words; ``wv.analogy("king", "queen", "prince")`` answers king:queen :: prince:?"""

    words: list[str]
    vectors: torch.Tensor
    name: str = ""
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        self.words = list(self.words)
        if not isinstance(self.vectors, torch.Tensor):
            self.vectors = torch.as_tensor(self.vectors)
        self.vectors = self.vectors.detach().to(torch.float32 if not self.vectors.is_floating_point()
                                                else self.vectors.dtype)
        if self.vectors.dim() != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"vectors must have shape (len(words)={len(self.words)}, dim), "
                             f"got {tuple(self.vectors.shape)}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words must be distinct")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> torch.Tensor:
        return self.vectors[self._id(word)]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def _id(self, word: str) -> int:
        if word not in self.index:
            raise KeyError(self.unknown_message(word))
        return self.index[word]

    def unknown_message(self, word: str) -> str:
        """A friendly explanation for a word without a vector, with close spellings if there are any."""
        close = difflib.get_close_matches(str(word), self.words, n=3, cutoff=0.6)
        if not close:  # "KING" -> "king"
            close = [w for w in self.words if w.lower() == str(word).lower()][:3]
        name = f"{self.name} " if self.name else ""
        text = f"'{word}' is not in the {name}vocabulary ({len(self.words)} words)"
        return text + (f"; did you mean {', '.join(repr(w) for w in close)}?" if close else ".")

    def similarity(self, a: str, b: str) -> float:
        return cosine_similarity(self[a], self[b]).item()

    def nearest(self, query: str | torch.Tensor, k: int = 5, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The k words most cosine-similar to ``query`` (a word, which is then excluded, or a vector), as
        (word, cosine) pairs, best first. Ties go to the earlier word in ``self.words``."""
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        exclude = set(exclude)
        if isinstance(query, str):
            exclude.add(query)
            query = self[query]
        sims = cosine_similarity(query.to(self.vectors.dtype).reshape(1, -1), self.vectors)[0]
        keep = torch.tensor([w not in exclude for w in self.words], dtype=torch.bool)
        sims = torch.where(keep, sims, torch.tensor(-math.inf, dtype=sims.dtype))
        k = min(k, int(keep.sum()))
        # stable sort: equal similarities keep vocabulary order, so results never depend on the platform
        order = torch.sort(sims, descending=True, stable=True).indices[:k]
        return [(self.words[i], sims[i].item()) for i in order.tolist()]

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """a : b :: c : ?  — the k words nearest to ``b - a + c`` (3CosAdd), leaving out a, b and c."""
        target = self[b] - self[a] + self[c]
        return self.nearest(target, k=k, exclude=(a, b, c))

    def subset(self, words: Iterable[str], name: str | None = None) -> "WordVectors":
        """The same vectors for some of the words (those present), in the order given."""
        kept = [w for w in dict.fromkeys(words) if w in self.index]
        return WordVectors(kept, self.vectors[[self.index[w] for w in kept]],
                           self.name if name is None else name)

    def normalized(self) -> "WordVectors":
        return WordVectors(self.words, self.vectors / self.vectors.norm(dim=1, keepdim=True).clamp_min(1e-12),
                           self.name)


def random_vectors(words: Sequence[str], dim: int, seed: int = 0, name: str = "random") -> WordVectors:
    """A baseline that knows nothing: independent standard-normal vectors."""
    g = torch.Generator().manual_seed(seed)
    return WordVectors(list(words), torch.randn(len(words), dim, generator=g), name)


# --------------------------------------------------------------------------------------------------
# word2vec: skip-gram with negative sampling
# --------------------------------------------------------------------------------------------------


def skipgram_pairs(ids: torch.Tensor, window: int,
                   segments: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All (center, context) pairs of a token stream with the context at most ``window`` tokens away on
    either side. With ``segments`` (one document number per token), pairs never cross documents."""
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D token stream, got shape {tuple(ids.shape)}")
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    if segments is not None and segments.shape != ids.shape:
        raise ValueError("segments must have one entry per token")
    centers, contexts = [], []
    for offset in range(1, min(window, len(ids) - 1) + 1):
        left, right = ids[:-offset], ids[offset:]
        same = slice(None) if segments is None else segments[:-offset] == segments[offset:]
        centers += [left[same], right[same]]     # the context to the right, then to the left
        contexts += [right[same], left[same]]
    if not centers:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty.clone()
    return torch.cat(centers), torch.cat(contexts)


def subsample_mask(ids: torch.Tensor, vocab_size: int, t: float = 1e-3,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Which tokens to keep when frequent words are thinned out (Mikolov et al. 2013): a word of relative
    frequency f survives with probability min(1, sqrt(t / f)), so "the" and "a" lose most occurrences."""
    if not is_number(t) or not 0 < t < math.inf:
        raise ValueError(f"t must be a number > 0 (the frequency above which words are thinned out), got {t!r}")
    freq = torch.bincount(ids, minlength=vocab_size).double() / len(ids)
    keep_prob = (t / freq.clamp_min(1e-12)).sqrt().clamp(max=1.0)
    return torch.rand(len(ids), generator=generator, dtype=torch.float64) < keep_prob[ids]


def noise_distribution(ids: torch.Tensor, vocab_size: int, power: float = 0.75) -> torch.Tensor:
    """word2vec's distribution for negative samples: unigram counts to the power 3/4, normalized."""
    weights = torch.bincount(ids, minlength=vocab_size).double() ** power
    return (weights / weights.sum()).float()


def sgns_loss(v_center: torch.Tensor, u_context: torch.Tensor, u_noise: torch.Tensor) -> torch.Tensor:
    """Skip-gram's negative-sampling loss, the mean over the batch of

        -log σ(u_o · v_c) - Σ_k log σ(-u_{n_k} · v_c)

    v_center, u_context: (B, d); u_noise: (B, K, d). ``F.logsigmoid`` keeps it finite for large scores, where
    ``log(sigmoid(x))`` underflows to -inf."""
    pos = F.logsigmoid((v_center * u_context).sum(-1))                          # (B,)
    neg = F.logsigmoid(-(u_noise @ v_center.unsqueeze(-1)).squeeze(-1))         # (B, K)
    return -(pos + neg.sum(-1)).mean()


class SkipGram(nn.Module):
    """Two tables: ``center`` (the word vectors we keep) and ``context`` (the vectors a word has when it is
    the neighbour). For a real pair (c, o) and K noise words n_1..n_K the loss is

        -log σ(u_o · v_c) - Σ_k log σ(-u_{n_k} · v_c)

    which pushes v_c towards the words seen around c and away from random words."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.center.weight, -0.5 / dim, 0.5 / dim)  # word2vec's initialization
        nn.init.zeros_(self.context.weight)

    def forward(self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor,
                loss_fn=sgns_loss) -> torch.Tensor:
        """(B,) center IDs, (B,) context IDs, (B, K) noise IDs -> the loss; ``loss_fn(v, u_pos, u_neg)``
        computes it from the looked-up vectors (``sgns_loss`` unless another version is given)."""
        v = self.center(center)                                        # (B, d)
        u_pos = self.context(context)                                  # (B, d)
        u_neg = self.context(negatives)                                # (B, K, d)
        return loss_fn(v, u_pos, u_neg)


@dataclass
class SkipGramResult:
    model: SkipGram
    losses: list[float]
    pairs: int          # training pairs per epoch
    steps: int
    seconds: float


def train_skipgram(ids: torch.Tensor, vocab_size: int, *, dim: int = 32, window: int = 4, negatives: int = 5,
                   epochs: int = 2, batch_size: int = 2048, lr: float = 0.01, subsample: float | None = 1e-3,
                   segments: torch.Tensor | None = None, seed: int = 0, max_seconds: float | None = None,
                   loss_fn=sgns_loss) -> SkipGramResult:
    """Train word2vec (skip-gram, negative sampling) on a token stream with Adam. Deterministic for a
    given seed and thread count. Frequent words are subsampled afresh each epoch (``subsample=None``
    keeps every token); ``max_seconds`` stops early on a slow machine; ``loss_fn(v, u_pos, u_neg)`` is the
    loss of a batch (``sgns_loss``; notebook 02 trains with the student's own version)."""
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D token stream of at least two tokens")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"token IDs must be in [0, {vocab_size})")
    # Each step is far too small to share among threads: on a busy machine, waiting for the other threads
    # costs more than the work. One thread is faster, and gives the same numbers whatever the caller's setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_skipgram(ids, vocab_size, dim, window, negatives, epochs, batch_size, lr, subsample,
                               segments, seed, max_seconds, loss_fn)
    finally:
        torch.set_num_threads(threads)


def _train_skipgram(ids, vocab_size, dim, window, negatives, epochs, batch_size, lr, subsample, segments, seed,
                    max_seconds, loss_fn) -> SkipGramResult:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SkipGram(vocab_size, dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    noise = noise_distribution(ids, vocab_size)
    losses, steps, pairs_per_epoch = [], 0, 0
    start = time.perf_counter()
    for _ in range(epochs):
        keep = subsample_mask(ids, vocab_size, subsample, g) if subsample else torch.ones_like(ids, dtype=torch.bool)
        centers, contexts = skipgram_pairs(ids[keep], window, None if segments is None else segments[keep])
        pairs_per_epoch = len(centers)
        order = torch.randperm(len(centers), generator=g)
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            noise_ids = torch.multinomial(noise, len(batch) * negatives, replacement=True,
                                          generator=g).view(len(batch), negatives)
            loss = model(centers[batch], contexts[batch], noise_ids, loss_fn)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            steps += 1
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    model.eval()
    return SkipGramResult(model, losses, pairs_per_epoch, steps, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------------
# Scores against ground truth
# --------------------------------------------------------------------------------------------------


def _scored_words(wv: WordVectors, categories: Mapping[str, str]) -> list[str]:
    scored = [w for w in categories if w in wv]
    if len(scored) < 2:
        raise ValueError("fewer than two of the categorized words have vectors")
    return scored


def neighbour_purity(wv: WordVectors, categories: Mapping[str, str], k: int = 5) -> float:
    """For every word with a known category: among its k nearest *categorized* words (cosine), the
    fraction in the same category. Averaged over words; 1.0 means categories form tight clusters."""
    scored = _scored_words(wv, categories)
    table = wv.subset(scored)
    hits = [sum(categories[n] == categories[w] for n, _ in table.nearest(w, k)) / k for w in scored]
    return sum(hits) / len(hits)


def chance_purity(categories: Mapping[str, str], words: Iterable[str] | None = None) -> float:
    """The expected neighbour purity of random vectors: a neighbour drawn at random from the other
    categorized words shares the category with probability (n_c - 1) / (N - 1)."""
    scored = [w for w in (categories if words is None else words) if w in categories]
    sizes = Counter(categories[w] for w in scored)
    n = len(scored)
    return sum((sizes[categories[w]] - 1) / (n - 1) for w in scored) / n


def analogy_results(wv: WordVectors, analogies: Iterable[tuple[str, str, str, str]]) -> list[tuple]:
    """(a, b, c, expected d, predicted d) for each analogy a:b :: c:d whose words all have vectors.
    The prediction is the nearest word to b - a + c among all words except a, b and c."""
    out = []
    for a, b, c, d in analogies:
        if all(w in wv for w in (a, b, c, d)):
            out.append((a, b, c, d, wv.analogy(a, b, c)[0][0]))
    return out


def analogy_accuracy(wv: WordVectors, analogies: Iterable[tuple[str, str, str, str]]) -> float:
    """Fraction of analogies whose top prediction is exactly the expected word (NaN if none can be asked)."""
    results = analogy_results(wv, analogies)
    return sum(r[3] == r[4] for r in results) / len(results) if results else math.nan


def score_embeddings(wv: WordVectors, categories: Mapping[str, str],
                     analogies: Iterable[tuple[str, str, str, str]], k: int = 5) -> dict[str, float]:
    """Both scores at once: ``{"purity": ..., "analogy": ...}``."""
    return {"purity": neighbour_purity(wv, categories, k), "analogy": analogy_accuracy(wv, list(analogies))}
