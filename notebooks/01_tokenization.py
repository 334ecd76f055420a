# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · Tokenization
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/01_tokenization.ipynb) · or locally, as the README says
#
# A model computes with numbers, so before it sees any text, a **tokenizer** cuts the text into pieces
# (**tokens**) and replaces each piece by an integer (its **token ID**). That choice is made once, before
# training, and the model lives with it: it fixes how many tokens a text costs, how long the sequences the model
# must read are, how big its embedding table is, and which words it can even spell. In this notebook we build
# the main kinds of tokenizer from scratch, up to the byte-level BPE that GPT-2, GPT-4 and most LLMs use, and
# prove ours equal to OpenAI's `tiktoken`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. define vocabulary, token and token ID; build character- and word-level tokenizers with `encode` and
#    `decode`, and say why a word-level tokenizer breaks on new words (`<unk>`);
# 2. explain UTF-8 bytes and why a byte-level tokenizer never meets an unknown character;
# 3. write a byte-level BPE tokenizer yourself (pre-split, pair counts, merges, the encoder that replays them,
#    special tokens) and encode and decode any Unicode text with it;
# 4. prove it gives exactly the token IDs of `tiktoken`, and use `tiktoken` as the fast engine from now on;
# 5. compare real tokenizers across languages, numbers and code (GPT-2's, and GPT-4's and GPT-4o's where
#    tiktoken has them cached or can download them), and turn token counts into cost and context-window use;
# 6. measure how vocabulary size trades compression against embedding-table size.
#
# **Time:** about 25 minutes to read and run; the whole notebook runs in well under a minute on a laptop CPU,
# offline.

# %% slideshow={"slide_type": "-"}
import sys
if "google.colab" in sys.modules:  # on Colab only: install the course (about a minute) and allow its widgets
    import importlib
    import subprocess
    course = "llm-mechanics[notebooks] @ git+https://github.com/OWNER/llm-mechanics"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", course], check=True)
    importlib.invalidate_caches()  # so the freshly installed package is found
    sys.modules["google.colab"].output.enable_custom_widget_manager()  # Colab shows custom widgets only then

import math
import random
import re
import time
import warnings
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import regex  # like re, plus the Unicode classes \p{L} (letters) and \p{N} (numbers) that GPT's patterns use
import tiktoken

from course_utils import bpe, storyworld
from course_utils.checks import check, check_function, summary
from course_utils.tokenizers import CharTokenizer, WordTokenizer
from course_utils.widgets import bpe_stepper, tokenizer_playground

plt.rcParams["figure.dpi"] = 80

