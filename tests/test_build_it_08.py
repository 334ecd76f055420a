"""Notebook 08's build-it exercises: each check cell, run on the course's version (passes), on the notebook's
solution (passes), on a blank (not attempted yet) and on typical wrong versions (fails, naming the case)."""

import math

import pytest
import torch
import torch.nn.functional as F

import notebook_cells
from course_utils import align
from course_utils.align import kl_penalized_advantages
from course_utils.checks import check_function

CELLS = notebook_cells.notebook_cells("08_alignment")

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def namespace(**names) -> dict:
    return dict(torch=torch, F=F, math=math, align=align, kl_penalized_advantages=kl_penalized_advantages,
                check_function=check_function, **names)


def run_check_cell(capsys, exercise: str, names: dict) -> str:
    """Run the notebook's check cell for `exercise` in `names`; return what it printed."""
    [cell] = [c for c in CELLS if f'check_function("{exercise}"' in c]
    exec(cell, names)
    return capsys.readouterr().out


def solution(name: str):
    """The notebook's own solution of the function `name`."""
    [cell] = [c for c in CELLS if f"def {name}(" in c and "BEGIN SOLUTION" in c]
    names = namespace()
    exec(cell, names)
    return names[name]


def blank(*args):  # what a handout's function is before the student writes it: its body is `...`
    ...


# -- 8.1: the Bradley–Terry loss -----------------------------------------------------------------------------


def reversed_pair(r_chosen, r_rejected):
    return -F.logsigmoid(r_rejected - r_chosen).mean()


def naive_log_sigmoid(r_chosen, r_rejected):     # log(0) = -inf once the margin passes about 100
    return -torch.log(torch.sigmoid(r_chosen - r_rejected)).mean()


def summed(r_chosen, r_rejected):
    return -F.logsigmoid(r_chosen - r_rejected).sum()


def as_a_number(r_chosen, r_rejected):           # .item(): no gradient left to train the reward model with
    return -F.logsigmoid(r_chosen - r_rejected).mean().item()


@pytest.mark.parametrize("fn", [align.bradley_terry_loss, solution("bradley_terry_loss")])
def test_bt_check_passes_the_course_version_and_the_solution(capsys, fn):
    names = namespace(bradley_terry_loss=fn)
    assert run_check_cell(capsys, "8.1", names).strip() == "✅ Exercise 8.1: correct!"
    assert names["bradley_terry_loss"] is fn


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_bt_check_blank_falls_back(capsys, fn, says):
    names = namespace(bradley_terry_loss=fn)
    out = run_check_cell(capsys, "8.1", names)
    assert says in out and "Using the course's version" in out
    assert names["bradley_terry_loss"] is align.bradley_terry_loss


@pytest.mark.parametrize("fn, case, says", [(reversed_pair, 1, "expected 0.0485874, got 3.04859"),
                                            (naive_log_sigmoid, 4, "expected 66.6667, got inf"),
                                            (summed, 2, "expected 0.693147, got 3.46574"),
                                            (as_a_number, 1, "expected a torch.Tensor, got float")])
def test_bt_check_rejects_wrong_versions(capsys, fn, case, says):
    names = namespace(bradley_terry_loss=fn)
    out = run_check_cell(capsys, "8.1", names)
    assert f"not yet — on case {case} of 4, {fn.__name__}(" in out and says in out, out
    assert names["bradley_terry_loss"] is align.bradley_terry_loss


# -- 8.3: the DPO loss -----------------------------------------------------------------------------------------


