"""course_utils.bpe: training (naive == incremental), encoding and decoding, special tokens, clear errors,
and the proof that the learned merges wrapped as a tiktoken.Encoding give exactly the same token IDs."""

from __future__ import annotations

import json
import random
import warnings

import pytest
import tiktoken

from course_utils import bpe, storyworld
from course_utils.bpe import ENDOFTEXT, GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer, count_pairs, merge
from course_utils.tokenizers import tokenizer_from_state

ADVERSARIAL = [
    "", " ", "\n", "   leading and trailing   ", "tabs\tand\r\nWindows newlines\n\n\n", "  \n \n\t\t x",
    "café vs cafe\u0301", "日本語のテキスト、中文文本", "🐉🐉 👨‍👩‍👧 🇩🇪 1️⃣", "مرحبا بالعالم", "ALL CAPS, CamelCase",
    "12345678901234567890 3.14159 -0.5e-10", "I'M YOU'RE we'd they'll 'S 'Ll", "<html><b>x</b></html>",
    "\x00\x01 control \x7f", "😀" * 30, "a" * 500, " " * 50, "x\u200dy", "ﬁ ligature, Ω, ẞ",
]


def _random_texts(seed: int, n: int, alphabet: str = "ab \n\t.,'é😀日07", max_len: int = 80) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len))) for _ in range(n)]


@pytest.fixture(scope="module")
def train_text() -> str:
    return storyworld.load_split("train", 600).text


@pytest.fixture(scope="module")
def tok(train_text) -> BPETokenizer:
    return BPETokenizer.train(train_text, 400)


# ------------------------------------------------------------------------------------------- primitives

