"""Notebook 02's build-it exercises: each check cell, run on the course's version (passes), on a blank (not
attempted yet) and on typical wrong versions (fails, naming the case), and the course's versions themselves."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import notebook_cells
from course_utils import embeddings, positional
from course_utils.checks import check_function

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, namespace: dict) -> str:
    return notebook_cells.run_check_cell("02_embeddings", capsys, exercise, namespace)


blank = notebook_cells.blank


def namespace(**names) -> dict:
    return dict(torch=torch, nn=nn, F=F, math=math, embeddings=embeddings, positional=positional,
                check_function=check_function, **names)


# -- 2.1: one-hot × E ---------------------------------------------------------------------------------------


def course_one_hot_embed(ids, E):
    """The notebook's solution."""
    return F.one_hot(ids, num_classes=E.shape[0]).to(E.dtype) @ E


def classes_from_the_ids(ids, E):
    return F.one_hot(ids).to(E.dtype) @ E           # |V| taken from the largest ID present


def flattened(ids, E):
    return F.one_hot(ids.flatten(), num_classes=E.shape[0]).to(E.dtype) @ E   # (N, d) whatever the shape


def always_float32(ids, E):
    return F.one_hot(ids, num_classes=E.shape[0]).float() @ E


def summed(ids, E):
    return F.one_hot(ids, num_classes=E.shape[0]).to(E.dtype).sum(-2) @ E   # a bag of words, not a lookup


def lookup_namespace(fn) -> dict:
    g = torch.Generator().manual_seed(5)
    return namespace(one_hot_embed=fn, ids=torch.randint(175, (9,), generator=g),
                     E=torch.randn(175, 128, generator=g))


def test_lookup_check_passes_the_course_version(capsys):
    ns = lookup_namespace(course_one_hot_embed)
    assert run_check_cell(capsys, "2.1", ns).strip() == "✅ Exercise 2.1: correct!"
    assert ns["one_hot_embed"] is course_one_hot_embed


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_lookup_check_blank_falls_back(capsys, fn, says):
    ns = lookup_namespace(fn)
    out = run_check_cell(capsys, "2.1", ns)
    assert says in out and "Using the course's version" in out
    assert ns["one_hot_embed"] is embeddings.one_hot_lookup


@pytest.mark.parametrize("fn, case, says", [
    (classes_from_the_ids, 1, "raised RuntimeError"), (flattened, 1, "expected shape (4,), got (1, 4)"),
    (summed, 1, "raised IndexError"), (always_float32, 4, "raised RuntimeError"),
])
def test_lookup_check_rejects_wrong_versions(capsys, fn, case, says):
    ns = lookup_namespace(fn)
    out = run_check_cell(capsys, "2.1", ns)
    assert "not yet — " in out and f"on case {case} of 6, {fn.__name__}(" in out and says in out, out
    assert ns["one_hot_embed"] is embeddings.one_hot_lookup


def test_one_hot_lookup_is_indexing():
    E = torch.randn(6, 3, dtype=torch.float64)
    ids = torch.tensor([[5, 0], [2, 2]])
    assert torch.equal(embeddings.one_hot_lookup(ids, E), E[ids])
    assert torch.equal(embeddings.one_hot_lookup(torch.tensor(4), E), E[4])


# -- 2.3: the negative-sampling loss -----------------------------------------------------------------------


