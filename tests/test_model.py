"""The course GPT, its tokenizers, the training loop, and the shipped checkpoint."""

import json
import math

import pytest
import torch

from course_utils import storyworld
from course_utils.finetune import hidden_states
from course_utils.model import CHECKPOINT_DIR, GPT, GPTConfig, attention_maps, load_storyworld_gpt
from course_utils.ngram import NGramModel
from course_utils.tokenizers import CharTokenizer, WordTokenizer, tokenizer_from_state
from course_utils.train import TrainConfig, evaluate, evaluate_text, get_batch, lr_at, pick_device, train

TINY = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


# ---------------------------------------------------------------- model


def test_gpt2_small_parameter_count():
    # 124,439,808 with the token embedding tied to the LM head, as in the released GPT-2 small
    model = GPT(GPTConfig())
    assert model.num_parameters() == 124_439_808


def test_forward_shapes_and_loss_at_init_is_near_uniform():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32))
    idx = torch.randint(50, (3, 16))
    logits, loss = model(idx, torch.randint(50, (3, 16)))
    assert logits.shape == (3, 16, 50)
    assert abs(loss.item() - math.log(50)) < 0.1  # small init -> nearly uniform predictions


def test_attention_is_causal():
    """Changing a later token must not change the logits at earlier positions."""
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    a = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.clone()
    b[0, 5] = 9
    la, _ = model(a)
    lb, _ = model(b)
    assert torch.allclose(la[0, :5], lb[0, :5], atol=1e-6)
    assert not torch.allclose(la[0, 5:], lb[0, 5:])


def test_recorded_attention_matches_fused_kernel():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    idx = torch.randint(11, (2, 8))
    fused, _ = model(idx)
    for block in model.transformer.h:
        block.attn.record_attention = True
    explicit, _ = model(idx)
    att = model.transformer.h[0].attn.last_attention
    assert att.shape == (2, 2, 8, 8)
    assert torch.allclose(att.sum(-1), torch.ones(2, 2, 8), atol=1e-6)
    assert torch.all(att.triu(diagonal=1) == 0)
    assert (fused - explicit).abs().max() < 1e-5


def test_attention_maps_are_the_softmax_of_the_recorded_queries_and_keys():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    idx = torch.randint(11, (3, 6))
    weights, queries, keys = attention_maps(model, idx, queries_and_keys=True)
    L, H, hs = TINY.n_layer, TINY.n_head, TINY.n_embd // TINY.n_head
    assert weights.shape == (3, L, H, 6, 6) and queries.shape == keys.shape == (3, L, H, 6, hs)
    scores = (queries @ keys.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~torch.ones(6, 6).tril().bool(),
                                                                            float("-inf"))
    assert torch.allclose(weights, scores.softmax(-1), atol=1e-6)
    assert torch.equal(attention_maps(model, idx), weights)
    assert not any(b.attn.record_attention or b.attn.last_attention is not None for b in model.transformer.h)


def test_embed_and_run_blocks_are_the_forward_pass_in_pieces():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    idx = torch.randint(11, (2, 7))
    logits, _ = model(idx)
    assert torch.allclose(model.lm_head(hidden_states(model, idx)), logits, atol=1e-6)
    lower = hidden_states(model, idx, last=1, final_norm=False)       # the frozen lower block, run once
    assert torch.allclose(model.lm_head(hidden_states(model, x=lower, first=1)), logits, atol=1e-6)
    assert torch.allclose(model.run_blocks(model.embed(idx)), model.run_blocks(lower, first=1), atol=1e-6)


def test_generate_greedy_is_deterministic_and_respects_context_window():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    start = torch.zeros(1, 1, dtype=torch.long)
    a = model.generate(start, 20, temperature=0)
    b = model.generate(start, 20, temperature=0)
    assert a.shape == (1, 21) and torch.equal(a, b)
    g = torch.Generator().manual_seed(1)
    c = model.generate(start, 5, temperature=1.0, top_k=3, generator=g)
    assert c.shape == (1, 6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_embd=30, n_head=4), "divisible"),
    (dict(vocab_size=0), "positive int"),
    (dict(n_layer=2.5), "positive int"),
    (dict(dropout=1.0), "dropout"),
])
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**TINY.__dict__, **kwargs})


