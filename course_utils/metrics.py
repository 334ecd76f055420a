"""Evaluation metrics, each written from its definition and proved equal to the library people cite it from.

Notebook 09 builds every one of these step by step; this is the finished version.

* Language modelling: ``token_nlls`` (the loss of every token), ``perplexity`` = exp(mean NLL) and
  ``bits_per_char``, which compares models with different tokenizers fairly.
* Classification (equal to scikit-learn): ``confusion_matrix``, ``accuracy``, ``precision_recall_f1``,
  ``macro_f1``, ``roc_curve``, ``roc_auc``; calibration: ``calibration_curve`` and
  ``expected_calibration_error``.
* Generation: ``bleu`` (corpus BLEU equal to sacrebleu's defaults: 13a tokenization, 4-grams, brevity
  penalty, 'exp' smoothing) and ``rouge_n`` / ``rouge_l`` / ``rouge`` (F-measure equal to Google's
  rouge-score without stemming).
* Contamination: ``word_ngrams`` and ``ngram_overlap``: how much of a test text appears in a training corpus.
* Pairwise (human-style) evaluation: ``bradley_terry`` strengths (equal to scikit-learn's logistic
  regression on the same comparisons), ``elo`` ratings, ``to_elo_scale`` and a percentile ``bootstrap_ci``.

References:
1) Papineni et al. 2002, "BLEU: a Method for Automatic Evaluation of Machine Translation"
2) Post 2018, "A Call for Clarity in Reporting BLEU Scores" (sacrebleu)
3) Lin 2004, "ROUGE: A Package for Automatic Evaluation of Summaries"
4) Guo et al. 2017, "On Calibration of Modern Neural Networks" (reliability diagrams, ECE)
5) Bradley & Terry 1952, "Rank Analysis of Incomplete Block Designs"; Elo 1978, "The Rating of Chessplayers"
6) Brown et al. 2020, "Language Models are Few-Shot Learners", appendix C (13-gram contamination checks)
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .train import batch_nlls, stream_windows
from .validation import is_int

__all__ = [
    "token_nlls", "perplexity", "bits_per_char",
    "confusion_matrix", "accuracy", "precision_recall_f1", "macro_f1", "roc_curve", "roc_auc",
    "calibration_curve", "expected_calibration_error",
    "tokenize_13a", "BLEUScore", "bleu", "rouge_tokenize", "RougeScore", "rouge_n", "rouge_l", "rouge",
    "word_ngrams", "ngram_overlap",
    "bradley_terry", "win_probability", "elo", "to_elo_scale", "bootstrap_ci",
]


# --------------------------------------------------------------------------------------------------
# Language modelling
# --------------------------------------------------------------------------------------------------

@torch.no_grad()
def token_nlls(model: torch.nn.Module, ids, batch_size: int = 32) -> torch.Tensor:
    """The negative log-likelihood (nats) of every token of a stream but the first: element t is
    -log P(ids[t+1] | ids[..t]). The stream is cut into consecutive, non-overlapping windows of the model's
    block_size (the last one may be shorter), as ``course_utils.train.evaluate`` does; its mean over the
    full windows is exactly what ``evaluate`` returns."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D token stream, got shape {tuple(ids.shape)}")
    if len(ids) < 2:
        raise ValueError(f"need at least 2 tokens (one to predict from, one to predict), got {len(ids)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return batch_nlls(model, stream_windows(ids, model.config.block_size, batch_size, last_partial=True))


def _as_float_array(values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def perplexity(nlls) -> float:
    """exp(mean negative log-likelihood), from per-token NLLs in nats. 1 is certainty; a uniform guess among
    V tokens gives V."""
    array = _as_float_array(nlls, "nlls")
    if (array < 0).any():
        raise ValueError("a negative log-likelihood cannot be negative")
    return math.exp(array.mean())


def bits_per_char(nats, n_chars: int) -> float:
    """Information per character in bits: the total NLL (a number, or per-token NLLs to add up) in nats,
    divided by the number of characters those tokens cover and by ln 2. Independent of the tokenizer."""
    if not is_int(n_chars) or n_chars <= 0:
        raise ValueError(f"n_chars must be a positive int, got {n_chars!r}")
    if isinstance(nats, numbers.Real):
        total = float(nats)
        if not math.isfinite(total) or total < 0:
            raise ValueError(f"total nats must be finite and >= 0, got {nats!r}")
    else:
        total = float(_as_float_array(nats, "nats").sum())
    return total / n_chars / math.log(2)


# --------------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------------

def _labels_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shapes {y_true.shape} and {y_pred.shape}")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels, y_pred {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no labels given")
    return y_true, y_pred


def confusion_matrix(y_true, y_pred, labels: Sequence | None = None) -> np.ndarray:
    """counts[i, j] = how many examples of true class labels[i] were predicted as labels[j] (rows: truth,
    columns: prediction, as in scikit-learn). labels defaults to the sorted classes that occur."""
    y_true, y_pred = _labels_pair(y_true, y_pred)
    labels = list(np.unique(np.concatenate([y_true, y_pred]))) if labels is None else list(labels)
    if not labels:
        raise ValueError("labels is empty")
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        if t in index and p in index:
            counts[index[t], index[p]] += 1
    return counts


def accuracy(y_true, y_pred) -> float:
    """The fraction of predictions equal to the truth."""
    y_true, y_pred = _labels_pair(y_true, y_pred)
    return float((y_true == y_pred).mean())


def precision_recall_f1(y_true, y_pred, positive=1) -> tuple[float, float, float]:
    """Binary precision TP/(TP+FP), recall TP/(TP+FN) and F1 = 2TP/(2TP+FP+FN), the harmonic mean of the
    two, for the class `positive`. A ratio with a zero denominator is 0 (scikit-learn's zero_division=0)."""
    y_true, y_pred = _labels_pair(y_true, y_pred)
    t, p = y_true == positive, y_pred == positive
    tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def macro_f1(y_true, y_pred) -> float:
    """The unweighted mean of each class's F1 (every class that occurs in y_true or y_pred counts once)."""
    y_true, y_pred = _labels_pair(y_true, y_pred)
    labels = np.unique(np.concatenate([y_true, y_pred]))
    return float(np.mean([precision_recall_f1(y_true, y_pred, positive=c)[2] for c in labels]))


def _binary_scores(y_true, scores, positive) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y_true.shape}")
    scores = _as_float_array(scores, "scores")
    if len(y_true) != len(scores):
        raise ValueError(f"y_true has {len(y_true)} labels, scores {len(scores)}")
    if len(np.unique(y_true)) > 2:
        raise ValueError(f"binary metrics need two classes, got {np.unique(y_true).tolist()}")
    return (y_true == positive).astype(np.float64), scores


