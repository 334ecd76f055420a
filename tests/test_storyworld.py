"""storyworld: exact probabilities, an unambiguous grammar, ground truth that matches the text, determinism."""

import math

import pytest

from course_utils import storyworld as sw


# ---------------------------------------------------------------- probabilities are exact


@pytest.mark.parametrize("kwargs", [dict(pronoun_prob=1.0), dict(pronoun_prob=0.0),
                                    dict(pronoun_prob=0.7, pet_prob=0.0, happy_prob=0.25)])
def test_probabilities_of_all_texts_of_a_tiny_grammar_sum_to_one(kwargs):
    world = sw.StoryWorld(variant="tiny", **kwargs)
    stories = list(world.enumerate())
    texts = {s.text for s in stories}
    assert len(texts) == len(stories), "two derivations gave the same text: the grammar is ambiguous"
    assert math.fsum(math.exp(s.log_prob) for s in stories) == pytest.approx(1.0, abs=1e-9)


def test_enumeration_refuses_a_grammar_too_big_to_list():
    with pytest.raises(RuntimeError, match="smaller lexicon"):
        list(sw.StoryWorld(variant="standard").enumerate(max_stories=100))


@pytest.mark.parametrize("variant", ["standard", "shifted"])
def test_every_sampled_story_has_exactly_one_derivation_and_its_recorded_probability(variant):
    world = sw.StoryWorld(seed=3, variant=variant)
    for story in world.generate(25, split="validation"):
        derivations = world.parse(story.text, limit=2)
        assert derivations == [story.choices]
        assert world.log_prob(story.text) == pytest.approx(story.log_prob, abs=1e-12)


def test_texts_the_grammar_cannot_write_have_probability_zero():
    world = sw.StoryWorld()
    story = world.story(0)
    assert world.log_prob(story.text[:-1]) == -math.inf          # truncated
    assert world.log_prob(story.text + " The end.") == -math.inf  # extended
    assert world.log_prob(story.text.replace(".", "!", 1)) == -math.inf
    assert world.log_prob("") == -math.inf


def test_corpus_floor_is_the_mean_negative_log_probability_per_character():
    corpus = sw.load_split("validation", 50)
    total = -sum(s.log_prob for s in corpus.stories)
    assert corpus.text.count("\n") == 50 and len(corpus.text) == corpus.n_chars
    assert corpus.nats_per_char == pytest.approx(total / len(corpus.text))
    assert corpus.bits_per_char == pytest.approx(corpus.nats_per_char / math.log(2))
    assert 0.02 < corpus.nats_per_char < 1.0


# ---------------------------------------------------------------- determinism and splits


def test_same_seed_same_stories_other_seed_other_stories():
    a = sw.load_split("train", 20, seed=1)
    b = sw.load_split("train", 20, seed=1)
    c = sw.load_split("train", 20, seed=2)
    assert a.text == b.text
    assert a.text != c.text
    assert sw.StoryWorld(seed=1).story(7).text == a.stories[7].text  # random access


def test_splits_do_not_share_stories():
    texts = {split: {s.text for s in sw.load_split(split, 300).stories} for split in sw.SPLITS}
    assert not texts["train"] & texts["validation"]
    assert not texts["train"] & texts["test"]
    assert not texts["validation"] & texts["test"]


def test_default_train_split_is_over_a_megabyte_and_fast():
    corpus = sw.load_split("train")
    assert corpus.n_chars > 1_000_000
    assert len(corpus) == sw.DEFAULT_SIZES["train"]


def test_shifted_variant_uses_other_words():
    standard = set(sw.load_split("test", 200).text.split())
    shifted = set(sw.load_split("test", 200, variant="shifted").text.split())
    assert len(shifted - standard) > 30
    assert not set(sw.SHIFTED_LEXICON.names["female"]) & set(sw.LEXICON.names["female"])


# ---------------------------------------------------------------- ground truth agrees with the text


def test_coreferences_point_at_an_earlier_mention_that_agrees():
    world = sw.StoryWorld(seed=5)
    seen = 0
    for story in world.generate(100):
        for ref in story.coreferences:
            p0, p1 = ref.pronoun_span
            a0, a1 = ref.antecedent_span
            assert story.text[p0:p1] == ref.pronoun
            assert story.text[a0:a1] == ref.antecedent
            assert a1 <= p0, "antecedent must come before the pronoun"
            pronoun = ref.pronoun.lower()
            if ref.entity == "object":
                assert pronoun == "it" and ref.antecedent in sw.LEXICON.objects
            else:
                gender = sw.LEXICON.category[ref.antecedent.removesuffix("'s")].split("_")[1]
                assert pronoun in sw._PRONOUNS[gender].values()
            # the antecedent is the *most recent* mention: the name does not reappear in between
            assert ref.antecedent not in story.text[a1:p0]
            seen += 1
    assert seen > 300


def test_pronouns_are_never_ambiguous_by_gender():
    """When both characters share a gender, the story uses names after the friend appears."""
    for story in sw.StoryWorld(seed=9).generate(200):
        people = [r for r in story.coreferences if r.entity != "object"]
        friend_start = story.text.index(story.qa[3].answer)  # "Who did X meet?" -> the friend's name
        genders = {sw.LEXICON.category[story.qa[0].answer], sw.LEXICON.category[story.qa[3].answer]}
        if len(genders) == 1:
            assert all(r.pronoun_span[0] < friend_start for r in people)


