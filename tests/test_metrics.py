"""Evaluation metrics: each equal to its reference library (scikit-learn, sacrebleu, rouge-score) on many
random cases and on the edge cases, and clear errors on bad input."""

import math
import random
import warnings

import numpy as np
import pytest
import sacrebleu
import torch
from rouge_score import rouge_scorer
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.linear_model import LogisticRegression

from course_utils import metrics as M
from course_utils.model import GPT, GPTConfig
from course_utils.train import evaluate

# --------------------------------------------------------------------------------------------------
# Language modelling
# --------------------------------------------------------------------------------------------------


def _tiny_gpt(block_size=8):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=block_size, n_layer=1, n_head=2, n_embd=8)).eval()


def test_token_nlls_match_evaluate_and_a_direct_forward_pass():
    model = _tiny_gpt()
    ids = torch.randint(0, 11, (8 * 5 + 4,), generator=torch.Generator().manual_seed(1))
    nlls = M.token_nlls(model, ids, batch_size=2)
    assert nlls.shape == (len(ids) - 1,)
    full = 8 * ((len(ids) - 1) // 8)
    assert nlls[:full].double().mean().item() == pytest.approx(evaluate(model, ids, batch_size=3), abs=1e-6)
    # the last, shorter window is scored with its own context
    tail = ids[full:]
    logits, _ = model(tail[:-1][None])
    direct = torch.nn.functional.cross_entropy(logits[0], tail[1:], reduction="none")
    assert torch.allclose(nlls[full:], direct, atol=1e-6)
    # one short sequence: a single partial window
    short = M.token_nlls(model, ids[:5])
    assert short.shape == (4,) and torch.allclose(short, nlls[:4], atol=1e-6)
    assert model.training is False


def test_token_nlls_rejects_bad_input_and_restores_training_mode():
    model = _tiny_gpt().train()
    M.token_nlls(model, [1, 2, 3])
    assert model.training
    with pytest.raises(ValueError, match="at least 2"):
        M.token_nlls(model, [1])
    with pytest.raises(ValueError, match="1-D"):
        M.token_nlls(model, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="batch_size"):
        M.token_nlls(model, [1, 2, 3], batch_size=0)


def test_perplexity_and_bits_per_char():
    assert M.perplexity([math.log(4)] * 3) == pytest.approx(4.0)
    assert M.perplexity(torch.tensor([0.0, 0.0])) == 1.0
    nlls = [0.5, 1.5, 1.0]
    assert M.perplexity(nlls) == pytest.approx(math.exp(1.0))
    assert M.bits_per_char(nlls, 6) == pytest.approx(3.0 / 6 / math.log(2))
    assert M.bits_per_char(3.0, 6) == M.bits_per_char(nlls, 6)      # total nats or per-token nats
    assert M.bits_per_char(0, 5) == 0.0
    for bad in ([], [float("nan")], [[1.0]], [-1.0]):
        with pytest.raises(ValueError):
            M.perplexity(bad)
    for bad_chars in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_chars"):
            M.bits_per_char(1.0, bad_chars)
    with pytest.raises(ValueError):
        M.bits_per_char(-1.0, 3)


# --------------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------------


def _random_binary_case(rng):
    n = int(rng.integers(2, 80))
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1                                               # both classes present
    scores = np.round(rng.random(n), int(rng.integers(1, 4)))      # rounding makes ties
    return y, scores


def test_binary_classification_metrics_equal_scikit_learn_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(150):
        y, scores = _random_binary_case(rng)
        pred = (scores >= rng.random()).astype(int)
        assert M.accuracy(y, pred) == skm.accuracy_score(y, pred)
        expected = skm.precision_recall_fscore_support(y, pred, average="binary", zero_division=0)[:3]
        assert M.precision_recall_f1(y, pred) == pytest.approx(expected, abs=1e-15)
        expected0 = skm.precision_recall_fscore_support(y, pred, average="binary", pos_label=0, zero_division=0)[:3]
        assert M.precision_recall_f1(y, pred, positive=0) == pytest.approx(expected0, abs=1e-15)
        assert np.array_equal(M.confusion_matrix(y, pred, labels=[0, 1]), skm.confusion_matrix(y, pred, labels=[0, 1]))
        assert M.roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
        for drop in (False, True):
            ours = M.roc_curve(y, scores, drop_intermediate=drop)
            theirs = skm.roc_curve(y, scores, drop_intermediate=drop)
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_multiclass_confusion_matrix_and_macro_f1_equal_scikit_learn():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 60))
        k = int(rng.integers(2, 6))
        y, pred = rng.integers(0, k, n), rng.integers(0, k, n)
        assert np.array_equal(M.confusion_matrix(y, pred), skm.confusion_matrix(y, pred))
        assert M.macro_f1(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0), abs=1e-15)
    names = np.array(["cat", "dog", "cat", "owl"])
    guess = np.array(["dog", "dog", "cat", "cat"])
    assert np.array_equal(M.confusion_matrix(names, guess), skm.confusion_matrix(names, guess))
    assert np.array_equal(M.confusion_matrix(names, guess, labels=["owl", "cat"]),
                          skm.confusion_matrix(names, guess, labels=["owl", "cat"]))