def no_reference(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    chosen, rejected = beta * policy_chosen, beta * policy_rejected
    return -F.logsigmoid(chosen - rejected).mean(), chosen.detach(), rejected.detach()


def reference_minus_policy(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    chosen, rejected = beta * (ref_chosen - policy_chosen), beta * (ref_rejected - policy_rejected)
    return -F.logsigmoid(chosen - rejected).mean(), chosen.detach(), rejected.detach()


def rejected_minus_chosen(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    chosen, rejected = beta * (policy_chosen - ref_chosen), beta * (policy_rejected - ref_rejected)
    return -F.logsigmoid(rejected - chosen).mean(), chosen.detach(), rejected.detach()


def naive_dpo(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    chosen, rejected = beta * (policy_chosen - ref_chosen), beta * (policy_rejected - ref_rejected)
    return -torch.log(torch.sigmoid(chosen - rejected)).mean(), chosen.detach(), rejected.detach()


def loss_only(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    return align.dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)[0]


@pytest.mark.parametrize("fn", [align.dpo_loss, solution("dpo_loss")])
def test_dpo_check_passes_the_course_version_and_the_solution(capsys, fn):
    names = namespace(dpo_loss=fn)
    assert run_check_cell(capsys, "8.3", names).strip() == "✅ Exercise 8.3: correct!"
    assert names["dpo_loss"] is fn


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_dpo_check_blank_falls_back(capsys, fn, says):
    names = namespace(dpo_loss=fn)
    out = run_check_cell(capsys, "8.3", names)
    assert says in out and "Using the course's version" in out
    assert names["dpo_loss"] is align.dpo_loss


@pytest.mark.parametrize("fn, case, says", [(no_reference, 1, "at [0]"), (reference_minus_policy, 1, "at [0]"),
                                            (rejected_minus_chosen, 1, "at [0]"), (naive_dpo, 4, "at [0]"),
                                            (loss_only, 1, "expected a tuple")])
def test_dpo_check_rejects_wrong_versions(capsys, fn, case, says):
    names = namespace(dpo_loss=fn)
    out = run_check_cell(capsys, "8.3", names)
    assert f"not yet — on case {case} of 4, {fn.__name__}(" in out and says in out, out
    assert names["dpo_loss"] is align.dpo_loss


# -- 8.5: the PPO loss with its KL penalty ----------------------------------------------------------------------


def advantages_of(scores, logp_old, logp_ref, kl_coef, sign=1.0):
    rewards = scores - kl_coef * sign * (logp_old - logp_ref).sum(-1)
    return (rewards - rewards.mean()) / (rewards.std() + 1e-8)


def clip_without_min(logp_new, logp_old, logp_ref, scores, mask, clip=0.2, kl_coef=0.1):
    ratio = torch.exp(logp_new - logp_old)
    surrogate = ratio.clamp(1 - clip, 1 + clip) * advantages_of(scores, logp_old, logp_ref, kl_coef)[:, None]
    return -(surrogate * mask).sum() / mask.sum()


def kl_sign_flipped(logp_new, logp_old, logp_ref, scores, mask, clip=0.2, kl_coef=0.1):
    a = advantages_of(scores, logp_old, logp_ref, kl_coef, sign=-1.0)[:, None]
    ratio = torch.exp(logp_new - logp_old)
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    return -(surrogate * mask).sum() / mask.sum()


def mean_over_all_positions(logp_new, logp_old, logp_ref, scores, mask, clip=0.2, kl_coef=0.1):
    a = advantages_of(scores, logp_old, logp_ref, kl_coef)[:, None]
    ratio = torch.exp(logp_new - logp_old)
    return -torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a).mean()


def no_minus_sign(logp_new, logp_old, logp_ref, scores, mask, clip=0.2, kl_coef=0.1):
    a = advantages_of(scores, logp_old, logp_ref, kl_coef)[:, None]
    ratio = torch.exp(logp_new - logp_old)
    return (torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a) * mask).sum() / mask.sum()


def reference_ppo_loss():
    """The check cell's reference: course_utils.align's advantages, then its clipped surrogate."""
    [cell] = [c for c in CELLS if 'check_function("8.5"' in c]
    names = namespace()
    exec(cell.split("case_generator = ")[0], names)   # only the definitions before the cases
    return names["reference_ppo_loss"]


@pytest.mark.parametrize("fn", [reference_ppo_loss(), solution("ppo_loss")])
def test_ppo_check_passes_the_course_version_and_the_solution(capsys, fn):
    names = namespace(ppo_loss=fn)
    assert run_check_cell(capsys, "8.5", names).strip() == "✅ Exercise 8.5: correct!"
    assert names["ppo_loss"] is fn


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_ppo_check_blank_falls_back(capsys, fn, says):
    names = namespace(ppo_loss=fn)
    out = run_check_cell(capsys, "8.5", names)
    assert says in out and "Using the course's version" in out
    assert names["ppo_loss"] is names["reference_ppo_loss"]


@pytest.mark.parametrize("fn, case", [(clip_without_min, 2), (kl_sign_flipped, 4), (mean_over_all_positions, 4),
                                      (no_minus_sign, 2)])
def test_ppo_check_rejects_wrong_versions(capsys, fn, case):
    names = namespace(ppo_loss=fn)
    out = run_check_cell(capsys, "8.5", names)
    assert f"not yet — on case {case} of 5, {fn.__name__}(" in out, out
    assert names["ppo_loss"] is names["reference_ppo_loss"]


def test_kl_sign_is_caught_even_when_the_scores_tie(capsys):
    def kl_sign_only_when_scores_differ(logp_new, logp_old, logp_ref, scores, mask, clip=0.2, kl_coef=0.1):
        flipped = bool((scores == scores[0]).all())
        return kl_sign_flipped(logp_new, logp_old, logp_ref, scores, mask, clip, kl_coef) if flipped else \
            solution("ppo_loss")(logp_new, logp_old, logp_ref, scores, mask, clip, kl_coef)
    out = run_check_cell(capsys, "8.5", namespace(ppo_loss=kl_sign_only_when_scores_differ))
    assert "not yet — on case 5 of 5" in out, out


def test_reference_ppo_loss_is_ppo_steps_loss():
    g = torch.Generator().manual_seed(0)
    mask = torch.arange(5)[None, :] < torch.tensor([[5], [3], [4]])
    old, ref = -torch.rand(3, 5, generator=g) * mask, -torch.rand(3, 5, generator=g) * mask
    new = (old + 0.4 * torch.randn(3, 5, generator=g)) * mask
    scores = torch.tensor([0.3, -0.2, 1.0])
    ours = solution("ppo_loss")(new, old, ref, scores, mask, 0.2, 0.1)
    advantages, kl, rewards = kl_penalized_advantages(scores, old, ref, 0.1)
    assert torch.allclose(kl, (old - ref).sum(-1)) and torch.allclose(rewards, scores - 0.1 * kl)
    assert torch.allclose(ours, align.ppo_loss(new, old, advantages, mask, 0.2)[0])
