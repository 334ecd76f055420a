"""Attention from scratch: scaled dot-product attention, masks, and multi-head attention with MQA and GQA.

Notebook 03 builds all of this step by step and proves it equal to PyTorch's
``torch.nn.functional.scaled_dot_product_attention`` and ``torch.nn.MultiheadAttention``; this file keeps the
finished version for later notebooks. The course GPT (``course_utils.model``) has its own
``CausalSelfAttention``; ``MultiHeadAttention(d_model, n_heads)`` computes exactly the same function once its
weights are copied in (``copy_from_gpt_attention``; tests/test_attention.py checks it).

References:
1) Vaswani et al. 2017, "Attention Is All You Need" (scaled dot-product and multi-head attention)
2) Shazeer 2019, "Fast Transformer Decoding: One Write-Head is All You Need" (multi-query attention)
3) Ainslie et al. 2023, "GQA: Training Generalized Multi-Query Transformer Models" (grouped-query attention)
4) Karpathy, nanoGPT model.py: https://github.com/karpathy/nanoGPT/blob/master/model.py
5) Beltagy et al. 2020, "Longformer"; Jiang et al. 2023, "Mistral 7B" (sliding-window attention,
   ``causal_mask(T, window=w)``)

Shapes in comments: B = batch, T = time (tokens), C = channels (d_model), nh = query heads,
nkv = key/value heads, hs = head size (C // nh), Tq/Tk = query/key lengths.

Masks follow ``F.scaled_dot_product_attention``: a boolean mask is True where a query MAY attend to a key;
a float mask is added to the scores (0 = keep, -inf = hide). ``nn.MultiheadAttention`` uses the opposite
boolean convention (True = hide); ``copy_from_torch_multihead`` only copies weights, masks are yours to flip.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from .validation import is_int, is_number

__all__ = ["causal_mask", "padding_mask", "scaled_dot_product_attention", "MultiHeadAttention",
           "kv_cache_bytes", "copy_from_torch_multihead", "copy_from_gpt_attention", "allocated_bytes"]


def causal_mask(T_q: int, T_k: int | None = None, device: torch.device | str | None = None,
                window: int | None = None) -> torch.Tensor:
    """(T_q, T_k) bool, True where query i may attend to key j: j <= i (the lower triangle).

    With T_k > T_q the queries are the *last* T_q positions (as when new tokens attend to a cache of
    earlier ones), so query i sits at position T_k - T_q + i. For T_q == T_k this is ``torch.ones(T, T).tril()``.
    window: sliding-window attention (Longformer, Mistral): query i sees only the last ``window`` keys,
    i - window < j <= i, a band of that width below the diagonal. None (or window >= T_k) is full causal.
    """
    T_k = T_q if T_k is None else T_k
    if T_q < 0 or T_k < 0:
        raise ValueError(f"lengths must be >= 0, got T_q={T_q}, T_k={T_k}")
    mask = torch.ones(T_q, T_k, dtype=torch.bool, device=device).tril(diagonal=T_k - T_q)
    if window is not None:
        if not is_int(window) or window < 1:
            raise ValueError(f"window must be an int >= 1 (the query itself counts), got {window!r}")
        mask = mask.triu(diagonal=T_k - T_q - window + 1)               # drop keys window or more behind
    return mask


def padding_mask(lengths, T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(B, 1, 1, T) bool, True at real tokens: key j of sequence b is visible iff j < lengths[b].

    The two singleton dimensions broadcast over heads and queries, so the result can be combined with a
    causal mask by ``&`` and passed as ``attn_mask``. Sequences are right-padded.
    """
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be a 1-D list of sequence lengths, got shape {tuple(lengths.shape)}")
    if (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"every length must be in [0, {T}], got {lengths.tolist()}")
    return (torch.arange(T, device=lengths.device) < lengths[:, None])[:, None, None, :]


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 return_weights: bool = False):
    """softmax(q k^T / sqrt(d_k) + mask) v, written out.

    q: (..., Tq, d_k), k: (..., Tk, d_k), v: (..., Tk, d_v) -> (..., Tq, d_v); leading dimensions broadcast.
    attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., Tq, Tk).
    is_causal: also hide future keys (``causal_mask(Tq, Tk)``; for Tq != Tk PyTorch aligns its causal mask
    to the top-left corner instead, so pass an explicit mask when comparing such shapes).
    dropout_p: drop attention weights with this probability and scale the rest by 1 / (1 - p).
    A query that may attend to no key at all gets an all-zero output (as PyTorch's fused kernels do).
    With return_weights=True, returns (output, weights), weights (..., Tq, Tk) after masking and dropout.
    """
    if q.size(-1) != k.size(-1):
        raise ValueError(f"queries and keys need the same size d_k, got {q.size(-1)} and {k.size(-1)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"keys and values need the same length, got {k.size(-2)} and {v.size(-2)}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    T_q, T_k = q.size(-2), k.size(-2)
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale                         # (..., Tq, Tk): similarity of every pair
    allowed = None
    if is_causal:
        allowed = causal_mask(T_q, T_k, device=q.device)                # (Tq, Tk)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            allowed = attn_mask if allowed is None else allowed & attn_mask
        else:
            scores = scores + attn_mask
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))            # hidden keys get weight exactly 0
    weights = scores.softmax(dim=-1)                                    # (..., Tq, Tk), each row sums to 1
    weights = weights.nan_to_num(0.0)                                   # rows with every key hidden: 0, not NaN
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)                       # zero some weights, scale the rest up
    out = weights @ v                                                   # (..., Tq, d_v): weighted mix of values
    return (out, weights) if return_weights else out


