"""Notebook 03's build-it exercises: attention with a mask (3.2) and multi-head attention's forward (3.4). Each
check cell runs as it stands in the notebook on the notebook's solution (passes, and the notebook keeps it), on a
blank (not attempted yet; the notebook goes on with the course's version) and on typical wrong versions (fails,
naming the case)."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import notebook_cells
from course_utils import attention as course_attention
from course_utils.checks import check_function

pytestmark = pytest.mark.usefixtures("fresh_check_registry")

CELLS = notebook_cells.notebook_cells("03_attention")


def namespace(**names) -> dict:
    """What the notebook has defined before the check cells: imports, the five word vectors X and the causal
    mask of section 4 (the 3.2 check uses both as one of its cases)."""
    return dict(math=math, torch=torch, nn=nn, F=F, check_function=check_function,
                course_attention=course_attention, X=torch.randn(5, 5, generator=torch.Generator().manual_seed(0)),
                mask=torch.ones(5, 5, dtype=torch.bool).tril(), **names)


def solution(marker: str, names: dict):
    """Run the notebook's solution cell that contains `marker` in `names`; return `names`."""
    [cell] = [c for c in CELLS if marker in c and "# BEGIN SOLUTION" in c]
    exec(cell, names)
    return names


def solution_attention():
    return solution("def attention(", namespace())["attention"]


def run_check(capsys, exercise: str, names: dict) -> str:
    return notebook_cells.run_check_cell("03_attention", capsys, exercise, names)


# -- 3.2: attention with a mask ------------------------------------------------------------------------------

def test_attention_solution_passes_and_is_kept(capsys):
    names = namespace(attention=solution_attention())
    yours = names["attention"]
    assert run_check(capsys, "3.2", names).strip() == "✅ Exercise 3.2: correct!"
    assert names["attention"] is yours


def test_attention_blank_falls_back_to_the_course_function(capsys):
    names = namespace(attention=notebook_cells.blank)
    out = run_check(capsys, "3.2", names)
    assert "returned None" in out and "Using the course's attention" in out, out
    assert names["attention"] is names["course_attention_function"]
    q = torch.randn(2, 3, 4)
    out_course, weights = names["attention"](q, q, q, torch.ones(3, 3, dtype=torch.bool).tril())
    assert out_course.shape == (2, 3, 4) and torch.allclose(weights.sum(-1), torch.ones(2, 3))


def written_out(q, k, v, mask=None, dropout_p=0.0, *, scale=True, fill=float("-inf"), dim=-1, invert=False,
                nan_to_zero=True, mask_after=False, drop_scores=False, d=None):
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.size(-1) if d is None else d)
    if mask is not None and not mask_after:
        scores = scores.masked_fill(mask if invert else ~mask, fill)
    if drop_scores and dropout_p > 0:
        scores = F.dropout(scores, p=dropout_p)
    weights = scores.softmax(dim=dim)
    if mask is not None and mask_after:
        weights = weights * mask
    if nan_to_zero:
        weights = weights.nan_to_num(0.0)
    if dropout_p > 0 and not drop_scores:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


WRONG_ATTENTION = {
    "unscaled": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, scale=False),
                 "one query, 5 keys, no mask"),
    "masked after the softmax (rows no longer sum to 1)":
        (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, mask_after=True), "the 5 words, causal mask"),
    "hidden scores set to 0, not -inf": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, fill=0.0),
                                         "the 5 words, causal mask"),
    "True taken to mean hidden": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, invert=True),
                                  "the 5 words, causal mask"),
    "softmax over the queries": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, dim=-2),
                                 "one query, 5 keys, no mask"),
    "NaN for a query that sees nothing": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, nan_to_zero=False),
                                          "a query that may see no key: weights 0, output 0"),
    "dropout on the scores": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, drop_scores=True),
                              "dropout 0.5 on the weights (seeded)"),
    "scaled by the value size": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p, d=v.size(-1)),
                                 "3 queries, 6 keys, values of size 2, no mask"),
    "only the output returned": (lambda q, k, v, m=None, p=0.0: written_out(q, k, v, m, p)[0],
                                 "one query, 5 keys, no mask"),
}


@pytest.mark.parametrize("mistake", list(WRONG_ATTENTION))
def test_attention_check_rejects_wrong_versions(capsys, mistake):
    fn, case = WRONG_ATTENTION[mistake]
    names = namespace(attention=fn)
    out = run_check(capsys, "3.2", names)
    assert "Exercise 3.2: not yet" in out and case in out, out
    assert names["attention"] is names["course_attention_function"]


