"""Generation: from logits to tokens, and a KV cache that makes generating long texts cheap.

Notebook 06 writes these out step by step; this is the finished version later notebooks reuse.

Decoding, one step (``logits`` is (B, vocab_size), the model's scores for the next token):

* ``apply_temperature``: divide the logits by T. T < 1 sharpens the distribution, T > 1 flattens it;
  T = 0 is the limit: greedy decoding, the argmax;
* ``top_k_filter``: keep the k highest-scoring tokens, set the rest to -inf;
* ``top_p_filter`` (nucleus sampling): keep the smallest set of most probable tokens whose probabilities add
  up to at least p;
* ``filter_logits`` does all three, in that order (temperature, top-k, top-p, as Hugging Face does);
  ``sample_next`` then draws a token, with a ``torch.Generator`` for reproducibility;
* ``apply_repetition_penalty``: the CTRL penalty (Keskar et al. 2019) against tokens already in the text.

The KV cache (``KVCache``, passed as ``model(idx, cache=cache)``): in causal attention, the keys and values of a
token never change once it is processed, since they depend only on that token and the ones before it. So keep
them, per layer, and feed the model only the new token at each step: one token's work per step instead of the
whole text's. The result is the same logits as the full forward pass (up to float rounding) and the same tokens.
The model's attention writes into the cache (``KVCache.append``); ``generate`` is the one decoding loop of the
course (``GPT.generate`` calls it).

The course GPT uses *learned absolute positions*: a token's keys and values depend on its position in the
window. Once a text is longer than ``block_size``, generation slides the window, every token moves to
a new position and every cached key and value is stale. Keeping the old ones (a "sliding cache") would be a
different model, not a faster one. So ``generate`` recomputes the window from scratch at each step beyond
``block_size``: the same tokens as without the cache, but no saving there. (Models with relative positions,
such as RoPE or ALiBi, can slide a cache; that is one reason they are popular.)

References:
1) Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration" (nucleus sampling)
2) Keskar et al. 2019, "CTRL" (repetition penalty)
3) Pope et al. 2022, "Efficiently Scaling Transformer Inference" (KV cache, prefill vs decode)
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from .validation import check_token_ids, is_int, is_number

__all__ = ["apply_temperature", "top_k_filter", "top_p_filter", "filter_logits", "next_token_probs",
           "sample_next", "apply_repetition_penalty", "KVCache", "stream", "generate"]


# --------------------------------------------------------------------------------------------------
# One decoding step: logits -> a token
# --------------------------------------------------------------------------------------------------

def _check_temperature(temperature) -> float:
    if not is_number(temperature):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy), got {temperature}")
    if math.isinf(temperature):
        raise ValueError("temperature must be finite, got inf: logits / inf are all 0, or NaN where a logit "
                         "is -inf (for uniform sampling, give equal logits)")
    return float(temperature)


def _check_top_k(top_k) -> int | None:
    if top_k is None:
        return None
    if not is_int(top_k) or top_k < 1:
        raise ValueError(f"top_k must be an int >= 1 (or None for no limit), got {top_k!r}")
    return top_k


def _check_top_p(top_p) -> float | None:
    if top_p is None:
        return None
    if not is_number(top_p) or not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (or None for no limit), got {top_p!r}")
    return float(top_p)


def _check_logits(logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.dim() < 1 or logits.size(-1) < 1:
        raise ValueError("logits must be a tensor of shape (..., vocab_size)")
    return logits


def _check_scores(logits) -> torch.Tensor:
    """The logits of a sampler: each row a distribution's scores, so no NaN, no +inf, and at least one token
    not at -inf (-inf itself is allowed: it is how a filter rules a token out). One pass over the logits,
    the row maxima (NaN and +inf win a max; a row's max is -inf only if the whole row is), and one device
    sync: a few microseconds a decoding step. Only a bad input pays for finding the row to name."""
    logits = _check_logits(logits)
    if logits.numel() == 0:
        return logits
    maxima = logits.amax(dim=-1).reshape(-1)
    maxima = maxima.tolist() if maxima.numel() <= 1024 else torch.stack(torch.aminmax(maxima)).tolist()
    if all(map(math.isfinite, maxima)):
        return logits
    rows = logits.reshape(-1, logits.size(-1))
    for bad, problem in (
            (rows.isnan().any(dim=-1), "logits contain NaN ({}): there is no distribution to sample from; a "
                                       "NaN usually means the model or an earlier step diverged"),
            (rows.isposinf().any(dim=-1), "logits contain +inf ({}): softmax would compute inf / inf = NaN; "
                                          "use large finite logits (-inf is how a token is ruled out)"),
            (rows.isneginf().all(dim=-1), "logits are -inf for every token ({}): every token is ruled out, "
                                          "so there is nothing to sample")):
        if bad.any():
            raise ValueError(problem.format(f"row {int(bad.nonzero()[0, 0])}"))
    raise AssertionError("unreachable: a row maximum that is not finite is NaN, +inf or -inf")


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / T, for T > 0. (T = 0 is greedy decoding: use ``sample_next``, which takes the argmax.)"""
    temperature = _check_temperature(temperature)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding (the argmax); dividing by 0 is undefined")
    return _check_scores(logits) / temperature


def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the k largest logits of each row; the others become -inf. Ties with the k-th value are kept
    (as nanoGPT does). k None or >= vocab_size keeps everything. Returns a new tensor."""
    k = _check_top_k(k)
    return _top_k(_check_scores(logits), k)


def _top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    if k is None or k >= logits.size(-1):
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]           # (..., 1): the k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most probable tokens whose total probability is >= p
    (always at least the most probable token); the others become -inf. p None or 1 keeps everything."""
    p = _check_top_p(p)
    return _top_p(_check_scores(logits), p)


def _top_p(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    if p is None or p == 1.0:
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs                     # probability of the tokens ranked above
    drop_sorted = mass_before >= p                                 # the set was already complete without it
    drop = drop_sorted.scatter(-1, order, drop_sorted)             # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Temperature, then top-k, then top-p. Filtered tokens get -inf; softmax gives the sampling
    distribution. temperature must be > 0 here (0 is greedy: see ``sample_next``)."""
    top_k, top_p = _check_top_k(top_k), _check_top_p(top_p)
    return _top_p(_top_k(apply_temperature(logits, temperature), top_k), top_p)   # the logits checked once


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """The distribution a token is actually drawn from. temperature 0 gives a one-hot on the argmax."""
    temperature = _check_temperature(temperature)
    _check_top_k(top_k), _check_top_p(top_p)
    if temperature == 0:
        return F.one_hot(_check_scores(logits).argmax(dim=-1), logits.size(-1)).to(logits.dtype)
    return filter_logits(logits, temperature, top_k, top_p).softmax(dim=-1)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits`` (B, vocab_size) -> (B, 1) IDs. temperature 0 is greedy (argmax,
    top_k and top_p are then irrelevant). The same generator gives the same draws on every device."""
    temperature = _check_temperature(temperature)
    _check_top_k(top_k), _check_top_p(top_p)
    logits = _check_logits(logits)
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (batch, vocab_size), got {tuple(logits.shape)}")
    if temperature == 0:
        return _check_scores(logits).argmax(dim=-1, keepdim=True)
    probs = filter_logits(logits, temperature, top_k, top_p).softmax(dim=-1)
    return _draw(probs, generator)


def _draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of probs (B, vocab_size) -> (B, 1). The draw happens on the generator's device, so
    a seeded ``torch.Generator()`` (a CPU one) also works for a model on a GPU, with the same tokens."""
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.to(generator.device), 1, generator=generator).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator)


def apply_repetition_penalty(logits: torch.Tensor, previous: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's repetition penalty: for every token already in ``previous`` (B, T), divide its logit by
    ``penalty`` if positive, multiply if negative, so it becomes less likely. penalty 1 changes nothing."""
    if not is_number(penalty) or not penalty > 0:
        raise ValueError(f"penalty must be a number > 0 (1 = no penalty), got {penalty!r}")
    logits = _check_logits(logits)
    if previous.dim() != 2 or previous.size(0) != logits.size(0):
        raise ValueError(f"previous must be (batch, time) with batch {logits.size(0)}, "
                         f"got {tuple(previous.shape)}")
    seen = torch.gather(logits, 1, previous)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, previous, seen)


# --------------------------------------------------------------------------------------------------
# The KV cache
# --------------------------------------------------------------------------------------------------

class KVCache:
    """Per layer, the keys and values of every token processed so far.

    ``keys[layer]`` and ``values[layer]`` are (B, n_head, length, head_size). They live in one buffer per layer,
    (2, B, n_head, capacity, head_size), allocated ahead and written in place: appending with ``torch.cat``
    would copy the whole cache at every step, which costs more and more as the text grows. When a buffer is
    full it is replaced by one twice as large (never larger than ``max_length``, the model's window when it is
    given), as a Python list grows, so the copies cost O(1) per token on average. Serving systems go further and
    allocate the whole window, or fixed-size pages, up front."""

    def __init__(self, max_length: int | None = None):
        if max_length is not None and (not is_int(max_length) or max_length < 1):
            raise ValueError(f"max_length must be an int >= 1 (or None for no limit), got {max_length!r}")
        self.max_length = max_length                  # the most tokens the buffers will be asked to hold
        self.length = 0                               # tokens (positions) held, the same in every layer
        self._buffers: list[torch.Tensor] = []        # per layer: (2, B, n_head, capacity, head_size)

    @property
    def keys(self) -> list[torch.Tensor]:
        """Per layer, the cached keys (B, n_head, length, head_size): views into the buffers."""
        return [buffer[0, :, :, :self.length] for buffer in self._buffers]

    @property
    def values(self) -> list[torch.Tensor]:
        """Per layer, the cached values (B, n_head, length, head_size): views into the buffers."""
        return [buffer[1, :, :, :self.length] for buffer in self._buffers]

    @property
    def batch_size(self) -> int | None:
        return self._buffers[0].size(1) if self._buffers else None

    def nbytes(self) -> int:
        """Bytes of the keys and values held (not counting the buffers' spare room)."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def drop_oldest(self, n: int = 1) -> "KVCache":
        """Forget the n oldest tokens, shifting the others down by n (what a "sliding cache" would do when the
        window is full; with learned absolute positions it is *not* the same model: see the module docstring)."""
        if not is_int(n) or not 0 <= n <= self.length:
            raise ValueError(f"n must be an int in [0, {self.length}] (the tokens cached), got {n!r}")
        with torch.inference_mode():  # generate's buffers are inference tensors (see _stream)
            for buffer in self._buffers:
                buffer[:, :, :, :self.length - n] = buffer[:, :, :, n:self.length].clone()  # overlapping: copy first
        self.length -= n
        return self

    def append(self, layer: int, kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new tokens' keys and values kv (2, B, n_head, T, head_size) of `layer` after the
        ``length`` cached ones; return that layer's keys and values (B, n_head, length + T, head_size).
        The model's attention calls this; ``GPT.forward`` advances ``length`` once every layer has appended."""
        two, B, nh, T, hs = kv.shape
        needed = self.length + T
        old = self._buffers[layer] if layer < len(self._buffers) else None
        if old is None or old.size(3) < needed:     # grow: double, as a Python list does
            capacity = max(needed, 64, 2 * old.size(3) if old is not None else 0)
            if self.max_length is not None:
                capacity = max(needed, min(capacity, self.max_length))
            buffer = kv.new_empty(two, B, nh, capacity, hs)
            if old is None:
                self._buffers.append(buffer)
            else:
                buffer[:, :, :, :self.length] = old[:, :, :, :self.length]
                self._buffers[layer] = buffer
        buffer = self._buffers[layer]
        buffer[:, :, :, self.length:needed] = kv
        return buffer[:, :, :, :needed].unbind(0)


# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------

def stream(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, generator: torch.Generator | None = None, use_cache: bool = True,
           repetition_penalty: float | None = None,
           logits_processor: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
           ) -> Iterator[torch.Tensor]:
    """Yield the new tokens one step at a time, each (B, 1), as a chat interface shows them. The first
    one costs a pass over the whole prompt (the *prefill*: time to first token); each later one costs a
    pass over one token with the cache (*decode*), or over the whole text again without it.
    logits_processor: a function (logits (B, V), text so far (B, T)) -> logits (B, V), applied at every step
    after the repetition penalty and before sampling (the role of Hugging Face's ``logits_processor``;
    notebook 06 passes the student's own repetition penalty)."""
    _check_temperature(temperature), _check_top_k(top_k), _check_top_p(top_p)
    if not is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.size(1) == 0:
        raise ValueError("idx must be a non-empty (batch, time) tensor of token IDs: the prompt cannot be "
                         "empty (start a story with the newline token)")
    check_token_ids(idx)
    if repetition_penalty is not None:
        apply_repetition_penalty(torch.zeros(1, 1), torch.zeros(1, 1, dtype=torch.long), repetition_penalty)
    if logits_processor is not None and not callable(logits_processor):
        raise TypeError(f"logits_processor must be a function (logits, text) -> logits, got "
                        f"{type(logits_processor).__name__}")
    return _stream(model, idx, max_new_tokens, temperature, top_k, top_p, generator, use_cache,
                   repetition_penalty, logits_processor)


@torch.inference_mode()
def _stream(model, idx, max_new_tokens, temperature, top_k, top_p, generator, use_cache, repetition_penalty,
            logits_processor):
    # inference_mode, lighter than no_grad (no version counters), matters at one token a step: the work is so
    # small that overheads show. The cache's buffers and the logits are then "inference tensors".
    block_size = model.config.block_size
    text = idx
    cache = None
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(text[:, -block_size:])[0][:, -1, :]
        else:
            if cache is None or text.size(1) > block_size:
                # the prefill, or the window slid: every position changed, so recompute the whole window
                cache, new = KVCache(block_size), text[:, -block_size:]
            else:  # decode: only the token sampled last goes through the model
                new = text[:, -1:]
            logits = model(new, cache=cache)[0][:, -1, :]
        if repetition_penalty is not None:
            logits = apply_repetition_penalty(logits, text, repetition_penalty)
        if logits_processor is not None:
            logits = logits_processor(logits, text)
            if not isinstance(logits, torch.Tensor) or logits.shape != (text.size(0), model.config.vocab_size):
                raise ValueError(f"logits_processor must return logits of shape ({text.size(0)}, "
                                 f"{model.config.vocab_size}), got "
                                 f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else logits!r}")
        token = sample_next(logits, temperature, top_k, top_p, generator)  # (B, 1)
        text = torch.cat((text, token), dim=1)
        yield token


@torch.no_grad()
def generate(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True, repetition_penalty: float | None = None,
             stop_token: int | None = None,
             logits_processor: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Append up to max_new_tokens tokens to idx (B, T) and return (B, T + new). temperature 0 is greedy.

    With or without the cache it returns the same tokens for the same generator (the logits agree up to
    float rounding). ``stop_token``: stop early once every row has produced it
    (rows keep being sampled until then, so the tokens up to each row's first stop are unchanged)."""
    steps = stream(model, idx, max_new_tokens, temperature, top_k, top_p, generator, use_cache,
                   repetition_penalty, logits_processor)
    pieces = [idx]
    done = None
    for token in steps:
        pieces.append(token)
        if stop_token is not None:
            done = (token[:, 0] == stop_token) if done is None else done | (token[:, 0] == stop_token)
            if bool(done.all()):
                break
    return torch.cat(pieces, dim=1)