def test_classification_edge_cases():
    # nothing predicted positive: precision, F1 are 0 (zero_division=0), not NaN
    assert M.precision_recall_f1([1, 0, 1], [0, 0, 0]) == (0.0, 0.0, 0.0)
    assert M.precision_recall_f1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)
    assert M.precision_recall_f1([1, 1], [1, 1]) == (1.0, 1.0, 1.0)
    assert M.accuracy(["a", "b"], ["a", "c"]) == 0.5
    assert M.roc_auc([0, 1], [0.3, 0.3]) == 0.5                     # a tie counts half
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert M.roc_auc([True, False], [0.2, 0.9]) == 0.0
    assert M.roc_auc(["sad", "happy"], [0.1, 0.7], positive="happy") == 1.0
    fpr, tpr, thresholds = M.roc_curve([0, 1], [0.2, 0.9])
    assert fpr.tolist() == [0, 0, 1] and tpr.tolist() == [0, 1, 1] and thresholds[0] == np.inf


def test_auc_is_the_probability_a_positive_outranks_a_negative():
    rng = np.random.default_rng(2)
    y, scores = _random_binary_case(rng)
    pos, neg = scores[y == 1], scores[y == 0]
    pairwise = (pos[:, None] > neg).mean() + 0.5 * (pos[:, None] == neg).mean()
    assert M.roc_auc(y, scores) == pytest.approx(pairwise, abs=1e-12)


def test_classification_rejects_bad_input():
    with pytest.raises(ValueError, match="3 labels"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="no labels"):
        M.accuracy([], [])
    with pytest.raises(ValueError, match="1-D"):
        M.confusion_matrix([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="both positive and negative"):
        M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="two classes"):
        M.roc_curve([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        M.roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="2 labels, scores 3"):
        M.roc_auc([0, 1], [0.1, 0.2, 0.3])


# --------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------


def test_calibration_curve_equals_scikit_learn_and_ece_follows_from_it():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 100))
        probs = np.round(rng.random(n), int(rng.integers(1, 3)))   # many values exactly on bin edges
        probs[0], probs[-1] = 0.0, 1.0
        y = (rng.random(n) < probs).astype(int)
        y[0], y[1] = 0, 1
        n_bins = int(rng.integers(1, 15))
        frac, mean, count = M.calibration_curve(y, probs, n_bins)
        sk_frac, sk_mean = sk_calibration_curve(y, probs, n_bins=n_bins)
        np.testing.assert_allclose(frac, sk_frac, rtol=0, atol=1e-15)
        np.testing.assert_allclose(mean, sk_mean, rtol=0, atol=1e-15)
        assert count.sum() == n
        expected = np.sum(count / n * np.abs(sk_frac - sk_mean))
        assert M.expected_calibration_error(y, probs, n_bins) == pytest.approx(expected, abs=1e-15)


