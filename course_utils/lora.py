"""LoRA: low-rank adaptation of linear layers (Hu et al. 2021, https://arxiv.org/abs/2106.09685).

A frozen weight W (out x in) is adapted by adding a product of two thin matrices,

    W' = W + (alpha / r) * B @ A,        A: (r x in),  B: (out x r),  r << min(in, out),

so only r * (in + out) numbers are trained instead of in * out. B starts at zero, so the adapted model starts
out exactly equal to the original; A starts random (as in the reference implementation, Kaiming-uniform).
After training, ``merge`` folds B @ A into W: one plain nn.Linear, the same outputs, no extra cost at
inference.

Notebook 07 builds ``LoRALinear`` step by step; this is the finished version.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn as nn

from .validation import is_int

__all__ = ["LoRALinear", "apply_lora", "merge_lora", "lora_parameters", "trainable_parameters",
           "trainable_fraction", "GPT_LORA_TARGETS"]

# The four linear layers of every course GPT block: q/k/v projection, attention output, MLP in and out.
GPT_LORA_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


class LoRALinear(nn.Module):
    """y = base(x) + (alpha / rank) * x @ A.T @ B.T, with `base` frozen and A, B trained."""

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float | None = None, seed: int | None = None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        if not is_int(rank) or rank < 1:
            raise ValueError(f"rank must be a positive int, got {rank!r}")
        self.base = base
        self.rank = rank
        self.alpha = float(rank if alpha is None else alpha)
        self.scaling = self.alpha / rank
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, dtype=w.dtype, device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, dtype=w.dtype, device=w.device))
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        bound = 1 / math.sqrt(base.in_features)  # = kaiming_uniform_(a=sqrt(5)), nn.Linear's own init
        with torch.no_grad():
            self.lora_A.copy_(torch.rand(self.lora_A.shape, generator=g) * 2 * bound - bound)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """(alpha / r) * B @ A: what LoRA adds to the frozen weight, (out x in)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scaling * ((x @ self.lora_A.t()) @ self.lora_B.t())

    def merge(self) -> nn.Linear:
        """A plain nn.Linear with weight W + (alpha / r) * B @ A and the base's bias."""
        merged = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None,
                           device=self.base.weight.device, dtype=self.base.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}"


def _matches(name: str, targets: Iterable[str]) -> bool:
    return any(name == t or name.endswith("." + t) for t in targets)


def apply_lora(model: nn.Module, targets: Iterable[str] = GPT_LORA_TARGETS, rank: int = 4,
               alpha: float | None = None, freeze: bool = True, seed: int = 0,
               adapter: type[nn.Module] = LoRALinear) -> list[str]:
    """Replace, in place, every nn.Linear whose name ends with one of `targets` by a LoRALinear around it.
    With freeze (the default), every other parameter of the model is frozen first, so only the LoRA matrices
    train. Returns the names of the wrapped layers. Each wrapper's A is seeded from `seed` and its index.
    adapter: the wrapping class, called as adapter(layer, rank, alpha, seed=...) (notebook 07 passes the
    student's own); it must hold lora_A and lora_B and have merge(), as LoRALinear does."""
    targets = tuple(targets)
    if not callable(adapter):
        raise TypeError(f"adapter must be a class like LoRALinear, called as adapter(layer, rank, alpha, seed=...), "
                        f"got {adapter!r}")
    if freeze:
        for p in model.parameters():
            p.requires_grad_(False)
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and _matches(name, targets)]
    if not names:
        raise ValueError(f"no nn.Linear in the model matches {targets}")
    for i, name in enumerate(names):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        wrapped = adapter(getattr(parent, child), rank, alpha, seed=seed * 10_007 + i)
        if not _is_adapter(wrapped):
            raise TypeError(f"adapter must build a module with lora_A, lora_B and merge() (as LoRALinear does), "
                            f"got {type(wrapped).__name__}")
        setattr(parent, child, wrapped)
    return names


def _is_adapter(module: nn.Module) -> bool:
    """A LoRALinear, or another class apply_lora was given: it holds lora_A and lora_B and can merge."""
    return isinstance(module, LoRALinear) or all(hasattr(module, a) for a in ("lora_A", "lora_B", "merge"))


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace, in place, every LoRALinear (or other adapter) by its merged nn.Linear. Returns the model."""
    names = [name for name, m in model.named_modules() if _is_adapter(m)]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, getattr(parent, child).merge())
    return model


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The A and B matrices of every LoRALinear (or other adapter) in the model."""
    return [p for m in model.modules() if _is_adapter(m) for p in (m.lora_A, m.lora_B)]


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; shared tensors are counted once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def trainable_fraction(model: nn.Module) -> float:
    """Trainable parameters / all parameters (LoRA matrices included in both)."""
    trainable, total = trainable_parameters(model)
    return trainable / total
