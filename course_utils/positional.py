"""Positional information: how a transformer, which sees its input as a set, learns the order of tokens.

* ``sinusoidal_encoding``: the fixed sines and cosines of "Attention Is All You Need" (Vaswani et al. 2017),
  added to the token embeddings;
* ``LearnedPositionalEmbedding``: one trained vector per position, added the same way (GPT-2; the course
  GPT's ``wpe``);
* ``apply_rope``: rotary position embedding (RoPE; Su et al. 2021), which rotates queries and keys instead of
  adding anything, so that the score ``q·k`` depends only on how far apart the two tokens are.

Notebook 02 builds each of them by hand and checks it against this module. Shapes: T = positions,
d = embedding width (even).

References:
1) Vaswani et al. 2017, "Attention Is All You Need", section 3.5. https://arxiv.org/abs/1706.03762
2) Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary Position Embedding". https://arxiv.org/abs/2104.09864
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .validation import is_int

__all__ = ["sinusoidal_encoding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
           "rope_angles", "apply_rope"]


def _check_dim(dim: int) -> None:
    if not is_int(dim) or dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even int (sines and cosines come in pairs), got {dim!r}")


def sinusoidal_encoding(n_positions: int, dim: int, base: float = 10000.0,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(n_positions, dim) table with PE[p, 2i] = sin(p ω_i) and PE[p, 2i+1] = cos(p ω_i), where
    ω_i = base^(-2i/dim): frequencies from 1 (fast) down to 1/base (slow)."""
    _check_dim(dim)
    if not isinstance(n_positions, int) or n_positions < 0:
        raise ValueError(f"n_positions must be a non-negative int, got {n_positions!r}")
    omega = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)       # (dim/2,)
    angles = torch.arange(n_positions, dtype=torch.float64)[:, None] * omega    # (T, dim/2)
    pe = torch.empty(n_positions, dim, dtype=torch.float64)
    pe[:, 0::2] = angles.sin()
    pe[:, 1::2] = angles.cos()
    return pe.to(dtype)


class SinusoidalPositionalEncoding(nn.Module):
    """x (B, T, d) -> x + PE[:T]. Nothing is learned, and any length up to max_len works."""

    def __init__(self, dim: int, max_len: int = 1024, base: float = 10000.0):
        super().__init__()
        self.register_buffer("pe", sinusoidal_encoding(max_len, dim, base), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[-2]
        if T > self.pe.shape[0]:
            raise ValueError(f"sequence of length {T} is longer than max_len={self.pe.shape[0]}")
        return x + self.pe[:T].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """x (B, T, d) -> x + W[0..T-1]: a trained lookup table with one row per position, as GPT-2's ``wpe``.
    It cannot say anything about positions beyond ``max_len``: they were never trained."""

    def __init__(self, dim: int, max_len: int = 1024):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[-2]
        if T > self.weight.shape[0]:
            raise ValueError(f"sequence of length {T} is longer than max_len={self.weight.shape[0]}")
        return x + self.weight[:T]


def rope_angles(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """(T, dim/2) rotation angles m θ_i, with θ_i = base^(-2i/dim): pair i of position m turns by m θ_i.
    Computed in float64 on the CPU (large m θ_i lose digits in float32, and Apple's MPS has no float64)."""
    _check_dim(dim)
    theta = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    return positions.detach().cpu().to(torch.float64)[:, None] * theta


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotate each pair of features (x_{2i}, x_{2i+1}) of the vector at position m by the angle m θ_i.

    x: (..., T, d); positions: (T,) integers (default 0..T-1). Lengths are kept (a rotation), and for a
    query at m and a key at n, ``apply_rope(q)·apply_rope(k)`` depends on m - n only. The pairing is the
    interleaved one of the RoFormer paper (GPT-NeoX and Hugging Face's LLaMA pair feature i with i + d/2,
    a permutation of the same idea)."""
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T)
    if positions.shape != (T,):
        raise ValueError(f"positions must have shape ({T},), got {tuple(positions.shape)}")
    angles = rope_angles(positions, d, base)
    cos, sin = angles.cos().to(x), angles.sin().to(x)                 # (T, d/2), x's dtype and device
    even, odd = x[..., 0::2], x[..., 1::2]                           # (..., T, d/2) each
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out