class MultiHeadAttention(nn.Module):
    """Multi-head attention with n_kv_heads key/value heads shared by groups of query heads.

    n_kv_heads = n_heads: standard multi-head attention (MHA); n_kv_heads = 1: multi-query attention (MQA);
    in between: grouped-query attention (GQA), each key/value head serving n_heads // n_kv_heads query heads.
    Fewer key/value heads means fewer parameters in k_proj/v_proj and a smaller KV cache when generating.
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int | None = None, dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if n_kv_heads < 1 or n_heads % n_kv_heads:
            raise ValueError(f"n_heads ({n_heads}) must be a multiple of n_kv_heads ({n_kv_heads})")
        if not is_number(dropout) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_size = d_model // n_heads
        self.q_proj = nn.Linear(d_model, n_heads * self.head_size, bias=bias)
        self.k_proj = nn.Linear(d_model, n_kv_heads * self.head_size, bias=bias)
        self.v_proj = nn.Linear(d_model, n_kv_heads * self.head_size, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = dropout
        self.last_attention: torch.Tensor | None = None  # (B, nh, Tq, Tk) with need_weights=True

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None,
                is_causal: bool = False, need_weights: bool = False) -> torch.Tensor:
        """x: (B, Tq, C) queries; context: (B, Tk, C) keys and values (default x: self-attention).
        attn_mask: broadcastable to (B, nh, Tq, Tk), see ``scaled_dot_product_attention``."""
        context = x if context is None else context
        B, T_q, C = x.size()
        T_k = context.size(1)
        nh, nkv, hs = self.n_heads, self.n_kv_heads, self.head_size
        q = self.q_proj(x).view(B, T_q, nh, hs).transpose(1, 2)            # (B, nh, Tq, hs)
        k = self.k_proj(context).view(B, T_k, nkv, hs).transpose(1, 2)     # (B, nkv, Tk, hs)
        v = self.v_proj(context).view(B, T_k, nkv, hs).transpose(1, 2)     # (B, nkv, Tk, hs)
        if nkv != nh:  # each key/value head serves a group of nh // nkv consecutive query heads
            k = k.repeat_interleave(nh // nkv, dim=1)                      # (B, nh, Tk, hs)
            v = v.repeat_interleave(nh // nkv, dim=1)                      # (B, nh, Tk, hs)
        y, att = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal,
                                              dropout_p=self.dropout if self.training else 0.0,
                                              return_weights=True)          # (B, nh, Tq, hs)
        self.last_attention = att.detach() if need_weights else None
        y = y.transpose(1, 2).contiguous().view(B, T_q, C)                 # (B, Tq, C): heads side by side
        return self.out_proj(y)                                            # mix the heads

    def kv_cache_bytes(self, seq_len: int, batch_size: int = 1, bytes_per_value: int = 2) -> int:
        """Memory to cache this layer's keys and values for seq_len tokens."""
        return kv_cache_bytes(1, self.n_kv_heads, self.head_size, seq_len, batch_size, bytes_per_value)


