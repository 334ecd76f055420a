"""Notebook 04's cross-attention exercise (4.5): its check cell, run on a correct version (passes), on a blank
(not attempted yet) and on typical wrong versions (fails, naming the case)."""

import math

import pytest
import torch
import torch.nn as nn

import notebook_cells
from course_utils.attention import MultiHeadAttention
from course_utils.checks import check_function

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, fn) -> str:
    """Run the notebook's check cell for `exercise` with `fn` as the student's answer; return what it printed."""
    cell = notebook_cells.check_cell("04_transformer_block", exercise)
    exec(cell, dict(torch=torch, nn=nn, check_function=check_function, cross_attention=fn))
    return capsys.readouterr().out


def heads(t, n_heads):  # (B, T, C) -> (B, nh, T, hs)
    B, T, C = t.shape
    return t.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def merge(t):  # (B, nh, T, hs) -> (B, T, C)
    B, nh, T, hs = t.shape
    return t.transpose(1, 2).reshape(B, T, nh * hs)


def with_course_attention(x, memory, W_q, W_k, W_v, W_o, n_heads):
    """The package's multi-head attention, its keys and values read from `memory` (its `context`)."""
    attention = MultiHeadAttention(x.size(-1), n_heads, bias=False)
    with torch.no_grad():
        for proj, w in zip((attention.q_proj, attention.k_proj, attention.v_proj, attention.out_proj),
                           (W_q, W_k, W_v, W_o)):
            proj.weight.copy_(w)
        return attention(x, context=memory)


def written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, *, causal=False, kv_from=None, scale=True):
    source = memory if kv_from is None else kv_from
    q, k, v = (heads(t @ W.T, n_heads) for t, W in ((x, W_q), (source, W_k), (source, W_v)))
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.size(-1))
    if causal:
        scores = scores.masked_fill(~torch.ones(scores.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
    return merge(scores.softmax(-1) @ v) @ W_o.T


def causal(x, memory, W_q, W_k, W_v, W_o, n_heads):          # a decoder's mask where none belongs
    return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, causal=True)


def keys_from_the_decoder(x, memory, W_q, W_k, W_v, W_o, n_heads):   # self-attention, not cross-attention
    return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, kv_from=x)


def unscaled(x, memory, W_q, W_k, W_v, W_o, n_heads):
    return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, scale=False)


def one_head(x, memory, W_q, W_k, W_v, W_o, n_heads):          # forgets to split into heads
    return written_out(x, memory, W_q, W_k, W_v, W_o, 1)


def no_output_projection(x, memory, W_q, W_k, W_v, W_o, n_heads):
    return merge(heads(x @ W_q.T, n_heads) @ heads(memory @ W_k.T, n_heads).transpose(-2, -1)
                 .div(math.sqrt(x.size(-1) // n_heads)).softmax(-1) @ heads(memory @ W_v.T, n_heads))


def blank(*args):  # a handout's function before the student writes it: its body is `...`
    ...


@pytest.mark.parametrize("fn", [with_course_attention, written_out])
def test_cross_attention_check_passes_correct_versions(capsys, fn):
    assert run_check_cell(capsys, "4.5", fn).strip() == "✅ Exercise 4.5: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_cross_attention_check_blank(capsys, fn, says):
    assert says in run_check_cell(capsys, "4.5", fn)


@pytest.mark.parametrize("fn, case", [(causal, 1), (keys_from_the_decoder, 1), (unscaled, 1), (one_head, 1),
                                      (no_output_projection, 1)])
def test_cross_attention_check_rejects_wrong_versions(capsys, fn, case):
    out = run_check_cell(capsys, "4.5", fn)
    assert f"not yet — on case {case} of 4, {fn.__name__}(" in out, out


def test_equal_lengths_case_still_catches_a_causal_mask(capsys):
    """With T_dec == T_enc a causal mask has the right shape everywhere; the values must still give it away."""
    def causal_only_when_square(x, memory, W_q, W_k, W_v, W_o, n_heads):
        square = x.size(1) == memory.size(1)
        return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, causal=square)
    out = run_check_cell(capsys, "4.5", causal_only_when_square)
    assert "not yet — on case 2 of 4" in out, out


def test_the_notebooks_solution_passes(capsys):
    cells = notebook_cells.notebook_cells("04_transformer_block")
    [solution] = [c for c in cells if "def cross_attention(" in c]
    namespace = dict(torch=torch, math=math)
    exec(solution, namespace)
    assert run_check_cell(capsys, "4.5", namespace["cross_attention"]).strip() == "✅ Exercise 4.5: correct!"