def test_count_pairs_and_merge():
    assert count_pairs([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert count_pairs([1, 2], {(1, 2): 3}, weight=5) == {(1, 2): 8}
    assert count_pairs([]) == {} and count_pairs([7]) == {}
    assert merge([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge([7, 7, 7], (7, 7), 9) == [9, 7]        # left to right, an occurrence is used once
    assert merge([7, 7, 7, 7], (7, 7), 9) == [9, 9]
    assert merge([], (1, 2), 9) == [] and merge([1], (1, 2), 9) == [1]


def test_apply_merges_replays_the_earliest_learned_merge_first(tok):
    assert bpe.apply_merges([97, 98, 99], {(98, 99): 256, (97, 98): 257}) == [97, 256]  # not the leftmost pair
    assert bpe.apply_merges([97] * 5, {(97, 97): 256, (256, 256): 257}) == [257, 97]
    assert bpe.apply_merges([], {(1, 2): 256}) == [] and bpe.apply_merges([5], {}) == [5]
    for word in (" princess", " Kenji", "🐉", "aaaaaaa"):
        assert bpe.apply_merges(list(word.encode("utf-8")), tok.merges) == tok.encode(word)


# ------------------------------------------------------------------------------------------- training

def test_lecture_example_first_merge_is_l_o():
    tok = BPETokenizer.train("cats lovely love cats lovely low cat love", 257, pattern=r"\S+|\s+", special_tokens=())
    assert tok.merges == {(ord("l"), ord("o")): 256}
    assert tok.vocab[256] == b"lo"


@pytest.mark.parametrize("pattern", [GPT4_SPLIT_PATTERN, GPT2_SPLIT_PATTERN, None])
def test_incremental_learns_exactly_the_naive_merges_on_storyworld(pattern):
    text = storyworld.load_split("validation", 60).text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # with pre-splitting this small text runs out of pairs: fine here
        naive = BPETokenizer.train(text, 700, pattern=pattern, algorithm="naive")
        fast = BPETokenizer.train(text, 700, pattern=pattern)
    assert list(naive.merges.items()) == list(fast.merges.items())
    assert len(fast.merges) > 100


def test_incremental_equals_naive_on_random_text_with_repeats_and_ties():
    # Runs of one character ("aaaa") are the tricky case for incremental updates: overlapping pairs.
    for i, text in enumerate(_random_texts(1, 150, alphabet="aab b\n", max_len=120)):
        for pattern in (GPT4_SPLIT_PATTERN, None):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                naive = BPETokenizer.train(text, 320, pattern=pattern, special_tokens=(), algorithm="naive")
                fast = BPETokenizer.train(text, 320, pattern=pattern, special_tokens=())
            assert list(naive.merges.items()) == list(fast.merges.items()), (i, text, pattern)


def test_ids_vocab_layout_and_special_token(tok):
    assert tok.vocab_size == 400
    assert [tok.vocab[i] for i in range(256)] == [bytes([b]) for b in range(256)]
    assert sorted(tok.merges.values()) == list(range(256, 399))
    assert tok.special_tokens == {ENDOFTEXT: 399}
    for (a, b), i in tok.merges.items():
        assert a < i and b < i and tok.vocab[i] == tok.vocab[a] + tok.vocab[b]
    assert "400" in repr(tok) and "GPT-4 split" in repr(tok)


def test_training_is_deterministic_and_a_prefix_of_longer_training(train_text, tok):
    again = BPETokenizer.train(train_text, 400)
    longer = BPETokenizer.train(train_text, 450)
    assert again.merges == tok.merges
    assert list(longer.merges.items())[:len(tok.merges)] == list(tok.merges.items())


def test_special_tokens_in_training_text_never_merge():
    text = ("ab" + ENDOFTEXT) * 50
    tok = BPETokenizer.train(text, 258)  # "ab" is the only pair: 256 bytes + 1 merge + 1 special
    assert all(b"<" not in tok.vocab[i] and b"|" not in tok.vocab[i] for i in tok.merges.values())
    assert tok.encode(text, allowed_special="all").count(tok.special_tokens[ENDOFTEXT]) == 50


def test_running_out_of_pairs_warns_and_stops():
    with pytest.warns(UserWarning, match="ran out of pairs"):
        tok = BPETokenizer.train("ab ab ab", 300)
    # chunks "ab" and " ab": a+b, then " "+ab (or the other order); then nothing is left
    assert tok.vocab_size == 256 + len(tok.merges) + 1 and len(tok.merges) == 2
    assert tok.special_tokens[ENDOFTEXT] == tok.vocab_size - 1


def test_training_rejects_bad_arguments():
    with pytest.raises(TypeError, match="str"):
        BPETokenizer.train(b"bytes", 300)
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("abc", 256)  # no room for <|endoftext|>
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("abc", 300.0)
    with pytest.raises(ValueError, match="algorithm"):
        BPETokenizer.train("abc", 300, algorithm="fast")
    with pytest.raises(ValueError, match="distinct"):
        BPETokenizer.train("abc", 300, special_tokens=[ENDOFTEXT, ENDOFTEXT])
    with pytest.raises(ValueError, match="non-empty"):
        BPETokenizer.train("abc", 300, special_tokens=[""])


# ------------------------------------------------------------------------------------------- encode/decode

@pytest.mark.parametrize("text", ADVERSARIAL)
def test_round_trip_on_any_unicode(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_round_trip_on_corpus_and_compression(tok):
    val = storyworld.load_split("validation").text
    ids = tok.encode(val)
    assert tok.decode(ids) == val
    assert len(val) / len(ids) > 2.2  # 143 merges already pack more than two characters into a token


def test_decode_of_partial_character_gives_replacement_char(tok):
    ids = tok.encode("🐉")
    assert tok.decode_bytes(ids) == "🐉".encode("utf-8")
    assert tok.decode(ids[:1]) == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        tok.decode(ids[:1], errors="strict")


def test_decode_accepts_tensors_and_rejects_bad_ids(tok):
    torch = pytest.importorskip("torch")
    ids = tok.encode("Once upon a time")
    assert tok.decode(torch.tensor(ids)) == "Once upon a time"
    for bad in ([tok.vocab_size], [-1], [1.5], ["a"]):
        with pytest.raises(ValueError, match="token IDs"):
            tok.decode(bad)


def test_encode_rejects_non_strings(tok):
    for bad in (b"bytes", None, 42, ["a"]):
        with pytest.raises(TypeError, match="str"):
            tok.encode(bad)


def test_special_token_rules_follow_tiktoken(tok):
    enc = tok.to_tiktoken()
    text = f"a{ENDOFTEXT}b"
    eot = tok.special_tokens[ENDOFTEXT]
    for kwargs in ({"allowed_special": "all"}, {"allowed_special": {ENDOFTEXT}}, {"disallowed_special": ()},
                   {"allowed_special": set(), "disallowed_special": ()}):
        assert tok.encode(text, **kwargs) == enc.encode(text, **kwargs), kwargs
    assert tok.encode(text, allowed_special="all") == tok.encode("a") + [eot] + tok.encode("b")
    assert eot not in tok.encode_ordinary(text)
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    with pytest.raises(ValueError, match="special token"):
        tok.encode(text)
    with pytest.raises(ValueError):
        enc.encode(text)


def test_unknown_special_tokens_are_clear_errors(tok):
    with pytest.raises(ValueError, match="unknown special token"):
        tok.encode("x", allowed_special={"<|im_start|>"})
    with pytest.raises(ValueError, match="unknown special token"):
        tok.encode("x", disallowed_special={"<|im_start|>"})
    with pytest.raises(TypeError, match="'all'"):
        tok.encode("x", allowed_special="none")


def test_state_dict_round_trip_through_json(tok):
    state = json.loads(json.dumps(tok.state_dict()))
    again = tokenizer_from_state(state)
    assert isinstance(again, BPETokenizer)
    assert again.merges == tok.merges and again.special_tokens == tok.special_tokens
    assert again.encode("Once upon a time") == tok.encode("Once upon a time")
    with pytest.raises(ValueError, match="not a BPE"):
        BPETokenizer.from_state({"type": "char", "itos": ["a"]})


def test_constructor_rejects_inconsistent_merges():
    with pytest.raises(ValueError, match="unknown token"):
        BPETokenizer({(300, 1): 256})
    with pytest.raises(ValueError, match="gaps"):
        BPETokenizer({(1, 2): 300})
    with pytest.raises(ValueError, match="reuses"):
        BPETokenizer({(1, 2): 256}, special_tokens={ENDOFTEXT: 256})


# ------------------------------------------------------------------------------------------- = tiktoken

def _assert_same_ids(ours: BPETokenizer, theirs, texts):
    for text in texts:
        a = ours.encode(text, disallowed_special=())
        b = theirs.encode(text, disallowed_special=())
        assert a == b, text[:80]


def test_to_tiktoken_gives_exactly_the_same_ids_on_corpus_and_adversarial_text(tok):
    enc = tok.to_tiktoken()
    assert isinstance(enc, tiktoken.Encoding) and enc.n_vocab == tok.vocab_size
    val = storyworld.load_split("validation").text
    shifted = storyworld.load_split("test", variant="shifted").text
    _assert_same_ids(tok, enc, [val, shifted, *ADVERSARIAL, *_random_texts(2, 300)])
    assert enc.decode(enc.encode(val)) == val


@pytest.mark.parametrize("pattern", [GPT2_SPLIT_PATTERN, None])
def test_to_tiktoken_equality_with_other_split_patterns(pattern):
    text = storyworld.load_split("validation", 200).text
    tok = BPETokenizer.train(text, 600, pattern=pattern)
    _assert_same_ids(tok, tok.to_tiktoken(), [text[:20_000], *ADVERSARIAL, *_random_texts(3, 100)])


def test_to_tiktoken_equality_on_runs_of_repeated_characters():
    for text in _random_texts(4, 60, alphabet="aab b", max_len=100):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = BPETokenizer.train(text * 2, 320, special_tokens=())
        probes = [text, "a" * 17, "ab" * 9, "aab aab  bbbb", *_random_texts(5, 20, "ab ")]
        _assert_same_ids(tok, tok.to_tiktoken(), probes)


def test_lone_surrogates_are_replaced_as_tiktoken_does(tok):
    text = "a\ud800b \udfff"
    assert tok.encode(text) == tok.to_tiktoken().encode(text)
    assert tok.decode(tok.encode(text)) == "a\ufffdb \ufffd"


def test_course_tokenizer_is_the_storyworld_bpe():
    tok = bpe.course_tokenizer()
    assert tok.vocab_size == bpe.COURSE_VOCAB_SIZE and tok.pattern == GPT4_SPLIT_PATTERN
    assert tok is bpe.course_tokenizer()  # cached
    text = storyworld.load_split("validation", 20).text
    assert tok.to_tiktoken().encode(text) == tok.encode(text)


# ------------------------------------------------------------------------------------------- real tokenizers

def test_gpt2_merges_recovered_from_ranks_reproduce_tiktoken():
    gpt2 = bpe.load_tiktoken("r50k_base", quiet=True)
    if gpt2 is None:
        pytest.skip("r50k_base is not cached and there is no network")
    ours = BPETokenizer.from_tiktoken(gpt2)
    assert ours.vocab_size == 50_257 and len(ours.merges) == 50_000
    text = storyworld.load_split("validation", 100).text
    _assert_same_ids(ours, gpt2, [text, *ADVERSARIAL, *_random_texts(6, 200)])


def test_load_tiktoken_offline_prints_one_line_and_returns_none(monkeypatch, tmp_path, capsys):
    import requests

    def offline(name):
        raise requests.exceptions.ConnectionError("Failed to resolve 'openaipublic.blob.core.windows.net'")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    assert bpe.load_tiktoken("cl100k_base") is None
    out = capsys.readouterr().out
    assert out == "cl100k_base not available offline (no cached file); skipping it.\n"
    assert bpe.load_tiktoken("cl100k_base", quiet=True) is None
    assert capsys.readouterr().out == ""


def test_load_tiktoken_respects_llm_mechanics_offline(monkeypatch, tmp_path, capsys):
    def must_not_download(name):
        raise AssertionError("LLM_MECHANICS_OFFLINE is set: no download may be tried")

    monkeypatch.setattr(tiktoken, "get_encoding", must_not_download)
    monkeypatch.setenv("LLM_MECHANICS_OFFLINE", "1")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert bpe.load_tiktoken("o200k_base") is None
    assert capsys.readouterr().out.count("\n") == 1


def test_load_tiktoken_unknown_name_is_an_error():
    with pytest.raises(ValueError, match="unknown encoding"):
        bpe.load_tiktoken("gpt5_base")
