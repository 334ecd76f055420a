"""Alignment: a reward model from preference pairs, DPO, and a compact PPO step.

Notebook 08 builds each of these step by step; this is the finished version.

* **Log-probability of a response.** ``sequence_logprob`` adds up log π(y_t | x, y_<t) over the response's
  tokens (the targets that are not IGNORE_INDEX), so one function scores responses for DPO and PPO.
* **Reward model** (Bradley–Terry). The probability that a person prefers y_w to y_l is modeled as
  σ(r(x, y_w) − r(x, y_l)); ``bradley_terry_loss`` is its negative log-likelihood.
* **DPO** (Rafailov et al. 2023, https://arxiv.org/abs/2305.18290). With a frozen reference π_ref, the
  policy's *implicit reward* is β log π(y|x)/π_ref(y|x); DPO puts it into the Bradley–Terry loss:
  −log σ(β[log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)]). No reward model, no sampling.
* **PPO** (Schulman et al. 2017, https://arxiv.org/abs/1707.06347; as used for RLHF by Ouyang et al. 2022).
  ``ppo_step``: sample responses, score them with a reward function, subtract a KL penalty
  β Σ_t log π_old/π_ref, turn rewards into advantages, then a few epochs of the clipped surrogate
  −min(ρ A, clip(ρ, 1−ε, 1+ε) A) with ρ = π_θ/π_old per token. To stay compact it has no value network: the
  advantage of a response is its reward minus the batch mean, divided by the batch standard deviation (one
  reward per response, as in RLOO/GRPO-style variants); full PPO learns a critic for per-token advantages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .finetune import IGNORE_INDEX, Example, collate, example_from_ids, generate_responses
from .validation import is_number

__all__ = ["token_logprobs", "sequence_logprob", "bradley_terry_loss", "reward_inputs", "dpo_loss",
           "token_kl", "kl_penalized_advantages", "ppo_loss", "PPOStats", "ppo_step", "preference_examples"]


def token_logprobs(model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(y_t | x_≤t) at every position (B, T), 0 where y is IGNORE_INDEX, and the mask of scored ones.
    Computed on the model's device (x and y are moved there)."""
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    logits, _ = model(x)
    mask = y != IGNORE_INDEX
    logp = logits.log_softmax(-1).gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return logp * mask, mask


