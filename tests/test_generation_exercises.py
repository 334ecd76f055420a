"""Notebook 06's checks for exercises 6.4 (per-channel int8) and 6.5 (recall@k) accept the reference answer and
reject the usual mistakes. The check cells are run as they stand in the notebook, with a function swapped in."""

import pytest
import torch

import notebook_cells
from course_utils import checks


def passes(exercise: str, name: str, fn) -> bool:
    checks._RESULTS.pop(exercise, None)
    namespace = {"torch": torch, "check_function": checks.check_function, name: fn}
    exec(notebook_cells.check_cell("06_generation", exercise), namespace)
    return checks._RESULTS[exercise]


# -- 6.4: fake_quantize_int8(w, clip) --------------------------------------------------------------------

def per_channel(w, clip=1.0):
    scale = clip * w.abs().amax(dim=1) / 127
    return (w / scale[:, None]).round().clamp(-127, 127) * scale[:, None]


def per_tensor(w, clip=1.0):
    scale = clip * w.abs().max() / 127
    return (w / scale).round().clamp(-127, 127) * scale


def no_clamp(w, clip=1.0):
    scale = clip * w.abs().amax(dim=1) / 127
    return (w / scale[:, None]).round() * scale[:, None]


def truncated(w, clip=1.0):
    scale = clip * w.abs().amax(dim=1) / 127
    return (w / scale[:, None]).clamp(-127, 127).to(torch.int8).float() * scale[:, None]


def clip_ignored(w, clip=1.0):
    return per_channel(w, 1.0)


def test_6_4_accepts_the_reference(capsys):
    assert passes("6.4", "fake_quantize_int8", per_channel)
    assert "✅ Exercise 6.4" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [per_tensor, no_clamp, truncated, clip_ignored])
def test_6_4_rejects_typical_mistakes(capsys, wrong):
    assert not passes("6.4", "fake_quantize_int8", wrong)
    assert "❌ Exercise 6.4" in capsys.readouterr().out


# -- 6.5: recall_at_k(similarity, right, k) --------------------------------------------------------------

def recall_at_k(similarity, right, k):
    return (similarity.topk(k, dim=1).indices == right[:, None]).any(dim=1).float().mean().item()


def smallest_first(similarity, right, k):
    return (similarity.topk(k, dim=1, largest=False).indices == right[:, None]).any(dim=1).float().mean().item()


def only_the_kth(similarity, right, k):
    return (similarity.topk(k, dim=1).indices[:, -1] == right).float().mean().item()


def over_the_wrong_axis(similarity, right, k):
    return recall_at_k(similarity.T, right, k)


def a_tensor(similarity, right, k):
    return (similarity.topk(k, dim=1).indices == right[:, None]).any(dim=1).float().mean()


def test_6_5_accepts_the_reference(capsys):
    assert passes("6.5", "recall_at_k", recall_at_k)
    assert "✅ Exercise 6.5" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [smallest_first, only_the_kth, over_the_wrong_axis, a_tensor])
def test_6_5_rejects_typical_mistakes(capsys, wrong):
    assert not passes("6.5", "recall_at_k", wrong)
    assert "❌ Exercise 6.5" in capsys.readouterr().out
