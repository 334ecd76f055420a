"""Pretraining data: windows, masked-LM and span-corruption examples, deduplication, PII scrubbing."""

import pytest
import torch

from course_utils.data import (IGNORE_INDEX, SlidingWindowDataset, exact_duplicates, jaccard, mask_tokens,
                               minhash_signature, near_duplicates, scrub_pii, shingles, span_corrupt)
from course_utils.model import GPT, GPTConfig


def test_windows_are_shifted_by_one_and_counted_right():
    ids = torch.arange(20)
    ds = SlidingWindowDataset(ids, block_size=4, stride=4)
    assert len(ds) == 4  # starts 0, 4, 8, 12 (the window at 16 has no target for its last token)
    x, y = ds[1]
    assert x.tolist() == [4, 5, 6, 7] and y.tolist() == [5, 6, 7, 8]
    assert len(SlidingWindowDataset(ids, 4, 1)) == 16
    assert ds[-1][0].tolist() == [12, 13, 14, 15]
    with pytest.raises(IndexError):
        ds[4]
    with pytest.raises(ValueError, match="block_size \\+ 1"):
        SlidingWindowDataset(torch.arange(4), 4)
    with pytest.raises(ValueError, match="1-D"):
        SlidingWindowDataset(torch.zeros(2, 10, dtype=torch.long), 4)


def test_mask_tokens_follows_the_bert_recipe():
    ids = torch.randint(5, 100, (200, 50), generator=torch.Generator().manual_seed(0))
    inputs, targets = mask_tokens(ids, mask_id=1, vocab_size=100, generator=torch.Generator().manual_seed(1))
    picked = targets != IGNORE_INDEX
    assert 0.13 < picked.float().mean() < 0.17
    assert torch.equal(targets[picked], ids[picked])
    assert torch.equal(inputs[~picked], ids[~picked])  # untouched elsewhere
    masked_share = (inputs[picked] == 1).float().mean()
    kept_share = (inputs[picked] == ids[picked]).float().mean()
    assert 0.75 < masked_share < 0.85 and 0.07 < kept_share < 0.14
    with pytest.raises(ValueError, match="rate"):
        mask_tokens(ids, 1, 100, rate=1.5)


def test_masked_targets_are_ignored_by_the_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=6, n_layer=1, n_head=1, n_embd=8, causal=False))
    x = torch.randint(10, (2, 6))
    y = torch.full((2, 6), IGNORE_INDEX)
    y[0, 2] = 3
    logits, loss = model(x, y)
    assert loss.item() == pytest.approx(-logits[0, 2].log_softmax(-1)[3].item(), abs=1e-5)


def test_encoder_sees_the_future_decoder_does_not():
    for causal in (True, False):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=10, block_size=6, n_layer=1, n_head=1, n_embd=8, causal=causal)).eval()
        a = torch.tensor([[1, 2, 3, 4, 5, 6]])
        b = a.clone()
        b[0, -1] = 9
        changed = not torch.allclose(model(a)[0][0, 0], model(b)[0][0, 0])
        assert changed == (not causal)


def test_span_corruption():
    words = "Lily had a red ball and a dog".split()
    inputs, targets = span_corrupt(words, [(2, 4), (6, 8)])
    assert inputs == ["Lily", "had", "<X0>", "ball", "and", "<X1>"]
    assert targets == ["<X0>", "a", "red", "<X1>", "a", "dog"]
    with pytest.raises(ValueError, match="non-overlapping"):
        span_corrupt(words, [(1, 3), (2, 4)])


def test_exact_and_near_duplicates():
    base = "once upon a time there was a little girl named lily who had a red ball and a small dog"
    texts = [base, "something else entirely about a boy and a kite in the park on a sunny day", base,
             base.replace("red", "blue"), "unrelated words " * 5]
    assert exact_duplicates(texts) == [2]
    pairs = near_duplicates([texts[0], texts[1], texts[3], texts[4]], threshold=0.5)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    true_jaccard = jaccard(shingles(texts[0]), shingles(texts[3]))
    assert abs(pairs[0][2] - true_jaccard) < 0.2  # MinHash estimates the Jaccard similarity
    with pytest.raises(ValueError, match="empty"):
        minhash_signature(set())
    with pytest.raises(ValueError, match="divisible"):
        near_duplicates(texts, num_perm=10, bands=3)


def test_scrub_pii():
    text, counts = scrub_pii("Mail ann@example.com or call 555-0142 or 020 555 0199.")
    assert text == "Mail <EMAIL> or call <PHONE> or <PHONE>."
    assert counts == {"EMAIL": 1, "PHONE": 2}
    assert scrub_pii("Lily had 3 red balls.")[1] == {"EMAIL": 0, "PHONE": 0}
    with pytest.raises(TypeError):
        scrub_pii(None)


@pytest.mark.parametrize("call, message", [
    (lambda: near_duplicates(["a b c d e f"], threshold=2), r"threshold must be a Jaccard similarity in \[0, 1\]"),
    (lambda: near_duplicates(["a b c d e f"], threshold=-0.1), "threshold must be"),
    (lambda: near_duplicates(["a b c d e f"], threshold=float("nan")), "threshold must be"),
    (lambda: near_duplicates(["a b c d e f"], num_perm=0), "num_perm must be an int >= 1"),
    (lambda: near_duplicates(["a b c d e f"], bands=0), "bands must be an int >= 1"),
    (lambda: minhash_signature({"a b"}, num_perm=0), "num_perm must be an int >= 1"),
    (lambda: shingles("a b c", n=0), "n must be an int >= 1"),
    (lambda: SlidingWindowDataset(torch.arange(20), 4, stride=0), "stride must be ints >= 1"),
    (lambda: SlidingWindowDataset(torch.arange(20), 4.0), "block_size and stride must be ints"),
    (lambda: mask_tokens(torch.arange(10), 1, 100, rate=float("nan")), r"rate must be a share in \(0, 1\)"),
    (lambda: mask_tokens(torch.arange(10), 1, 0), "vocab_size must be an int >= 1"),
])
def test_out_of_range_thresholds_and_shares_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_float_token_ids_are_refused_not_truncated():
    with pytest.raises(TypeError, match="ids must be integer token IDs, got dtype torch.float32"):
        SlidingWindowDataset(torch.arange(20.0) + 0.5, 4)
    with pytest.raises(TypeError, match="ids must hold integer token IDs"):
        mask_tokens(torch.arange(10.0), 1, 100)
    assert len(SlidingWindowDataset(list(range(20)), 4)) == 4  # a list of ints is still fine
