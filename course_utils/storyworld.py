"""storyworld: a seeded generator of simple English stories that knows the exact probability of every text.

Real English is the goal of the course, but real English has no answer key. storyworld does:

* every story is produced by a small probabilistic grammar, and the generator records the probability of
  every choice it makes, so each text carries its exact log-probability ``Story.log_prob`` (natural log);
* the grammar is *unambiguous*: different choice sequences always give different strings, so the
  probability of the derivation *is* the probability of the string. ``StoryWorld.parse`` recovers the
  derivation(s) of any text and the tests check there is exactly one;
* so the true entropy of the corpus, in nats per character, is known: it is the loss a perfect model
  would get, the floor that a language model's validation loss can approach but not beat (in expectation);
* every word comes from a lexicon with known categories (``LEXICON.category``), and every story carries
  ground truth: which earlier word each pronoun refers to, an ending label and a topic, question/answer
  pairs and preference pairs (a correct and a wrong answer);
* a *shifted* variant (other names, places, objects and phrasing) gives a non-IID test set.

Quick start::

    from course_utils import storyworld
    train = storyworld.load_split("train")          # a Corpus: deterministic, about 1.5 MB of text
    print(train.stories[0].text)
    print(train.nats_per_char)                       # the entropy floor of this text

The corpus stream is ``story + "\\n" + story + "\\n" + ...``. A story never contains a newline and the
grammar always ends a story with the same kind of closing sentence, so the newline after a story is
certain once its last sentence is written; the floor counts it as one character of zero information.

The design follows the generators behind TinyStories-style corpora (Eldan & Li, 2023), kept small enough
to read in one sitting.
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass, field
from typing import Iterator, Sequence

__all__ = [
    "Role", "Lexicon", "LEXICON", "SHIFTED_LEXICON", "TINY_LEXICON", "Coreference", "QUESTION_KINDS", "QA",
    "Preference", "Story", "Corpus", "StoryWorld", "load_split", "SPLITS", "VARIANTS",
]

SPLITS = ("train", "validation", "test")
VARIANTS = ("standard", "shifted")
SEPARATOR = "\n"  # between stories in a corpus stream


# --------------------------------------------------------------------------------------------------
# The lexicon: every word the grammar can say, with the category it belongs to
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Role:
    """A kind of character. gender/age/rank make analogies such as king:queen :: prince:princess real:
    the grammar uses them (pronouns follow gender, adjectives follow age, homes follow rank)."""

    word: str
    gender: str  # "female" | "male"
    age: str     # "child" | "adult"
    rank: str    # "royal" | "common"


@dataclass(frozen=True)
class Lexicon:
    """All words and phrasings one variant of the grammar uses."""

    name: str
    roles: tuple[Role, ...]
    names: dict  # gender -> tuple of first names
    adjectives: dict  # age -> adjectives for a character of that age
    homes: dict  # rank -> homes
    home_adjectives: tuple[str, ...]
    landmarks: tuple[str, ...]
    places: tuple[str, ...]
    colours: tuple[str, ...]
    objects: tuple[str, ...]
    animals: tuple[str, ...]
    foods: tuple[str, ...]
    hiding_spots: tuple[str, ...]
    happy_emotions: tuple[str, ...]
    sad_emotions: tuple[str, ...]
    openings: tuple[str, ...]       # each ends just before the article: "Once upon a time, there was"
    day_phrases: tuple[str, ...]    # "One day"
    ending_phrases: tuple[str, ...]  # "In the end"

    @property
    def category(self) -> dict[str, str]:
        """word -> category, for scoring learned embeddings against ground truth."""
        cats: dict[str, str] = {}
        for role in self.roles:
            cats[role.word] = f"person_{role.gender}"
        for gender, names in self.names.items():
            for n in names:
                cats[n] = f"name_{gender}"
        groups = {
            "colour": self.colours, "object": self.objects, "animal": self.animals, "food": self.foods,
            "place": self.places + self.landmarks, "home": tuple(h for hs in self.homes.values() for h in hs),
            "emotion": self.happy_emotions + self.sad_emotions,
            "adjective": tuple(a for adjs in self.adjectives.values() for a in adjs) + self.home_adjectives,
        }
        for cat, words in groups.items():
            for w in words:
                cats.setdefault(w, cat)
        return cats

    @property
    def analogies(self) -> list[tuple[str, str, str, str]]:
        """(a, b, c, d) with a:b :: c:d, e.g. ("king", "queen", "prince", "princess"): both pairs differ
        in exactly one attribute (here gender), in the same direction."""
        attrs = ("gender", "age", "rank")
        out = []
        for attr in attrs:
            values = sorted({getattr(r, attr) for r in self.roles})
            if len(values) != 2:
                continue
            rest = [f for f in attrs if f != attr]
            pairs = [(a.word, b.word) for a in self.roles for b in self.roles
                     if getattr(a, attr) == values[1] and getattr(b, attr) == values[0]
                     and all(getattr(a, f) == getattr(b, f) for f in rest)]
            out += [(a, b, c, d) for a, b in pairs for c, d in pairs if a != c]
        return out


def _roles() -> tuple[Role, ...]:
    return (
        Role("girl", "female", "child", "common"), Role("boy", "male", "child", "common"),
        Role("woman", "female", "adult", "common"), Role("man", "male", "adult", "common"),
        Role("princess", "female", "child", "royal"), Role("prince", "male", "child", "royal"),
        Role("queen", "female", "adult", "royal"), Role("king", "male", "adult", "royal"),
    )


LEXICON = Lexicon(
    name="standard",
    roles=_roles(),
    names={"female": ("Lily", "Mia", "Sue", "Anna", "Emma", "Lucy", "Rose", "Amy"),
           "male": ("Tom", "Ben", "Sam", "Max", "Leo", "Jack", "Tim", "Dan")},
    adjectives={"child": ("little", "young", "small"), "adult": ("old", "tall", "wise")},
    homes={"common": ("house", "cottage", "hut"), "royal": ("castle", "palace")},
    home_adjectives=("big", "small", "pretty", "warm"),
    landmarks=("forest", "river", "lake", "hill", "sea"),
    places=("park", "garden", "beach", "farm", "market", "school"),
    colours=("red", "blue", "green", "yellow", "pink", "purple", "brown", "white"),
    objects=("ball", "kite", "hat", "book", "doll", "boat", "drum", "car"),
    animals=("dog", "cat", "bird", "rabbit", "duck", "frog"),
    foods=("apple", "cake", "cookie", "pie", "banana", "sandwich"),
    hiding_spots=("tree", "bench", "rock", "bush"),
    happy_emotions=("happy", "proud", "glad"),
    sad_emotions=("sad", "angry", "lonely"),
    openings=("Once upon a time, there was", "Once there was"),
    day_phrases=("One day", "One morning"),
    ending_phrases=("In the end",),
)

# Other vocabulary and other phrasing, same plots: a test set that is *not* identically distributed.
SHIFTED_LEXICON = Lexicon(
    name="shifted",
    roles=_roles(),
    names={"female": ("Zara", "Nia", "Ines", "Yuki", "Amara", "Freya"),
           "male": ("Kofi", "Omar", "Ravi", "Luca", "Hugo", "Kenji")},
    adjectives={"child": ("tiny", "curious"), "adult": ("brave", "gentle")},
    homes={"common": ("tent", "tower", "mill"), "royal": ("fortress",)},
    home_adjectives=("quiet", "windy"),
    landmarks=("desert", "mountain", "valley"),
    places=("harbor", "island", "cave", "village", "meadow"),
    colours=("silver", "golden", "orange", "black"),
    objects=("lantern", "compass", "map", "flute", "shell"),
    animals=("goat", "parrot", "owl", "camel"),
    foods=("mango", "melon", "bun", "soup"),
    hiding_spots=("barrel", "boat", "stone"),
    happy_emotions=("joyful", "cheerful"),
    sad_emotions=("upset", "gloomy"),
    openings=("Long ago, in a land far away, there lived",),
    day_phrases=("Early one evening",),
    ending_phrases=("When the sun went down",),
)

# A deliberately tiny lexicon: few enough stories to list them all, so tests can check that the
# probabilities of all texts sum to exactly 1.
TINY_LEXICON = Lexicon(
    name="tiny",
    roles=(Role("girl", "female", "child", "common"), Role("boy", "male", "child", "common")),
    names={"female": ("Ann", "Eve"), "male": ("Bob", "Dan")},
    adjectives={"child": ("little",), "adult": ("old",)},
    homes={"common": ("house",), "royal": ("castle",)},
    home_adjectives=("small",),
    landmarks=("lake",),
    places=("park",),
    colours=("red",),
    objects=("ball",),
    animals=("dog",),
    foods=("pie",),
    hiding_spots=("tree",),
    happy_emotions=("happy",),
    sad_emotions=("sad",),
    openings=("Once there was",),
    day_phrases=("One day",),
    ending_phrases=("In the end",),
)

_LEXICONS = {"standard": LEXICON, "shifted": SHIFTED_LEXICON, "tiny": TINY_LEXICON}

def _a(word: str) -> str:
    """The indefinite article for `word`: "an apple", "a ball"."""
    return "an" if word[:1].lower() in "aeiou" else "a"


_PRONOUNS = {  # gender -> case -> pronoun
    "female": {"subject": "she", "object": "her", "possessive": "her"},
    "male": {"subject": "he", "object": "him", "possessive": "his"},
}


# --------------------------------------------------------------------------------------------------
# What a story carries besides its text
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Coreference:
    """A pronoun and the most recent earlier mention of the same character (character offsets)."""

    pronoun: str
    pronoun_span: tuple[int, int]
    antecedent: str
    antecedent_span: tuple[int, int]
    entity: str  # "hero" | "friend" | "object"


# What each question asks for, in the order every story asks them (a story without food has no "food").
QUESTION_KINDS = ("hero", "colour", "place", "friend", "feeling", "pet", "food")


@dataclass(frozen=True)
class QA:
    """A question about the story, its true answer, and what it asks for (one of QUESTION_KINDS)."""

    question: str
    answer: str
    kind: str


@dataclass(frozen=True)
class Preference:
    """A question about the story with a preferred (correct) and a rejected (wrong) answer, and its kind."""

    question: str
    chosen: str
    rejected: str
    kind: str


@dataclass
class Story:
    text: str
    log_prob: float                 # natural log of the exact probability of `text` under the grammar
    ending: str                     # "happy" | "sad": a label for classification
    topic: str                      # "share" | "lost" | "food": a second label
    coreferences: list[Coreference] = field(default_factory=list)
    qa: list[QA] = field(default_factory=list)
    preferences: list[Preference] = field(default_factory=list)
    choices: tuple[int, ...] = ()   # the derivation: index picked at every choice point

    @property
    def nats_per_char(self) -> float:
        """-log p(text) per character, counting the separator that ends the story in a corpus."""
        return -self.log_prob / (len(self.text) + len(SEPARATOR))


@dataclass
class Corpus:
    """Stories of one split, and the stream a language model is trained on."""

    stories: list[Story]
    split: str
    variant: str
    seed: int

    @property
    def text(self) -> str:
        return "".join(s.text + SEPARATOR for s in self.stories)

    @property
    def n_chars(self) -> int:
        return sum(len(s.text) + len(SEPARATOR) for s in self.stories)

    @property
    def log_prob(self) -> float:
        return sum(s.log_prob for s in self.stories)

    @property
    def nats_per_char(self) -> float:
        """The entropy floor: exact negative log-likelihood per character of this very text under the
        process that wrote it. No model can do better in expectation."""
        return -self.log_prob / self.n_chars

    @property
    def bits_per_char(self) -> float:
        return self.nats_per_char / math.log(2)

    def __len__(self) -> int:
        return len(self.stories)

    def __repr__(self) -> str:
        return (f"Corpus(split={self.split!r}, variant={self.variant!r}, seed={self.seed}, "
                f"stories={len(self.stories)}, chars={self.n_chars:,}, "
                f"floor={self.nats_per_char:.4f} nats/char)")


# --------------------------------------------------------------------------------------------------
# Choice makers: the same grammar code samples, replays, enumerates and parses
# --------------------------------------------------------------------------------------------------

class _Branch(Exception):
    """Raised by the parser at a choice point beyond the derivation prefix it is replaying."""

    def __init__(self, n_options: int):
        self.n_options = n_options


class _Mismatch(Exception):
    """Raised by the parser when the text written so far is not a prefix of the target text."""


class _Reached(Exception):
    """Raised in prefix mode when a derivation writes its first character beyond the prefix."""

    def __init__(self, char: str):
        self.char = char


class _Sampler:
    """Picks options at random with a seeded RNG and adds up their log-probabilities."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.log_prob = 0.0
        self.trace: list[int] = []

    def choose(self, weights: Sequence[float]) -> int:
        total = sum(weights)
        r = self.rng.random() * total
        acc = 0.0
        index = len(weights) - 1
        for i, w in enumerate(weights):
            acc += w
            if r < acc and w > 0:
                index = i
                break
        self.log_prob += math.log(weights[index] / total)
        self.trace.append(index)
        return index