def roc_curve(y_true, scores, positive=1, drop_intermediate: bool = False):
    """The ROC curve: for every threshold (each distinct score, highest first, after +inf) the false
    positive rate FP/N and true positive rate TP/P of predicting `positive` when score >= threshold.
    Returns (fpr, tpr, thresholds) as scikit-learn's roc_curve with the same drop_intermediate."""
    y, scores = _binary_scores(y_true, scores, positive)
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("the ROC curve needs both positive and negative examples")
    order = np.argsort(scores, kind="mergesort")[::-1]           # highest score first
    scores, y = scores[order], y[order]
    last = np.r_[np.where(np.diff(scores))[0], len(y) - 1]       # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = 1 + last - tps
    thresholds = scores[last]
    if drop_intermediate and len(fps) > 2:                        # drop points on a straight segment
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, thresholds]


def roc_auc(y_true, scores, positive=1) -> float:
    """The area under the ROC curve (trapezoids). Equals the probability that a random positive example
    scores higher than a random negative one, ties counting half."""
    fpr, tpr, _ = roc_curve(y_true, scores, positive)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _binary_probs(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    probs = _as_float_array(probs, "probs")
    if y_true.ndim != 1 or len(y_true) != len(probs):
        raise ValueError(f"y_true must be 1-D with one label per probability ({len(probs)})")
    if probs.min() < 0 or probs.max() > 1:
        raise ValueError("probs must lie in [0, 1]")
    if not np.isin(y_true, [0, 1]).all():
        raise ValueError("y_true must be 0/1 (or False/True) for calibration")
    return y_true.astype(np.float64), probs


def _bins(probs: np.ndarray, n_bins: int) -> np.ndarray:
    if not is_int(n_bins) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], probs)    # bin b holds (edge_b, edge_b+1]; bin 0 also holds 0


