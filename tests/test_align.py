"""Alignment helpers: response log-probabilities, the Bradley–Terry and DPO losses, the KL, and PPO."""

import math

import pytest
import torch

from course_utils import storyworld
from course_utils.align import (bradley_terry_loss, dpo_loss, kl_penalized_advantages, ppo_loss, ppo_step,
                                preference_examples, reward_inputs, sequence_logprob, token_kl, token_logprobs)
from course_utils.finetune import (IGNORE_INDEX, collate, extend_tokenizer, format_qa_prompt,
                                   template_pieces)
from course_utils.model import GPT, GPTConfig
from course_utils.tokenizers import WordTokenizer

STORIES = storyworld.StoryWorld(seed=0).generate(4)
OLD = WordTokenizer.train("".join("\n" + s.text for s in STORIES) + "\n")
TOK = extend_tokenizer(OLD, template_pieces(STORIES) + [f" {p.rejected}" for s in STORIES for p in s.preferences])
PAD = TOK.stoi["\n"]


def _model(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=160, n_layer=2, n_head=2, n_embd=16)).eval()


def test_sequence_logprob_adds_up_the_response_tokens():
    model = _model()
    chosen, _ = preference_examples(STORIES[:1], TOK)[1]
    x, y = collate([chosen], PAD)
    logp = model(x)[0].log_softmax(-1)[0]
    scored = (y[0] != IGNORE_INDEX).nonzero().flatten()
    by_hand = sum(logp[t, y[0, t]].item() for t in scored)
    assert abs(sequence_logprob(model, x, y).item() - by_hand) < 1e-5
    per_token, mask = token_logprobs(model, x, y)
    assert mask.sum() == len(scored) and (per_token[~mask] == 0).all()


def test_preference_pairs_share_the_prompt_and_differ_in_the_response():
    pairs = preference_examples(STORIES, TOK)
    assert len(pairs) == sum(len(s.preferences) for s in STORIES)
    for chosen, rejected in pairs:
        n_prompt = int((chosen.targets == IGNORE_INDEX).sum())
        assert torch.equal(chosen.input_ids[:n_prompt], rejected.input_ids[:n_prompt])
        assert chosen.targets[chosen.targets != IGNORE_INDEX].tolist() != \
            rejected.targets[rejected.targets != IGNORE_INDEX].tolist()


def test_bradley_terry_loss():
    r = torch.tensor([0.3, -1.0])
    assert bradley_terry_loss(r, r).item() == pytest.approx(math.log(2))
    rc, rr = torch.tensor([2.0, 0.5], requires_grad=True), torch.tensor([0.0, 1.5])
    loss = bradley_terry_loss(rc, rr)
    assert loss.item() == pytest.approx(-(math.log(1 / (1 + math.exp(-2))) + math.log(1 / (1 + math.exp(1)))) / 2)
    loss.backward()
    assert (rc.grad < 0).all()  # raising the chosen reward lowers the loss


def test_dpo_loss_is_bradley_terry_on_the_implicit_reward():
    pc, pr = torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -1.0])
    rc, rr = torch.tensor([-1.5, -2.0]), torch.tensor([-1.5, -2.0])
    loss, chosen_reward, rejected_reward = dpo_loss(pc, pr, rc, rr, beta=0.5)
    assert torch.allclose(chosen_reward, 0.5 * (pc - rc)) and torch.allclose(rejected_reward, 0.5 * (pr - rr))
    assert loss.item() == pytest.approx(bradley_terry_loss(chosen_reward, rejected_reward).item())
    same, zero_c, zero_r = dpo_loss(rc, rr, rc, rr)
    assert same.item() == pytest.approx(math.log(2)) and (zero_c == 0).all() and (zero_r == 0).all()


def test_token_kl_is_zero_for_the_same_model_and_positive_otherwise():
    x, y = collate([p[0] for p in preference_examples(STORIES[:2], TOK)], PAD)
    model = _model()
    assert token_kl(model, model, x, y).abs().max() < 1e-6
    kl = token_kl(model, _model(seed=1), x, y)
    assert (kl > 0).all()


