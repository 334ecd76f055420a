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

from . import generate as generation
from .validation import check_token_ids

__all__ = ["GPTConfig", "GPT", "LayerNorm", "CausalSelfAttention", "MLP", "Block", "load_storyworld_gpt",
           "gpt2_config", "convert_gpt2_state_dict", "load_gpt2_weights", "CHECKPOINT_DIR"]

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"


@dataclass
class GPTConfig:
    """The hyperparameters of a GPT. GPT-2 small is the default: 124,439,808 parameters.

    Field names follow nanoGPT and GPT-2's own config; ``hyperparameter_table()`` shows them under the names
    of the usual hyperparameter table (d_model, n_layers, d_ff, ...)."""

    vocab_size: int = 50257
    block_size: int = 1024      # context window: the most tokens the model can look at
    n_layer: int = 12           # transformer blocks
    n_head: int = 12            # attention heads per block
    n_embd: int = 768           # width of the residual stream (d_model)
    dropout: float = 0.0        # on embeddings, attention weights and each residual branch
    bias: bool = True           # biases in Linear and LayerNorm layers, as in GPT-2
    d_ff: int | None = None     # feed-forward hidden size; None means 4 * n_embd
    activation: str = "gelu"    # "gelu" (GPT-2's tanh approximation), "relu" or "silu"
    layer_norm_eps: float = 1e-5
    prenorm: bool = True        # GPT-2 normalizes before each sublayer; the 2017 Transformer after
    causal: bool = True         # False: every token sees every token (an encoder, as in BERT)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                             f"each head gets n_embd / n_head dimensions")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.d_ff is None:
            self.d_ff = 4 * self.n_embd
        if not isinstance(self.d_ff, int) or self.d_ff <= 0:
            raise ValueError(f"d_ff must be a positive int, got {self.d_ff!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; expected one of {sorted(ACTIVATIONS)}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps!r}")

    def hyperparameter_table(self) -> list[tuple[str, object, str]]:
        """(name in the usual hyperparameter table, value, meaning)."""
        return [
            ("vocab_size", self.vocab_size, "number of distinct tokens"),
            ("max_position_embeddings", self.block_size, "longest input (context window)"),
            ("d_model", self.n_embd, "embedding and hidden size"),
            ("n_layers", self.n_layer, "transformer blocks"),
            ("n_heads", self.n_head, "attention heads per block (divides d_model)"),
            ("d_ff", self.d_ff, "feed-forward hidden size (typically 4 x d_model)"),
            ("dropout_rate", self.dropout, "dropout probability"),
            ("activation_function", self.activation, "non-linearity in the feed-forward network"),
            ("layer_norm_eps", self.layer_norm_eps, "added to the variance for stability"),
            ("use_bias", self.bias, "biases in projections and norms"),
            ("prenorm", self.prenorm, "LayerNorm before (True) or after (False) each sublayer"),
            ("causal", self.causal, "decoder (True: see only the past) or encoder (False)"),
            ("encoder_num_layers", 0 if self.causal else self.n_layer, "blocks that read the whole input (BERT, T5)"),
            ("decoder_num_layers", self.n_layer if self.causal else 0, "blocks that see only the past (GPT, T5)"),
            ("share_embeddings", True, "LM head = token embedding matrix (tied, always in GPT)"),
        ]


# functions, not modules: a module call costs microseconds, which a one-token decoding step notices
ACTIVATIONS = {"gelu": lambda x: F.gelu(x, approximate="tanh"), "relu": F.relu, "silu": F.silu}