def calibration_curve(y_true, probs, n_bins: int = 10):
    """Reliability diagram data for P(y = 1): split [0, 1] into n_bins equal bins and, for every bin that
    holds a prediction, return the fraction of positives, the mean predicted probability and the count.
    The first two equal scikit-learn's calibration_curve(strategy="uniform")."""
    y, probs = _binary_probs(y_true, probs)
    ids = _bins(probs, n_bins)
    total = np.bincount(ids, minlength=n_bins)
    true = np.bincount(ids, weights=y, minlength=n_bins)
    pred = np.bincount(ids, weights=probs, minlength=n_bins)
    used = total > 0
    return true[used] / total[used], pred[used] / total[used], total[used]


def expected_calibration_error(y_true, probs, n_bins: int = 10) -> float:
    """ECE = sum over bins of (share of examples in the bin) x |fraction of positives - mean probability|.
    0 for a perfectly calibrated model: among predictions of 0.8, 80% are positive."""
    frac_pos, mean_prob, counts = calibration_curve(y_true, probs, n_bins)
    return float(np.sum(counts / counts.sum() * np.abs(frac_pos - mean_prob)))


# --------------------------------------------------------------------------------------------------
# Generation: BLEU
# --------------------------------------------------------------------------------------------------

# mteval-v13a's tokenization, as sacrebleu's default "13a" tokenizer applies it.
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),   # punctuation and symbols become tokens
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),                 # period and comma, unless after a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),                 # ... or before a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),                      # a dash after a digit
]


def tokenize_13a(line: str) -> list[str]:
    """Split a line into BLEU tokens the way sacrebleu's default tokenizer (mteval-v13a) does."""
    if not isinstance(line, str):
        raise TypeError(f"expected a str, got {type(line).__name__}")
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, replacement in _13A_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def _ngram_counts(tokens: Sequence[str], max_order: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True)
class BLEUScore:
    score: float                 # 0..100, as sacrebleu reports it
    precisions: list[float]      # modified n-gram precisions in percent, n = 1..max_order
    brevity_penalty: float
    sys_len: int                 # hypothesis tokens
    ref_len: int                 # effective reference tokens (closest reference length per sentence)
    counts: list[int]            # clipped n-gram matches per order
    totals: list[int]            # hypothesis n-grams per order

    def __str__(self) -> str:
        return (f"BLEU = {self.score:.2f} {'/'.join(f'{p:.1f}' for p in self.precisions)} "
                f"(BP = {self.brevity_penalty:.3f} ratio = {self.sys_len / max(self.ref_len, 1):.3f} "
                f"hyp_len = {self.sys_len} ref_len = {self.ref_len})")


def _reference_streams(hypotheses, references) -> list[list[str | None]]:
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError("hypotheses must be a list of strings")
    if not hypotheses:
        raise ValueError("hypotheses is empty")
    if not all(isinstance(h, str) for h in hypotheses):
        raise TypeError("every hypothesis must be a str")
    if isinstance(references, str) or not isinstance(references, Sequence) or not references:
        raise TypeError("references must be a list of strings (one per hypothesis) or a list of such lists")
    streams = [references] if isinstance(references[0], str) else list(references)
    for stream in streams:
        if isinstance(stream, str) or not isinstance(stream, Sequence):
            raise TypeError("references must be a list of strings (one per hypothesis) or a list of such lists")
        if len(stream) != len(hypotheses):
            raise ValueError(f"a reference stream has {len(stream)} sentences for {len(hypotheses)} hypotheses")
        if not all(r is None or isinstance(r, str) for r in stream):
            raise TypeError("every reference must be a str (or None for 'no reference here')")
    for i in range(len(hypotheses)):
        if all(stream[i] is None for stream in streams):
            raise ValueError(f"hypothesis {i} has no reference")
    return streams