def kv_cache_bytes(n_layers: int, n_kv_heads: int, head_size: int, seq_len: int, batch_size: int = 1,
                   bytes_per_value: int = 2) -> int:
    """Bytes of a KV cache: keys and values (2) for every layer, KV head, position and channel.
    bytes_per_value=2 for float16/bfloat16, 4 for float32."""
    return 2 * n_layers * n_kv_heads * head_size * seq_len * batch_size * bytes_per_value


@torch.no_grad()
def copy_from_torch_multihead(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy the weights of a ``nn.MultiheadAttention`` (same d_model and heads) into ``ours``.
    PyTorch stores W_q, W_k, W_v stacked in one (3C, C) in_proj_weight."""
    if ours.n_kv_heads != ours.n_heads:
        raise ValueError("nn.MultiheadAttention has one key/value head per query head; use n_kv_heads=n_heads")
    if (theirs.embed_dim, theirs.num_heads) != (ours.d_model, ours.n_heads):
        raise ValueError(f"shapes differ: theirs d_model={theirs.embed_dim}, heads={theirs.num_heads}; "
                         f"ours d_model={ours.d_model}, heads={ours.n_heads}")
    if theirs.in_proj_weight is None:
        raise ValueError("copying needs nn.MultiheadAttention with kdim = vdim = embed_dim")
    for proj, w in zip((ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_weight.chunk(3)):
        proj.weight.copy_(w)
    if theirs.in_proj_bias is not None:
        for proj, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_bias.chunk(3)):
            proj.bias.copy_(b)
    ours.out_proj.weight.copy_(theirs.out_proj.weight)
    if theirs.out_proj.bias is not None:
        ours.out_proj.bias.copy_(theirs.out_proj.bias)
    return ours


@torch.no_grad()
def copy_from_gpt_attention(ours: MultiHeadAttention, gpt_attention: nn.Module) -> MultiHeadAttention:
    """Copy the weights of the course GPT's ``CausalSelfAttention`` (fused ``c_attn``: W_q, W_k, W_v stacked
    along the output dimension, then ``c_proj``) into ``ours``. Call ours with ``is_causal=True``."""
    if ours.n_kv_heads != ours.n_heads or getattr(gpt_attention, "n_head", ours.n_heads) != ours.n_heads:
        raise ValueError(f"the GPT has {getattr(gpt_attention, 'n_head', '?')} heads, each with its own keys and "
                         f"values; ours has n_heads={ours.n_heads}, n_kv_heads={ours.n_kv_heads}")
    c_attn, c_proj = gpt_attention.c_attn, gpt_attention.c_proj
    for proj, w in zip((ours.q_proj, ours.k_proj, ours.v_proj), c_attn.weight.chunk(3)):
        proj.weight.copy_(w)
    if c_attn.bias is not None:
        for proj, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), c_attn.bias.chunk(3)):
            proj.bias.copy_(b)
    ours.out_proj.weight.copy_(c_proj.weight)
    if c_proj.bias is not None:
        ours.out_proj.bias.copy_(c_proj.bias)
    return ours


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's C++ side prints start/stop lines there)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def allocated_bytes(fn, *args, **kwargs) -> int:
    """Bytes of CPU memory that PyTorch allocated while running ``fn(*args, **kwargs)``, as counted by
    ``torch.profiler`` (the sum over operations of what each allocated itself; freed memory is not
    subtracted). For attention that is dominated by the (T, T) score matrices when they are materialized."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(*args, **kwargs)
    return int(sum(max(event.self_cpu_memory_usage, 0) for event in prof.key_averages()))
