"""LoRA: the wrapper starts equal to its base layer, trains only A and B, and merges into identical outputs."""

import pytest
import torch
import torch.nn as nn

from course_utils.lora import (GPT_LORA_TARGETS, LoRALinear, apply_lora, lora_parameters, merge_lora,
                               trainable_fraction, trainable_parameters)
from course_utils.model import GPT, GPTConfig

TINY = GPTConfig(vocab_size=23, block_size=16, n_layer=2, n_head=2, n_embd=16)


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(TINY).eval()


def _randomize_b(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.copy_(0.1 * torch.randn(m.lora_B.shape, generator=g))


def test_lora_linear_starts_equal_to_its_base_and_adds_a_low_rank_update():
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    lora = LoRALinear(base, rank=2, alpha=4, seed=0)
    x = torch.randn(5, 3, 8)
    assert torch.equal(lora(x), base(x))  # B = 0
    with torch.no_grad():
        lora.lora_B.normal_()
    expected = base(x) + 2.0 * x @ lora.lora_A.t() @ lora.lora_B.t()
    assert torch.allclose(lora(x), expected, atol=1e-6)
    assert torch.linalg.matrix_rank(lora.delta_weight()) <= 2
    assert lora.scaling == 2.0 and lora.lora_A.shape == (2, 8) and lora.lora_B.shape == (6, 2)


def test_lora_linear_merge_gives_the_same_outputs():
    torch.manual_seed(0)
    lora = LoRALinear(nn.Linear(8, 6), rank=3, seed=0)
    with torch.no_grad():
        lora.lora_B.normal_()
    x = torch.randn(4, 8)
    merged = lora.merge()
    assert isinstance(merged, nn.Linear)
    assert (merged(x) - lora(x)).abs().max() < 1e-5
    no_bias = LoRALinear(nn.Linear(8, 6, bias=False), rank=1, seed=0)
    assert no_bias.merge().bias is None


def test_only_a_and_b_receive_gradients():
    lora = LoRALinear(nn.Linear(8, 6), rank=2, seed=0)
    lora(torch.randn(4, 8)).sum().backward()
    assert lora.base.weight.grad is None and lora.base.bias.grad is None
    assert lora.lora_B.grad is not None and lora.lora_A.grad is not None


def test_apply_lora_wraps_every_target_and_freezes_the_rest():
    model = _tiny_gpt()
    total_before = model.num_parameters()
    names = apply_lora(model, rank=2)
    assert len(names) == 4 * TINY.n_layer
    assert all(name.endswith(GPT_LORA_TARGETS) for name in names)
    # c_attn 16->48, attn c_proj 16->16, c_fc 16->64, mlp c_proj 64->16; each adds r * (in + out)
    per_block = 2 * ((16 + 48) + (16 + 16) + (16 + 64) + (64 + 16))
    trainable, total = trainable_parameters(model)
    assert trainable == 2 * per_block == sum(p.numel() for p in lora_parameters(model))
    assert total == total_before + trainable
    assert trainable_fraction(model) == pytest.approx(trainable / total)
    assert not model.lm_head.weight.requires_grad  # the tied embedding is not a target and is frozen


def test_apply_lora_leaves_the_model_unchanged_until_trained():
    model = _tiny_gpt()
    idx = torch.randint(23, (2, 10), generator=torch.Generator().manual_seed(0))
    before = model(idx)[0]
    apply_lora(model, rank=4)
    assert torch.equal(model(idx)[0], before)


def test_merged_gpt_equals_the_lora_gpt():
    model = _tiny_gpt()
    apply_lora(model, rank=4, alpha=8)
    _randomize_b(model)
    idx = torch.randint(23, (3, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        with_lora = model(idx)[0]
        merge_lora(model)
        merged = model(idx)[0]
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert model.num_parameters() == _tiny_gpt().num_parameters()
    assert (with_lora - merged).abs().max() < 1e-5
    assert (merged - _tiny_gpt()(idx)[0]).abs().max() > 1e-3  # the update really is in the weights


def test_training_lora_changes_only_the_adapters():
    model = _tiny_gpt()
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    apply_lora(model, rank=2)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    idx = torch.randint(23, (4, 12), generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(20):
        _, loss = model(idx, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    state = model.state_dict()
    for key, value in frozen.items():
        wrapped = key.replace(".weight", ".base.weight").replace(".bias", ".base.bias")
        assert torch.equal(state.get(key, state.get(wrapped)), value), key


def test_lora_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), rank=0)
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Conv1d(4, 4, 1))
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply_lora(_tiny_gpt(), targets=("does_not_exist",))