def bleu(hypotheses: Sequence[str], references, max_order: int = 4, smooth: str = "exp",
         lowercase: bool = False) -> BLEUScore:
    """Corpus BLEU = BP x exp(mean over n of log p_n), in percent.

    p_n: of all hypothesis n-grams in the corpus, the fraction that appear in the sentence's references,
    each n-gram counted at most as often as it occurs in one reference ("clipped"). BP, the brevity
    penalty, is exp(1 - r/c) when the hypotheses' c tokens are fewer than the references' r (each sentence
    takes its reference length closest to its own length), else 1.

    references: one string per hypothesis, or several such lists (sacrebleu's layout: ``references[k][i]``
    is the k-th reference of hypothesis i; None skips one). smooth: "exp" (sacrebleu's default: the k-th
    order with no match gets precision 1/2^k of a match) or "none". Equal to
    ``sacrebleu.corpus_bleu(hypotheses, references)`` with its defaults."""
    if smooth not in ("exp", "none"):
        raise ValueError(f"smooth must be 'exp' or 'none', got {smooth!r}")
    if not is_int(max_order) or max_order < 1:
        raise ValueError(f"max_order must be a positive int, got {max_order!r}")
    streams = _reference_streams(hypotheses, references)

    def prepare(text: str) -> list[str]:
        return tokenize_13a((text.lower() if lowercase else text).rstrip())

    correct, total = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for i, hypothesis in enumerate(hypotheses):
        refs = [prepare(stream[i]) for stream in streams if stream[i] is not None]
        ref_counts: Counter = Counter()
        for ref in refs:                                   # clip by the most any one reference allows
            for gram, count in _ngram_counts(ref, max_order).items():
                ref_counts[gram] = max(ref_counts[gram], count)
        hyp = prepare(hypothesis)
        sys_len += len(hyp)
        ref_len += min((len(r) for r in refs), key=lambda n: (abs(n - len(hyp)), n))  # closest, shorter on ties
        for gram, count in _ngram_counts(hyp, max_order).items():
            total[len(gram) - 1] += count
            correct[len(gram) - 1] += min(count, ref_counts.get(gram, 0))

    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
    precisions = [0.0] * max_order
    if not any(correct):
        return BLEUScore(0.0, precisions, bp, sys_len, ref_len, correct, total)
    halvings = 1.0
    for n in range(max_order):
        if total[n] == 0:                                   # no hypothesis is this long: p_n stays 0
            break
        if correct[n] == 0:
            if smooth == "exp":
                halvings *= 2
                precisions[n] = 100.0 / (halvings * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    log_mean = sum(math.log(p) if p > 0 else -9999999999 for p in precisions) / max_order
    return BLEUScore(bp * math.exp(log_mean), precisions, bp, sys_len, ref_len, correct, total)


# --------------------------------------------------------------------------------------------------
# Generation: ROUGE
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RougeScore:
    precision: float
    recall: float
    fmeasure: float


def rouge_tokenize(text: str) -> list[str]:
    """rouge-score's default tokenization (no stemming): lowercase, every run of characters other than
    a-z and 0-9 is a separator."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    return re.findall(r"[a-z0-9]+", text.lower())


def _score(overlap: int, n_candidate: int, n_reference: int) -> RougeScore:
    precision = overlap / max(n_candidate, 1)
    recall = overlap / max(n_reference, 1)
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return RougeScore(precision, recall, f)


def rouge_n(reference: str, candidate: str, n: int = 1) -> RougeScore:
    """ROUGE-N: n-gram overlap (clipped counts) over the candidate's n-grams (precision) and the
    reference's (recall), and their harmonic mean."""
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    ref, cand = rouge_tokenize(reference), rouge_tokenize(candidate)
    ref_grams = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
    cand_grams = Counter(tuple(cand[i:i + n]) for i in range(len(cand) - n + 1))
    overlap = sum(min(count, cand_grams[gram]) for gram, count in ref_grams.items())
    return _score(overlap, sum(cand_grams.values()), sum(ref_grams.values()))


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (in order, gaps allowed), by dynamic programming."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(reference: str, candidate: str) -> RougeScore:
    """ROUGE-L: the longest common subsequence of the two token lists, over the candidate's length
    (precision) and the reference's (recall). Rewards words in the right order, not only adjacent ones."""
    ref, cand = rouge_tokenize(reference), rouge_tokenize(candidate)
    if not ref or not cand:
        return RougeScore(0.0, 0.0, 0.0)
    return _score(_lcs_length(ref, cand), len(cand), len(ref))


def rouge(reference: str, candidate: str, types: Iterable[str] = ("rouge1", "rouge2", "rougeL")) -> dict:
    """Several ROUGE scores at once, keyed like rouge-score: {"rouge1": RougeScore, ...}."""
    out = {}
    for kind in types:
        if kind == "rougeL":
            out[kind] = rouge_l(reference, candidate)
        elif re.fullmatch(r"rouge[1-9]", kind):
            out[kind] = rouge_n(reference, candidate, int(kind[5:]))
        else:
            raise ValueError(f"unknown ROUGE type {kind!r}; use 'rouge1' ... 'rouge9' or 'rougeL'")
    return out


# --------------------------------------------------------------------------------------------------
# Contamination
# --------------------------------------------------------------------------------------------------

def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The set of word n-grams of a text, after lowercasing and dropping punctuation (so that spacing and
    punctuation changes do not hide a copy)."""
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    words = rouge_tokenize(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def ngram_overlap(texts: Sequence[str], corpus: Iterable[str], n: int = 13) -> np.ndarray:
    """For each text, the fraction of its word n-grams that also occur somewhere in `corpus` (a list of
    training documents). 1.0 means every n-gram was seen: a likely copy. A text shorter than n words has
    no n-grams and gets 0."""
    if isinstance(texts, str) or isinstance(corpus, str):
        raise TypeError("texts and corpus must be lists of strings, not one string")
    seen: set = set()
    for document in corpus:
        seen |= word_ngrams(document, n)
    out = []
    for text in texts:
        grams = word_ngrams(text, n)
        out.append(len(grams & seen) / len(grams) if grams else 0.0)
    return np.array(out)


# --------------------------------------------------------------------------------------------------
# Pairwise comparisons: Bradley–Terry, Elo, bootstrap
# --------------------------------------------------------------------------------------------------

def _comparisons(comparisons, n_items: int) -> np.ndarray:
    if not is_int(n_items) or n_items < 2:
        raise ValueError(f"n_items must be an int >= 2, got {n_items!r}")
    pairs = np.asarray(comparisons)
    if pairs.size == 0:
        raise ValueError("no comparisons given")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"comparisons must be (winner, loser) pairs, shape (m, 2); got {pairs.shape}")
    if not np.issubdtype(pairs.dtype, np.integer):
        raise TypeError("comparisons must hold integer item indices")
    if pairs.min() < 0 or pairs.max() >= n_items:
        raise ValueError(f"item indices must be in [0, {n_items})")
    if (pairs[:, 0] == pairs[:, 1]).any():
        raise ValueError("an item cannot be compared with itself")
    return pairs.astype(np.int64)


def _strongly_connected(pairs: np.ndarray, n_items: int) -> bool:
    """Whether every item beat, directly or through a chain, every other one (else the maximum-likelihood
    strengths run off to infinity)."""
    def reach(edges) -> int:
        seen, stack = {0}, [0]
        while stack:
            for j in edges.get(stack.pop(), ()):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return len(seen)

    forward, backward = {}, {}
    for w, l in pairs.tolist():
        forward.setdefault(w, set()).add(l)
        backward.setdefault(l, set()).add(w)
    return reach(forward) == n_items and reach(backward) == n_items


def bradley_terry(comparisons, n_items: int, l2: float = 0.0, max_iter: int = 100,
                  tol: float = 1e-10) -> np.ndarray:
    """Bradley–Terry strengths from (winner, loser) pairs: P(i beats j) = sigmoid(theta_i - theta_j).

    Maximizes sum log sigmoid(theta_winner - theta_loser) - l2/2 ||theta||^2 by Newton's method. Returns
    theta (natural-log odds) with mean 0 — only differences mean anything. With l2 = 0 the maximum exists
    only if no group of items won every one of its games against the rest; otherwise pass l2 > 0. Equal to
    scikit-learn's LogisticRegression(C=1/l2, fit_intercept=False) on rows x = e_winner - e_loser."""
    pairs = _comparisons(comparisons, n_items)
    if not (isinstance(l2, numbers.Real) and math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    if l2 == 0 and not _strongly_connected(pairs, n_items):
        raise ValueError("some items never lost (or never won) against the rest: the strengths are "
                         "infinite. Collect more comparisons or pass l2 > 0")
    winners, losers = pairs[:, 0], pairs[:, 1]
    theta = np.zeros(n_items)
    gauge = np.ones((n_items, n_items)) / n_items       # fixes the free shift; harmless since sum(grad) = 0

    def objective(t: np.ndarray) -> float:
        return float(np.sum(np.logaddexp(0.0, -(t[winners] - t[losers]))) + l2 / 2 * t @ t)

    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-(theta[winners] - theta[losers])))   # P(the winner wins) under theta
        grad = l2 * theta
        np.add.at(grad, winners, -(1 - p))
        np.add.at(grad, losers, 1 - p)
        w = p * (1 - p)
        hess = l2 * np.eye(n_items)
        np.add.at(hess, (winners, winners), w)
        np.add.at(hess, (losers, losers), w)
        np.add.at(hess, (winners, losers), -w)
        np.add.at(hess, (losers, winners), -w)
        step = np.linalg.solve(hess + gauge, grad)
        current, size = objective(theta), 1.0
        while objective(theta - size * step) > current + 1e-12 and size > 1e-8:   # backtracking
            size /= 2
        theta = theta - size * step
        if np.max(np.abs(size * step)) < tol:
            break
    return theta - theta.mean()


