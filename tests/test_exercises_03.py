"""Notebook 03's checks for Exercises 3.6 (one LSTM step) and 3.7 (the sliding-window mask) accept the reference
answer and reject typical wrong ones. The cases mirror the notebook's check cells."""

import pytest
import torch
import torch.nn as nn

from course_utils.attention import causal_mask
from course_utils.checks import check_function

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


# ----- 3.6: one LSTM step, against nn.LSTMCell ---------------------------------------------------------------

def lstm_cell_cases(sizes=((1, 1, 1), (3, 5, 4), (2, 8, 16))):
    torch.manual_seed(1)
    cases = []
    for B, d_in, H in sizes:
        cell = nn.LSTMCell(d_in, H)
        x, h, c = torch.randn(B, d_in), torch.randn(B, H), torch.randn(B, H)
        with torch.no_grad():
            expected = cell(x, (h, c))
        weights = [p.detach() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
        cases.append(((x, h, c, *weights), expected))
    return cases


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
    assert check_function("3.6", lstm_step, lstm_cell_cases(), atol=1e-5, hint="h")
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [gates_in_wrong_order, no_tanh_on_the_output, forgets_the_old_memory,
                                   ignores_the_previous_h])
def test_lstm_step_check_rejects_wrong_steps(wrong, capsys):
    assert not check_function("3.6", wrong, lstm_cell_cases(), atol=1e-5, hint="h")
    assert "not yet" in capsys.readouterr().out


# ----- 3.7: the sliding-window mask --------------------------------------------------------------------------

WINDOW_CASES = [((T, w), causal_mask(T, window=w)) for T, w in ((1, 1), (5, 1), (6, 3), (4, 4), (4, 9))]


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
    assert check_function("3.7", sliding_window_mask, WINDOW_CASES, hint="h")
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [window_one_too_wide, not_causal, just_the_causal_mask])
def test_sliding_window_check_rejects_wrong_masks(wrong, capsys):
    assert not check_function("3.7", wrong, WINDOW_CASES, hint="h")
    assert "not yet" in capsys.readouterr().out