class _Replayer:
    """Follows a given prefix of choices. Beyond it, either takes option 0 and remembers the untried
    siblings (enumeration), or stops with _Branch (parsing)."""

    def __init__(self, prefix: Sequence[int], explore: bool):
        self.prefix = list(prefix)
        self.explore = explore
        self.log_prob = 0.0
        self.trace: list[int] = []
        self.siblings: list[list[int]] = []

    def choose(self, weights: Sequence[float]) -> int:
        k = len(self.trace)
        if k < len(self.prefix):
            index = self.prefix[k]
        elif self.explore:
            live = [i for i, w in enumerate(weights) if w > 0]
            index = live[0]
            self.siblings.extend(self.trace + [i] for i in live[1:])
        else:
            raise _Branch(len(weights))
        if weights[index] <= 0:
            raise _Mismatch()
        self.log_prob += math.log(weights[index] / sum(weights))
        self.trace.append(index)
        return index


class _Writer:
    """Builds the text piece by piece, remembering where each character was mentioned."""

    def __init__(self, target: str | None = None, prefix_mode: bool = False):
        self.parts: list[str] = []
        self.length = 0
        self.target = target
        self.prefix_mode = prefix_mode  # target is only a prefix: stop at the first character beyond it
        self.last_mention: dict[str, tuple[int, int, str]] = {}
        self.coreferences: list[Coreference] = []
        self.sentence_start = True

    def word(self, text: str, space: bool = True) -> tuple[int, int]:
        """Append `text`, preceded by a space unless it is the very start or `space` is False.
        Returns the span of `text` itself. The first word of a sentence gets a capital letter."""
        if self.sentence_start:
            text = text[0].upper() + text[1:]
            self.sentence_start = False
        piece = " " + text if space and self.length else text
        if self.target is not None:
            overlap = self.target[self.length:self.length + len(piece)]
            if not piece.startswith(overlap) or (len(overlap) < len(piece) and not self.prefix_mode):
                raise _Mismatch()  # parsing: this derivation cannot produce the target text
            if len(overlap) < len(piece):
                raise _Reached(piece[len(overlap)])
        self.parts.append(piece)
        self.length += len(piece)
        return self.length - len(text), self.length

    def mention(self, entity: str, text: str) -> None:
        start, end = self.word(text)
        self.last_mention[entity] = (start, end, self.text_at(start, end))

    def pronoun(self, entity: str, text: str) -> None:
        start, end = self.word(text)
        a_start, a_end, a_text = self.last_mention[entity]
        self.coreferences.append(Coreference(self.text_at(start, end), (start, end), a_text,
                                             (a_start, a_end), entity))

    def end_sentence(self, mark: str = ".") -> None:
        self.word(mark, space=False)
        self.sentence_start = True

    def text_at(self, start: int, end: int) -> str:
        return "".join(self.parts)[start:end]

    @property
    def text(self) -> str:
        return "".join(self.parts)


