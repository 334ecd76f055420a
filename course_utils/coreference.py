"""Which attention head resolves pronouns? Score every head against storyworld's true coreference.

storyworld records, for each pronoun, the character span of its antecedent: the most recent earlier mention
of the same character ("Lily ... She" or "ball ... it"). This module maps those spans onto token positions
(of any course tokenizer: a name cut into several tokens is placed on its first) and asks of every layer and
head of a GPT: does the pronoun's highest attention to an earlier token land on its antecedent?

Two baselines keep the number honest:

* ``uniform``: a head attending at random to one earlier token is right 1 / (number of earlier tokens) of
  the time;
* ``most_recent_name``: pick the closest earlier character name. A simple rule, and a strong one in
  storyworld, whose writer only uses "she"/"he" when just one character of that gender is in the story.

Used by notebook 03; tests/test_attention.py checks the mapping on hand-made text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from . import storyworld
from .model import attention_maps  # the one attention capture, here for the scoring below

__all__ = ["PronounLink", "EncodedStories", "encode_stories", "char_to_token", "attention_maps",
           "HeadScores", "score_attention", "score_heads", "chance_baselines", "most_recent_name",
           "CHARACTER_NAMES"]

CHARACTER_NAMES = frozenset(name for lexicon in (storyworld.LEXICON, storyworld.SHIFTED_LEXICON)
                            for names in lexicon.names.values() for name in names)


@dataclass(frozen=True)
class PronounLink:
    """One pronoun of one story, in token positions of that story's encoding."""

    story: int                # index into the encoded stories
    pronoun: str              # as written: "She", "her", "it", ...
    entity: str               # "hero" | "friend" | "object"
    pronoun_pos: int          # token position of the pronoun
    antecedent_pos: int       # token position of its antecedent (the first token of "Lily's" is " Lily")
    mentions: tuple[int, ...]  # every earlier position that mentions the same character: name or pronoun


