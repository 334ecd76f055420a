"""Notebook 03's checks for Exercises 3.7 (one LSTM step) and 3.8 (the sliding-window mask) accept the reference
answer and reject typical wrong ones. The check cells run as they stand in the notebook, with a function swapped
in, so the cases tested are the notebook's own."""

import pytest
import torch
import torch.nn as nn

import notebook_cells
from course_utils import attention as course_attention
from course_utils.checks import check_function

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


# ----- 3.7: one LSTM step, against nn.LSTMCell ---------------------------------------------------------------

def run_lstm_check(capsys, fn) -> str:
    namespace = dict(torch=torch, nn=nn, check_function=check_function, lstm_step=fn)
    return notebook_cells.run_check_cell("03_attention", capsys, "3.7", namespace)


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gates_in_wrong_order(x, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, o, g = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)   # i, f, o, g instead of i, f, g, o
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def no_tanh_on_the_output(x, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c, c


def forgets_the_old_memory(x, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
    c = i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def ignores_the_previous_h(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return lstm_step(x, torch.zeros_like(h), c, W_ih, W_hh, b_ih, b_hh)


def test_lstm_step_check_accepts_the_reference(capsys):
    assert "correct" in run_lstm_check(capsys, lstm_step)


@pytest.mark.parametrize("wrong", [gates_in_wrong_order, no_tanh_on_the_output, forgets_the_old_memory,
                                   ignores_the_previous_h])
def test_lstm_step_check_rejects_wrong_steps(wrong, capsys):
    assert "not yet" in run_lstm_check(capsys, wrong)


# ----- 3.8: the sliding-window mask --------------------------------------------------------------------------

def run_window_check(capsys, fn) -> str:
    namespace = dict(torch=torch, check_function=check_function, course_attention=course_attention,
                     sliding_window_mask=fn)
    return notebook_cells.run_check_cell("03_attention", capsys, "3.8", namespace)


def sliding_window_mask(T, w):
    behind = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    return (behind >= 0) & (behind < w)


def window_one_too_wide(T, w):
    behind = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    return (behind >= 0) & (behind <= w)


def not_causal(T, w):
    behind = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    return behind.abs() < w


def just_the_causal_mask(T, w):
    return torch.ones(T, T, dtype=torch.bool).tril()


def test_sliding_window_check_accepts_the_reference(capsys):
    assert "correct" in run_window_check(capsys, sliding_window_mask)


@pytest.mark.parametrize("wrong", [window_one_too_wide, not_causal, just_the_causal_mask])
def test_sliding_window_check_rejects_wrong_masks(wrong, capsys):
    assert "not yet" in run_window_check(capsys, wrong)