def test_attention_check_cases_cover_the_lengths_and_batches():
    names = namespace(attention=solution_attention())
    exec(notebook_cells.check_cell("03_attention", "3.2"), names)
    shapes = {tuple(q.shape) for q, *_ in names["attention_cases"].values()}
    assert len(shapes) >= 6 and any(len(s) == 2 for s in shapes) and any(len(s) == 4 for s in shapes)


# -- 3.4: multi-head attention's forward ---------------------------------------------------------------------

def solution_mha():
    names = namespace(attention=solution_attention())
    return solution("class MultiHeadAttention(nn.Module):", names)["MultiHeadAttention"], names


def test_mha_solution_passes_and_is_kept(capsys):
    cls, names = solution_mha()
    assert run_check(capsys, "3.4", names).strip() == "✅ Exercise 3.4: correct!"
    assert names["MultiHeadAttention"] is cls


def test_mha_solution_works_on_the_course_attention_too(capsys):
    # a student whose 3.2 failed goes on with the course's attention: their 3.4 must still pass
    names = namespace(attention=notebook_cells.blank)
    run_check(capsys, "3.2", names)
    solution("class MultiHeadAttention(nn.Module):", names)
    assert run_check(capsys, "3.4", names).strip() == "✅ Exercise 3.4: correct!"


def with_forward(forward):
    cls, names = solution_mha()
    return type("MultiHeadAttention", (cls,), {"forward": forward}), names


def test_mha_blank_falls_back_to_the_course_class(capsys):
    cls, names = with_forward(lambda self, x, attn_mask=None, is_causal=False: None)
    names["MultiHeadAttention"] = cls
    out = run_check(capsys, "3.4", names)
    assert "returned None" in out and "Using the course's MultiHeadAttention" in out, out
    assert names["MultiHeadAttention"] is course_attention.MultiHeadAttention


def heads_forward(self, x, attn_mask=None, is_causal=False, *, repeat="interleave", split="transpose",
                  merge="transpose", use_attn_mask=True, use_causal=True, project=True):
    B, T, C = x.shape
    nh, nkv, hs = self.n_heads, self.n_kv_heads, self.head_size

    def heads(t, n):
        if split == "transpose":
            return t.view(B, T, n, hs).transpose(1, 2)
        return t.view(B, n, T, hs)                                 # no transpose: time steps mixed into heads
    q, k, v = heads(self.q_proj(x), nh), heads(self.k_proj(x), nkv), heads(self.v_proj(x), nkv)
    if repeat == "interleave":
        k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
    else:                                                          # whole groups repeated: heads paired wrongly
        k, v = k.repeat(1, nh // nkv, 1, 1), v.repeat(1, nh // nkv, 1, 1)
    mask = attn_mask if use_attn_mask else None
    if is_causal and use_causal:
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        mask = causal if mask is None else mask & causal
    y, _ = course_attention.scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    y = y.transpose(1, 2).reshape(B, T, C) if merge == "transpose" else y.reshape(B, T, C)
    return self.out_proj(y) if project else y


WRONG_MHA = {
    "repeat instead of repeat_interleave": (dict(repeat="tile"), "GQA: 4 query heads share 2 key/value heads"),
    "heads split without the transpose": (dict(split="view"), "MHA, 4 heads, causal, 2 sequences of 6 tokens"),
    "heads merged without the transpose": (dict(merge="view"), "MHA, 4 heads, causal, 2 sequences of 6 tokens"),
    "the padding mask ignored": (dict(use_attn_mask=False), "a padding mask (B, 1, 1, T) and causal"),
    "is_causal ignored": (dict(use_causal=False), "MHA, 4 heads, causal, 2 sequences of 6 tokens"),
    "no output projection": (dict(project=False), "MHA, 4 heads, causal, 2 sequences of 6 tokens"),
}


@pytest.mark.parametrize("mistake", list(WRONG_MHA))
def test_mha_check_rejects_wrong_versions(capsys, mistake):
    options, case = WRONG_MHA[mistake]
    cls, names = with_forward(lambda self, x, attn_mask=None, is_causal=False:
                              heads_forward(self, x, attn_mask, is_causal, **options))
    names["MultiHeadAttention"] = cls
    out = run_check(capsys, "3.4", names)
    assert "Exercise 3.4: not yet" in out and case in out, out


def test_correct_written_out_forward_passes(capsys):
    # the wrong versions above differ from a right one by their one mistake only
    cls, names = with_forward(lambda self, x, attn_mask=None, is_causal=False: heads_forward(self, x, attn_mask, is_causal))
    names["MultiHeadAttention"] = cls
    assert run_check(capsys, "3.4", names).strip() == "✅ Exercise 3.4: correct!"