@dataclass
class EncodedStories:
    ids: list[list[int]]          # token IDs of prefix + story, one list per story
    pieces: list[list[str]]       # the matching token strings
    links: list[PronounLink]      # every pronoun of every story

    def batch(self, start: int = 0, stop: int | None = None, pad_id: int = 0) -> torch.Tensor:
        """(B, T) right-padded token IDs of stories [start, stop). Causal attention never looks right, so the
        padding cannot change any real position."""
        rows = self.ids[start:stop]
        T = max((len(r) for r in rows), default=0)
        idx = torch.full((len(rows), T), pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            idx[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        return idx


def char_to_token(pieces: Sequence[str], char_index: int) -> int:
    """The position of the token that contains character ``char_index`` of ``"".join(pieces)``."""
    starts = np.cumsum([0] + [len(p) for p in pieces[:-1]]).tolist()
    total = sum(len(p) for p in pieces)
    if not 0 <= char_index < total:
        raise IndexError(f"character {char_index} is outside the text (length {total})")
    return bisect.bisect_right(starts, char_index) - 1


def encode_stories(stories: Sequence[storyworld.Story], tokenizer, prefix: str = "\n") -> EncodedStories:
    """Tokenize ``prefix + story.text`` (the newline the model saw before every training story) and place
    every pronoun and its antecedent on token positions."""
    ids, all_pieces, links = [], [], []
    for s, story in enumerate(stories):
        pieces = tokenizer.pieces(prefix + story.text)
        ids.append(tokenizer.encode(prefix + story.text))
        all_pieces.append(pieces)
        starts = np.cumsum([0] + [len(p) for p in pieces[:-1]]).tolist()

        def position(char_index: int) -> int:   # char_to_token, without recounting the pieces every time
            return bisect.bisect_right(starts, char_index + len(prefix)) - 1

        pronoun_positions: dict[str, list[int]] = {}
        for c in story.coreferences:
            pronoun_positions.setdefault(c.entity, []).append(position(c.pronoun_span[0]))
        for c in story.coreferences:
            p, a = position(c.pronoun_span[0]), position(c.antecedent_span[0])
            name = re.escape(story.text[slice(*c.antecedent_span)])
            mentions = {position(m.start()) for m in re.finditer(rf"\b{name}\b", story.text)} & set(range(p))
            mentions |= {j for j in pronoun_positions[c.entity] if j < p}
            links.append(PronounLink(s, c.pronoun, c.entity, p, a, tuple(sorted(mentions))))
    return EncodedStories(ids, all_pieces, links)


@dataclass
class HeadScores:
    """How often each head's strongest attention from a pronoun lands on the right token."""

    hits: np.ndarray              # (N, L, H) bool: highest attention to an earlier token is the antecedent
    same_character: np.ndarray    # (N, L, H) bool: ... is any earlier mention of the same character
    targets: np.ndarray           # (N, L, H) int: the position that got the highest attention
    links: list[PronounLink]      # the N pronouns scored (those with a valid query position)
    query_offset: int = 0
    skipped: int = 0              # pronouns whose query position fell outside the story

    @property
    def accuracy(self) -> np.ndarray:
        """(L, H) fraction of pronouns whose highest attention lands on the antecedent."""
        return self.hits.mean(axis=0)

    @property
    def same_character_accuracy(self) -> np.ndarray:
        return self.same_character.mean(axis=0)

    @property
    def best(self) -> tuple[int, int]:
        """(layer, head) with the highest accuracy (the first one on ties)."""
        layer, head = np.unravel_index(int(np.argmax(self.accuracy)), self.accuracy.shape)
        return int(layer), int(head)

    def by_pronoun(self, layer: int, head: int) -> dict[str, tuple[float, int]]:
        """pronoun (lower-cased) -> (accuracy of this head, count)."""
        groups: dict[str, list[bool]] = {}
        for link, hit in zip(self.links, self.hits[:, layer, head]):
            groups.setdefault(link.pronoun.lower(), []).append(bool(hit))
        return {p: (float(np.mean(h)), len(h)) for p, h in sorted(groups.items(), key=lambda kv: -len(kv[1]))}


def _query(link: PronounLink, offset: int, length: int) -> int | None:
    q = link.pronoun_pos + offset
    return q if 1 <= q < length and link.antecedent_pos < q else None


def score_attention(attention: torch.Tensor, links: Sequence[PronounLink], lengths: Sequence[int],
                    query_offset: int = 0, story_offset: int = 0) -> tuple[np.ndarray, ...]:
    """Score attention (B, L, H, T, T) of stories story_offset .. story_offset+B-1.

    For each link of those stories, the query is position pronoun_pos + query_offset (0: the pronoun itself;
    -1: the token before it, where the model predicts the pronoun), and the candidates are the tokens strictly
    before the query. Returns (hits, same_character, targets, kept links, skipped).
    """
    hits, same, targets, kept, skipped = [], [], [], [], 0
    B = attention.size(0)
    for link in links:
        b = link.story - story_offset
        if not 0 <= b < B:
            continue
        q = _query(link, query_offset, lengths[link.story])
        if q is None:
            skipped += 1
            continue
        target = attention[b, :, :, q, :q].argmax(dim=-1).numpy()             # (L, H)
        targets.append(target)
        hits.append(target == link.antecedent_pos)
        same.append(np.isin(target, link.mentions))
        kept.append(link)
    L, H = attention.shape[1:3]
    shape = (0, L, H)
    as_array = lambda rows, dtype: np.array(rows, dtype=dtype).reshape(-1, L, H) if rows else np.zeros(shape, dtype)
    return as_array(hits, bool), as_array(same, bool), as_array(targets, np.int64), kept, skipped


def score_heads(model, encoded: EncodedStories, query_offset: int = 0, batch_size: int = 100) -> HeadScores:
    """Score every layer and head of ``model`` on the encoded stories, batch by batch (bounded memory)."""
    lengths = [len(r) for r in encoded.ids]
    parts = []
    for start in range(0, len(encoded.ids), batch_size):
        attention = attention_maps(model, encoded.batch(start, start + batch_size))
        parts.append(score_attention(attention, encoded.links, lengths, query_offset, story_offset=start))
    L, H = model.config.n_layer, model.config.n_head
    stack = lambda i, dtype: np.concatenate([p[i] for p in parts]) if parts else np.zeros((0, L, H), dtype)
    return HeadScores(stack(0, bool), stack(1, bool), stack(2, np.int64), [l for p in parts for l in p[3]],
                      query_offset, sum(p[4] for p in parts))


def most_recent_name(pieces: Sequence[str], query: int, names: frozenset[str] = CHARACTER_NAMES) -> int | None:
    """The position of the closest token before position ``query`` that starts a character name, a whole
    word (None if there is none). A name may span several tokens (BPE): its first one counts."""
    text, name = "".join(pieces), re.compile(r"\s?(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
    starts = np.cumsum([0] + [len(p) for p in pieces[:-1]]).tolist()
    return next((j for j in range(query - 1, -1, -1) if name.match(text, starts[j])), None)


def chance_baselines(encoded: EncodedStories, query_offset: int = 0,
                     names: frozenset[str] = CHARACTER_NAMES) -> dict[str, float]:
    """Accuracy of two head-free guesses on the same pronouns and candidate tokens:
    ``uniform`` (expected accuracy of a random earlier token) and ``most_recent_name``."""
    uniform, recent, n = 0.0, 0, 0
    for link in encoded.links:
        pieces = encoded.pieces[link.story]
        q = _query(link, query_offset, len(pieces))
        if q is None:
            continue
        n += 1
        uniform += 1.0 / q  # q tokens come before the query: positions 0 .. q-1
        recent += most_recent_name(pieces, q, names) == link.antecedent_pos
    if n == 0:
        return {"uniform": float("nan"), "most_recent_name": float("nan")}
    return {"uniform": uniform / n, "most_recent_name": recent / n}
