"""course_utils.positional: sinusoidal, learned and rotary position encodings, and why a transformer needs one."""

import math

import pytest
import torch
import torch.nn as nn

from course_utils import positional


def test_sinusoidal_matches_the_formula():
    pe = positional.sinusoidal_encoding(50, 16, dtype=torch.float64)
    assert pe.shape == (50, 16)
    for p in (0, 1, 7, 49):
        for i in range(8):
            omega = 10000 ** (-2 * i / 16)
            assert math.isclose(pe[p, 2 * i].item(), math.sin(p * omega), abs_tol=1e-12)
            assert math.isclose(pe[p, 2 * i + 1].item(), math.cos(p * omega), abs_tol=1e-12)
    assert positional.sinusoidal_encoding(3, 4).dtype == torch.float32
    for bad in (7, 0, -2, 2.0):
        with pytest.raises(ValueError):
            positional.sinusoidal_encoding(10, bad)


def test_sinusoidal_dot_product_depends_on_distance_only():
    pe = positional.sinusoidal_encoding(300, 64, dtype=torch.float64)
    for k in (0, 1, 5, 40):
        dots = torch.stack([pe[p] @ pe[p + k] for p in range(0, 250, 17)])
        assert (dots - dots[0]).abs().max() < 1e-9
        assert math.isclose(dots[0].item(), sum(math.cos(k * 10000 ** (-2 * i / 64)) for i in range(32)),
                            abs_tol=1e-9)
    assert (pe @ pe[0]).argmax() == 0  # largest at distance 0


def test_position_modules_add_their_vectors_and_refuse_long_inputs():
    x = torch.randn(2, 5, 8)
    sinusoidal = positional.SinusoidalPositionalEncoding(8, max_len=10)
    assert torch.allclose(sinusoidal(x), x + positional.sinusoidal_encoding(5, 8))
    learned = positional.LearnedPositionalEmbedding(8, max_len=10)
    assert torch.equal(learned(x), x + learned.weight[:5])
    assert learned.weight.requires_grad and not list(sinusoidal.parameters())
    for module in (sinusoidal, learned):
        with pytest.raises(ValueError):
            module(torch.randn(1, 11, 8))


def _rotation(m: int, d: int, base: float = 10000.0) -> torch.Tensor:
    blocks = []
    for i in range(d // 2):
        a = m * base ** (-2 * i / d)
        blocks.append(torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64))
    return torch.block_diag(*blocks)


def test_rope_equals_block_rotation_matrices_and_complex_multiplication():
    torch.manual_seed(0)
    x = torch.randn(6, 12, dtype=torch.float64)
    rotated = positional.apply_rope(x)
    by_matrix = torch.stack([_rotation(m, 12) @ x[m] for m in range(6)])
    assert (rotated - by_matrix).abs().max() < 1e-12
    as_complex = torch.view_as_complex(x.reshape(6, 6, 2).contiguous())
    turn = torch.polar(torch.ones(6, 6, dtype=torch.float64), positional.rope_angles(torch.arange(6), 12))
    by_complex = torch.view_as_real(as_complex * turn).reshape(6, 12)
    assert (rotated - by_complex).abs().max() < 1e-12


def test_rope_keeps_lengths_and_position_zero_is_identity():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 9, 16)   # (batch, heads, T, d)
    rotated = positional.apply_rope(x)
    assert rotated.shape == x.shape
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    assert torch.equal(rotated[..., 0, :], x[..., 0, :])
    with pytest.raises(ValueError):
        positional.apply_rope(x, torch.arange(8))


def test_rope_scores_depend_only_on_relative_position():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(64, dtype=torch.float64, generator=g), torch.randn(64, dtype=torch.float64, generator=g)

    def score(m, n):
        q_m = positional.apply_rope(q[None], torch.tensor([m]))[0]
        k_n = positional.apply_rope(k[None], torch.tensor([n]))[0]
        return (q_m @ k_n).item()

    for offset in (-7, 0, 3, 100):
        scores = [score(m, m + offset) for m in (0, 1, 50, 999, 123_456)]
        assert max(scores) - min(scores) < 1e-8
    assert abs(score(10, 3) - score(3, 10)) > 1e-3  # direction matters: n - m, not |n - m|


def _cat_mat(positions):
    torch.manual_seed(0)
    vocab = ["the", "cat", "sat", "on", "mat"]
    embedding = nn.Embedding(len(vocab), 16)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True).eval()

    def encode(text):
        ids = torch.tensor([[vocab.index(w) for w in text.lower().split()]])
        x = embedding(ids)
        if positions is not None:
            x = x + positions[: ids.shape[1]]
        with torch.no_grad():
            return layer(x)[0]

    return encode("The cat sat on the mat"), encode("On the mat sat the cat")


def test_without_positions_a_transformer_cannot_tell_the_cat_mat_sentences_apart():
    a, b = _cat_mat(positions=None)
    assert (a.mean(0) - b.mean(0)).abs().max() < 1e-5            # same summary
    permutation = [1, 5, 3, 0, 4, 2]                               # b's tokens in a's order
    assert (a - b[permutation]).abs().max() < 1e-5                 # same outputs, shuffled
    a, b = _cat_mat(positions=positional.sinusoidal_encoding(6, 16))
    assert (a.mean(0) - b.mean(0)).abs().max() > 1e-2
