"""A GPT language model in one readable file: the one model class of the course.

The architecture is GPT-2's (pre-norm blocks, learned positions, GELU, tied input/output embeddings), with
the same module names as GPT-2 checkpoints use, so later notebooks can load GPT-2 weights into it.

References:
1) Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2)
   https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf
2) Karpathy, nanoGPT model.py: https://github.com/karpathy/nanoGPT/blob/master/model.py
3) Vaswani et al. 2017, "Attention Is All You Need"

Shapes in comments: B = batch, T = time (tokens), C = channels (n_embd), nh = heads, hs = head size.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GPTConfig", "GPT", "CausalSelfAttention", "MLP", "Block", "load_storyworld_gpt",
           "CHECKPOINT_DIR"]

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"


@dataclass
class GPTConfig:
    """The hyperparameters of a GPT. GPT-2 small: vocab_size=50257, block_size=1024, n_layer=12,
    n_head=12, n_embd=768 (124M parameters)."""

    vocab_size: int = 50257
    block_size: int = 1024   # context window: the most tokens the model can look at
    n_layer: int = 12        # transformer blocks
    n_head: int = 12         # attention heads per block
    n_embd: int = 768        # width of the residual stream (d_model); feed-forward is 4x this
    dropout: float = 0.0
    bias: bool = True        # biases in Linear and LayerNorm layers, as in GPT-2

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees only itself and earlier positions."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout
        self.record_attention = False       # set True to keep the weights of the last forward pass
        self.last_attention: torch.Tensor | None = None  # (B, nh, T, T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)                           # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)    # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)    # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)    # (B, nh, T, hs)
        if self.record_attention:
            # Written out so the weights can be inspected; same result as the fused kernel below.
            att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))        # (B, nh, T, T)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            self.last_attention = att.detach()
            y = self.attn_dropout(att) @ v                                  # (B, nh, T, hs)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)                    # heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network: expand 4x, GELU, contract."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))  # tokens share information
        x = x + self.mlp(self.ln_2(x))   # each token refines its own
        return x


class GPT(nn.Module):
    """Token + position embeddings -> n_layer blocks -> final LayerNorm -> logits over the vocabulary."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),   # token embeddings
            wpe=nn.Embedding(config.block_size, config.n_embd),   # learned position embeddings
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying: one matrix reads and writes tokens
        self.apply(self._init_weights)
        # GPT-2 scales the init of layers that write into the residual stream by 1/sqrt(2 * n_layer).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameters counted once (the tied matrix is shared). non_embedding drops the position table."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx: (B, T) token IDs. Returns logits (B, T, vocab_size) and, with targets (B, T), the mean
        cross-entropy of predicting targets[:, t] from idx[:, :t+1]."""
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}")
        B, T = idx.size()
        if T > self.config.block_size:
            raise ValueError(f"sequence of length {T} is longer than the context window "
                             f"block_size={self.config.block_size}")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.vocab_size):
            raise ValueError(f"token IDs must be in [0, {self.config.vocab_size}), "
                             f"got min {idx.min().item()} and max {idx.max().item()}")
        pos = torch.arange(T, device=idx.device)                               # (T,)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))                        # (B, T, vocab_size)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, "
                             f"got {tuple(targets.shape)}")
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append max_new_tokens sampled tokens to idx (B, T). temperature 0 means greedy."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.config.block_size:]         # the window the model can see
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :]                           # (B, vocab_size)
            if temperature == 0:
                idx_next = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = float("-inf")
                idx_next = torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx

    # ----- saving and loading ---------------------------------------------------------------------

    def save(self, path: str | Path, **metadata) -> None:
        """One file: config, weights and any JSON-able metadata (tokenizer, training record)."""
        torch.save({"config": asdict(self.config), "state_dict": self.state_dict(), "metadata": metadata},
                   path)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> tuple["GPT", dict]:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint at {path}")
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
        model = cls(GPTConfig(**ckpt["config"]))
        model.load_state_dict(ckpt["state_dict"])
        model.eval()
        return model, ckpt["metadata"]


def load_storyworld_gpt(map_location: str | torch.device = "cpu"):
    """The course's small GPT, pretrained on storyworld by ``scripts/train_storyworld_gpt.py``.

    Returns (model, tokenizer, record) where record holds what the training script measured (validation
    loss, entropy floor, steps, time). Works offline: the checkpoint ships inside the package.
    """
    from .tokenizers import tokenizer_from_state

    model, metadata = GPT.load(CHECKPOINT_DIR / "storyworld_gpt.pt", map_location=map_location)
    record = json.loads((CHECKPOINT_DIR / "storyworld_gpt.json").read_text())
    return model, tokenizer_from_state(metadata["tokenizer"]), record