def test_ece_edge_cases():
    assert M.expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.0   # calibrated, useless
    assert M.expected_calibration_error([1, 1], [0.0, 0.0]) == 1.0                   # confidently wrong
    assert M.expected_calibration_error([True, False], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.expected_calibration_error([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="0/1"):
        M.expected_calibration_error([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="n_bins"):
        M.calibration_curve([0, 1], [0.5, 0.5], n_bins=0)


# --------------------------------------------------------------------------------------------------
# BLEU
# --------------------------------------------------------------------------------------------------

WORDS = ("the a cat dog sat on mat . , ! ? \" ( ) 3.5 1,000 2-3 New-York don't e.g. x & &amp; <skipped> "
         "Lily Tom happy sad -").split()


def _sentence(rng, max_len=14):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, max_len)))


def test_bleu_equals_sacrebleu_on_random_corpora():
    rng = random.Random(0)
    for trial in range(400):
        n = rng.randint(1, 6)
        hyps = [_sentence(rng) for _ in range(n)]
        refs = [[_sentence(rng) for _ in range(n)] for _ in range(rng.randint(1, 3))]
        lowercase = trial % 5 == 0
        ours = M.bleu(hyps, refs, lowercase=lowercase)
        theirs = sacrebleu.corpus_bleu(hyps, refs, lowercase=lowercase)
        assert ours.score == pytest.approx(theirs.score, abs=1e-9)
        assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
        assert ours.counts == list(theirs.counts) and ours.totals == list(theirs.totals)
        assert ours.brevity_penalty == pytest.approx(theirs.bp)
        none = M.bleu(hyps, refs, smooth="none")
        assert none.score == pytest.approx(sacrebleu.corpus_bleu(hyps, refs, smooth_method="none").score, abs=1e-9)


def test_bleu_on_realistic_text_and_single_reference_layout():
    hyps = ["In the end, Lily was happy.", "The cat sat on the mat.", "One day, she went to the park."]
    refs = ["In the end, Lily was glad.", "The cat sat on a mat.", "One morning, she went to the park with Tom."]
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert M.bleu(hyps, refs).score == pytest.approx(expected, abs=1e-9)          # one string per hypothesis
    assert M.bleu(hyps, [refs]).score == pytest.approx(expected, abs=1e-9)        # sacrebleu's stream layout
    assert M.bleu(hyps, hyps).score == pytest.approx(100.0)
    assert str(M.bleu(hyps, refs)).startswith("BLEU = ")


def test_bleu_edge_cases_match_sacrebleu():
    cases = [
        (["" ], [[""]]),                                      # nothing at all
        (["a b"], [["c d"]]),                                 # no match: 0
        (["a"], [["a"]]),                                     # too short for 2-grams: p2..p4 stay 0 → 0
        (["a b c d"], [["a b c d e f g h"]]),                 # brevity penalty
        (["a b c d e"], [["a b x d e"]]),                     # smoothing: zero 3- and 4-gram matches
        (["x y", "a b c d e"], [["x y", None], ["x z", "a b c d e"]]),   # a missing reference
        (["the the the the"], [["the cat"]]),                 # clipping
    ]
    for hyps, refs in cases:
        assert M.bleu(hyps, refs).score == pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score, abs=1e-9), hyps


def test_tokenize_13a_equals_sacrebleu():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    reference = Tokenizer13a()
    rng = random.Random(1)
    for _ in range(300):
        line = _sentence(rng, 20)
        assert M.tokenize_13a(line) == reference(line).split()
    assert M.tokenize_13a("Hello, world. 3.5 & 1,000!") == ["Hello", ",", "world", ".", "3.5", "&", "1,000", "!"]