def win_probability(theta_i: float, theta_j: float) -> float:
    """P(i beats j) under Bradley–Terry: 1 / (1 + exp(-(theta_i - theta_j)))."""
    return 1 / (1 + math.exp(-(theta_i - theta_j)))


def to_elo_scale(theta, base: float = 1000.0) -> np.ndarray:
    """Natural-log Bradley–Terry strengths on the Elo scale, where 400 points mean 10:1 odds."""
    return base + 400 / math.log(10) * np.asarray(theta, dtype=np.float64)


def elo(comparisons, n_items: int, k: float = 32.0, initial: float = 1000.0, scale: float = 400.0) -> np.ndarray:
    """Online Elo ratings: for each (winner, loser) in order, the expected score of the winner is
    E = 1 / (1 + 10^((R_loser - R_winner) / scale)); the winner gains k (1 - E) and the loser loses as much.
    Unlike Bradley–Terry, the result depends on the order of the games."""
    pairs = _comparisons(comparisons, n_items)
    if not k > 0 or not scale > 0:
        raise ValueError(f"k and scale must be > 0, got {k!r} and {scale!r}")
    ratings = np.full(n_items, float(initial))
    for w, l in pairs.tolist():
        expected = 1 / (1 + 10 ** ((ratings[l] - ratings[w]) / scale))
        ratings[w] += k * (1 - expected)
        ratings[l] -= k * (1 - expected)
    return ratings


def bootstrap_ci(data, statistic: Callable, n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap: resample the rows of `data` with replacement n_resamples times, compute
    `statistic` on each resample, and return the (1 - confidence)/2 and (1 + confidence)/2 quantiles (arrays
    shaped like the statistic). Deterministic for a given seed."""
    data = np.asarray(data)
    if data.ndim == 0 or len(data) == 0:
        raise ValueError("data must be a non-empty array (resampled along its first axis)")
    if not is_int(n_resamples) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an int >= 2, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    stats = np.array([np.asarray(statistic(data[rng.integers(0, len(data), len(data))]), dtype=np.float64)
                      for _ in range(n_resamples)])
    alpha = (1 - confidence) / 2
    return np.quantile(stats, alpha, axis=0), np.quantile(stats, 1 - alpha, axis=0)