train_text = storyworld.load_split("train").text
val_text = storyworld.load_split("validation").text
shifted_text = storyworld.load_split("test", variant="shifted").text
print(f"train {len(train_text):,} characters, validation {len(val_text):,}, shifted test {len(shifted_text):,}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Text → tokens → IDs
#
# Three words carry this whole notebook:
#
# - a **token** is a unit of text the model reads: a character, a word, or a piece of a word;
# - the **vocabulary** $V$ is the fixed list of all tokens the tokenizer knows; its size is $|V|$;
# - a **token ID** is a token's position in that list, an integer in $\{0, \dots, |V|-1\}$.
#
# A tokenizer is a pair of functions: `encode` (text → list of IDs) and `decode` (IDs → text, also called
# **detokenization**). For every text it accepts we want $\text{decode}(\text{encode}(x)) = x$.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 1.1 Characters
# The simplest choice: every distinct character is a token.

# %% slideshow={"slide_type": "-"}
chars = sorted(set(train_text))
stoi = {ch: i for i, ch in enumerate(chars)}   # string → ID
itos = {i: ch for ch, i in stoi.items()}       # ID → string


def char_encode(text):
    return [stoi[ch] for ch in text]


def char_decode(ids):
    return "".join(itos[i] for i in ids)


sentence = "Lily had a red ball."
print(f"|V| = {len(chars)}: {''.join(chars)!r}")
print(char_encode(sentence))
print(char_decode(char_encode(sentence)))

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** The package keeps the finished version, `course_utils.tokenizers.CharTokenizer`. It must agree with
# ours on every character of the validation text:

# %% slideshow={"slide_type": "-"}
char_tok = CharTokenizer.train(train_text)
ours, theirs = char_encode(val_text), char_tok.encode(val_text)
n_diff = sum(a != b for a, b in zip(ours, theirs)) + abs(len(ours) - len(theirs))
print(f"{len(ours):,} IDs, {n_diff} differ from CharTokenizer", "✓" if n_diff == 0 else "✗")
assert n_diff == 0 and char_tok.decode(theirs) == val_text

# %% [markdown] slideshow={"slide_type": "-"}
# One character per token makes sequences long: an average validation story has 355 characters, so 355 tokens.
# And the vocabulary is only as wide as the text it was built from. The shifted stories use letters the training
# stories never do:

# %% slideshow={"slide_type": "-"}
try:
    char_tok.encode(shifted_text)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 1.2 Words
# A word-level tokenizer makes every word a token. We keep the space in front of a word inside the token
# (`" ball"`), as GPT-2 does, so decoding is plain concatenation. The regular expression below cuts text into a
# possessive `'s`, a newline, a word with its optional leading space, one punctuation mark with its optional
# leading space, or one other whitespace character. Every word never seen in training becomes the special
# token `<unk>` ("unknown"), ID 0.

# %% slideshow={"slide_type": "-"}
word_pattern = re.compile(r"'s|\n| ?[A-Za-z]+| ?[^\sA-Za-z]|\s")
vocab_words = ["<unk>"] + sorted(set(word_pattern.findall(train_text)))
word_to_id = {w: i for i, w in enumerate(vocab_words)}


def word_encode(text):
    return [word_to_id.get(w, 0) for w in word_pattern.findall(text)]


def word_decode(ids):
    return "".join(vocab_words[i] for i in ids)


print(f"|V| = {len(vocab_words)}; the first ones: {vocab_words[:12]}")
print(word_pattern.findall(sentence), "→", word_encode(sentence))
print(repr(word_decode(word_encode(sentence))))

# %% [markdown] slideshow={"slide_type": "-"}
# The first word is already unknown: storyworld only ever writes "Lily" after a space (`" Lily"`), never at the
# very start of a text, and to a word-level tokenizer those are two different words.
#
# **Proof** against the package's `WordTokenizer`:

# %% slideshow={"slide_type": "-"}
word_tok = WordTokenizer.train(train_text)
ours, theirs = word_encode(shifted_text), word_tok.encode(shifted_text)
n_diff = sum(a != b for a, b in zip(ours, theirs)) + abs(len(ours) - len(theirs))
print(f"{len(ours):,} IDs of the shifted text, {n_diff} differ from WordTokenizer", "✓" if n_diff == 0 else "✗")
assert n_diff == 0 and word_tok.itos == vocab_words

# %% [markdown] slideshow={"slide_type": "-"}
# Short sequences (about four characters per token on storyworld) — but a word-level tokenizer is only as good
# as its word list. A new spelling, a new name or a plural it has not seen all become `<unk>`, and `<unk>` cannot
# be decoded back: the information is gone before the model ever sees it.

# %% slideshow={"slide_type": "-"}
new = "Lilly had a red balloon. Kofi's kite is golden!"
print(word_decode(word_encode(new)))
ids = word_tok.encode(shifted_text)
print(f"shifted test: {ids.count(0) / len(ids):.1%} of its word tokens are <unk>")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.1 — predict a token count
# Without running the tokenizer first: into how many tokens does the word tokenizer cut
# `"The king's frog sang."`, and how many of them are `<unk>`? Store them in `n_tokens` and `n_unknown`.
# (storyworld has a king and a frog, but its sentences never start with "The" and nobody sings.)
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The word tokenizer first cuts the text into pieces, then looks each piece up; a piece that
#    is not in its vocabulary becomes `<unk>`.
# 2. **The approach.** Apply `word_pattern` by hand: `'s` is a token of its own, each word keeps its leading
#    space, and the full stop is a token. Then check each piece against `word_to_id`, remembering what storyworld
#    never says.
# 3. **A skeleton.** To check your count afterwards:
#    ```python
#    pieces = word_pattern.findall(___)
#    n_tokens = ___
#    n_unknown = sum(p not in ___ for p in pieces)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
pieces = word_pattern.findall("The king's frog sang.")   # ['The', ' king', "'s", ' frog', ' sang', '.']
n_tokens = len(pieces)
n_unknown = sum(p not in word_to_id for p in pieces)
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("1.1a", n_tokens, len(word_tok.encode("The king's frog sang.")),
      hint="'s is its own token, and the full stop too.")
check("1.1b", n_unknown, word_tok.encode("The king's frog sang.").count(0),
      hint="Which pieces never appear in storyworld? Compare with word_to_id.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Bytes: a vocabulary with nothing unknown
#
# Unicode has room for 1,114,112 code points, of which about 150,000 are assigned characters; **UTF-8** writes each
# code point as 1 to 4 bytes: ASCII letters
# take one byte, accented Latin letters two, most Chinese and Japanese characters three, emoji four (and an emoji
# built from several code points, like a family, more). Any text, in any language, is a sequence of values
# $0 \dots 255$. A tokenizer that starts from bytes has a base vocabulary of exactly 256 tokens and can never meet
# an unknown character.

# %% slideshow={"slide_type": "-"}
for s in ["a", "é", "ß", "日", "🐉", "👨‍👩‍👧"]:
    b = s.encode("utf-8")
    print(f"{s!r:>8}  {len(s)} code point(s) → {len(b):>2} bytes: {list(b)}")

# %% [markdown] slideshow={"slide_type": "-"}
# The price: sequences of bytes are even longer than sequences of characters, and much longer for languages
# outside ASCII. Merging frequent byte sequences into new tokens wins the length back. That is BPE.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.2 — bytes of a string
# How many UTF-8 bytes is `"naïve café: 日本 🐉"`? Work it out from the rules above, then store it in `n_bytes`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** UTF-8 spends more bytes the further a character is from ASCII, so count the characters of
#    each kind and weight each kind by its bytes.
# 2. **The approach.** ASCII letters, spaces and the colon: 1 byte each; ï and é: 2 each; 日 and 本: 3 each;
#    🐉: 4. Count the ASCII characters carefully, spaces included.
# 3. **A skeleton.** `n_bytes = ___ * 1 + ___ * 2 + ___ * 3 + ___ * 4`
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
n_bytes = 11 * 1 + 2 * 2 + 2 * 3 + 1 * 4   # 11 ASCII characters (3 of them spaces), ï é, 日 本, 🐉
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("1.2", n_bytes, len("naïve café: 日本 🐉".encode("utf-8")),
      hint="Count the ASCII characters (spaces and ':' included) first; each counts 1.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Byte pair encoding, by hand
#
# **BPE** (first a compression method, Gage 1994; for translation models Sennrich et al. 2016; byte-level in
# GPT-2) builds a vocabulary bottom-up:
#
# 1. start with every word as a sequence of single characters (bytes);
# 2. count every adjacent pair of tokens in the corpus;
# 3. merge the most frequent pair into one new token, everywhere;
# 4. repeat from 2 until the vocabulary has the size you want.
#
# The list of merges, in the order they were learned, *is* the tokenizer. Here is the walk-through on a tiny
# corpus: the words are counted first, because the same word always gives the same pairs. (Word-level BPE often
# appends an end-of-word marker such as `</w>` so that a word's last piece differs from the same letters inside a
# word; GPT-style tokenizers get the same effect by keeping the space in front of the word: `" cat"` vs `"cat"`.)

# %% slideshow={"slide_type": "-"}
corpus = "cats lovely love cats lovely low cat love"
word_counts = Counter(corpus.split())
print(word_counts)


def count_pairs(ids, counts=None, weight=1):
    """Add the adjacent pairs of ids into counts, each counted `weight` times."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


pair_counts = {}
for word, n in word_counts.items():
    count_pairs(list(word.encode("utf-8")), pair_counts, n)
for (a, b), c in sorted(pair_counts.items(), key=lambda item: -item[1])[:5]:
    print(f"{chr(a)} + {chr(b)}: {c}")

# %% [markdown] slideshow={"slide_type": "-"}
# `l + o` wins with 5 (lovely ×2, love ×2, low ×1). Merging replaces every `l, o` with one new token, ID 256 (the
# 256 bytes already use IDs 0–255).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.3 — one merge step
# Write `merge(ids, pair, new_id)`: return a new list in which every occurrence of `pair` in `ids` is replaced by
# `new_id`, scanning left to right. `merge([108, 111, 118, 101], (108, 111), 256)` is `[256, 118, 101]`, and an
# occurrence cannot be used twice: `merge([7, 7, 7], (7, 7), 9)` is `[9, 7]`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** One pass from left to right; a matched pair is consumed whole, so its second token cannot
#    start another match.
# 2. **The approach.** Walk with an index `i` in a `while` loop. If `ids[i]` and `ids[i + 1]` form the pair,
#    append `new_id` and jump by 2; otherwise append `ids[i]` and step by 1. Take care at the last position:
#    there is no `ids[i + 1]`.
# 3. **A skeleton.**
#    ```python
#    out, i = [], 0
#    while i < len(ids):
#        if ___ and ids[i] == pair[0] and ids[i + 1] == pair[1]:
#            out.append(new_id)
#            i += ___
#        else:
#            out.append(___)
#            i += 1
#    return out
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def merge(ids, pair, new_id):
    # BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
if not check_function("1.3", merge, [
    (([108, 111, 118, 101], (108, 111), 256), [256, 118, 101]),
    (([7, 7, 7], (7, 7), 9), [9, 7]),
    (([1, 2, 1, 2, 3], (1, 2), 5), [5, 5, 3]),
    (([1, 2], (2, 1), 5), [1, 2]),
    (([], (1, 2), 5), []),
], hint="Replace a pair only when both of its tokens are at i and i + 1, then skip past both."):
    print("Using the course's version, course_utils.bpe.merge, from here on.")
    merge = bpe.merge

# %% [markdown] slideshow={"slide_type": "-"}
# Step through the training merge by merge: the pair-count table the trainer sees, the pair it picks, and the
# corpus after the merge. At the bottom, words that are *not* in the corpus are tokenized with the merges learned
# so far: they never become unknown, they just fall apart into smaller pieces. That is why BPE has no
# out-of-vocabulary problem. (Edit the corpus in the live version; equal counts go to the pair with the smallest
# IDs, so training is deterministic.)

# %% slideshow={"slide_type": "-"}
bpe_stepper.show(corpus, n_merges=12, step=1)

# %% [markdown] slideshow={"slide_type": "-"}
# Pieces found this way follow frequency, not grammar: `ly` here happens to be a suffix, but BPE would merge
# `s` + `a` just as happily if that pair were common. In section 6, GPT-2 splits "unbelievable" into
# `un|bel|iev|able`, not into the neat `un|believ|able` of a linguist.
#
# **Two relatives.** *WordPiece* (BERT) merges the pair with the highest score
# $\frac{\text{count}(ab)}{\text{count}(a)\,\text{count}(b)}$ instead of the highest count, so it prefers pieces
# that rarely appear apart, and it marks a word's continuation pieces with `##`. *Unigram* (SentencePiece, used by
# T5 and many multilingual models) goes the other way: it starts from a large vocabulary, drops the tokens that
# matter least to the corpus likelihood, and encodes a word by its most probable segmentation. On our corpus the
# first WordPiece merge is already a different one:

# %% slideshow={"slide_type": "-"}
letter_counts = Counter()
for word, n in word_counts.items():
    for ch in word:
        letter_counts[ch] += n
scores = {(a, b): c / (letter_counts[chr(a)] * letter_counts[chr(b)]) for (a, b), c in pair_counts.items()}
best_bpe = max(pair_counts, key=lambda p: (pair_counts[p], -p[0], -p[1]))
best_wordpiece = max(scores, key=lambda p: (scores[p], -p[0], -p[1]))
print(f"BPE merges       {chr(best_bpe[0])} + {chr(best_bpe[1])} (count {pair_counts[best_bpe]})")
print(f"WordPiece merges {chr(best_wordpiece[0])} + {chr(best_wordpiece[1])} "
      f"(score {scores[best_wordpiece]:.3f}, against {scores[best_bpe]:.3f} for l + o)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. A byte-level BPE trainer, from scratch

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.1 Pre-splitting
# Run on raw text, BPE would happily merge across spaces and punctuation and learn tokens like `"d. The"`.
# GPT-2 and GPT-4 first cut the text with a regular expression into chunks — a word with its leading space,
# a number, a run of punctuation, whitespace — and merge only inside a chunk. GPT-4's pattern also keeps
# numbers in groups of at most three digits and newlines apart from other spaces:

# %% slideshow={"slide_type": "-"}
demo = "Tom's cat   ate 12345 cookies!!\n\nIt's OK."
print("GPT-2:", regex.findall(bpe.GPT2_SPLIT_PATTERN, demo))
print("GPT-4:", regex.findall(bpe.GPT4_SPLIT_PATTERN, demo))

# %% [markdown] slideshow={"slide_type": "-"}
# What pre-splitting prevents, measured: a BPE trained on raw storyworld text (no pre-split, 512 tokens) spends
# its vocabulary on storyworld's stock phrases.

# %% slideshow={"slide_type": "-"}
raw_bpe = bpe.BPETokenizer.train(train_text[:150_000], 512, pattern=None)
learned = [raw_bpe.vocab[i] for i in raw_bpe.merges.values()]
multiword = sorted((t for t in learned if b" " in t.strip()), key=len)
print(f"{len(multiword)} of {len(learned)} learned tokens span several words; the longest:")
print([t.decode() for t in multiword[-4:]])

# %% [markdown] slideshow={"slide_type": "-"}
# Such tokens compress storyworld's repetitive text well, but a word inside a phrase token is invisible as a
# word: the model must learn `" wind"` alone and inside `". Then a big wind came, and "` separately. On real text,
# the same mechanism fills the vocabulary with variants such as `dog.`, `dog!` and `dog?` — the example that
# made GPT-2's authors add the pre-split.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.2 Training
# Storyworld's 1.4 MB of training text has only a couple of hundred *distinct* chunks, so, as in the walk-through,
# we count the chunks and work on the distinct ones, each with its count. Then the loop of section 3. The
# vocabulary: 256 bytes, then one new token per merge, then the special token `<|endoftext|>` (section 4.4):
# $|V| = 256 + \#\text{merges} + 1$.

# %% slideshow={"slide_type": "-"}
PATTERN = bpe.GPT4_SPLIT_PATTERN   # pre-split as GPT-4 does
VOCAB_SIZE = 512                   # 256 bytes + 255 merges + <|endoftext|>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.4 — the BPE training loop
# Write `train_bpe(text, vocab_size)`. It returns the merges, a dict `{(left ID, right ID): new ID}` in the order
# they were learned, with the new IDs $256, 257, \dots$ and at most `vocab_size - 257` of them (the last ID is
# kept for `<|endoftext|>`). Its first two lines are given: they pre-split the text and turn each distinct
# chunk into its list of bytes with the number of times it occurs. Then comes the loop of section 3: count the
# adjacent pairs of all chunks, each chunk's pairs weighted by its count; pick the most frequent pair, and
# among equally frequent pairs the smallest (compared as tuples of IDs, so `(32, 97)` comes before `(97, 98)`:
# the package's rule, which makes training deterministic); merge it in every chunk with your `merge`
# (Exercise 1.3); repeat. A text can run out of pairs before the vocabulary is full: then stop. The rest of
# this notebook trains with your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** BPE is greedy: each round makes one new token out of the most common pair of neighbours,
#    and the chunks get shorter. The counts change after every merge, so they are taken afresh each round.
# 2. **The approach.** Loop over the new IDs from 256 up to, not including, `vocab_size - 1`. In each round,
#    build an empty table and add every chunk's pairs to it with `count_pairs(ids, counts, weight)` of
#    section 3; if the table is empty, stop. `min` with the key $(-\text{count}, \text{pair})$ finds the
#    most frequent pair and breaks ties towards the smallest pair (`max(counts, key=counts.get)` would break
#    them by which pair was counted first). Replace the pair in every chunk, keep each chunk's count, and
#    record the merge.
# 3. **A skeleton.**
#    ```python
#    merges = {}
#    for new_id in range(256, ___):
#        counts = {}
#        for ids, n in words:
#            count_pairs(ids, counts, ___)
#        if not counts:
#            ___
#        pair = min(counts, key=lambda p: (___, p))
#        words = [(merge(ids, pair, new_id), n) for ids, n in ___]
#        merges[pair] = new_id
#    return merges
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def train_bpe(text, vocab_size):
    """Text -> merges {(left ID, right ID): new ID}, in the order learned, for vocab_size - 257 merges at most."""
    chunks = Counter(regex.findall(PATTERN, text))                       # distinct chunk -> how often it occurs
    words = [(list(chunk.encode("utf-8")), n) for chunk, n in chunks.items()]   # (its bytes, its count)
    # BEGIN SOLUTION
    merges = {}  # (left ID, right ID) → new ID, in the order learned
    for new_id in range(256, vocab_size - 1):       # the last ID is <|endoftext|>'s
        counts = {}
        for ids, n in words:
            count_pairs(ids, counts, n)                  # a chunk that occurs n times has its pairs n times
        if not counts:
            break  # every chunk is a single token: nothing left to merge
        pair = min(counts, key=lambda p: (-counts[p], p))   # most frequent; ties go to the smallest IDs
        words = [(merge(ids, pair, new_id), n) for ids, n in words]
        merges[pair] = new_id
    return merges
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def package_merges(text, vocab_size):
    """The expected merges: course_utils.bpe.BPETokenizer.train on the same text. It warns when the text runs
    out of pairs before the vocabulary is full; here that is one of the cases."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bpe.BPETokenizer.train(text, vocab_size).merges


train_cases = [("", 260), ("a", 260), ("aaaa", 300), ("zyx", 258), (corpus, 270),
               ("naïve café: 日本 🐉🐉 日本", 270), (train_text[:5_000], 300)]
if not check_function("1.4", train_bpe, [((text, size), package_merges(text, size)) for text, size in train_cases],
                      hint="the cases are 1 an empty text and 2 one character: nothing to merge, {}; 3 'aaaa', whose "
                           "3 overlapping (a, a) pairs merge into [256, 256], then into 257, and then nothing is "
                           "left although 41 more merges were asked for; 4 'zyx', where (z, y) and (y, x) are tied "
                           "and the smaller pair wins; 5 the corpus of section 3, where each chunk counts as often "
                           "as it occurs; 6 Unicode, merged byte by byte; 7 5,000 characters of storyworld. Recount "
                           "the pairs in every round, and stop when none is left."):
    print("Using the course's version, course_utils.bpe.BPETokenizer.train, from here on.")
    train_bpe = package_merges

# %% slideshow={"slide_type": "-"}
start = time.perf_counter()
merges = train_bpe(train_text, VOCAB_SIZE)   # your trainer
print(f"{len(merges)} merges in {time.perf_counter() - start:.2f} s")

vocab = {i: bytes([i]) for i in range(256)}
for (a, b), new_id in merges.items():   # dicts keep insertion order: the order of learning
    vocab[new_id] = vocab[a] + vocab[b]
print("first merges:", [vocab[i].decode() for i in range(256, 268)])
print("last merges: ", [vocab[i].decode() for i in range(VOCAB_SIZE - 13, VOCAB_SIZE - 1)])

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** `course_utils.bpe.BPETokenizer.train` does the same training, but instead of recounting every pair
# after each merge, it updates only the counts next to where the merged pair occurred (`benchmarks/bench_bpe.py`
# measures the difference). Both must learn the same merges, in the same order:

# %% slideshow={"slide_type": "-"}
start = time.perf_counter()
course_bpe = bpe.BPETokenizer.train(train_text, VOCAB_SIZE)
print(f"package trainer: {time.perf_counter() - start:.2f} s  →  {course_bpe}")
same = list(course_bpe.merges.items()) == list(merges.items())
print(f"identical merges in identical order: {same}", "✓" if same else "✗")
assert same

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.3 Encoding and decoding
# To encode a chunk, start from its bytes and apply merges in the order they were learned: among the pairs
# present, always the one learned first (the lowest new ID), until no pair present was ever merged. That replays
# exactly what training did to that chunk. Decoding looks up each token's bytes, joins them and reads the result
# as UTF-8.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.5 — the encoder
# Write `encode_chunk(ids, merges)`: the token IDs of one chunk, from its list of bytes `ids` and a dict of
# `merges` as `train_bpe` returns it. Replay the merges as described above: repeatedly merge the adjacent pair
# that was learned first, until no pair present is in `merges`. Neither the leftmost pair nor the most
# frequent one: with `merges = {(98, 99): 256, (97, 98): 257}`, `"abc"` (`[97, 98, 99]`) becomes `[97, 256]`,
# because `b c` was learned before `a b`, and `a b` then no longer exists. Every encoding below, the proofs
# against the package and against tiktoken included, runs on your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Training merged pairs in a fixed order. On a chunk it has never seen, the same pairs must
#    merge in the same order, so that the chunk ends up as training would have left it.
# 2. **The approach.** While at least two tokens are left: among the pairs `zip(ids, ids[1:])`, take the one
#    with the smallest new ID, counting a pair that was never merged as infinitely late (`math.inf`). If even
#    that pair is not in `merges`, stop; otherwise merge it everywhere with your `merge` and look again.
# 3. **A skeleton.**
#    ```python
#    while len(ids) >= 2:
#        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, ___))
#        if pair not in merges:
#            ___
#        ids = merge(ids, pair, ___)
#    return ids
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def encode_chunk(ids, merges):
    """One chunk's bytes -> its token IDs, replaying the merges, earliest-learned first."""
    # BEGIN SOLUTION
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, math.inf))  # the earliest-learned pair
        if pair not in merges:
            break  # no pair present was ever merged
        ids = merge(ids, pair, merges[pair])
    return ids
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
order_matters = {(98, 99): 256, (97, 98): 257}           # "b c" learned first, then "a b"
encode_cases = [("", order_matters), ("a", order_matters), ("abc", order_matters), ("abcabd", order_matters),
                ("aaaaa", package_merges("aaaa", 300)), (" princess", course_bpe.merges),
                (" Kenji", course_bpe.merges), ("🐉", course_bpe.merges), (" café", course_bpe.merges)]
if not check_function("1.5", encode_chunk,
                      [((list(text.encode("utf-8")), m), bpe.BPETokenizer(m, pattern=None).encode(text))
                       for text, m in encode_cases],
                      hint="the cases are 1 an empty chunk and 2 one byte, left as they are; 3 and 4 'abc' and "
                           "'abcabd' with b c learned before a b: take the pair learned first, not the leftmost "
                           "one; 5 'aaaaa' with (a, a) → 256 and (256, 256) → 257; 6–9 words and Unicode with the "
                           "storyworld BPE's merges (🐉's four bytes were never merged). The smallest new ID wins; "
                           "stop when no pair present is in merges."):
    print("Using the course's version, course_utils.bpe.apply_merges, from here on.")
    encode_chunk = bpe.apply_merges

# %% slideshow={"slide_type": "-"}
def encode(text):
    """Text -> token IDs: pre-split, then each chunk's bytes through your encode_chunk with the merges of §4.2."""
    return [i for chunk in regex.findall(PATTERN, text) for i in encode_chunk(list(chunk.encode("utf-8")), merges)]


def decode(ids):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


story = storyworld.load_split("validation", 1).stories[0].text
ids = encode(story)
print("|".join(vocab[i].decode() for i in ids[:40]))
print(f"{len(story)} characters → {len(ids)} tokens; decode(encode(story)) == story: {decode(ids) == story}")

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof** against the package's encoder, on the whole validation and shifted texts:

# %% slideshow={"slide_type": "-"}
for name, text in [("validation", val_text), ("shifted test", shifted_text)]:
    ours, theirs = encode(text), course_bpe.encode(text)
    n_diff = sum(a != b for a, b in zip(ours, theirs)) + abs(len(ours) - len(theirs))
    print(f"{name:>12}: {len(ours):,} tokens, {len(text) / len(ours):.2f} characters/token, "
          f"{n_diff} IDs differ", "✓" if n_diff == 0 else "✗")
    assert n_diff == 0 and decode(ours) == text

# %% [markdown] slideshow={"slide_type": "-"}
# Round trips on any Unicode text — accents written as one or as two code points, Chinese and Japanese, emoji
# (one code point or several joined by zero-width joiners), right-to-left Arabic, tabs, runs of spaces and
# newlines — even though the tokenizer was trained on plain English stories:

# %% slideshow={"slide_type": "-"}
adversarial = [
    "", " ", "   leading and trailing   ", "tabs\tand\r\nWindows newlines\n\n\n",
    "café vs cafe\u0301", "日本語のテキスト、中文文本", "🐉🐉 👨‍👩‍👧 🇩🇪 1️⃣", "مرحبا بالعالم",
    "ALL CAPS, CamelCase, snake_case", "12345678901234567890 3.14159 -0.5e-10",
    "I'M YOU'RE we'd they'll", "<html><b>x</b></html>", "\x00\x01 control \x7f", "😀" * 20,
]
for text in adversarial:
    ids = encode(text)
    assert decode(ids) == text and course_bpe.decode(course_bpe.encode(text)) == text
print(f"{len(adversarial)} adversarial texts: decode(encode(x)) == x for all ✓")
print("'🐉' →", encode("🐉"), " (4 bytes, never merged in storyworld: 4 tokens)")

# %% [markdown] slideshow={"slide_type": "-"}
# Not every list of IDs is valid UTF-8. A token can hold part of a character (here: one of the dragon's four
# bytes), and a model generating text one token at a time can stop in the middle of a character. Decoding then
# meets an incomplete byte sequence; `errors="replace"` turns it into the replacement character `�` (U+FFFD)
# rather than failing. A program streaming a model's output keeps such bytes until the character is complete.

# %% slideshow={"slide_type": "-"}
dragon = encode("🐉")
print("first token's bytes:", vocab[dragon[0]], "→ decoded:", repr(decode(dragon[:1])))
print("all four:           ", b"".join(vocab[i] for i in dragon), "→ decoded:", repr(decode(dragon)))
try:
    b"".join(vocab[i] for i in dragon[:1]).decode("utf-8")
except UnicodeDecodeError as error:
    print("strict decoding fails:", error)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.4 Special tokens
# Training text is many documents glued together. A **special token** marks what is not text: GPT-2 puts
# `<|endoftext|>` between documents, chat models mark whose turn it is. A special token has its own ID after the
# merges, is never produced by BPE, and is decoded to its name. Because a user's text must not be able to
# produce it by typing its name, encoding refuses text that contains it unless you allow it explicitly (these
# are tiktoken's rules):

# %% slideshow={"slide_type": "-"}
eot = bpe.ENDOFTEXT
two_stories = storyworld.load_split("validation", 2).stories
doc = two_stories[0].text + eot + two_stories[1].text
ids = course_bpe.encode(doc, allowed_special={eot})
eot_id = course_bpe.special_tokens[eot]
print(f"{eot} has ID {eot_id}; in the two stories' tokens it appears {ids.count(eot_id)} time(s)")
print("as ordinary text it is", course_bpe.encode(eot, disallowed_special=()))
for bad in [lambda: course_bpe.encode(doc), lambda: course_bpe.encode(b"bytes"),
            lambda: course_bpe.encode("x", allowed_special={"<|im_start|>"}), lambda: course_bpe.decode([999])]:
    try:
        bad()
    except (ValueError, TypeError) as error:
        print(f"{type(error).__name__}: {error}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Proof: our BPE and tiktoken give the same tokens
#
# OpenAI's `tiktoken` runs the same algorithm in Rust. It describes a tokenizer by a split pattern, the
# **ranks** of all tokens (their bytes → their ID; a merged token's rank is the order in which it was learned, which
# for us is its ID) and the special tokens. So our merges become a `tiktoken.Encoding` in one call, and the two
# encoders must agree on every text: the corpus, the adversarial strings and a few hundred random strings built
# from troublesome characters.

# %% slideshow={"slide_type": "-"}
enc = tiktoken.Encoding("storyworld_bpe", pat_str=PATTERN, mergeable_ranks={vocab[i]: i for i in vocab},
                        special_tokens={eot: VOCAB_SIZE - 1})
rng = random.Random(0)
alphabet = "aeiou lnst' \n\t.,!?0123456789éß日🐉\u200d"
fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(300)]
n_tokens = n_diff = 0
for text in [val_text, shifted_text, *adversarial, *fuzz]:
    ours, theirs = encode(text), enc.encode(text)
    n_tokens += len(ours)
    n_diff += sum(a != b for a, b in zip(ours, theirs)) + abs(len(ours) - len(theirs))
print(f"from-scratch encoder vs tiktoken: {n_diff} of {n_tokens:,} token IDs differ", "✓" if n_diff == 0 else "✗")
assert n_diff == 0
assert course_bpe.to_tiktoken().encode(doc, allowed_special="all") == course_bpe.encode(doc, allowed_special="all")

# %% [markdown] slideshow={"slide_type": "-"}
# Same tokens, far less time. From here on the course tokenizes with the tiktoken version:
# `bpe.course_tokenizer().to_tiktoken()` (the BPE above, trained on storyworld's train split).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
encode(val_text)
python_seconds = time.perf_counter() - start
start = time.perf_counter()
enc.encode(val_text)
tiktoken_seconds = time.perf_counter() - start
print(f"validation text: pure Python {python_seconds:.3f} s, tiktoken {tiktoken_seconds:.4f} s "
      f"({python_seconds / tiktoken_seconds:.0f}× faster)")
assert python_seconds > 3 * tiktoken_seconds, "tiktoken encodes the same text several times faster"
assert bpe.course_tokenizer().merges == course_bpe.merges, "the package's course tokenizer is this BPE"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Real tokenizers: GPT-2, GPT-4, GPT-4o
#
# tiktoken ships the tokenizers of OpenAI's models: `r50k_base` (GPT-2 and GPT-3, 50,257 tokens), `cl100k_base`
# (GPT-3.5 and GPT-4, about 100k) and `o200k_base` (GPT-4o, about 200k). Each is downloaded once and cached. Offline,
# without a cached copy, the cell below says so in one line and the notebook goes on with the ones it has.
#
# **What you see depends on what is cached.** The committed notebook was run offline with only `r50k_base` in
# tiktoken's cache, so the tables of this section compare the storyworld BPE with GPT-2 alone. Run it online
# once (or with `cl100k_base` and `o200k_base` cached) and every table gains a GPT-4 and a GPT-4o column; with
# nothing cached it shows the storyworld BPE only. GPT-4's way of splitting digits (§4.1) and the vocabulary sizes
# of §7 need no download.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
VOCAB_SIZES = {"GPT-2": 50_257, "GPT-4": 100_277, "GPT-4o": 200_019}   # published sizes, special tokens included
real = {}
for name, model in bpe.REAL_ENCODINGS.items():
    encoding = bpe.load_tiktoken(name)
    if encoding is not None:
        real[model] = encoding
        print(f"{model} ({name}): {encoding.n_vocab:,} tokens")
print(f"compared below: the storyworld BPE and {', '.join(real) if real else 'no real tokenizer (none is cached)'}")
assert all(real[model].n_vocab == VOCAB_SIZES[model] for model in real), \
    "each real tokenizer that loaded has its published vocabulary size"

# %% [markdown] slideshow={"slide_type": "-"}
# With GPT-2's ranks, our pure-Python encoder is GPT-2's tokenizer: `BPETokenizer.from_tiktoken` recovers the
# 50,000 merges from the ranks, and the token IDs must match tiktoken's exactly.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
if "GPT-2" in real:
    gpt2 = bpe.BPETokenizer.from_tiktoken(real["GPT-2"])
    texts = [val_text[:50_000], shifted_text[:50_000], *adversarial, *fuzz]
    n_diff = sum(gpt2.encode(t) != real["GPT-2"].encode(t) for t in texts)
    print(f"our encoder with GPT-2's merges: {n_diff} of {len(texts)} texts differ from tiktoken's GPT-2",
          "✓" if n_diff == 0 else "✗")
    assert n_diff == 0, "with GPT-2's merges our encoder gives exactly tiktoken's GPT-2 token IDs"
else:
    print("GPT-2's tokenizer is not available offline; skipping this proof.")

# %% [markdown] slideshow={"slide_type": "-"}
# The same sentence in several languages, some numbers and some code. Columns: characters, UTF-8 bytes, and the
# number of tokens for each tokenizer. Our storyworld BPE has only seen simple English; GPT-2 mostly English web
# text; GPT-4o's vocabulary (a column only where it could be loaded) was built with many more languages in mind.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
samples = {
    "English": "The little girl found a red ball in the garden.",
    "German": "Das kleine Mädchen fand einen roten Ball im Garten.",
    "French": "La petite fille a trouvé une balle rouge dans le jardin.",
    "Spanish": "La niña pequeña encontró una pelota roja en el jardín.",
    "Japanese": "小さな女の子は庭で赤いボールを見つけました。",
    "Hindi": "छोटी लड़की को बगीचे में एक लाल गेंद मिली।",
    "numbers": "In 2024, 1234567 + 7654321 = 8888888.",
    "code": "for i in range(10):\n    print(i ** 2)",
}
tokenizers = {"storyworld BPE": course_bpe.to_tiktoken(), **real}
print(f"{'':<9}{'chars':>6}{'bytes':>6}" + "".join(f"{name:>16}" for name in tokenizers))
for label, text in samples.items():
    counts = "".join(f"{len(t.encode(text)):>16}" for t in tokenizers.values())
    print(f"{label:<9}{len(text):>6}{len(text.encode('utf-8')):>6}{counts}")
n_tokens = {name: {label: len(t.encode(text)) for label, text in samples.items()} for name, t in tokenizers.items()}
assert all(n_tokens[name][label] < n_tokens["storyworld BPE"][label] for name in real for label in samples), \
    "every real tokenizer needs fewer tokens than the storyworld BPE for every sample"
assert "GPT-4o" not in real or "GPT-2" not in real or all(
    n_tokens["GPT-4o"][label] < n_tokens["GPT-2"][label] for label in ("Japanese", "Hindi")), \
    "GPT-4o's vocabulary writes Japanese and Hindi in fewer tokens than GPT-2's"

# %% [markdown] slideshow={"slide_type": "-"}
# And the lecture's examples, split by each tokenizer (`|` between tokens; `�` marks a token that is part of a
# character). BPE pieces follow frequency, not morphology.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def pieces(tokenizer, text):
    return "|".join(tokenizer.decode([i]) for i in tokenizer.encode(text))


lecture_words = ["unbelievable", "unglaublicher", "malheureusement", "tokenization",
                 "antidisestablishmentarianism", "catlike", "cat-ownership", " 1234567"]
for word in lecture_words:
    print(f"{word!r:>31}  " + "   ".join(f"{name}: {pieces(t, word)}" for name, t in tokenizers.items()))
assert all("|" in pieces(tokenizers["storyworld BPE"], word) for word in lecture_words), \
    "the storyworld BPE has none of these words as a single token"
if "GPT-2" in real:
    assert pieces(real["GPT-2"], "unbelievable") == "un|bel|iev|able" and \
        pieces(real["GPT-2"], " 1234567") == " 123|45|67", "GPT-2 cuts them as the text says"

# %% [markdown] slideshow={"slide_type": "-"}
# **What a token count means.**
# - *Cost.* APIs charge per token, input and output. The same request in a language that needs three times the
#   tokens costs three times as much.
# - *Context window.* A model reads at most a fixed number of tokens (GPT-2: 1,024; GPT-4 started at 8,192;
#   GPT-4o: 128,000). More tokens per sentence means less text fits.
# - *Speed.* Generation produces one token per step, and attention compares every token with every other one,
#   so longer token sequences are slower, roughly quadratically in attention.
# - *Accuracy.* A model sees tokens, not letters: "how many r's in strawberry" asks about units it never sees,
#   and GPT-2 cuts numbers into chunks that depend on which digit strings were common in its training data
#   (` 123|45|67` above), which makes arithmetic harder; GPT-4's groups of at most three digits are one fix.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.6 — where the storyworld BPE and GPT-2 disagree
# Below are GPT-2's tokens for six words (recorded from `r50k_base`; the next cell checks the record whenever
# GPT-2 is available). Which of the words does our storyworld BPE (`course_bpe`) split into *different* pieces?
# Store their set in `different`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** A tokenizer keeps a word whole only if its training text had it often; rare storyworld words
#    and new names are the candidates for falling into pieces.
# 2. **The approach.** `[course_bpe.token_bytes(i).decode() for i in course_bpe.encode(word)]` gives our pieces;
#    compare the list with `GPT2_PIECES[word]` and collect the words where they differ.
# 3. **A skeleton.**
#    ```python
#    different = set()
#    for word, gpt2_pieces in GPT2_PIECES.items():
#        ours = [course_bpe.token_bytes(i).decode() for i in course_bpe.encode(___)]
#        if ___:
#            different.add(word)
#    ```
# </details>

# %% slideshow={"slide_type": "-"}
GPT2_PIECES = {" princess": [" princess"], " sandwich": [" sandwich"], " Lily": [" Lily"],
               " castle": [" castle"], " dragon": [" dragon"], " Kenji": [" Ken", "ji"]}
if "GPT-2" in real:
    assert all([real["GPT-2"].decode([i]) for i in real["GPT-2"].encode(w)] == p for w, p in GPT2_PIECES.items())

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
different = set()
for word, gpt2_pieces in GPT2_PIECES.items():
    if [course_bpe.token_bytes(i).decode() for i in course_bpe.encode(word)] != gpt2_pieces:
        different.add(word)
# END SOLUTION

# %% slideshow={"slide_type": "-"}
ours = {w: [course_bpe.token_bytes(i).decode() for i in course_bpe.encode(w)] for w in GPT2_PIECES}
check("1.6", different, {w for w in GPT2_PIECES if ours[w] != GPT2_PIECES[w]},
      hint="Words the storyworld BPE saw often are single tokens; rare or unseen ones fall into pieces.")
for word in GPT2_PIECES:
    print(f"{word!r:>12}  storyworld BPE: {'|'.join(ours[word]):<18} GPT-2: {'|'.join(GPT2_PIECES[word])}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Trade-offs, measured
#
# A bigger vocabulary means fewer tokens per text (shorter sequences, cheaper attention, more text in the context
# window), but every token needs a row in the embedding table: $|V| \times d$ parameters for embedding width $d$,
# and as many again in the output layer unless the two are shared. BPE makes the trade-off a dial: a smaller
# vocabulary is just a shorter merge list, because training is greedy. We train once until storyworld runs out of
# pairs, then cut the merge list at several lengths and measure compression on the validation text (same grammar)
# and on the shifted test (new names and words).

# %% slideshow={"slide_type": "-"}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    full = bpe.BPETokenizer.train(train_text, 1024)
print("asked for 1,024 tokens:", caught[0].message)
assert list(full.merges.items())[:len(course_bpe.merges)] == list(course_bpe.merges.items())


def first_merges(tokenizer, n):
    """The tokenizer that training with n merges would give: its first n merges."""
    kept = {pair: i for pair, i in tokenizer.merges.items() if i < 256 + n}
    return bpe.BPETokenizer(kept, special_tokens={eot: 256 + n}).to_tiktoken()


sizes = [0, 25, 50, 100, 150, 200, 255, 300, 350, len(full.merges)]
rates = {"validation": [], "shifted test": []}
for n in sizes:
    fast = first_merges(full, n)
    for name, text in [("validation", val_text), ("shifted test", shifted_text)]:
        rates[name].append(len(text) / len(fast.encode(text)))
d_model = 128  # the width of the course's small GPT
print(f"{'|V|':>5}{'validation':>12}{'shifted':>9}{'embedding params':>18}")
for n, a, b in zip(sizes, rates["validation"], rates["shifted test"]):
    print(f"{257 + n:>5}{a:>12.2f}{b:>9.2f}{(257 + n) * d_model:>18,}")
word_rate = len(val_text) / len(word_tok.encode(val_text))
print(f"word level: |V| = {word_tok.vocab_size}, {word_rate:.2f} characters/token on validation, "
      f"but {word_tok.encode(shifted_text).count(0) / len(word_tok.encode(shifted_text)):.0%} <unk> on shifted")
print(f"embedding table with GPT-2's vocabulary at d = 128: {50_257 * 128:,} parameters "
      f"(the whole GPT of notebook 00 has 832,128)")
print(f"with GPT-4o's vocabulary at GPT-3's width d = 12,288: {200_019 * 12_288 / 1e9:.2f} billion")
print(f"byte values that never occur in the training text: {256 - len(set(train_text.encode('utf-8')))} of 256")

# %% slideshow={"slide_type": "-"}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
vocab_sizes = [257 + n for n in sizes]
for name, style in [("validation", "o-"), ("shifted test", "s--")]:
    ax1.plot(vocab_sizes, rates[name], style, label=f"byte-level BPE, {name}")
ax1.plot([char_tok.vocab_size], [1.0], "k^", label="characters (shifted: unknown letters)")
unk_rate = word_tok.encode(shifted_text).count(0) / len(word_tok.encode(shifted_text))
ax1.plot([word_tok.vocab_size], [word_rate], "kD", label=f"words (shifted: {unk_rate:.0%} <unk>)")
ax1.set(xlabel="vocabulary size |V|", ylabel="characters per token", title="Compression on storyworld",
        xlim=(0, 700), ylim=(0.8, 5.6))
ax1.legend(fontsize=8, loc="upper left")
grid = np.logspace(2, 5.5, 50)
for d in (128, 768, 12_288):
    ax2.plot(grid, grid * d, label=f"d = {d:,}")
known = {"storyworld BPE": course_bpe.vocab_size, "GPT-2": 50_257, "GPT-4": 100_277, "GPT-4o": 200_019}
for label, v in known.items():
    ax2.axvline(v, color="gray", ls=":", lw=1)
    ax2.text(v, 5e10, label, rotation=90, fontsize=8, ha="right", va="top")
ax2.set(xscale="log", yscale="log", ylim=(1e4, 1e11), xlabel="vocabulary size |V|", ylabel="parameters",
        title="Embedding table: |V| × d parameters")
ax2.legend(fontsize=8, title="embedding width", title_fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# What the numbers say:
# - Compression rises quickly with the first merges (common pairs like `e` + space) and then slowly. On
#   storyworld it stops at 648 tokens, when every distinct chunk is a single token; real text has a long tail of
#   words, which is why real vocabularies hold 50k–200k tokens.
# - The shifted stories compress less, and the gap widens with the vocabulary: the later merges are whole
#   storyworld words that the shifted stories rarely use. A tokenizer is fitted to its training data, like a model.
# - With GPT-2's vocabulary, our 128-wide GPT would spend 6.4 million parameters on the embedding table alone, eight
#   times the whole model of notebook 00. At GPT-3's width of 12,288, a 200k vocabulary costs 2.5 billion.
# - 209 of the 256 byte tokens never occur in storyworld (it uses 47 characters). Their rows of the embedding table
#   are never looked up: in a separate input table they would never receive a gradient. With the table tied to the
#   output layer, as in GPT-2 and the course GPT, every row gets one (notebook 02 counts 175 of 175), but for
#   these tokens it only ever says "less likely": they learn nothing else. A vocabulary should match the data it
#   will see.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1.7 — stories in a context window
# GPT-2 reads at most 1,024 tokens at once. On average, how many validation stories fit into 1,024 tokens with the
# character tokenizer, and how many with `course_bpe`? Store the two averages (floats, not rounded) in `fit_char`
# and `fit_bpe`. The validation split has 400 stories, each followed by a newline, which counts.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The fewer tokens a story needs, the more stories fit into the window: it is 1,024 divided
#    by the average length of a story in tokens.
# 2. **The approach.** Tokens per story = tokens of `val_text` / 400 (the newlines are in `val_text`). Then
#    divide 1,024 by it. `char_tok.encode` and `course_bpe.encode` give the tokens.
# 3. **A skeleton.**
#    ```python
#    fit_char = 1024 / (len(char_tok.encode(___)) / ___)
#    fit_bpe = ___
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
fit_char = 1024 / (len(char_tok.encode(val_text)) / 400)
fit_bpe = 1024 / (len(course_bpe.encode(val_text)) / 400)
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("1.7a", fit_char, 1024 * 400 / len(val_text), hint="With characters, tokens = characters.")
check("1.7b", fit_bpe, 1024 * 400 / len(course_bpe.encode(val_text)),
      hint="Count the BPE tokens of val_text, divide by 400 stories, then divide 1,024 by that.")
print(f"1,024 tokens hold {1024 * 400 / len(val_text):.1f} stories as characters, "   # the reference values
      f"{1024 * 400 / len(course_bpe.encode(val_text)):.1f} as storyworld BPE tokens")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Tokenizer playground
#
# Type anything and compare the tokenizers side by side: coloured spans are tokens, small numbers their IDs,
# `·` a space, `↵` a newline; red means "not in the vocabulary" and a dashed border a token that holds only part
# of a character. Try a name storyworld never uses, numbers, code, another language, or `<|endoftext|>`.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
playground_tokenizers = {"characters": char_tok, "words": word_tok, "storyworld BPE": course_bpe, **real}
static_view = tokenizer_playground.playground_text(tokenizer_playground.DEFAULT_TEXT, playground_tokenizers)
assert all(f"{name}:" in static_view for name in playground_tokenizers), \
    "the playground shows every tokenizer that could be loaded"
tokenizer_playground.show(playground_tokenizers)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - A tokenizer maps text to token IDs and back; the vocabulary is the fixed list of tokens, an ID is a position
#   in it. Characters give long sequences; words give short ones but turn every new word into `<unk>`.
# - UTF-8 writes any text as bytes, so a byte-level tokenizer starts from 256 tokens and never meets an unknown.
# - BPE counts adjacent pairs, merges the most frequent, and repeats; the ordered merge list is the tokenizer.
#   Encoding replays the merges, earliest-learned first; an unseen word falls apart into smaller known pieces.
#   You wrote the merge, the training loop and the encoder; every proof after them ran on your code.
# - GPT-2 and GPT-4 pre-split text with a regular expression so that merges stay inside words; special tokens such
#   as `<|endoftext|>` sit outside the merges and must be allowed explicitly.
# - Our from-scratch BPE gives exactly tiktoken's token IDs, on storyworld, on adversarial and random text, and with
#   GPT-2's own merges; tiktoken is the fast engine from now on.
# - Token counts differ between tokenizers and languages, and set cost, context-window use and speed. Vocabulary
#   size trades compression against embedding-table size, and a tokenizer compresses its own domain best.
#
# **Next:** [02 · Embeddings](02_embeddings.ipynb) — what happens to a token ID inside the model.

# %% slideshow={"slide_type": "-"}
summary()
