"""Decoding from scratch and the KV cache: the filters do what they say, bad settings fail clearly, and cached
generation (``generate``, and ``GPT.generate`` which calls it) gives the same logits (<= 1e-5) and the same tokens
as the forward pass over the whole text and nanoGPT's plain loop — greedy and sampled, pre-norm and post-norm,
inside and beyond the context window."""

import math

import pytest
import torch

from course_utils import generate as gen
from course_utils.model import GPT, GPTConfig, load_storyworld_gpt



def tiny_gpt(prenorm=True, block_size=32, seed=0, **overrides):
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=50, block_size=block_size, n_layer=2, n_head=2, n_embd=16, prenorm=prenorm,
                       **overrides)
    return GPT(config).eval()


@torch.no_grad()
def cached(model, idx, cache=None):
    """The model's forward pass on new tokens idx, after the ones in cache: (their logits, the cache)."""
    cache = gen.KVCache() if cache is None else cache
    return model(idx, cache=cache)[0], cache


@torch.no_grad()
def nanogpt_generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    """The reference: nanoGPT's loop, the whole window through the model at every step, no cache."""
    for _ in range(max_new_tokens):
        logits = model(idx[:, -model.config.block_size:])[0][:, -1, :]
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


@pytest.fixture(scope="module")
def storyworld_gpt():
    model, tokenizer, _ = load_storyworld_gpt()
    return model, tokenizer


# ----- filters and sampling --------------------------------------------------------------------------

def test_temperature_divides_logits_and_zero_is_greedy():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    assert torch.allclose(gen.apply_temperature(logits, 0.5), logits * 2)
    assert gen.sample_next(logits, temperature=0).item() == 0
    assert torch.equal(gen.next_token_probs(logits, temperature=0), torch.tensor([[1.0, 0.0, 0.0]]))
    sharp = gen.next_token_probs(logits, temperature=0.1)
    flat = gen.next_token_probs(logits, temperature=10)
    assert sharp[0, 0] > 0.99 and (flat.max() - flat.min()) < 0.1


def test_top_k_keeps_k_largest_and_ties():
    logits = torch.tensor([[1.0, 5.0, 3.0, 3.0, -2.0]])
    kept = gen.top_k_filter(logits, 2)
    assert torch.isinf(kept).tolist() == [[True, False, False, False, True]]  # the tie at 3.0 is kept
    assert torch.equal(gen.top_k_filter(logits, 1) > -math.inf, torch.tensor([[False, True, False, False, False]]))
    assert torch.equal(gen.top_k_filter(logits, 99), logits)
    assert torch.equal(gen.top_k_filter(logits, None), logits)


def test_top_p_keeps_smallest_set_reaching_p():
    probs = torch.tensor([[0.1, 0.5, 0.3, 0.1]])
    logits = probs.log()
    keep = lambda p: (gen.top_p_filter(logits, p) > -math.inf).tolist()[0]  # noqa: E731
    assert keep(0.5) == [False, True, False, False]          # 0.5 alone reaches 0.5
    assert keep(0.51) == [False, True, True, False]
    assert keep(0.79) == [False, True, True, False]
    assert keep(0.85) == [True, True, True, False]            # of two tied tokens, the first in vocabulary order
    assert keep(0.95) == [True, True, True, True]
    assert keep(1e-9) == [False, True, False, False]          # the top token is always kept
    assert keep(1.0) == [True, True, True, True]
    probs_after = gen.next_token_probs(logits, top_p=0.75)
    assert torch.allclose(probs_after, torch.tensor([[0.0, 0.625, 0.375, 0.0]]))


def test_top_p_matches_a_brute_force_definition():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20, 30, generator=g) * 2
    for p in (0.05, 0.3, 0.7, 0.9, 0.99):
        kept = gen.top_p_filter(logits, p) > -math.inf
        probs = logits.softmax(-1)
        for row in range(logits.size(0)):
            order = probs[row].argsort(descending=True)
            cumulative = probs[row][order].cumsum(0)
            m = int((cumulative < p).sum()) + 1                  # the smallest prefix reaching p
            expected = torch.zeros(30, dtype=torch.bool)
            expected[order[:m]] = True
            assert torch.equal(kept[row], expected)


