"""Notebook 00's build-it exercises: each check cell, run on the course's version (passes), on a blank (not
attempted yet) and on typical wrong versions (fails, naming the case), and the course's versions themselves."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import notebook_cells
from course_utils import ngram, storyworld
from course_utils.checks import check_function
from course_utils.ngram import NGramModel

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, namespace: dict) -> str:
    return notebook_cells.run_check_cell("00_next_token_prediction", capsys, exercise, namespace)


blank = notebook_cells.blank


# -- 0.2: the bigram table ----------------------------------------------------------------------------------


def table_namespace(fn) -> dict:
    story = storyworld.StoryWorld(seed=0).story(0)
    return dict(torch=torch, np=np, ngram=ngram, NGramModel=NGramModel, check_function=check_function,
                story=story, chars=sorted(set(story.text)), k=0.01, bigram_probabilities=fn)


def numerator_only(counts, k):
    return (counts + k) / counts.sum(dim=1, keepdim=True)


def by_column(counts, k):
    smoothed = counts + k
    return smoothed / smoothed.sum(dim=0, keepdim=True)


def unsmoothed(counts, k):
    return counts / counts.sum(dim=1, keepdim=True)


def test_table_check_passes_the_course_version(capsys):
    namespace = table_namespace(ngram.bigram_probabilities)
    out = run_check_cell(capsys, "0.2", namespace)
    assert out.strip() == "✅ Exercise 0.2: correct!"
    assert namespace["bigram_probabilities"] is ngram.bigram_probabilities


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_table_check_blank_falls_back(capsys, fn, says):
    namespace = table_namespace(fn)
    out = run_check_cell(capsys, "0.2", namespace)
    assert says in out and "Using the course's version" in out
    assert namespace["bigram_probabilities"] is ngram.bigram_probabilities


@pytest.mark.parametrize("fn, case", [(numerator_only, 1), (by_column, 1), (unsmoothed, 1)])
def test_table_check_rejects_wrong_versions(capsys, fn, case):
    namespace = table_namespace(fn)
    out = run_check_cell(capsys, "0.2", namespace)
    assert f"not yet — on case {case} of 4, {fn.__name__}(" in out, out
    assert namespace["bigram_probabilities"] is ngram.bigram_probabilities


def test_unseen_context_case_catches_a_version_that_is_right_elsewhere(capsys):
    def zero_rows_stay_zero(counts, k):   # smooths only the rows that were seen
        smoothed = torch.where(counts.sum(dim=1, keepdim=True) > 0, counts + k, counts)
        return smoothed / smoothed.sum(dim=1, keepdim=True).clamp(min=1e-12)
    out = run_check_cell(capsys, "0.2", table_namespace(zero_rows_stay_zero))
    assert "on case 2 of 4" in out and "uniform" in out, out


def test_bigram_probabilities_is_ngram_model():
    text, vocab = "the cat sat on the mat", sorted(set("the cat sat on the mat"))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text])
    counts = torch.zeros(len(vocab), len(vocab)).index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1),
                                                            accumulate=True)
    table = ngram.bigram_probabilities(counts, 0.1)
    model = NGramModel(n=2, vocab=vocab, k=0.1).fit(text)
    assert torch.allclose(table, torch.tensor([[model.prob(a, b) for b in vocab] for a in vocab]))
    assert torch.allclose(table.sum(dim=1), torch.ones(len(vocab)))


# -- 0.3: cross-entropy and perplexity --------------------------------------------------------------------


def ce_namespace(fn) -> dict:
    g = torch.Generator().manual_seed(1)
    return dict(torch=torch, ngram=ngram, check_function=check_function, V=52,
                val_ids=torch.randint(52, (2000,), generator=g),
                bigram_probs=torch.rand(52, 52, generator=g).softmax(dim=1), cross_entropy=fn)


def in_bits(probs, targets):
    loss = -probs[torch.arange(len(targets)), targets].log2().mean().item()
    return loss, 2 ** loss


def summed(probs, targets):
    loss = -probs[torch.arange(len(targets)), targets].log().sum().item()
    return loss, math.exp(loss)


def mean_of_perplexities(probs, targets):
    losses = -probs[torch.arange(len(targets)), targets].log()
    return losses.mean().item(), losses.exp().mean().item()


def columns_not_pairs(probs, targets):   # probs[:, targets] is (N, N), not the N probabilities of what came
    loss = -probs[:, targets].log().mean().item()
    return loss, math.exp(loss)


def tensors(probs, targets):
    loss = -probs[torch.arange(len(targets)), targets].log().mean()
    return loss, loss.exp()


def test_cross_entropy_check_passes_the_course_version(capsys):
    namespace = ce_namespace(ngram.cross_entropy)
    assert run_check_cell(capsys, "0.3", namespace).strip() == "✅ Exercise 0.3: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_cross_entropy_check_blank_falls_back(capsys, fn, says):
    namespace = ce_namespace(fn)
    out = run_check_cell(capsys, "0.3", namespace)
    assert says in out and "Using the course's version" in out
    assert namespace["cross_entropy"] is ngram.cross_entropy


@pytest.mark.parametrize("fn, case, says", [
    (in_bits, 1, "expected 3.95"), (summed, 1, "expected 3.95"), (mean_of_perplexities, 4, "at [1]"),
    (columns_not_pairs, 2, "at [0]"), (tensors, 1, "use .item()"),
])
def test_cross_entropy_check_rejects_wrong_versions(capsys, fn, case, says):
    namespace = ce_namespace(fn)
    out = run_check_cell(capsys, "0.3", namespace)
    assert f"not yet — on case {case} of 5, {fn.__name__}(" in out and says in out, out
    assert namespace["cross_entropy"] is ngram.cross_entropy


def test_cross_entropy_is_torchs():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(9, 6, generator=g), torch.randint(6, (9,), generator=g)
    loss, perplexity = ngram.cross_entropy(logits.softmax(dim=1), targets)
    assert loss == pytest.approx(F.cross_entropy(logits, targets).item(), rel=1e-5)
    assert perplexity == pytest.approx(math.exp(loss))
    assert ngram.cross_entropy(torch.full((3, 4), 0.25), torch.tensor([0, 1, 2]))[1] == pytest.approx(4.0)