class LayerNorm(nn.Module):
    """Normalize each token's vector to mean 0 and variance 1, then scale and shift (learned):

        y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias      over the last dimension

    Notebook 04 writes this formula out and proves it equal to PyTorch's. Here PyTorch's fused kernel computes
    it: one pass over the data instead of five, which makes training the course GPT about 20% faster on a CPU
    (benchmarks/bench_training.py). Like attention, the model uses the fast kernel of what it has taught."""

    def __init__(self, n_features: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_features))
        self.bias = nn.Parameter(torch.zeros(n_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)   # (..., C)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees only itself and earlier positions.

    With a ``cache`` (a ``course_utils.generate.KVCache``), x holds only the new tokens: their keys and values
    are written into the cache, and their queries attend over every cached token as well (see ``GPT.forward``)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout
        self.causal = config.causal
        self.record_attention = False       # set True to keep the weights of the last forward pass
        self.last_attention: torch.Tensor | None = None  # (B, nh, T, past + T)
        self.last_queries_keys: tuple[torch.Tensor, torch.Tensor] | None = None  # q (B, nh, T, hs), k (.., past+T, hs)

    def forward(self, x: torch.Tensor, cache=None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.size()
        qkv = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        q, k, v = qkv                                                       # 3 x (B, nh, T, hs)
        past = 0
        if cache is not None:   # keep this step's keys and values; attend over all of them
            past = cache.length
            k, v = cache.append(layer, qkv[1:])                             # 2 x (B, nh, past + T, hs)
        # new token i sits at position past + i and sees keys 0 .. past + i (all of them in an encoder)
        mask = None
        if self.causal and T > 1:
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        if self.record_attention:
            # Written out so the weights can be inspected; same result as the fused kernel below.
            att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))        # (B, nh, T, past + T)
            if mask is not None:
                att = att.masked_fill(~mask, float("-inf"))
            att = att.softmax(dim=-1)
            self.last_attention = att.detach()
            self.last_queries_keys = (q.detach(), k.detach())
            y = self.attn_dropout(att) @ v                                  # (B, nh, T, hs)
        else:
            dropout_p = self.dropout if self.training else 0.0
            if past == 0:   # no cache, or the prompt on its own: plain (causal) attention, the fastest kernel
                y = F.scaled_dot_product_attention(q, k, v, is_causal=mask is not None, dropout_p=dropout_p)
            else:           # one new token needs no mask (it sees every cached one); several need the offset one
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        y = self.c_proj(y.transpose(1, 2).reshape(B, T, C))                 # heads side by side, mixed
        # dropout is the identity in eval mode; not calling it there saves a module call per block, which a
        # one-token decoding step notices (the same below)
        return self.resid_dropout(y) if self.training else y


