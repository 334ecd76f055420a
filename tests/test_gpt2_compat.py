"""The course GPT is architecturally GPT-2: Hugging Face GPT-2 weights load into it and give the same logits."""

import pytest
import torch

from course_utils.model import (GPT, GPTConfig, LayerNorm, convert_gpt2_state_dict, from_pretrained_gpt2,
                                gpt2_config, load_gpt2_weights)

transformers = pytest.importorskip("transformers", reason="transformers is an optional test dependency")


def small_hf_gpt2(seed=0):
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=97, n_positions=32, n_embd=48, n_layer=3, n_head=4,
                                     activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0,
                                     attn_pdrop=0.0, layer_norm_epsilon=1e-5)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random, non-trivial LayerNorm and bias values so nothing matches by accident
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.normal_(0.5 if name.endswith("ln_1.weight") or "ln_2.weight" in name else 0.0, 0.2)
    return model


@pytest.mark.parametrize("seq_len", [1, 7, 32])
def test_same_logits_as_transformers_gpt2(seq_len):
    hf = small_hf_gpt2()
    ours = load_gpt2_weights(GPT(gpt2_config(vocab_size=97, block_size=32, n_embd=48, n_layer=3, n_head=4)),
                             hf.state_dict()).eval()
    idx = torch.randint(97, (2, seq_len), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(idx).logits
        got, _ = ours(idx)
    assert (got - expected).abs().max().item() < 1e-5


def test_same_parameter_count_as_transformers_gpt2_small():
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    assert GPT(gpt2_config()).num_parameters() == hf.num_parameters() == 124_439_808


def test_converter_transposes_conv1d_and_ties_the_head():
    hf = small_hf_gpt2()
    converted = convert_gpt2_state_dict(hf.transformer.state_dict())  # GPT2Model names, no lm_head
    assert converted["transformer.h.0.attn.c_attn.weight"].shape == (3 * 48, 48)
    assert torch.equal(converted["lm_head.weight"], converted["transformer.wte.weight"])


def test_mismatched_config_gets_a_clear_error():
    hf = small_hf_gpt2()
    with pytest.raises(ValueError, match="matching config"):
        load_gpt2_weights(GPT(gpt2_config(vocab_size=98, block_size=32, n_embd=48, n_layer=3, n_head=4)),
                          hf.state_dict())
    with pytest.raises(ValueError, match="missing"):
        load_gpt2_weights(GPT(gpt2_config(vocab_size=97, block_size=32, n_embd=48, n_layer=4, n_head=4)),
                          hf.state_dict())


def test_layernorm_from_scratch_equals_torch():
    torch.manual_seed(0)
    x = torch.randn(4, 5, 16) * 3 + 1
    ours, ref = LayerNorm(16), torch.nn.LayerNorm(16)
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
        ref.weight.copy_(ours.weight), ref.bias.copy_(ours.bias)
    assert (ours(x) - ref(x)).abs().max() < 1e-5
    assert (LayerNorm(16, bias=False)(x) - torch.nn.LayerNorm(16, bias=False)(x)).abs().max() < 1e-5


def test_post_norm_variant_runs_and_has_no_final_norm():
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, prenorm=False))
    logits, _ = model(torch.zeros(1, 8, dtype=torch.long))
    assert logits.shape == (1, 8, 11) and isinstance(model.transformer.ln_f, torch.nn.Identity)


def test_real_gpt2_offline_is_one_line_and_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLM_MECHANICS_OFFLINE", "1")
    assert from_pretrained_gpt2(cache_dir=tmp_path) is None
    captured = capsys.readouterr()
    lines = [l for l in (captured.out + captured.err).splitlines() if l.strip()]
    assert len(lines) == 1 and "offline" in lines[0].lower()