def sequence_logprob(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log π(response | prompt) for each row (B,): the sum over the scored (response) positions."""
    logp, _ = token_logprobs(model, x, y)
    return logp.sum(-1)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """−log σ(r_chosen − r_rejected), averaged: the reward model's loss on preference pairs."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def reward_inputs(token_lists: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded token IDs (B, T) and their lengths, for a model that reads the last real token."""
    lengths = torch.tensor([len(t) for t in token_lists])
    x = torch.full((len(token_lists), int(lengths.max())), pad_id, dtype=torch.long)
    for i, t in enumerate(token_lists):
        x[i, :len(t)] = torch.as_tensor(list(t))
    return x, lengths


def preference_examples(stories, tokenizer) -> list[tuple[Example, Example]]:
    """(chosen, rejected) examples for every preference pair of the stories, in the Q&A template, loss on
    the response only."""
    from .finetune import build_example, format_qa_prompt, format_qa_response

    return [(build_example(tokenizer, format_qa_prompt(s.text, p.question), format_qa_response(p.chosen)),
             build_example(tokenizer, format_qa_prompt(s.text, p.question), format_qa_response(p.rejected)))
            for s in stories for p in s.preferences]


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO on sequence log-probabilities (B,) of chosen and rejected responses under the policy and the
    frozen reference. Returns (loss, chosen implicit reward, rejected implicit reward); the rewards are
    β log π/π_ref, detached."""
    chosen_reward = beta * (policy_chosen - ref_chosen)
    rejected_reward = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen_reward - rejected_reward).mean()
    return loss, chosen_reward.detach(), rejected_reward.detach()


@torch.no_grad()
def token_kl(policy, reference, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ over response positions of KL(π(·|context) ‖ π_ref(·|context)), over the whole vocabulary, per row
    (B,). Averaged over responses sampled from π it estimates the sequence-level KL(π ‖ π_ref), always ≥ 0."""
    logp = policy(x)[0].log_softmax(-1)
    logq = reference(x)[0].log_softmax(-1)
    kl = (logp.exp() * (logp - logq)).sum(-1)                   # (B, T)
    return (kl * (y != IGNORE_INDEX)).sum(-1)


def kl_penalized_advantages(scores: torch.Tensor, logp_old: torch.Tensor, logp_ref: torch.Tensor,
                            kl_coef: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Steps 3 and 4 of a PPO iteration, for (B,) scores and (B, T) log-probs of the sampled tokens (0 off the
    response): kl = Σ_t (log π_old − log π_ref) per response, reward = score − kl_coef · kl, and advantage =
    (reward − mean) / std over the batch. Returns (advantages, kl, rewards), each (B,)."""
    kl = (logp_old - logp_ref).sum(-1)
    rewards = scores - kl_coef * kl
    advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-8)
    return advantages, kl, rewards


def ppo_loss(logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
             clip: float = 0.2) -> tuple[torch.Tensor, float]:
    """The clipped surrogate, averaged over response tokens. logp_* and mask are (B, T), advantages (B,) (one
    per response, shared by its tokens). Returns (loss, fraction of tokens whose ratio was clipped)."""
    if not is_number(clip) or clip < 0:
        raise ValueError(f"clip must be a number >= 0 (PPO's epsilon: how far the ratio may move from 1; "
                         f"0.2 is usual), got {clip!r}")
    ratio = torch.exp(logp_new - logp_old)
    a = advantages.unsqueeze(-1)
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    loss = -(surrogate * mask).sum() / mask.sum()
    clipped = ((ratio - 1).abs() > clip) & mask
    return loss, clipped.sum().item() / mask.sum().item()


@dataclass
class PPOStats:
    score: float        # mean reward-function score of the sampled responses
    kl: float           # mean Σ_t log π_old/π_ref of the sampled responses (the penalized quantity)
    reward: float       # mean score − kl_coef · kl
    loss: float         # clipped surrogate at the last epoch
    clip_fraction: float
    responses: list     # the sampled responses (token IDs)


def ppo_step(policy, reference, optimizer, prompts: Sequence[Sequence[int]],
             reward_fn: Callable[[Sequence[Sequence[int]], Sequence[Sequence[int]]], torch.Tensor],
             stop_id: int, max_new_tokens: int = 6, kl_coef: float = 0.1, clip: float = 0.2, epochs: int = 4,
             temperature: float = 1.0, generator: torch.Generator | None = None, pad_id: int = 0,
             grad_clip: float = 1.0) -> PPOStats:
    """One PPO iteration on a batch of prompts (lists of token IDs):

    1. rollout: sample a response to every prompt from the current policy (π_old);
    2. score each with reward_fn(prompts, responses) -> (B,), and the log-probs under π_old and π_ref;
    3. reward = score − kl_coef · Σ_t (log π_old − log π_ref): the KL penalty keeps the policy near π_ref;
    4. advantage = (reward − mean) / std over the batch (the mean is the baseline; no critic);
    5. `epochs` gradient steps on the clipped surrogate, reusing the same samples.
    """
    responses = generate_responses(policy, prompts, max_new_tokens, stop_id, temperature=temperature,
                                   generator=generator)
    x, y = collate([example_from_ids(p, r) for p, r in zip(prompts, responses)], pad_id)
    with torch.no_grad():
        logp_old, mask = token_logprobs(policy, x, y)
        logp_ref, _ = token_logprobs(reference, x, y)
        scores = torch.as_tensor(reward_fn(prompts, responses), dtype=torch.float32).to(logp_old.device)
    advantages, kl, rewards = kl_penalized_advantages(scores, logp_old, logp_ref, kl_coef)
    policy.train()
    params = [p for p in policy.parameters() if p.requires_grad]
    for _ in range(epochs):
        logp_new, _ = token_logprobs(policy, x, y)
        loss, clip_fraction = ppo_loss(logp_new, logp_old, advantages, mask, clip)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
    policy.eval()
    return PPOStats(scores.mean().item(), kl.mean().item(), rewards.mean().item(), loss.item(), clip_fraction,
                    responses)