def test_bad_input_gets_clear_errors():
    model = GPT(TINY)
    with pytest.raises(ValueError, match="context window"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(batch, time\)"):
        model(torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token IDs must be in \[0, 11\)"):
        model(torch.tensor([[3, 11]]))
    with pytest.raises(ValueError, match="targets must have the shape"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 1, temperature=-1)


def test_float_token_ids_and_bad_generate_settings_get_clear_errors():
    model = GPT(TINY).eval()
    with pytest.raises(TypeError, match=r"idx must hold integer token IDs \(torch.long\), got dtype torch.float32"):
        model(torch.zeros(1, 4))
    with pytest.raises(TypeError, match="idx must be a tensor of token IDs"):
        model([[1, 2, 3]])
    with pytest.raises(TypeError, match="targets must be a torch.long tensor"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4))
    with pytest.raises(TypeError, match="integer token IDs"):
        model.generate(torch.zeros(1, 2), 0)                      # even with nothing to generate
    with pytest.raises(TypeError, match="integer token IDs"):
        model.generate(torch.zeros(1, 2, dtype=torch.float64), 3)
    for kwargs, message in ((dict(top_k=0), "top_k must be an int >= 1"),
                            (dict(temperature=float("nan")), "temperature must be a number >= 0, got nan"),
                            (dict(temperature=float("inf")), "temperature must be finite"),
                            (dict(max_new_tokens=-1), "max_new_tokens must be an int >= 0")):
        with pytest.raises(ValueError, match=message):
            model.generate(torch.zeros(1, 2, dtype=torch.long), **{"max_new_tokens": 2, **kwargs})
    with pytest.raises(ValueError, match=r"token IDs must be in \[0, 11\), got min -1 and max 3"):
        model(torch.tensor([[3, -1]]))
    idx = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(idx.int())[0], model(idx)[0])      # int32 IDs (numpy's default on Windows) work


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    model.save(tmp_path / "m.pt", note="hello")
    loaded, meta = GPT.load(tmp_path / "m.pt")
    idx = torch.randint(11, (1, 8))
    assert torch.equal(model(idx)[0], loaded(idx)[0]) and meta == {"note": "hello"}
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        GPT.load(tmp_path / "missing.pt")


# ---------------------------------------------------------------- tokenizers


def test_word_tokenizer_round_trips_storyworld_and_marks_unknown_words():
    text = storyworld.load_split("validation", 50).text
    tok = WordTokenizer.train(storyworld.load_split("train", 500).text)
    assert tok.decode(tok.encode(text)) == text
    ids = tok.encode(" Lily met a dragon.")
    assert tok.decode(ids) == " Lily met a<unk>."
    assert tok.decode(tok.encode("Lily")) == "<unk>"  # no story starts with a name: unseen without its space
    assert WordTokenizer.split("She said, \"Hi!\"\n") == ["She", " said", ",", " \"", "Hi", "!", "\"", "\n"]


def test_char_tokenizer_and_errors():
    tok = CharTokenizer.train("hello world")
    assert tok.decode(tok.encode("hold")) == "hold" and tok.vocab_size == 8
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode("xyz")
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.train("")
    with pytest.raises(ValueError, match=r"token IDs must be ints in \[0, 8\)"):
        tok.decode([0, 99])
    with pytest.raises(TypeError, match="str"):
        tok.encode(b"bytes")
    assert tokenizer_from_state(tok.state_dict()).itos == tok.itos
    with pytest.raises(ValueError, match="unknown tokenizer type"):
        tokenizer_from_state({"type": "bpe?"})


# ---------------------------------------------------------------- training


def test_batches_are_shifted_by_one_and_errors_are_clear():
    ids = torch.arange(100)
    x, y = get_batch(ids, 4, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10) and torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="block_size"):
        get_batch(torch.arange(5), 1, 10)
    with pytest.raises(ValueError, match="1-D"):
        get_batch(torch.zeros(3, 30, dtype=torch.long), 1, 10)
    with pytest.raises(ValueError, match="batch_size and block_size must be ints >= 1"):
        get_batch(torch.arange(30), 0, 10)


