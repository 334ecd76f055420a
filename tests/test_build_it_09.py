"""Notebook 09's build-it exercises: each check cell, run on the course's version (passes), on a blank (not
attempted yet) and on typical wrong versions (fails, naming the case), and the course's versions against
scikit-learn and sacrebleu."""

import math
from collections import Counter

import numpy as np
import pytest
import sacrebleu
from sklearn import metrics as skm

import notebook_cells
from course_utils import metrics
from course_utils.checks import check_function, check_true

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, namespace: dict) -> str:
    return notebook_cells.run_check_cell("09_evaluation", capsys, exercise, namespace)


blank = notebook_cells.blank


def probe_like():
    """Labels and probabilities shaped like the notebook's probe (300 stories, 64% happy)."""
    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.64).astype(int)
    return y, np.clip(0.5 + (y - 0.5) * rng.random(300) + rng.normal(0, 0.2, 300), 0, 1)


def namespace(**names) -> dict:
    y_true, p_happy = probe_like()
    return dict(np=np, math=math, metrics=metrics, Counter=Counter, check_function=check_function,
                check_true=check_true, y_true=y_true, p_happy=p_happy, **names)


# -- 9.3: ROC-AUC with ties -------------------------------------------------------------------------------


def strict_wins_only(y_true, scores):          # ties count nothing
    pos, neg = scores[y_true == 1], scores[y_true == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("one class")
    return float((pos[:, None] > neg[None, :]).mean())


def ties_count_fully(y_true, scores):
    pos, neg = scores[y_true == 1], scores[y_true == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("one class")
    return float((pos[:, None] >= neg[None, :]).mean())


def sorted_without_grouping_ties(y_true, scores):   # one ROC point per example: ties broken by position
    if len(set(y_true.tolist())) < 2:
        raise ValueError("one class")
    order = np.argsort(-scores, kind="mergesort")
    tps, fps = np.r_[0, np.cumsum(y_true[order])], np.r_[0, np.cumsum(1 - y_true[order])]
    tpr, fpr = tps / tps[-1], fps / fps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def nan_for_one_class(y_true, scores):
    pos, neg = scores[y_true == 1], scores[y_true == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return metrics.roc_auc(y_true, scores)


def test_auc_check_passes_the_course_version(capsys):
    names = namespace(roc_auc=metrics.roc_auc)
    out = run_check_cell(capsys, "9.3a", names)
    assert out.strip() == "✅ Exercise 9.3a: correct!\n✅ Exercise 9.3b: correct!"
    assert names["roc_auc"] is metrics.roc_auc


def test_auc_check_passes_the_solution(capsys):
    cells = notebook_cells.notebook_cells("09_evaluation")
    [solution] = [c for c in cells if "def roc_auc(" in c]
    names = namespace()
    exec(solution, names)
    student = names["roc_auc"]
    out = run_check_cell(capsys, "9.3a", names)
    assert "Using the course's version" not in out and out.count("✅") == 2, out
    assert names["roc_auc"] is student


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_auc_check_blank_falls_back(capsys, fn, says):
    names = namespace(roc_auc=fn)
    out = run_check_cell(capsys, "9.3a", names)
    assert says in out and "Using the course's version" in out
    assert names["roc_auc"] is metrics.roc_auc


@pytest.mark.parametrize("fn, case", [(strict_wins_only, 3), (ties_count_fully, 3),
                                      (sorted_without_grouping_ties, 3)])
def test_auc_check_rejects_wrong_versions(capsys, fn, case):
    names = namespace(roc_auc=fn)
    out = run_check_cell(capsys, "9.3a", names)
    assert f"not yet — on case {case} of 6, {fn.__name__}(" in out, out
    assert names["roc_auc"] is metrics.roc_auc


def test_auc_check_wants_an_error_for_one_class(capsys):
    names = namespace(roc_auc=nan_for_one_class)
    out = run_check_cell(capsys, "9.3a", names)
    assert "✅ Exercise 9.3a: correct!" in out and "❌ Exercise 9.3b: not yet — with one class only" in out, out
    assert names["roc_auc"] is metrics.roc_auc


def test_roc_auc_is_scikit_learns_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y, s = rng.integers(0, 2, 30), rng.integers(0, 4, 30) / 3
        assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert metrics.roc_auc([0, 1, 0, 1], [0.5] * 4) == 0.5
    with pytest.raises(ValueError):
        metrics.roc_auc([1, 1, 1], [0.2, 0.5, 0.9])


# -- 9.4: expected calibration error -----------------------------------------------------------------------


def unweighted_bins(y, p, n_bins=10):            # every used bin counts the same
    frac, conf, _ = metrics.calibration_curve(y, p, n_bins)
    return float(np.mean(np.abs(frac - conf)))


def over_all_bins(y, p, n_bins=10):              # empty bins counted as zeros in a mean over all B bins
    frac, conf, count = metrics.calibration_curve(y, p, n_bins)
    return float(np.sum(np.abs(frac - conf)) / n_bins)


def accuracy_not_frequency(y, p, n_bins=10):     # |accuracy of the 0.5 threshold - confidence| per bin
    bin_of = np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p)
    right = ((p >= 0.5) == (y == 1)).astype(float)
    return float(sum((bin_of == b).mean() * abs(right[bin_of == b].mean() - p[bin_of == b].mean())
                     for b in range(n_bins) if (bin_of == b).any()))


def ceil_bins(y, p, n_bins=10):                  # 0 falls off the first bin into bin -1
    bin_of = np.ceil(p * n_bins).astype(int) - 1
    return float(sum((bin_of == b).mean() * abs(y[bin_of == b].mean() - p[bin_of == b].mean())
                     for b in range(n_bins) if (bin_of == b).any()))


def test_ece_check_passes_the_course_version(capsys):
    names = namespace(ece=metrics.expected_calibration_error)
    assert run_check_cell(capsys, "9.4", names).strip() == "✅ Exercise 9.4: correct!"


def test_ece_check_passes_the_solution(capsys):
    cells = notebook_cells.notebook_cells("09_evaluation")
    [solution] = [c for c in cells if "def ece(" in c]
    names = namespace()
    exec(solution, names)
    assert run_check_cell(capsys, "9.4", names).strip() == "✅ Exercise 9.4: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_ece_check_blank_falls_back(capsys, fn, says):
    names = namespace(ece=fn)
    out = run_check_cell(capsys, "9.4", names)
    assert says in out and "Using the course's version" in out
    assert names["ece"] is metrics.expected_calibration_error


@pytest.mark.parametrize("fn, case", [(unweighted_bins, 3), (over_all_bins, 2), (accuracy_not_frequency, 1),
                                      (ceil_bins, 3)])
def test_ece_check_rejects_wrong_versions(capsys, fn, case):
    names = namespace(ece=fn)
    out = run_check_cell(capsys, "9.4", names)
    assert f"not yet — on case {case} of 6, {fn.__name__}(" in out, out
    assert names["ece"] is metrics.expected_calibration_error


def test_ece_bins_are_scikit_learns():
    from sklearn.calibration import calibration_curve
    y, p = probe_like()
    frac, conf, count = metrics.calibration_curve(y, p)
    sk_frac, sk_conf = calibration_curve(y, p, n_bins=10)
    assert np.allclose(frac, sk_frac) and np.allclose(conf, sk_conf) and count.sum() == len(y)


# -- 9.5: corpus BLEU --------------------------------------------------------------------------------------


def ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu_namespace(fn) -> dict:
    endings = [" In the end, Lily was happy.", " In the end, Tom was sad.", " In the end, Sam was proud."]
    references = [" In the end, Lily was glad.", " In the end, Tom was sad.", " In the end, Sam was proud."]
    return namespace(ngrams=ngrams, endings=endings, references=references, corpus_bleu=fn)


def counts(hypotheses, references, clip=True):
    matches, totals, c, r = [0] * 4, [0] * 4, 0, 0
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = metrics.tokenize_13a(hyp), metrics.tokenize_13a(ref)
        c, r = c + len(hyp), r + len(ref)
        for n in range(1, 5):
            hyp_counts, ref_counts = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(k, ref_counts[g]) if clip else k * (g in ref_counts)
                                  for g, k in hyp_counts.items())
            totals[n - 1] += sum(hyp_counts.values())
    return matches, totals, c, r


def score(matches, totals, brevity):
    if min(matches) == 0:
        return 0.0
    return 100 * brevity * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / 4)