def test_ppo_loss_clips_the_ratio():
    mask = torch.ones(2, 3, dtype=torch.bool)
    old = torch.zeros(2, 3)
    adv = torch.tensor([1.0, -1.0])
    loss, clipped = ppo_loss(old.clone(), old, adv, mask)
    assert loss.item() == pytest.approx(0.0) and clipped == 0  # ratio 1: -mean(A)
    new = torch.full((2, 3), math.log(1.5), requires_grad=True)  # ratio 1.5, beyond 1 + 0.2
    loss, clipped = ppo_loss(new, old, adv, mask, clip=0.2)
    # positive advantage: clipped at 1.2 (no gradient); negative: min picks the unclipped -1.5
    assert loss.item() == pytest.approx(-(1.2 - 1.5) / 2)
    assert clipped == 1.0
    loss.backward()
    assert (new.grad[0] == 0).all() and (new.grad[1] != 0).all()
    with pytest.raises(ValueError, match="clip must be a number >= 0"):
        ppo_loss(old.clone(), old, adv, mask, clip=-0.2)


def test_kl_penalized_advantages():
    scores = torch.tensor([1.0, 0.0, 0.5])
    old = torch.tensor([[-1.0, -2.0], [-1.0, 0.0], [-0.5, -0.5]])
    ref = torch.tensor([[-1.5, -2.0], [-0.5, 0.0], [-0.5, -0.5]])
    advantages, kl, rewards = kl_penalized_advantages(scores, old, ref, kl_coef=0.5)
    assert kl.tolist() == [0.5, -0.5, 0.0]                    # Σ_t log π_old − log π_ref per response
    assert rewards.tolist() == [0.75, 0.25, 0.5]              # drifting from the reference costs reward
    assert advantages.mean().abs() < 1e-6 and advantages.std().item() == pytest.approx(1.0, abs=1e-6)
    same, _, _ = kl_penalized_advantages(scores, old, old, kl_coef=0.5)   # no drift: the scores alone, scaled
    assert torch.allclose(same, (scores - scores.mean()) / scores.std(), atol=1e-6)


def test_reward_inputs_pad_and_measure():
    x, lengths = reward_inputs([[1, 2, 3], [4]], pad_id=0)
    assert x.tolist() == [[1, 2, 3], [4, 0, 0]] and lengths.tolist() == [3, 1]


def test_ppo_step_moves_the_policy_towards_reward_and_reports_kl():
    policy, reference = _model(), _model()
    target = TOK.stoi[" yes"]
    prompts = [TOK.encode(format_qa_prompt(s.text, s.qa[0].question)) for s in STORIES]

    def reward_fn(prompts, responses):  # reward: say " yes" first
        return torch.tensor([1.0 if r[0] == target else 0.0 for r in responses])

    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-2)
    g = torch.Generator().manual_seed(0)
    first = ppo_step(policy, reference, optimizer, prompts * 4, reward_fn, stop_id=PAD, max_new_tokens=3,
                     kl_coef=0.0, generator=g)
    assert first.kl == pytest.approx(0.0, abs=1e-5)  # π_old = π_ref before any update
    assert len(first.responses) == 16
    x = torch.tensor([prompts[0]])
    p_before = reference(x)[0][0, -1].softmax(-1)[target].item()
    for _ in range(15):
        stats = ppo_step(policy, reference, optimizer, prompts * 4, reward_fn, stop_id=PAD, max_new_tokens=3,
                         kl_coef=0.0, generator=g)
    p_after = policy(x)[0][0, -1].softmax(-1)[target].item()
    assert p_after > p_before
    assert stats.kl > 0
    for p_ref, p_pol in zip(reference.parameters(), _model().parameters()):
        assert torch.equal(p_ref, p_pol)  # the reference never moves