def test_filters_do_not_modify_their_input():
    logits = torch.randn(3, 10)
    before = logits.clone()
    gen.filter_logits(logits, 0.7, top_k=3, top_p=0.5)
    assert torch.equal(logits, before)


def test_sample_next_is_reproducible_and_respects_filters():
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(1))
    a = gen.sample_next(logits, 1.0, generator=torch.Generator().manual_seed(5))
    b = gen.sample_next(logits, 1.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (4, 1)
    big = logits.repeat(200, 1)
    drawn = gen.sample_next(big, 1.0, top_k=3, generator=torch.Generator().manual_seed(0))
    allowed = logits.topk(3).indices.repeat(200, 1)
    assert (drawn == allowed).any(dim=1).all()


def test_repetition_penalty_lowers_seen_tokens_only():
    logits = torch.tensor([[2.0, -1.0, 0.5, 1.0]])
    out = gen.apply_repetition_penalty(logits, torch.tensor([[0, 1, 1]]), 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, 1.0]]
    assert torch.equal(gen.apply_repetition_penalty(logits, torch.tensor([[0, 1]]), 1.0), logits)


@pytest.mark.parametrize("call, message", [
    (lambda: gen.sample_next(torch.zeros(1, 5), temperature=-0.1), "temperature"),
    (lambda: gen.sample_next(torch.zeros(1, 5), temperature=float("nan")), "temperature"),
    (lambda: gen.apply_temperature(torch.zeros(1, 5), 0), "greedy"),
    (lambda: gen.sample_next(torch.zeros(1, 5), top_p=0.0), "top_p"),
    (lambda: gen.sample_next(torch.zeros(1, 5), top_p=1.5), "top_p"),
    (lambda: gen.top_p_filter(torch.zeros(1, 5), -1), "top_p"),
    (lambda: gen.sample_next(torch.zeros(1, 5), top_k=0), "top_k"),
    (lambda: gen.top_k_filter(torch.zeros(1, 5), 2.5), "top_k"),
    (lambda: gen.sample_next(torch.zeros(5), 1.0), "batch"),
    (lambda: gen.apply_repetition_penalty(torch.zeros(1, 5), torch.zeros(1, 2, dtype=torch.long), 0), "penalty"),
])
def test_bad_settings_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_generate_rejects_empty_prompt_and_bad_lengths():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="empty"):
        gen.generate(model, torch.zeros(1, 0, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="empty"):
        gen.stream(model, torch.zeros(1, 0, dtype=torch.long), 5)  # raises at the call, not at the first step
    with pytest.raises(ValueError, match="max_new_tokens"):
        gen.generate(model, torch.zeros(1, 1, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="temperature"):
        gen.generate(model, torch.zeros(1, 1, dtype=torch.long), 3, temperature=-1)
    with pytest.raises(ValueError, match="empty"):
        cached(model, torch.zeros(1, 0, dtype=torch.long))
    out = gen.generate(model, torch.zeros(2, 3, dtype=torch.long), 0)
    assert out.shape == (2, 3)


# ----- the KV cache ------------------------------------------------------------------------------------

@pytest.mark.parametrize("prenorm", [True, False])
def test_cached_logits_equal_full_forward(prenorm):
    model = tiny_gpt(prenorm=prenorm)
    idx = torch.randint(50, (3, 30), generator=torch.Generator().manual_seed(0))
    full = model(idx)[0]
    # one chunk, then token by token, then a chunk of several tokens on top of a cache
    first, cache = cached(model, idx[:, :7])
    steps = [first]
    for t in range(7, 20):
        out, cache = cached(model, idx[:, t:t + 1], cache)
        steps.append(out)
    out, cache = cached(model, idx[:, 20:], cache)
    steps.append(out)
    assert cache.length == 30
    assert (torch.cat(steps, dim=1) - full).abs().max() <= 1e-5


def test_cached_logits_equal_full_forward_for_the_checkpoint(storyworld_gpt):
    model, tokenizer = storyworld_gpt
    idx = torch.tensor([tokenizer.encode("\nOnce upon a time, there was a little girl named Lily. She lived in a "
                                         "small house near the sea. Lily had a red ball.")])
    full = model(idx)[0]
    out, cache = cached(model, idx[:, :1])
    steps = [out]
    for t in range(1, idx.size(1)):
        out, cache = cached(model, idx[:, t:t + 1], cache)
        steps.append(out)
    assert (torch.cat(steps, dim=1) - full).abs().max() <= 1e-5
    assert cache.nbytes() == 2 * 4 * idx.size(1) * 128 * 4


@pytest.mark.parametrize("prenorm", [True, False])
@pytest.mark.parametrize("settings", [dict(temperature=0), dict(temperature=1.0), dict(temperature=0.7, top_k=5)])
def test_cached_generation_equals_gpt_generate(prenorm, settings):
    model = tiny_gpt(prenorm=prenorm)
    prompt = torch.randint(50, (4, 5), generator=torch.Generator().manual_seed(3))
    reference = nanogpt_generate(model, prompt, 20, generator=torch.Generator().manual_seed(9), **settings)
    assert torch.equal(model.generate(prompt, 20, generator=torch.Generator().manual_seed(9), **settings), reference)
    for use_cache in (True, False):
        ours = gen.generate(model, prompt, 20, generator=torch.Generator().manual_seed(9), use_cache=use_cache,
                            **settings)
        assert torch.equal(ours, reference)


def test_cached_generation_equals_gpt_generate_for_the_checkpoint(storyworld_gpt):
    model, tokenizer = storyworld_gpt
    prompt = torch.tensor([tokenizer.encode("\nOnce there was")] * 2)
    for settings in (dict(temperature=0), dict(temperature=1.0, top_k=10)):
        reference = nanogpt_generate(model, prompt, 40, generator=torch.Generator().manual_seed(0), **settings)
        ours = model.generate(prompt, 40, generator=torch.Generator().manual_seed(0), **settings)
        assert torch.equal(ours, reference)


def test_beyond_the_context_window_the_window_is_recomputed():
    """Past block_size the positions shift, so the cache is rebuilt each step: still the plain loop's tokens."""
    model = tiny_gpt(block_size=16)
    prompt = torch.randint(50, (2, 10), generator=torch.Generator().manual_seed(0))
    for settings in (dict(temperature=0), dict(temperature=1.0)):
        reference = nanogpt_generate(model, prompt, 30, generator=torch.Generator().manual_seed(4), **settings)
        ours = gen.generate(model, prompt, 30, generator=torch.Generator().manual_seed(4), **settings)
        assert torch.equal(ours, reference)
    long_prompt = torch.randint(50, (1, 40), generator=torch.Generator().manual_seed(1))  # longer than the window
    assert torch.equal(gen.generate(model, long_prompt, 5, temperature=0),
                       nanogpt_generate(model, long_prompt, 5, temperature=0))


def test_the_cached_forward_refuses_to_overflow_the_window_and_mismatched_batches():
    model = tiny_gpt(block_size=16)
    _, cache = cached(model, torch.zeros(1, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="block_size"):
        cached(model, torch.zeros(1, 1, dtype=torch.long), cache)
    _, cache = cached(model, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="batch"):
        cached(model, torch.zeros(3, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="token IDs"):
        cached(model, torch.full((1, 2), 50))


def test_a_sliding_cache_is_not_the_same_model():
    """Why the window is recomputed: with learned absolute positions, old keys at shifted positions differ."""
    model = tiny_gpt(block_size=16)
    idx = torch.randint(50, (1, 17), generator=torch.Generator().manual_seed(2))
    exact = model(idx[:, 1:])[0][0, -1]
    _, cache = cached(model, idx[:, :16])
    cache.drop_oldest(1)
    slid = cached(model, idx[:, 16:], cache)[0][0, -1]
    assert (slid - exact).abs().max() > 1e-3


def test_dropout_model_must_be_in_eval_mode():
    model = tiny_gpt(dropout=0.1).train()
    with pytest.raises(ValueError, match="eval"):
        cached(model, torch.zeros(1, 3, dtype=torch.long))
    model.eval()
    cached(model, torch.zeros(1, 3, dtype=torch.long))


def test_stream_yields_one_token_per_step_and_stop_token_ends_early():
    model = tiny_gpt()
    prompt = torch.zeros(2, 2, dtype=torch.long)
    tokens = list(gen.stream(model, prompt, 7, temperature=0))
    assert len(tokens) == 7 and all(t.shape == (2, 1) for t in tokens)
    full = gen.generate(model, prompt, 7, temperature=0)
    assert torch.equal(torch.cat([prompt] + tokens, dim=1), full)
    stop = int(full[0, 2])                    # the first token row 0 generates
    both = gen.generate(model, prompt, 7, temperature=0, stop_token=stop)
    assert torch.equal(both, full[:, :both.size(1)])  # a prefix of the full generation
    rows_stopped = (both[:, 2:] == stop).any(dim=1)
    assert rows_stopped.all()


def test_top_p_generation_with_and_without_cache_agree():
    model = tiny_gpt()
    prompt = torch.randint(50, (3, 4), generator=torch.Generator().manual_seed(0))
    a = gen.generate(model, prompt, 25, 0.9, top_p=0.8, generator=torch.Generator().manual_seed(1))
    b = gen.generate(model, prompt, 25, 0.9, top_p=0.8, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(a, b)
    c = gen.generate(model, prompt, 25, 1.0, repetition_penalty=1.3, generator=torch.Generator().manual_seed(1))
    d = gen.generate(model, prompt, 25, 1.0, repetition_penalty=1.3, generator=torch.Generator().manual_seed(1),
                     use_cache=False)
    assert torch.equal(c, d)



def test_a_logits_processor_acts_at_every_step_before_sampling():
    """generate(logits_processor=f) calls f(logits, text so far) at each step: the built-in repetition penalty
    passed as a processor gives the same tokens, and a processor that bans a token keeps it out."""
    model = tiny_gpt()
    prompt = torch.randint(50, (2, 3), generator=torch.Generator().manual_seed(0))
    built_in = gen.generate(model, prompt, 20, 1.0, repetition_penalty=1.5, generator=torch.Generator().manual_seed(4))
    as_processor = gen.generate(model, prompt, 20, 1.0, generator=torch.Generator().manual_seed(4),
                                logits_processor=lambda logits, text: gen.apply_repetition_penalty(logits, text, 1.5))
    assert torch.equal(built_in, as_processor)
    greedy = gen.generate(model, prompt, 10, 0)
    banned = int(greedy[0, 3])
    seen_lengths = []

    def ban(logits, text):
        seen_lengths.append(text.size(1))
        return logits.index_fill(1, torch.tensor([banned]), float("-inf"))
    out = gen.generate(model, prompt, 10, 0, logits_processor=ban)
    assert not (out[:, 3:] == banned).any() and seen_lengths == list(range(3, 13))


@pytest.mark.parametrize("processor, error, says", [
    ("not a function", TypeError, "logits_processor must be a function"),
    (lambda logits, text: logits[:, :5], ValueError, "must return logits of shape"),
    (lambda logits, text: None, ValueError, "must return logits of shape"),
])
def test_a_bad_logits_processor_is_named(processor, error, says):
    with pytest.raises(error, match=says):
        gen.generate(tiny_gpt(), torch.zeros(1, 2, dtype=torch.long), 3, logits_processor=processor)

def test_the_cache_grows_its_buffers_in_place_and_keeps_what_it_holds():
    """Keys and values are written into buffers allocated ahead; a full buffer is replaced by a larger one
    with the same contents, never larger than the window."""
    model = tiny_gpt(block_size=200)
    idx = torch.randint(50, (2, 150), generator=torch.Generator().manual_seed(5))
    _, cache = cached(model, idx[:, :3], gen.KVCache(max_length=200))
    first_buffer = cache._buffers[0]
    capacities = {first_buffer.size(3)}
    for t in range(3, 150):
        _, cache = cached(model, idx[:, t:t + 1], cache)
        capacities.add(cache._buffers[0].size(3))
    assert sorted(capacities) == [64, 128, 200]                       # doubled, then capped at max_length
    assert cache.length == 150 and cache.batch_size == 2
    _, reference = cached(model, idx)                     # the same keys, computed in one pass
    for ours, theirs in zip(cache.keys + cache.values, reference.keys + reference.values):
        assert ours.shape == (2, 2, 150, 8)                               # (B, n_head, T, head_size)
        assert (ours - theirs).abs().max() <= 1e-5
    assert cache.nbytes() == reference.nbytes() == 2 * 2 * 2 * 150 * 16 * 4   # layers, k+v, batch, tokens, C


def test_drop_oldest_shifts_the_cache():
    model = tiny_gpt()
    idx = torch.randint(50, (1, 10), generator=torch.Generator().manual_seed(6))
    _, cache = cached(model, idx)
    before = [k.clone() for k in cache.keys]
    assert cache.drop_oldest(3) is cache and cache.length == 7
    for k, old in zip(cache.keys, before):
        assert torch.equal(k, old[:, :, 3:])
    for bad in (-1, 8, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            cache.drop_oldest(bad)


# ----- bad logits and token IDs ------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([[0.0, 1.0], [NAN, 1.0]]), r"logits contain NaN \(row 1\)"),
    (torch.tensor([[INF, 1.0]]), r"logits contain \+inf \(row 0\)"),
    (torch.tensor([[0.0, 1.0], [-INF, -INF]]), r"logits are -inf for every token \(row 1\)"),
])
def test_samplers_refuse_nan_inf_and_all_masked_rows(bad, message):
    for call in (lambda: gen.sample_next(bad, 1.0), lambda: gen.sample_next(bad, 0),
                 lambda: gen.sample_next(bad, 0.8, top_k=1, top_p=0.5), lambda: gen.next_token_probs(bad, 0),
                 lambda: gen.apply_temperature(bad, 0.5), lambda: gen.top_k_filter(bad, 1),
                 lambda: gen.top_p_filter(bad, 0.9), lambda: gen.filter_logits(bad, 1.0)):
        with pytest.raises(ValueError, match=message):
            call()


def test_masked_logits_are_still_valid_input():
    logits = torch.tensor([[2.0, -INF, 0.5, -INF]])                # some tokens ruled out: fine
    chained = gen.top_p_filter(gen.top_k_filter(logits, 1), 0.9)   # a filter's -inf output feeds the next
    assert (chained > -INF).tolist() == [[True, False, False, False]]
    assert gen.sample_next(logits, 1.0, generator=torch.Generator().manual_seed(0)).item() in (0, 2)
    assert gen.sample_next(logits, 0).item() == 0


def test_infinite_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature must be finite"):
        gen.sample_next(torch.zeros(1, 5), temperature=INF)


def test_float_token_ids_are_a_type_error():
    model = tiny_gpt()
    prompt = torch.zeros(1, 3)                                     # float32 zeros: not token IDs
    for call in (lambda: gen.generate(model, prompt, 2), lambda: gen.generate(model, prompt, 0),
                 lambda: gen.stream(model, prompt, 2), lambda: cached(model, prompt)):
        with pytest.raises(TypeError, match=r"integer token IDs \(torch.long\), got dtype torch.float32"):
            call()
    with pytest.raises(ValueError, match=r"token IDs must be in \[0, 50\), got min 0 and max 50"):
        cached(model, torch.tensor([[0, 50]]))
