"""course_utils.attention equals PyTorch's attention and the course GPT's; course_utils.coreference scores heads
against storyworld's ground truth."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import coreference, storyworld
from course_utils.attention import (MultiHeadAttention, allocated_bytes, causal_mask, copy_from_gpt_attention,
                                    copy_from_torch_multihead, kv_cache_bytes, padding_mask,
                                    scaled_dot_product_attention)
from course_utils.model import GPTConfig, CausalSelfAttention, load_storyworld_gpt

TOL = 1e-5


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


@pytest.fixture(scope="module")
def storyworld_gpt():
    torch.manual_seed(0)
    return load_storyworld_gpt()


# ----- masks ------------------------------------------------------------------------------------------------------

def test_causal_mask_is_the_lower_triangle_and_aligns_queries_to_the_end():
    assert torch.equal(causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril())
    # two new queries after three cached keys: query 0 is position 3, query 1 is position 4
    assert causal_mask(2, 5).tolist() == [[True, True, True, True, False], [True, True, True, True, True]]
    assert causal_mask(0).shape == (0, 0)
    with pytest.raises(ValueError):
        causal_mask(-1)


def test_sliding_window_mask_is_a_band_of_the_causal_mask():
    # query i sees keys i - window < j <= i
    assert causal_mask(4, window=2).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    assert torch.equal(causal_mask(5, window=1), torch.eye(5, dtype=torch.bool))
    assert torch.equal(causal_mask(5, window=5), causal_mask(5))
    assert torch.equal(causal_mask(5, window=50), causal_mask(5))
    # with a cache: the two queries are positions 3 and 4 of 5, each sees its last 2 keys
    assert causal_mask(2, 5, window=2).int().tolist() == [[0, 0, 1, 1, 0], [0, 0, 0, 1, 1]]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="window"):
            causal_mask(3, window=bad)


def test_sliding_window_attention_in_blocks_equals_the_masked_version():
    """Notebook 03 computes the band one block of `window` queries at a time, each block's mask being
    causal_mask(queries, keys, window=w) with the queries aligned to the end of the keys."""
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, 13, 8).unbind(0)
    for w in (1, 2, 4, 13, 20):
        dense = scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(13, window=w))
        blocks = []
        for start in range(0, 13, w):
            stop, first = min(start + w, 13), max(0, start - w + 1)
            band = causal_mask(stop - start, stop - first, window=w)
            blocks.append(scaled_dot_product_attention(q[..., start:stop, :], k[..., first:stop, :],
                                                       v[..., first:stop, :], attn_mask=band))
        assert max_diff(torch.cat(blocks, dim=-2), dense) < TOL
        assert max_diff(dense, F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(13, window=w))) < TOL


def test_padding_mask_hides_padding_keys_and_broadcasts():
    mask = padding_mask([3, 1, 0], 4)
    assert mask.shape == (3, 1, 1, 4)
    assert mask[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]
    with pytest.raises(ValueError):
        padding_mask([5], 4)
    with pytest.raises(ValueError):
        padding_mask([[1]], 4)


# ----- scaled dot-product attention ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1, 1, 4), (2, 3, 7, 16), (3, 4, 33, 8), (1, 2, 128, 64)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_sdpa_equals_pytorch(shape, is_causal):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, *shape).unbind(0)
    ours = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)) <= TOL


def test_sdpa_with_masks_scale_and_different_lengths_equals_pytorch():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 6)
    bool_mask = torch.rand(2, 1, 5, 9) > 0.3
    bool_mask[..., 0] = True  # every query sees at least one key
    float_mask = torch.randn(5, 9)
    for kwargs in (dict(attn_mask=bool_mask), dict(attn_mask=float_mask), dict(scale=0.3),
                   dict(attn_mask=causal_mask(5, 9))):
        ours = scaled_dot_product_attention(q, k, v, **kwargs)
        assert ours.shape == (2, 3, 5, 6)
        assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, **kwargs)) <= TOL, kwargs


def test_sdpa_padding_and_causal_together_and_fully_masked_rows():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 2, 6, 4).unbind(0)
    mask = padding_mask([6, 3], 6) & causal_mask(6)
    ours, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask)) <= TOL
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 6))
    assert (weights[1, :, :, 3:] == 0).all(), "padding keys get no weight"
    nothing = torch.zeros(1, 1, 6, 6, dtype=torch.bool)  # no query may see any key
    out = scaled_dot_product_attention(q, k, v, attn_mask=nothing)
    assert torch.equal(out, torch.zeros_like(out)), "a query that sees nothing gets zeros, not NaN"


def test_sdpa_weights_are_a_causal_softmax_and_dropout_rescales():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 1, 5, 4).unbind(0)
    _, w = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    expected = (q @ k.transpose(-2, -1) / 2).masked_fill(~causal_mask(5), float("-inf")).softmax(-1)
    assert max_diff(w, expected) <= TOL
    torch.manual_seed(1)
    _, dropped = scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=0.5, return_weights=True)
    kept = dropped != 0
    assert 0 < kept.sum() < (w != 0).sum(), "some weights dropped, some kept"
    assert torch.allclose(dropped[kept], 2 * w[kept]), "survivors scaled by 1 / (1 - p)"


def test_sdpa_rejects_bad_shapes():
    with pytest.raises(ValueError):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(2, 5), torch.randn(2, 5))
    with pytest.raises(ValueError):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4), dropout_p=1.0)


# ----- multi-head attention -------------------------------------------------------------------------------------

@pytest.mark.parametrize("B, T, C, nh", [(1, 1, 8, 1), (2, 7, 16, 4), (3, 20, 64, 8), (2, 128, 128, 4)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_mha_equals_torch_multihead_attention(B, T, C, nh, is_causal):
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(C, nh, batch_first=True).eval()
    ours = copy_from_torch_multihead(MultiHeadAttention(C, nh), theirs).eval()
    x = torch.randn(B, T, C)
    hidden = ~causal_mask(T) if is_causal else None  # nn.MultiheadAttention: True = may NOT attend
    expected, expected_weights = theirs(x, x, x, attn_mask=hidden, average_attn_weights=False)
    got = ours(x, is_causal=is_causal, need_weights=True)
    assert max_diff(got, expected) <= TOL
    assert max_diff(ours.last_attention, expected_weights) <= TOL


def test_mha_cross_attention_and_key_padding_equal_torch():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    ours = copy_from_torch_multihead(MultiHeadAttention(32, 4), theirs).eval()
    x, context = torch.randn(2, 5, 32), torch.randn(2, 9, 32)
    lengths = [9, 4]
    expected, _ = theirs(x, context, context, key_padding_mask=~padding_mask(lengths, 9)[:, 0, 0])
    got = ours(x, context, attn_mask=padding_mask(lengths, 9))
    assert max_diff(got, expected) <= TOL


def test_mha_without_bias_and_copy_errors():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 2, bias=False, batch_first=True).eval()
    ours = copy_from_torch_multihead(MultiHeadAttention(16, 2, bias=False), theirs).eval()
    x = torch.randn(1, 6, 16)
    assert max_diff(ours(x), theirs(x, x, x)[0]) <= TOL
    with pytest.raises(ValueError):
        copy_from_torch_multihead(MultiHeadAttention(16, 4), theirs)
    with pytest.raises(ValueError):
        copy_from_torch_multihead(MultiHeadAttention(16, 2, n_kv_heads=1), theirs)


@pytest.mark.parametrize("n_heads, n_kv_heads", [(8, 8), (8, 4), (8, 2), (8, 1), (6, 3)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_gqa_and_mqa_equal_pytorch_enable_gqa(n_heads, n_kv_heads, is_causal):
    torch.manual_seed(0)
    C, B, T = 8 * n_heads, 2, 11
    layer = MultiHeadAttention(C, n_heads, n_kv_heads).eval()
    x = torch.randn(B, T, C)
    hs = C // n_heads
    q = layer.q_proj(x).view(B, T, n_heads, hs).transpose(1, 2)
    k = layer.k_proj(x).view(B, T, n_kv_heads, hs).transpose(1, 2)
    v = layer.v_proj(x).view(B, T, n_kv_heads, hs).transpose(1, 2)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
    expected = layer.out_proj(y.transpose(1, 2).reshape(B, T, C))
    assert max_diff(layer(x, is_causal=is_causal), expected) <= TOL
    assert layer.k_proj.weight.shape == (n_kv_heads * hs, C), "fewer key/value heads: a narrower W_k"


def test_gqa_rejects_head_counts_that_do_not_divide():
    with pytest.raises(ValueError):
        MultiHeadAttention(64, 8, n_kv_heads=3)
    with pytest.raises(ValueError):
        MultiHeadAttention(64, 7)
    with pytest.raises(ValueError):
        MultiHeadAttention(64, 8, n_kv_heads=0)


def test_kv_cache_bytes():
    assert kv_cache_bytes(32, 32, 128, 4096) == 2 * 2**30      # a 7B model with MHA, float16: 2 GiB
    assert kv_cache_bytes(32, 8, 128, 32_768) == 4 * 2**30     # Mistral-7B-like GQA at 32k tokens
    assert MultiHeadAttention(64, 8, 2).kv_cache_bytes(10, batch_size=3, bytes_per_value=4) == 2 * 2 * 8 * 10 * 3 * 4


def test_dropout_only_in_training():
    torch.manual_seed(0)
    layer = MultiHeadAttention(16, 2, dropout=0.5)
    x = torch.randn(1, 8, 16)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


# ----- the course GPT's CausalSelfAttention ------------------------------------------------------------------------

@pytest.mark.parametrize("n_embd, n_head, bias", [(32, 4, True), (48, 3, False), (64, 1, True)])
def test_equals_the_course_gpt_attention_with_copied_weights(n_embd, n_head, bias):
    torch.manual_seed(0)
    gpt_attention = CausalSelfAttention(GPTConfig(vocab_size=10, block_size=32, n_layer=1, n_head=n_head,
                                                  n_embd=n_embd, bias=bias)).eval()
    for p in gpt_attention.parameters():
        nn.init.normal_(p, std=0.2)
    ours = copy_from_gpt_attention(MultiHeadAttention(n_embd, n_head, bias=bias), gpt_attention).eval()
    x = torch.randn(3, 17, n_embd)
    with torch.no_grad():
        assert max_diff(ours(x, is_causal=True), gpt_attention(x)) <= TOL


def test_equals_every_layer_of_the_trained_storyworld_gpt(storyworld_gpt):
    gpt, tokenizer, _ = storyworld_gpt
    idx = torch.tensor([tokenizer.encode("\n" + storyworld.StoryWorld(seed=0).story(3).text)])
    C, nh = gpt.config.n_embd, gpt.config.n_head
    x = torch.randn(1, idx.size(1), C, generator=torch.Generator().manual_seed(0))
    maps = coreference.attention_maps(gpt, idx)
    assert maps.shape == (1, gpt.config.n_layer, nh, idx.size(1), idx.size(1))
    assert not any(b.attn.record_attention for b in gpt.transformer.h), "the switch is restored"
    for block in gpt.transformer.h:
        ours = copy_from_gpt_attention(MultiHeadAttention(C, nh), block.attn).eval()
        with torch.no_grad():
            assert max_diff(ours(x, is_causal=True, need_weights=True), block.attn(x)) <= TOL
            block.attn.record_attention = True
            try:
                recorded = block.attn(x)
            finally:
                block.attn.record_attention = False
            assert max_diff(recorded, block.attn(x)) <= TOL
            assert max_diff(ours.last_attention, block.attn.last_attention) <= TOL
    with pytest.raises(ValueError):
        copy_from_gpt_attention(MultiHeadAttention(C, nh, n_kv_heads=1), gpt.transformer.h[0].attn)
    with pytest.raises(ValueError):
        copy_from_gpt_attention(MultiHeadAttention(C, nh * 2), gpt.transformer.h[0].attn)


def test_written_out_attention_memory_grows_quadratically_fused_does_not():
    def written_out(q, k, v):
        return scaled_dot_product_attention(q, k, v, is_causal=True)

    small, large = (torch.randn(3, 1, 2, T, 16).unbind(0) for T in (256, 512))
    ratio = allocated_bytes(written_out, *large) / allocated_bytes(written_out, *small)
    assert 3.5 < ratio < 4.5
    fused = allocated_bytes(F.scaled_dot_product_attention, *large, is_causal=True)
    assert fused < allocated_bytes(written_out, *large) / 10


# ----- coreference: storyworld's spans on token positions, and head scores ----------------------------------------

def test_char_to_token():
    pieces = ["\n", "Once", " upon", " a", " time", ","]
    assert [char_to_token_text(pieces, c) for c in (0, 1, 5, 6, 10, 12, 16, 17)] == \
        ["\n", "Once", " upon", " upon", " a", " time", " time", ","]
    with pytest.raises(IndexError):
        coreference.char_to_token(pieces, 18)


def char_to_token_text(pieces, c):
    return pieces[coreference.char_to_token(pieces, c)]


def test_encoded_links_point_at_the_pronoun_and_its_antecedent(storyworld_gpt):
    _, tokenizer, _ = storyworld_gpt
    stories = storyworld.load_split("validation", 30).stories
    encoded = coreference.encode_stories(stories, tokenizer)
    assert len(encoded.links) == sum(len(s.coreferences) for s in stories)
    for link in encoded.links:
        pieces = encoded.pieces[link.story]
        story = stories[link.story]
        assert pieces[link.pronoun_pos].strip() == link.pronoun
        assert link.antecedent_pos < link.pronoun_pos
        assert link.antecedent_pos in link.mentions and all(m < link.pronoun_pos for m in link.mentions)
        antecedent = next(c.antecedent for c in story.coreferences if c.pronoun == link.pronoun)
        assert story.text.count(antecedent.removesuffix("'s")) >= 1
    # "Lily's" is two tokens, " Lily" and "'s": the antecedent is the name
    for link in encoded.links:
        assert encoded.pieces[link.story][link.antecedent_pos].strip() != "'s"
    assert encoded.batch(0, 3).shape == (3, max(len(r) for r in encoded.ids[:3]))


def test_score_attention_on_made_up_attention():
    links = [coreference.PronounLink(0, "She", "hero", 5, 2, (2, 4)),
             coreference.PronounLink(1, "it", "object", 4, 1, (1,))]
    attention = torch.zeros(2, 1, 2, 6, 6)
    attention[0, 0, 0, 5, 2] = 1.0   # head 0 of story 0: right on the antecedent
    attention[0, 0, 1, 5, 4] = 1.0   # head 1: on an earlier pronoun of the same character
    attention[1, 0, 0, 4, 1] = 1.0
    attention[1, 0, 1, 4, 0] = 1.0
    attention[0, 0, :, 5, 5] = 5.0   # attention to the query itself never counts
    hits, same, targets, kept, skipped = coreference.score_attention(attention, links, [6, 5])
    assert hits.tolist() == [[[True, False]], [[True, False]]]
    assert same.tolist() == [[[True, True]], [[True, False]]]
    assert targets[0, 0].tolist() == [2, 4] and kept == links and skipped == 0
    _, _, _, kept, skipped = coreference.score_attention(attention, links, [6, 5], query_offset=-3)
    assert skipped == 2 and kept == []  # the antecedent is not before the query: not scorable


def test_baselines_and_most_recent_name():
    pieces = ["\n", "A", " girl", " named", " Lily", ".", " She", " met", " Tom", ".", " She"]
    assert coreference.most_recent_name(pieces, 10) == 8
    assert coreference.most_recent_name(pieces, 4) is None
    encoded = coreference.EncodedStories([[0] * 11], [pieces], [
        coreference.PronounLink(0, "She", "hero", 6, 4, (4,)),
        coreference.PronounLink(0, "She", "hero", 10, 4, (4, 6))])
    baselines = coreference.chance_baselines(encoded)
    assert baselines["most_recent_name"] == 0.5
    assert baselines["uniform"] == pytest.approx((1 / 6 + 1 / 10) / 2)


def test_a_trained_head_beats_chance_on_coreference(storyworld_gpt):
    gpt, tokenizer, _ = storyworld_gpt
    encoded = coreference.encode_stories(storyworld.load_split("validation", 40).stories, tokenizer)
    scores = coreference.score_heads(gpt, encoded, batch_size=16)
    L, H = gpt.config.n_layer, gpt.config.n_head
    assert scores.accuracy.shape == (L, H) and len(scores.links) == len(encoded.links)
    assert (scores.same_character_accuracy >= scores.accuracy).all()
    chance = coreference.chance_baselines(encoded)["uniform"]
    layer, head = scores.best
    assert scores.accuracy[layer, head] > 5 * chance
    breakdown = scores.by_pronoun(layer, head)
    assert sum(n for _, n in breakdown.values()) == len(scores.links)
    # the same numbers, scored from the attention maps directly
    maps = coreference.attention_maps(gpt, encoded.batch())
    hits = coreference.score_attention(maps, encoded.links, [len(r) for r in encoded.ids])[0]
    assert np.array_equal(hits, scores.hits)


def test_multi_head_attention_refuses_a_dropout_outside_zero_to_one():
    for dropout in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
            MultiHeadAttention(16, 2, dropout=dropout)