def unclipped(hypotheses, references):
    matches, totals, c, r = counts(hypotheses, references, clip=False)
    return score(matches, totals, min(1.0, math.exp(1 - r / c)))


def no_brevity_penalty(hypotheses, references):
    matches, totals, c, r = counts(hypotheses, references)
    return score(matches, totals, 1.0)


def penalty_upside_down(hypotheses, references):
    matches, totals, c, r = counts(hypotheses, references)
    return score(matches, totals, min(1.0, math.exp(1 - c / r)))


def mean_of_sentence_scores(hypotheses, references):
    return float(np.mean([no_brevity_penalty([h], [r]) * min(1.0, math.exp(1 - counts([h], [r])[3]
                                                                          / counts([h], [r])[2]))
                          for h, r in zip(hypotheses, references)]))


def test_bleu_check_passes_the_course_version(capsys):
    names = bleu_namespace(lambda h, r: metrics.bleu(h, r, smooth="none").score)
    assert run_check_cell(capsys, "9.5", names).strip() == "✅ Exercise 9.5: correct!"


def test_bleu_check_passes_the_solution(capsys):
    cells = notebook_cells.notebook_cells("09_evaluation")
    [solution] = [c for c in cells if "def corpus_bleu(" in c and "BEGIN SOLUTION" in c]
    names = bleu_namespace(None)
    exec(solution, names)
    assert run_check_cell(capsys, "9.5", names).strip() == "✅ Exercise 9.5: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_bleu_check_blank_falls_back(capsys, fn, says):
    names = bleu_namespace(fn)
    out = run_check_cell(capsys, "9.5", names)
    assert says in out and "Using the course's version" in out
    hyps, refs = ["the cat sat on the"], ["the cat sat on the mat ."]
    assert names["corpus_bleu"](hyps, refs) == pytest.approx(metrics.bleu(hyps, refs).score)


@pytest.mark.parametrize("fn, case", [(unclipped, 4), (no_brevity_penalty, 3), (penalty_upside_down, 3),
                                      (mean_of_sentence_scores, 5)])
def test_bleu_check_rejects_wrong_versions(capsys, fn, case):
    names = bleu_namespace(fn)
    out = run_check_cell(capsys, "9.5", names)
    assert f"not yet — on case {case} of 6, {fn.__name__}(" in out, out
    assert "Using the course's version" in out


@pytest.mark.parametrize("hyps, refs", [
    (["the cat sat on the mat ."], ["the cat sat on the mat ."]),
    (["the cat sat on the"], ["the cat sat on the mat ."]),
    (["the cat the cat sat on the mat"], ["the cat sat on the mat"]),
    (["In the end, Lily was happy.", "Tom was sad and lonely in the park by the big tree."],
     ["In the end, Lily was glad.", "Tom was sad in the park by the tree."]),
])
def test_the_cases_bleu_is_sacrebleus(hyps, refs):
    theirs = sacrebleu.corpus_bleu(hyps, [refs], smooth_method="none").score
    assert metrics.bleu(hyps, refs, smooth="none").score == pytest.approx(theirs, abs=1e-9)
    assert metrics.bleu(hyps, refs).score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