def test_learning_rate_schedule_warms_up_then_decays():
    lrs = [lr_at(s, 1.0, 10, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)
    assert lr_at(0, 1.0, 0, 100) == 1.0 and lr_at(99, 1.0, 100, 100) == 1.0   # no warm-up, or all warm-up
    with pytest.raises(ValueError, match=r"warmup_steps must be an int in \[0, total_steps=20\], got 50"):
        lr_at(0, 1.0, 50, 20)
    with pytest.raises(ValueError, match="a warm-up longer than the schedule"):
        train(GPT(TINY), torch.arange(11).repeat(5), torch.arange(11).repeat(5),
              TrainConfig(max_steps=20, warmup_steps=50), progress=False)
    with pytest.raises(ValueError, match="total_steps must be an int >= 1"):
        lr_at(0, 1.0, 0, 0)
    with pytest.raises(ValueError, match=r"min_lr_ratio must be a share of max_lr in \[0, 1\]"):
        lr_at(0, 1.0, 10, 100, min_lr_ratio=1.5)


def test_training_lowers_the_loss_and_is_reproducible():
    torch.manual_seed(0)
    ids = torch.tensor(([1, 2, 3, 4, 5, 6, 7] * 60))

    def run():
        torch.manual_seed(0)
        model = GPT(TINY)
        before = evaluate(model, ids)
        result = train(model, ids, ids, TrainConfig(max_steps=60, batch_size=8, learning_rate=1e-2,
                                                    warmup_steps=5, eval_interval=30), progress=False)
        return before, result

    before, r1 = run()
    _, r2 = run()
    assert r1.val_loss[-1] < 0.2 * before
    assert r1.train_loss == r2.train_loss


def test_pick_device_respects_override(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("LLM_MECHANICS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    monkeypatch.delenv("LLM_MECHANICS_DEVICE")
    assert pick_device().type in {"cpu", "cuda", "mps"}


# ---------------------------------------------------------------- n-grams


def test_ngram_probabilities_sum_to_one_and_match_counts():
    model = NGramModel(2, vocab="abc", k=0.5).fit("abcabca")
    for ctx in "abc":
        assert sum(model.prob(ctx, t) for t in "abc") == pytest.approx(1.0)
    assert model.prob("a", "b") == pytest.approx((2 + 0.5) / (2 + 1.5))  # "ab" twice after "a" x2
    assert model.nll("abc") > 0
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.fit("abz")
    with pytest.raises(ValueError, match="n must be"):
        NGramModel(0, vocab="ab")
    with pytest.raises(ValueError, match="k must be > 0"):
        NGramModel(2, vocab="ab", k=0)


# ---------------------------------------------------------------- the shipped checkpoint


def test_checkpoint_loads_offline_and_scores_what_the_training_script_recorded():
    model, tokenizer, record = load_storyworld_gpt()
    assert model.num_parameters() == record["parameters"]
    val = storyworld.load_split("validation")
    torch.set_num_threads(2)
    scored = evaluate_text(model, tokenizer, val.text)
    assert scored["nats_per_token"] == pytest.approx(record["val_nats_per_token"], rel=1e-4)
    assert scored["nats_per_char"] == pytest.approx(record["val_nats_per_char"], rel=1e-4)
    assert record["floor_nats_per_char"] == pytest.approx(val.nats_per_char)
    # a trained model: far below uniform guessing, and above the floor (no model beats it)
    assert val.nats_per_char < scored["nats_per_char"] < 0.5
    assert (CHECKPOINT_DIR / "storyworld_gpt.pt").stat().st_size < 8_000_000
    json.dumps(record)  # plain JSON, readable without torch


def test_live_loss_plot_draws_and_on_eval_is_called(monkeypatch):
    from course_utils.train import LiveLossPlot, TrainResult

    calls = []
    ids = torch.tensor([1, 2, 3, 4, 5, 6, 7] * 30)
    torch.manual_seed(0)
    train(GPT(TINY), ids, ids, TrainConfig(max_steps=20, batch_size=4, warmup_steps=5, eval_interval=10),
          progress=False, on_eval=lambda r: calls.append(len(r.val_loss)))
    assert calls == [1, 2]
    plot = LiveLossPlot(floor=0.5)
    fig = plot.figure(TrainResult(steps=[0, 1], train_loss=[2.0, 1.0], eval_steps=[1], val_loss=[1.5]))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["train (batches)", "validation", "entropy floor"]


def test_progress_bar_redraws_at_most_once_a_second(monkeypatch):
    # In Jupyter every redraw of the bar is a message to the front end. nbval reads a cell's messages only after
    # it ends, and ZeroMQ drops those beyond its queue (about 2,000), the cell's end among them: a minute of
    # training redrawn ten times a second once made nbval time out. The bar is throttled to stay well under that.
    import tqdm.auto

    bars = []

    class RecordingBar(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            bars.append(kwargs)
            super().__init__(*args, **{**kwargs, "disable": True})

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    ids = torch.tensor([1, 2, 3, 4, 5, 6, 7] * 30)
    train(GPT(TINY), ids, ids, TrainConfig(max_steps=2, batch_size=4, warmup_steps=1, eval_interval=2))
    assert len(bars) == 1 and bars[0].get("mininterval", 0.1) >= 1.0, bars


def test_hyperparameter_table_names_the_stacks_and_the_tying():
    rows = {name: value for name, value, _ in GPTConfig(n_layer=3).hyperparameter_table()}
    assert (rows["encoder_num_layers"], rows["decoder_num_layers"], rows["share_embeddings"]) == (0, 3, True)
    rows = {name: value for name, value, _ in GPTConfig(n_layer=3, causal=False).hyperparameter_table()}
    assert (rows["encoder_num_layers"], rows["decoder_num_layers"]) == (3, 0)
    model = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=4))
    assert model.lm_head.weight is model.transformer.wte.weight       # share_embeddings: one tensor