def test_labels_qa_and_preferences_match_the_story():
    stories = sw.StoryWorld(seed=2).generate(300)
    assert {s.ending for s in stories} == {"happy", "sad"}
    assert {s.topic for s in stories} == {"share", "lost", "food"}
    happy_rate = sum(s.ending == "happy" for s in stories) / len(stories)
    assert 0.5 < happy_rate < 0.7  # the grammar's happy_prob is 0.6
    for story in stories:
        emotion = story.text.rstrip(".").split()[-1]
        assert emotion in (sw.LEXICON.happy_emotions if story.ending == "happy" else sw.LEXICON.sad_emotions)
        for qa in story.qa:
            if qa.answer != "no":
                assert qa.answer.removeprefix("yes, ") in story.text
        assert len(story.preferences) == len(story.qa)
        kinds = [qa.kind for qa in story.qa]
        assert kinds == [k for k in sw.QUESTION_KINDS if k != "food" or "What did" in story.qa[-1].question]
        for pref, qa in zip(story.preferences, story.qa):
            assert pref.question == qa.question and pref.chosen == qa.answer and pref.kind == qa.kind
            assert pref.rejected != pref.chosen


def test_lexicon_categories_and_analogies():
    cats = sw.LEXICON.category
    assert cats["king"] == "person_male" and cats["queen"] == "person_female"
    assert cats["red"] == "colour" and cats["park"] == "place" and cats["Lily"] == "name_female"
    assert ("king", "queen", "prince", "princess") in sw.LEXICON.analogies
    assert ("prince", "king", "princess", "queen") in sw.LEXICON.analogies  # age
    assert ("king", "man", "queen", "woman") in sw.LEXICON.analogies        # rank
    words = set(sw.load_split("train", 300).text.replace(".", " ").replace(",", " ").split())
    for word in ("king", "queen", "prince", "princess", "red", "dog", "castle"):
        assert word in words


# ---------------------------------------------------------------- bad input gets a clear error


@pytest.mark.parametrize("call, error, message", [
    (lambda: sw.load_split("dev"), ValueError, "unknown split"),
    (lambda: sw.load_split("train", -1), ValueError, "non-negative"),
    (lambda: sw.load_split("train", 2.5), ValueError, "non-negative int"),
    (lambda: sw.load_split("train", 5, seed="0"), TypeError, "seed must be an int"),
    (lambda: sw.load_split("train", 5, seed=1.5), TypeError, "seed must be an int"),
    (lambda: sw.load_split("train", 5, variant="pirate"), ValueError, "unknown variant"),
    (lambda: sw.StoryWorld(pronoun_prob=1.5), ValueError, "probability"),
    (lambda: sw.StoryWorld().story(-3), ValueError, "non-negative"),
    (lambda: sw.StoryWorld().parse(42), TypeError, "text must be a str"),
])
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_command_line_writes_a_corpus(tmp_path, capsys):
    out = tmp_path / "stories.txt"
    sw.main(["--split", "test", "-n", "5", "--out", str(out)])
    assert out.read_text(encoding="utf-8") == sw.load_split("test", 5).text
    assert "nats/char" in capsys.readouterr().out


# ---------------------------------------------------------------- the perfect next-character model


def test_next_char_distribution_chains_to_the_story_probability():
    """Chain rule: the product of P(next char | prefix) over a story (and its separator) is p(story)."""
    world = sw.StoryWorld(seed=4)
    story = world.story(1)
    log_p = sum(math.log(world.next_char_distribution(story.text[:i])[story.text[i]])
                for i in range(len(story.text)))
    log_p += math.log(world.next_char_distribution(story.text)[sw.SEPARATOR])
    assert log_p == pytest.approx(story.log_prob, abs=1e-9)


def test_next_char_distribution_matches_brute_force_on_a_tiny_grammar():
    world = sw.StoryWorld(variant="tiny", pronoun_prob=1.0)
    stories = list(world.enumerate())
    for prefix in ["", "Once there was a little ", "Once there was a little girl named Ann. She lived in a small "]:
        mass = {}
        for s in stories:
            full = s.text + sw.SEPARATOR
            if full.startswith(prefix) and len(full) > len(prefix):
                mass[full[len(prefix)]] = mass.get(full[len(prefix)], 0.0) + math.exp(s.log_prob)
        total = sum(mass.values())
        expected = {c: m / total for c, m in mass.items()}
        got = world.next_char_distribution(prefix)
        assert got.keys() == expected.keys()
        for c in got:
            assert got[c] == pytest.approx(expected[c], abs=1e-12)


def test_next_char_distribution_rejects_impossible_prefixes():
    with pytest.raises(ValueError, match="no storyworld story"):
        sw.StoryWorld().next_char_distribution("Once upon a dragon")
    with pytest.raises(TypeError, match="prefix must be a str"):
        sw.StoryWorld().next_char_distribution(None)
