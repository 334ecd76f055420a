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


# -- 6.2: top_k_logits(logits, k) and top_p_logits(logits, p) ------------------------------------------------

from course_utils import generate as gen  # noqa: E402


def run_filters(capsys, top_k, top_p) -> tuple[str, dict]:
    checks._RESULTS.pop("6.2", None)
    namespace = {"torch": torch, "gen": gen, "check_function": checks.check_function,
                 "top_k_logits": top_k, "top_p_logits": top_p}
    exec(notebook_cells.check_cell("06_generation", "6.2"), namespace)
    return capsys.readouterr().out, namespace


def notebook_filters():
    [cell] = [c for c in notebook_cells.notebook_cells("06_generation") if "def top_k_logits(" in c]
    namespace = {"torch": torch}
    exec(cell, namespace)
    return namespace["top_k_logits"], namespace["top_p_logits"]


def exactly_k(logits, k):                   # ties broken: keeps exactly k
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, float("-inf"))


def one_too_many(logits, k):
    kth = torch.topk(logits, min(k + 1, logits.size(-1)), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def drops_the_crossing_token(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    drop = sorted_logits.softmax(-1).cumsum(-1) >= p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def mask_not_scattered_back(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    probs = sorted_logits.softmax(-1)
    return logits.masked_fill(probs.cumsum(-1) - probs >= p, float("-inf"))


def sorted_ascending(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, stable=True)
    probs = sorted_logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def test_6_2_accepts_the_notebooks_solution(capsys):
    top_k, top_p = notebook_filters()
    out, namespace = run_filters(capsys, top_k, top_p)
    assert out.strip() == "✅ Exercise 6.2: correct!"
    assert namespace["top_k_logits"] is top_k and namespace["top_p_logits"] is top_p


@pytest.mark.parametrize("top_k, says", [(..., "raised TypeError"), (notebook_cells.blank, "returned None")])
def test_6_2_blank_falls_back_to_the_course_filters(capsys, top_k, says):
    out, namespace = run_filters(capsys, top_k, notebook_cells.blank)
    assert "Exercise 6.2: not yet" in out and says in out and "Using the course's filters" in out, out
    assert namespace["top_k_logits"] is gen.top_k_filter and namespace["top_p_logits"] is gen.top_p_filter


@pytest.mark.parametrize("wrong_k, wrong_p, case", [
    (exactly_k, None, "top-k, ties at the k-th: kept"),
    (one_too_many, None, "top-k, k = 3, one row"),
    (None, drops_the_crossing_token, "top-p, p = 0.5, one row"),
    (None, mask_not_scattered_back, "top-p, p = 0.5, one row"),
    (None, sorted_ascending, "top-p, p = 0.5, one row"),
])
def test_6_2_rejects_typical_mistakes(capsys, wrong_k, wrong_p, case):
    top_k, top_p = notebook_filters()
    out, namespace = run_filters(capsys, wrong_k or top_k, wrong_p or top_p)
    assert "Exercise 6.2: not yet" in out and repr(case) in out, out
    assert namespace["top_k_logits"] is gen.top_k_filter