def course_sgns_loss(v_center, u_context, u_noise):
    """The notebook's solution."""
    positive = F.logsigmoid((v_center * u_context).sum(-1))
    negative = F.logsigmoid(-(u_noise @ v_center.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return -(positive + negative).mean()


def noise_sign_kept(v_center, u_context, u_noise):
    positive = F.logsigmoid((v_center * u_context).sum(-1))
    negative = F.logsigmoid(torch.einsum("bkd,bd->bk", u_noise, v_center)).sum(-1)   # σ(+score) for noise
    return -(positive + negative).mean()


def noise_averaged(v_center, u_context, u_noise):
    positive = F.logsigmoid((v_center * u_context).sum(-1))
    negative = F.logsigmoid(-torch.einsum("bkd,bd->bk", u_noise, v_center)).mean(-1)  # mean over K
    return -(positive + negative).mean()


def batch_summed(v_center, u_context, u_noise):
    positive = F.logsigmoid((v_center * u_context).sum(-1))
    negative = F.logsigmoid(-torch.einsum("bkd,bd->bk", u_noise, v_center)).sum(-1)
    return -(positive + negative).sum()                                              # sum over the batch


def no_log(v_center, u_context, u_noise):
    positive = torch.sigmoid((v_center * u_context).sum(-1))
    negative = torch.sigmoid(-torch.einsum("bkd,bd->bk", u_noise, v_center)).sum(-1)
    return -(positive + negative).mean()


def log_of_sigmoid(v_center, u_context, u_noise):
    positive = torch.log(torch.sigmoid((v_center * u_context).sum(-1)))
    negative = torch.log(torch.sigmoid(-torch.einsum("bkd,bd->bk", u_noise, v_center))).sum(-1)
    return -(positive + negative).mean()


def as_a_number(v_center, u_context, u_noise):
    return course_sgns_loss(v_center, u_context, u_noise).item()


def test_sgns_check_passes_the_course_version(capsys):
    ns = namespace(sgns_loss=course_sgns_loss)
    assert run_check_cell(capsys, "2.3", ns).strip() == "✅ Exercise 2.3: correct!"
    assert ns["sgns_loss"] is course_sgns_loss


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_sgns_check_blank_falls_back(capsys, fn, says):
    ns = namespace(sgns_loss=fn)
    out = run_check_cell(capsys, "2.3", ns)
    assert says in out and "Using the course's version" in out
    assert ns["sgns_loss"] is embeddings.sgns_loss


@pytest.mark.parametrize("fn, case, says", [
    (noise_sign_kept, 1, "expected 4.75, got 1.75"), (no_log, 1, "expected 4.75"), (noise_averaged, 2, "expected"),
    (batch_summed, 3, "expected"), (log_of_sigmoid, 6, "expected 144, got inf"),
    (as_a_number, 1, "expected a torch.Tensor, got float"),
])
def test_sgns_check_rejects_wrong_versions(capsys, fn, case, says):
    ns = namespace(sgns_loss=fn)
    out = run_check_cell(capsys, "2.3", ns)
    assert "not yet — " in out and f"on case {case} of 6, {fn.__name__}(" in out and says in out, out
    assert ns["sgns_loss"] is embeddings.sgns_loss


def test_sgns_loss_is_the_package_module_and_trains_the_same():
    torch.manual_seed(0)
    model = embeddings.SkipGram(20, 4)
    nn.init.normal_(model.context.weight)
    c, o, noise = torch.randint(20, (8,)), torch.randint(20, (8,)), torch.randint(20, (8, 3))
    loss = course_sgns_loss(model.center(c), model.context(o), model.context(noise))
    assert torch.equal(loss, model(c, o, noise))
    ids = torch.randint(20, (400,), generator=torch.Generator().manual_seed(1))
    kwargs = dict(vocab_size=20, dim=4, epochs=1, batch_size=64, seed=0)
    assert embeddings.train_skipgram(ids, loss_fn=course_sgns_loss, **kwargs).losses == \
        embeddings.train_skipgram(ids, **kwargs).losses


# -- 2.6: RoPE's rotation ----------------------------------------------------------------------------------


def course_rope(x, positions):
    """The notebook's solution."""
    d = x.shape[-1]
    theta = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def rotate(x, angles):
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def halves(x, positions):   # Hugging Face's pairing: feature i with feature i + d/2
    d = x.shape[-1]
    angles = positional.rope_angles(positions, d)
    cos, sin = torch.cat([angles.cos()] * 2, -1).to(x.dtype), torch.cat([angles.sin()] * 2, -1).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def frequency_per_feature(x, positions):   # θ = 10000^(-i/d) with i counting pairs: exponent half as large
    d = x.shape[-1]
    theta = 10000 ** (-torch.arange(d // 2, dtype=torch.float64) / d)
    return rotate(x, positions.to(torch.float64)[:, None] * theta)


def row_index_not_position(x, positions):   # angle from the row index 0..T-1, whatever positions says
    d = x.shape[-1]
    theta = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    return rotate(x, torch.arange(x.shape[-2], dtype=torch.float64)[:, None] * theta)


def turned_backwards(x, positions):
    return course_rope(x, -positions)


def test_rope_check_passes_the_course_version(capsys):
    ns = namespace(rope=course_rope)
    assert run_check_cell(capsys, "2.6", ns).strip() == "✅ Exercise 2.6: correct!"
    assert ns["rope"] is course_rope


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_rope_check_blank_falls_back(capsys, fn, says):
    ns = namespace(rope=fn)
    out = run_check_cell(capsys, "2.6", ns)
    assert says in out and "Using the course's version" in out
    assert ns["rope"] is positional.apply_rope


@pytest.mark.parametrize("fn, case", [
    (turned_backwards, 1), (halves, 2), (frequency_per_feature, 2), (row_index_not_position, 1),
])
def test_rope_check_rejects_wrong_versions(capsys, fn, case):
    ns = namespace(rope=fn)
    out = run_check_cell(capsys, "2.6", ns)
    assert "not yet — " in out and f"on case {case} of 6, {fn.__name__}(" in out and "values differ" in out, out
    assert ns["rope"] is positional.apply_rope


def test_rope_solution_is_the_package_and_keeps_relative_scores():
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    positions = torch.tensor([0, 3, 8, 9, 50, 51, 52])
    assert torch.allclose(course_rope(x, positions), positional.apply_rope(x, positions), atol=1e-12)
    q, k = torch.randn(1, 16, dtype=torch.float64), torch.randn(1, 16, dtype=torch.float64)
    scores = [(course_rope(q, torch.tensor([m])) @ course_rope(k, torch.tensor([m + 4])).T).item()
              for m in (0, 10, 1000)]
    assert max(scores) - min(scores) < 1e-9


# -- 2.4 and 2.5: cosine similarity, and an analogy solved with it ------------------------------------------

ANALOGY_WORDS = ["king", "queen", "prince", "princess", "man", "woman", "boy", "girl", "dog", "cake", "red"]


def vectors_namespace(**names) -> dict:
    return namespace(w2v=embeddings.random_vectors(ANALOGY_WORDS, dim=16, seed=3), **names)


def solution_namespace() -> dict:
    names = notebook_cells.solution("02_embeddings", "def cosine(", **vectors_namespace())
    return notebook_cells.solution("02_embeddings", "def solve_analogy(", **names)


def dot_only(a, b):                      # lengths not divided out
    return (a @ b).item()


def one_length(a, b):
    return (a @ b / a.norm()).item()


def distance_not_angle(a, b):            # closer is larger, but it is not a cosine
    return -(a - b).norm().item()


def test_cosine_solution_passes(capsys):
    out = run_check_cell(capsys, "2.4", solution_namespace())
    assert out.strip() == "✅ Exercise 2.4: correct!", out


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_cosine_blank_is_not_attempted(capsys, fn, says):
    assert says in run_check_cell(capsys, "2.4", vectors_namespace(cosine=fn))


@pytest.mark.parametrize("fn, case", [(dot_only, 2), (one_length, 2), (distance_not_angle, 1)])
def test_cosine_rejects_wrong_versions(capsys, fn, case):
    out = run_check_cell(capsys, "2.4", vectors_namespace(cosine=fn))
    assert f"not yet — on case {case} of 4, {fn.__name__}(" in out, out


def test_analogy_solution_passes(capsys):
    out = run_check_cell(capsys, "2.5", solution_namespace())
    assert out.strip() == "✅ Exercise 2.5: correct!", out


def test_analogy_blank_is_not_attempted(capsys):
    assert "returned None" in run_check_cell(capsys, "2.5", vectors_namespace(solve_analogy=blank))


def keeps_the_given_words(wv, a, b, c):  # c itself (or b) is usually nearest to b - a + c
    target = wv[b] - wv[a] + wv[c]
    return max(wv.words, key=lambda w: embeddings.cosine_similarity(wv[w], target).item())


def sign_flipped(wv, a, b, c):           # a - b + c: the direction reversed
    target = wv[a] - wv[b] + wv[c]
    return max((w for w in wv.words if w not in (a, b, c)),
               key=lambda w: embeddings.cosine_similarity(wv[w], target).item())


@pytest.mark.parametrize("fn", [keeps_the_given_words, sign_flipped])
def test_analogy_rejects_wrong_versions(capsys, fn):
    out = run_check_cell(capsys, "2.5", vectors_namespace(solve_analogy=fn))
    assert "❌ Exercise 2.5: not yet — on case" in out, out