class MLP(nn.Module):
    """Position-wise feed-forward network: expand 4x, GELU, contract."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.d_ff, bias=config.bias)
        self.act = ACTIVATIONS[config.activation]
        self.c_proj = nn.Linear(config.d_ff, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c_proj(self.act(self.c_fc(x)))
        return self.dropout(y) if self.training else y


class Block(nn.Module):
    """Transformer block. Pre-norm (GPT-2): x + attn(norm(x)), then x + mlp(norm(x)).
    Post-norm (the 2017 Transformer): norm(x + attn(x)), then norm(x + mlp(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.prenorm = config.prenorm
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache=None, layer: int = 0) -> torch.Tensor:
        if self.prenorm:
            x = x + self.attn(self.ln_1(x), cache, layer)  # tokens share information
            x = x + self.mlp(self.ln_2(x))                 # each token refines its own
        else:
            x = self.ln_1(x + self.attn(x, cache, layer))
            x = self.ln_2(x + self.mlp(x))
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
            # pre-norm leaves the residual stream unnormalized, so it is normalized once more at the end
            ln_f=LayerNorm(config.n_embd, bias=config.bias, eps=config.layer_norm_eps) if config.prenorm
            else nn.Identity(),
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

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache=None):
        """idx: (B, T) token IDs. Returns logits (B, T, vocab_size) and, with targets (B, T), the mean
        cross-entropy of predicting targets[:, t] from idx[:, :t+1] (targets of -100 are skipped).

        cache: a ``course_utils.generate.KVCache``. idx then holds the tokens that come right after the
        ``cache.length`` tokens already in it; their keys and values are added to it, and the logits are those
        of the new positions: the same as the forward pass over all the tokens, up to float rounding, for one
        token's work per step instead of the whole text's (notebook 06)."""
        check_token_ids(idx)
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}")
        B, T = idx.size()
        past = 0 if cache is None else cache.length
        if cache is not None:
            if T == 0:
                raise ValueError("idx is empty: give at least one new token to add to the cache")
            if self.training and self.config.dropout > 0:
                raise ValueError("the KV cache is for inference: call model.eval() first (dropout is on)")
            if cache.batch_size not in (None, B):
                raise ValueError(f"the cache holds a batch of {cache.batch_size}, the new tokens {B}")
        if past + T > self.config.block_size:
            raise ValueError(f"sequence of length {past + T}" + (f" ({past} cached + {T} new)" if past else "")
                             + f" is longer than the context window block_size={self.config.block_size}"
                             + ("; positions are absolute, so start a new cache on the last block_size tokens "
                                "(generate() does this)" if cache is not None else ""))
        if targets is not None:
            if not isinstance(targets, torch.Tensor) or targets.dtype != torch.long:
                raise TypeError(f"targets must be a torch.long tensor of token IDs (or -100 to skip a position), "
                                f"got {getattr(targets, 'dtype', type(targets).__name__)}")
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, "
                                 f"got {tuple(targets.shape)}")
        if idx.numel() and past == 0:
            # Decoding steps (past > 0) skip this: their token is one the sampler drew, and on a GPU the check
            # would cost a device sync per token.
            low, high = torch.stack(torch.aminmax(idx)).tolist()   # one pass and one device sync for both
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(f"token IDs must be in [0, {self.config.vocab_size}), "
                                 f"got min {low} and max {high}")
        x = self.run_blocks(self.embed(idx, past), cache)        # (B, T, C)
        if cache is not None:
            cache.length = past + T
        logits = self.lm_head(self.transformer.ln_f(x))          # (B, T, vocab_size)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    def embed(self, idx: torch.Tensor, past: int = 0) -> torch.Tensor:
        """The residual stream's start (B, T, C): token plus position embeddings of idx (B, T), at positions
        past .. past + T - 1 (past > 0 after a KV cache), with dropout while training."""
        tr = self.transformer
        x = tr.wte(idx) + tr.wpe.weight[past:past + idx.size(1)]
        return tr.drop(x) if self.training else x

    def run_blocks(self, x: torch.Tensor, cache=None, first: int = 0, last: int | None = None) -> torch.Tensor:
        """The residual stream x (B, T, C) through blocks first .. last - 1 (all of them by default), without
        the final LayerNorm. Fine-tuning with frozen lower blocks runs them once and the rest every step."""
        blocks = self.transformer.h
        for layer in range(first, len(blocks) if last is None else last):
            x = blocks[layer](x, cache, layer)
        return x

    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append max_new_tokens sampled tokens to idx (B, T). temperature 0 means greedy.

        nanoGPT's interface to the course's one decoding loop, ``course_utils.generate.generate`` (with the KV
        cache, top-p, a repetition penalty and a stop token there)."""
        return generation.generate(self, idx, max_new_tokens, temperature=temperature, top_k=top_k, generator=generator)

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


@torch.no_grad()
def attention_maps(model: GPT, idx: torch.Tensor, queries_and_keys: bool = False):
    """(B, L, nh, T, T): the attention weights of every layer and head of a course GPT on idx (B, T), on the
    CPU. With queries_and_keys, also the queries and keys they came from, each (B, L, nh, T, head size), as
    a tuple (weights, queries, keys). Turns on each layer's ``record_attention`` for one forward pass and
    restores it afterwards. The one capture of the course: coreference scoring, the attention viewer and
    notebook 03 read attention through it."""
    layers = [block.attn for block in model.transformer.h]
    before = [layer.record_attention for layer in layers]
    try:
        for layer in layers:
            layer.record_attention = True
        model(idx.to(next(model.parameters()).device))
        weights = torch.stack([layer.last_attention for layer in layers], dim=1).cpu()
        if not queries_and_keys:
            return weights
        queries = torch.stack([layer.last_queries_keys[0] for layer in layers], dim=1).cpu()
        keys = torch.stack([layer.last_queries_keys[1] for layer in layers], dim=1).cpu()
        return weights, queries, keys
    finally:
        for layer, flag in zip(layers, before):
            layer.record_attention = flag
            layer.last_attention = layer.last_queries_keys = None


def load_storyworld_gpt(map_location: str | torch.device = "cpu"):
    """The course's small GPT, pretrained on storyworld by ``scripts/train_storyworld_gpt.py``.

    Returns (model, tokenizer, record) where record holds what the training script measured (validation
    loss, entropy floor, steps, time). Works offline: the checkpoint ships inside the package.
    """
    from .tokenizers import tokenizer_from_state

    model, metadata = GPT.load(CHECKPOINT_DIR / "storyworld_gpt.pt", map_location=map_location)
    record = json.loads((CHECKPOINT_DIR / "storyworld_gpt.json").read_text())
    return model, tokenizer_from_state(metadata["tokenizer"]), record


# ---------------------------------------------------------------------------------------------------
# GPT-2 weights
# ---------------------------------------------------------------------------------------------------

GPT2_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e"  # openai-community/gpt2 on the Hugging Face Hub
GPT2_URL = f"https://huggingface.co/openai-community/gpt2/resolve/{GPT2_REVISION}/model.safetensors"
GPT2_SHA256 = "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"  # 548,105,171 bytes

# GPT-2 was written in TensorFlow with "Conv1D" layers that store weights as (in, out); nn.Linear wants
# (out, in), so these four matrices are transposed on the way in.
_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def gpt2_config(**overrides) -> GPTConfig:
    """GPT-2 small's configuration (the defaults of GPTConfig), with any field overridden."""
    return GPTConfig(**{**dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768,
                               dropout=0.0, bias=True, activation="gelu", layer_norm_eps=1e-5), **overrides})