def test_bleu_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        M.bleu([], [])
    with pytest.raises(TypeError, match="list of strings"):
        M.bleu("a b c", ["a b c"])
    with pytest.raises(ValueError, match="2 sentences for 1"):
        M.bleu(["a"], [["a", "b"]])
    with pytest.raises(ValueError, match="no reference"):
        M.bleu(["a"], [[None]])
    with pytest.raises(TypeError):
        M.bleu([1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="smooth"):
        M.bleu(["a"], ["a"], smooth="floor")
    with pytest.raises(ValueError, match="max_order"):
        M.bleu(["a"], ["a"], max_order=0)
    with pytest.raises(TypeError):
        M.tokenize_13a(None)


# --------------------------------------------------------------------------------------------------
# ROUGE
# --------------------------------------------------------------------------------------------------


def test_rouge_equals_rouge_score_on_random_pairs():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rouge3", "rougeL"], use_stemmer=False)
    rng = random.Random(2)
    extra = "Über naïve café İstanbul 42nd don't".split()
    for _ in range(400):
        pool = WORDS + extra
        reference = " ".join(rng.choice(pool) for _ in range(rng.randint(0, 15)))
        candidate = " ".join(rng.choice(pool) for _ in range(rng.randint(0, 15)))
        ours = M.rouge(reference, candidate, types=("rouge1", "rouge2", "rouge3", "rougeL"))
        theirs = scorer.score(reference, candidate)
        for kind in theirs:
            for field in ("precision", "recall", "fmeasure"):
                assert getattr(ours[kind], field) == pytest.approx(getattr(theirs[kind], field), abs=1e-15), kind


def test_rouge_edge_cases():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    for reference, candidate in [("", ""), ("a", ""), ("", "a"), ("!!!", "a"), ("a b", "a b"), ("a", "a b"),
                                 ("the cat sat", "sat the cat"), ("Lily was HAPPY.", "lily, was happy")]:
        ours, theirs = M.rouge(reference, candidate), scorer.score(reference, candidate)
        for kind in theirs:
            assert ours[kind].fmeasure == pytest.approx(theirs[kind].fmeasure, abs=1e-15)
    assert M.rouge_l("a b c d", "a x c d").recall == 0.75
    assert M.rouge_tokenize("Don't STOP—now!") == ["don", "t", "stop", "now"]


def test_rouge_rejects_bad_input():
    with pytest.raises(ValueError, match="ROUGE type"):
        M.rouge("a", "a", types=("rougeLsum",))
    with pytest.raises(ValueError, match="n must"):
        M.rouge_n("a", "a", n=0)
    with pytest.raises(TypeError):
        M.rouge_l("a", None)


# --------------------------------------------------------------------------------------------------
# Contamination
# --------------------------------------------------------------------------------------------------


def test_ngram_overlap():
    corpus = ["Once upon a time there was a girl named Lily.", "The dog ran to the park."]
    texts = ["once upon a time, there was a girl named Lily", "A cat sat on the mat today.", "the dog"]
    overlap = M.ngram_overlap(texts, corpus, n=3)
    assert overlap[0] == 1.0                                # punctuation and case do not hide a copy
    assert overlap[1] == 0.0
    assert overlap[2] == 0.0                                # shorter than n: no n-grams
    assert M.ngram_overlap(["the dog ran home"], corpus, n=2)[0] == pytest.approx(2 / 3)
    assert M.word_ngrams("a b a b", 2) == {("a", "b"), ("b", "a")}
    with pytest.raises(TypeError):
        M.ngram_overlap("one text", corpus)
    with pytest.raises(ValueError, match="n must"):
        M.ngram_overlap(texts, corpus, n=0)


# --------------------------------------------------------------------------------------------------
# Bradley–Terry, Elo, bootstrap
# --------------------------------------------------------------------------------------------------


def _random_comparisons(rng, k, m):
    theta = rng.normal(0, 1, k)
    i = rng.integers(0, k, m)
    j = (i + rng.integers(1, k, m)) % k
    i_wins = rng.random(m) < 1 / (1 + np.exp(-(theta[i] - theta[j])))
    return np.stack([np.where(i_wins, i, j), np.where(i_wins, j, i)], axis=1)


def _logistic_regression_strengths(pairs, k, l2):
    """The same model as scikit-learn sees it: x = e_winner - e_loser, half the rows flipped to class 0."""
    design = np.zeros((len(pairs), k))
    design[np.arange(len(pairs)), pairs[:, 0]] = 1
    design[np.arange(len(pairs)), pairs[:, 1]] = -1
    flip = np.arange(len(pairs)) % 2 == 1
    design[flip] *= -1
    C = np.inf if l2 == 0 else 1 / l2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef = LogisticRegression(C=C, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(design, ~flip).coef_[0]
    return coef - coef.mean()


def test_bradley_terry_equals_logistic_regression():
    rng = np.random.default_rng(4)
    checked = 0
    for trial in range(30):
        k, m = int(rng.integers(2, 7)), int(rng.integers(30, 300))
        pairs = _random_comparisons(rng, k, m)
        for l2 in (1.0, 0.01, 0.0):
            try:
                ours = M.bradley_terry(pairs, k, l2=l2)
            except ValueError:
                assert l2 == 0                                  # only the unregularized fit can be undefined
                continue
            np.testing.assert_allclose(ours, _logistic_regression_strengths(pairs, k, l2), atol=2e-5)
            assert abs(ours.mean()) < 1e-12
            checked += 1
    assert checked > 60


def test_bradley_terry_recovers_true_strengths_and_win_probabilities():
    rng = np.random.default_rng(5)
    theta = np.array([1.0, 0.0, -0.5, -0.5])
    i = rng.integers(0, 4, 20_000)
    j = (i + rng.integers(1, 4, 20_000)) % 4
    i_wins = rng.random(20_000) < 1 / (1 + np.exp(-(theta[i] - theta[j])))
    pairs = np.stack([np.where(i_wins, i, j), np.where(i_wins, j, i)], axis=1)
    fitted = M.bradley_terry(pairs, 4)
    np.testing.assert_allclose(fitted, theta - theta.mean(), atol=0.05)
    assert M.win_probability(1.0, 0.0) == pytest.approx(1 / (1 + math.exp(-1)))
    elo_scale = M.to_elo_scale([0.0, math.log(10)])
    assert elo_scale.tolist() == pytest.approx([1000.0, 1400.0])   # 10:1 odds = 400 points


def test_bradley_terry_errors():
    with pytest.raises(ValueError, match="infinite"):
        M.bradley_terry([(0, 1), (0, 1)], 2)                    # item 1 never won
    assert np.all(np.isfinite(M.bradley_terry([(0, 1), (0, 1)], 2, l2=0.1)))
    with pytest.raises(ValueError, match="no comparisons"):
        M.bradley_terry([], 2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        M.bradley_terry([(0, 3)], 3)
    with pytest.raises(ValueError, match="itself"):
        M.bradley_terry([(1, 1)], 3)
    with pytest.raises(ValueError, match="shape"):
        M.bradley_terry([(0, 1, 2)], 3)
    with pytest.raises(ValueError, match="n_items"):
        M.bradley_terry([(0, 1)], 1)
    with pytest.raises(ValueError, match="l2"):
        M.bradley_terry([(0, 1), (1, 0)], 2, l2=-1)
    with pytest.raises(TypeError):
        M.bradley_terry([(0.5, 1.0)], 2)


def test_elo_by_hand_and_order_dependence():
    ratings = M.elo([(0, 1)], 2)
    assert ratings.tolist() == [1016.0, 984.0]                 # equal ratings: expected 0.5, k = 32
    second = M.elo([(0, 1), (1, 0)], 2)
    expected_1 = 1 / (1 + 10 ** ((1016 - 984) / 400))
    assert second[1] == pytest.approx(984 + 32 * (1 - expected_1))
    assert second.sum() == pytest.approx(2000.0)                # zero-sum
    assert not np.allclose(M.elo([(0, 1), (1, 0)], 2), M.elo([(1, 0), (0, 1)], 2))
    with pytest.raises(ValueError, match="k and scale"):
        M.elo([(0, 1)], 2, k=0)


def test_bootstrap_ci():
    data = np.random.default_rng(6).normal(3.0, 1.0, 400)
    low, high = M.bootstrap_ci(data, np.mean, n_resamples=500, seed=1)
    assert low < 3.0 < high and high - low == pytest.approx(2 * 1.96 / 20, rel=0.25)
    again = M.bootstrap_ci(data, np.mean, n_resamples=500, seed=1)
    assert (low, high) == again                                 # deterministic for a seed
    pairs = _random_comparisons(np.random.default_rng(7), 3, 300)
    lo, hi = M.bootstrap_ci(pairs, lambda d: M.bradley_terry(d, 3, l2=0.01), n_resamples=50)
    assert lo.shape == hi.shape == (3,) and np.all(lo <= hi)
    with pytest.raises(ValueError, match="non-empty"):
        M.bootstrap_ci([], np.mean)
    with pytest.raises(ValueError, match="n_resamples"):
        M.bootstrap_ci(data, np.mean, n_resamples=1)
    with pytest.raises(ValueError, match="confidence"):
        M.bootstrap_ci(data, np.mean, confidence=1.0)