# --------------------------------------------------------------------------------------------------
# The grammar
# --------------------------------------------------------------------------------------------------

@dataclass
class _Character:
    key: str  # "hero" | "friend"
    name: str
    role: Role


class StoryWorld:
    """A seeded story generator.

    >>> world = StoryWorld(seed=0)
    >>> story = world.story(0)          # story 0 of the default split, always the same
    >>> world.log_prob(story.text) == story.log_prob
    True

    Parameters
    ----------
    seed:     any int; the same seed always gives the same stories.
    variant:  "standard" (the training distribution) or "shifted" (other words and phrasing).
    pronoun_prob: how often an unambiguous reference to a known character is a pronoun rather than a name.
    """

    def __init__(self, seed: int = 0, variant: str = "standard", *, pronoun_prob: float = 0.7,
                 happy_prob: float = 0.6, pet_prob: float = 0.5):
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r})")
        if variant not in _LEXICONS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(_LEXICONS)}")
        for label, p in (("pronoun_prob", pronoun_prob), ("happy_prob", happy_prob), ("pet_prob", pet_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{label} must be a probability in [0, 1], got {p!r}")
        self.seed = seed
        self.variant = variant
        self.lexicon = _LEXICONS[variant]
        self.pronoun_prob = pronoun_prob
        self.happy_prob = happy_prob
        self.pet_prob = pet_prob

    # ----- public API ------------------------------------------------------------------------------

    def story(self, index: int, split: str = "train") -> Story:
        """Story number `index` of `split`. Random access: each story has its own seeded RNG."""
        _check_split(split)
        if not isinstance(index, int) or index < 0:
            raise ValueError(f"index must be a non-negative int, got {index!r}")
        rng = random.Random(f"storyworld/{self.variant}/{split}/{self.seed}/{index}")
        sampler = _Sampler(rng)
        story = self._tell(sampler, _Writer())
        story.preferences = self._preferences(story, random.Random(f"{rng.random()}/preferences"))
        return story

    def generate(self, n: int, split: str = "train", start: int = 0) -> list[Story]:
        _check_count(n, "n")
        return [self.story(start + i, split) for i in range(n)]

    def parse(self, text: str, limit: int = 2) -> list[tuple[int, ...]]:
        """All derivations (up to `limit`) that produce exactly `text`. An unambiguous grammar gives
        one for every text it can produce and none for any other text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        found: list[tuple[int, ...]] = []
        stack: list[list[int]] = [[]]
        while stack and len(found) < limit:
            prefix = stack.pop()
            chooser = _Replayer(prefix, explore=False)
            writer = _Writer(target=text)
            try:
                self._tell(chooser, writer)
            except _Mismatch:
                continue
            except _Branch as branch:
                stack.extend(prefix + [i] for i in reversed(range(branch.n_options)))
                continue
            if writer.length == len(text):
                found.append(tuple(chooser.trace))
        return found

    def log_prob(self, text: str) -> float:
        """Exact natural-log probability of `text` as one story; -inf if the grammar cannot produce it."""
        derivations = self.parse(text, limit=1)
        if not derivations:
            return -math.inf
        chooser = _Replayer(derivations[0], explore=False)
        self._tell(chooser, _Writer())
        return chooser.log_prob

    def next_char_distribution(self, prefix: str) -> dict[str, float]:
        """The exact P(next character | prefix) of a story that starts with `prefix`: what a perfect
        character-level model would predict. After a complete story the next character is the separator
        "\\n". Raises ValueError if no story starts with `prefix`."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        mass: dict[str, float] = {}
        stack: list[list[int]] = [[]]
        while stack:
            choices = stack.pop()
            chooser = _Replayer(choices, explore=False)
            writer = _Writer(target=prefix, prefix_mode=True)
            try:
                self._tell(chooser, writer)
            except _Mismatch:
                continue
            except _Branch as branch:
                stack.extend(choices + [i] for i in range(branch.n_options))
                continue
            except _Reached as reached:
                mass[reached.char] = mass.get(reached.char, 0.0) + math.exp(chooser.log_prob)
                continue
            if writer.length == len(prefix):  # the story is complete: only the separator can follow
                mass[SEPARATOR] = mass.get(SEPARATOR, 0.0) + math.exp(chooser.log_prob)
        total = sum(mass.values())
        if total == 0:
            raise ValueError(f"no storyworld story ({self.variant}) starts with {prefix[-40:]!r}")
        return dict(sorted(((c, m / total) for c, m in mass.items()), key=lambda kv: -kv[1]))

    def enumerate(self, max_stories: int = 1_000_000) -> Iterator[Story]:
        """Every story the grammar can produce, each with its probability. Only sensible for tiny
        lexicons: raises if there are more than `max_stories`."""
        stack: list[list[int]] = [[]]
        count = 0
        while stack:
            chooser = _Replayer(stack.pop(), explore=True)
            story = self._tell(chooser, _Writer())
            stack.extend(chooser.siblings)
            count += 1
            if count > max_stories:
                raise RuntimeError(f"more than {max_stories} stories: use a smaller lexicon")
            yield story

    # ----- the grammar itself ----------------------------------------------------------------------

    def _tell(self, c, w: _Writer) -> Story:
        lex = self.lexicon

        def pick(options: Sequence):
            return options[c.choose([1.0] * len(options))]

        def coin(p_true: float) -> bool:
            return c.choose([p_true, 1.0 - p_true]) == 0

        mentioned: list[_Character] = []

        def unambiguous(ch: _Character) -> bool:
            """A pronoun is allowed only when no other mentioned character shares its gender, so every
            pronoun has exactly one possible antecedent."""
            return not any(o is not ch and o.role.gender == ch.role.gender for o in mentioned)

        def refer(ch: _Character, case: str = "subject") -> None:
            """Name or pronoun (a choice) for a character the story already knows."""
            if unambiguous(ch) and coin(self.pronoun_prob):
                w.pronoun(ch.key, _PRONOUNS[ch.role.gender][case])
            else:
                w.mention(ch.key, ch.name)

        def possessive(ch: _Character) -> None:
            """ "her ball" when unambiguous, else "Lily's ball": no choice, as a careful writer would."""
            if unambiguous(ch):
                w.pronoun(ch.key, _PRONOUNS[ch.role.gender]["possessive"])
            else:
                w.mention(ch.key, ch.name + "'s")

        def introduce(key: str, role: Role, exclude: str = "") -> _Character:
            """ "a little girl named Lily" """
            adjective = pick(lex.adjectives[role.age])
            w.word(f"{_a(adjective)} {adjective} {role.word} named")
            ch = _Character(key, pick([n for n in lex.names[role.gender] if n != exclude]), role)
            w.mention(key, ch.name)
            mentioned.append(ch)
            return ch

        # 1. Who: "Once upon a time, there was a little girl named Lily."
        w.word(pick(lex.openings))
        hero = introduce("hero", pick(lex.roles))
        w.end_sentence()

        # 2. Where: "She lived in a small cottage near the forest."
        refer(hero)
        home_adjective = pick(lex.home_adjectives)
        w.word(f"lived in {_a(home_adjective)} {home_adjective} {pick(lex.homes[hero.role.rank])}")
        w.word(f"near the {pick(lex.landmarks)}")
        w.end_sentence()

        # 3. What: "Lily had a red ball. She also had a dog. She loved her ball very much."
        colour, obj = pick(lex.colours), pick(lex.objects)
        refer(hero)
        w.word(f"had {_a(colour)} {colour}")
        w.mention("object", obj)
        w.end_sentence()
        animal = None
        if coin(self.pet_prob):
            animal = pick(lex.animals)
            refer(hero)
            w.word(f"also had {_a(animal)} {animal}")
            w.end_sentence()
        verb, how_much = pick((("loved", "very much"), ("played with", "every day")))
        refer(hero)
        w.word(verb)
        possessive(hero)
        w.word(f"{obj} {how_much}")
        w.end_sentence()

        # 4. An outing: "One day, she went to the park with her dog."
        place = pick(lex.places)
        w.word(pick(lex.day_phrases) + ",")
        refer(hero)
        w.word(f"went to the {place}")
        if animal is not None and coin(0.5):
            w.word("with")
            possessive(hero)
            w.word(animal)
        w.end_sentence()

        # 5. A friend: "There, she met a young boy named Tom."
        w.word("There,")
        refer(hero)
        w.word("met")
        friend = introduce("friend", pick(lex.roles), exclude=hero.name)
        w.end_sentence()

        # 6. The plot, and whether it ends well.
        topic = pick(("share", "lost", "food"))
        happy = coin(self.happy_prob)
        food = None
        if topic == "share":
            w.word(f'"Can I play with your {obj}?" asked')
            w.mention("friend", friend.name)
            w.end_sentence()
            w.word('"Yes, let us play together!" said' if happy else '"No, it is mine!" said')
            w.mention("hero", hero.name)
            w.end_sentence()
            if happy:
                refer(hero)
                w.word("and")
                refer(friend)
                w.word(f"played with the {obj} all day")
            else:
                refer(friend)
                w.word("walked away, and")
                refer(hero)
                w.word("played alone")
            w.end_sentence()
        elif topic == "lost":
            w.word("Then a big wind came, and the")
            w.mention("object", obj)
            w.word("flew away")
            w.end_sentence()
            refer(hero)
            w.word("and")
            refer(friend)
            w.word("looked for")
            w.pronoun("object", "it")
            w.word("everywhere")
            w.end_sentence()
            if happy:
                w.word("At last,")
                refer(friend)
                w.word("found")
                w.pronoun("object", "it")
                spot = pick(lex.hiding_spots)
                w.word(f"under {_a(spot)} {spot}")
            else:
                w.word("But they could not find")
                w.pronoun("object", "it")
            w.end_sentence()
        else:  # food
            food = pick(lex.foods)
            refer(friend)
            w.word(f"had {_a(food)} {food}")
            w.end_sentence()
            refer(friend)
            if happy:
                w.word(f"gave half of the {food} to")
                refer(hero, "object")
                w.end_sentence()
                w.word('"Thank you!" said')
                w.mention("hero", hero.name)
            else:
                w.word(f"ate the whole {food} and did not share")
            w.end_sentence()

        # 7. The ending: "In the end, Lily was happy."
        emotion = pick(lex.happy_emotions if happy else lex.sad_emotions)
        w.word(pick(lex.ending_phrases) + ",")
        refer(hero)
        w.word(f"was {emotion}")
        w.end_sentence()

        qa = [
            QA("Who is the story about?", hero.name, "hero"),
            QA(f"What colour was {hero.name}'s {obj}?", colour, "colour"),
            QA(f"Where did {hero.name} go?", f"the {place}", "place"),
            QA(f"Who did {hero.name} meet?", friend.name, "friend"),
            QA(f"How did {hero.name} feel at the end?", emotion, "feeling"),
            QA(f"Did {hero.name} have a pet?", f"yes, {_a(animal)} {animal}" if animal else "no", "pet"),
        ]
        if food is not None:
            qa.append(QA(f"What did {friend.name} have?", f"{_a(food)} {food}", "food"))
        return Story(text=w.text, log_prob=c.log_prob, ending="happy" if happy else "sad", topic=topic,
                     coreferences=w.coreferences, qa=qa, choices=tuple(c.trace))

    def _preferences(self, story: Story, rng: random.Random) -> list[Preference]:
        """For each question: the true answer is preferred over a wrong but plausible one (a
        hallucination). A separate RNG, so the story's own probability is untouched."""
        lex = self.lexicon
        all_names = lex.names["female"] + lex.names["male"]
        pools = {
            "hero": all_names,
            "colour": lex.colours,
            "place": tuple(f"the {p}" for p in lex.places),
            "friend": all_names,
            "feeling": lex.happy_emotions + lex.sad_emotions,
            "pet": ("no",) + tuple(f"yes, {_a(a)} {a}" for a in lex.animals),
            "food": tuple(f"{_a(f)} {f}" for f in lex.foods),
        }
        out = []
        for qa in story.qa:
            pool = pools[qa.kind]
            wrong = [x for x in pool if x != qa.answer and x not in story.text.split()]
            wrong = wrong or [x for x in pool if x != qa.answer]
            out.append(Preference(qa.question, qa.answer, rng.choice(wrong), qa.kind))
        return out


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------

DEFAULT_SIZES = {"train": 4000, "validation": 400, "test": 400}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")


def _check_count(n, label: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"{label} must be a non-negative int, got {n!r}")


def load_split(split: str = "train", n_stories: int | None = None, *, seed: int = 0,
               variant: str = "standard") -> Corpus:
    """The stories of one split. Deterministic: the same arguments always give the same text, and the
    splits never share a story generator stream (each story has its own seed: variant/split/seed/index).

    Default sizes: train 4000 stories (about 1.6 MB), validation 400, test 400.
    """
    _check_split(split)
    if n_stories is None:
        n_stories = DEFAULT_SIZES[split]
    _check_count(n_stories, "n_stories")
    world = StoryWorld(seed=seed, variant=variant)
    return Corpus(world.generate(n_stories, split), split=split, variant=variant, seed=seed)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print stories, or write a split to a file."""
    parser = argparse.ArgumentParser(description="Generate storyworld stories with exact log-probabilities.")
    parser.add_argument("--split", default="train", choices=SPLITS)
    parser.add_argument("--variant", default="standard", choices=VARIANTS)
    parser.add_argument("-n", "--n-stories", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the corpus text here instead of printing stories")
    args = parser.parse_args(argv)
    corpus = load_split(args.split, args.n_stories, seed=args.seed, variant=args.variant)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(corpus.text)
        print(corpus)
        return
    for story in corpus.stories:
        print(f"[{story.ending}/{story.topic}] log p = {story.log_prob:.2f}\n{story.text}\n")
    print(corpus)


if __name__ == "__main__":
    main()