def convert_gpt2_state_dict(hf_state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hugging Face GPT-2 weights (GPT2LMHeadModel or GPT2Model names) -> the course GPT's names."""
    out = {}
    for name, tensor in hf_state_dict.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):  # causal-mask buffers, not parameters
            continue
        key = name if name.startswith(("transformer.", "lm_head.")) else "transformer." + name
        out[key] = tensor.t().contiguous() if key.endswith(_TRANSPOSED) else tensor
    out.setdefault("lm_head.weight", out["transformer.wte.weight"])  # tied
    return out


def load_gpt2_weights(model: GPT, hf_state_dict: dict[str, torch.Tensor]) -> GPT:
    """Copy GPT-2 weights into a course GPT built with the matching config; every tensor must fit."""
    converted = convert_gpt2_state_dict(hf_state_dict)
    own = model.state_dict()
    missing = sorted(set(own) - set(converted))
    unexpected = sorted(set(converted) - set(own))
    if missing or unexpected:
        raise ValueError(f"GPT-2 weights do not match this model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    for key, tensor in converted.items():
        if own[key].shape != tensor.shape:
            raise ValueError(f"{key}: the model has shape {tuple(own[key].shape)}, "
                             f"the weights {tuple(tensor.shape)}; build the model with the matching config")
    model.load_state_dict(converted)
    return model


def from_pretrained_gpt2(cache_dir: str | Path | None = None) -> GPT | None:
    """The real GPT-2 small (124M) in the course GPT class: downloads 548 MB once (sha256-checked) into the
    course cache. Offline, prints one line and returns None."""
    from .download import download

    path = download(GPT2_URL, GPT2_SHA256, filename="gpt2-model.safetensors", cache_dir=cache_dir)
    if path is None:
        return None
    from safetensors.torch import load_file

    return load_gpt2_weights(GPT(gpt2_config()), load_file(str(path))).eval()
