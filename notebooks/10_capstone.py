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
# # 10 · Capstone: your own small LLM on real text, end to end
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/10_capstone.ipynb) · or locally, as the README says
#
# storyworld knew every answer. Real text does not: nobody knows its entropy floor, documents repeat, files
# carry e-mail addresses, and the tokenizer has to be built for it. This notebook is the course's project: the
# whole pipeline of notebooks 00–09 on real text, once as a worked run and then as a brief for your own.
#
# The worked run uses text every Python installation carries: the **source code of the Python standard
# library** that runs this notebook, read from disk at run time. We curate it, train the course's BPE on it,
# pretrain the course GPT, place it against honest baselines (a count n-gram model, and `gzip` and `lzma`, which
# predict text too), sample from it, fine-tune it with LoRA for a small task, and write its model card.
# One setting swaps in a public-domain book or your own text file.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. build a corpus from real documents: curate it (duplicates, near-duplicates, PII) and split it by document;
# 2. train a BPE tokenizer for it, choose its size from a measured sweep, and compare it with characters and
#    with GPT-2's tokenizer;
# 3. pretrain the course GPT on it within a time budget, and scale the run up with one setting;
# 4. measure bits per character on held-out documents against a count n-gram model and against `gzip` and
#    `lzma`, alone and given the training text — compression is prediction;
# 5. fine-tune the model with LoRA for a task cut from the same corpus and evaluate it against the base model;
# 6. write a model card, and plan a project of your own with milestones and a rubric.
#
# **Time:** about 45 minutes to read and run; the cells run in about a minute and a half on a laptop CPU,
# offline. The project itself (§9) takes one to two weeks.

# %% slideshow={"slide_type": "-"}
import sys
if "google.colab" in sys.modules:  # on Colab only: install the course (about a minute) and allow its widgets
    import importlib
    import subprocess
    course = "llm-mechanics[notebooks] @ git+https://github.com/OWNER/llm-mechanics"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", course], check=True)
    importlib.invalidate_caches()  # so the freshly installed package is found
    sys.modules["google.colab"].output.enable_custom_widget_manager()  # Colab shows custom widgets only then

import copy
import gzip
import hashlib
import math
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from course_utils import compression, corpus, metrics
from course_utils.bpe import ENDOFTEXT, BPETokenizer, load_tiktoken
from course_utils.checks import check, check_function, check_true, summary
from course_utils.finetune import example_from_ids, finetune, generate_responses, lm_loss
from course_utils.generate import generate
from course_utils.lora import apply_lora, merge_lora, trainable_parameters
from course_utils.model import GPT, GPTConfig
from course_utils.ngram import NGramModel
from course_utils.train import LiveLossPlot, TrainConfig, evaluate, pick_device, train

torch.manual_seed(0)
torch.set_num_threads(2)  # the course's reference machine: a 2-core laptop
plt.rcParams["figure.dpi"] = 80

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The settings
#
# Everything that changes the run is here. The defaults run offline, everywhere, in about a minute and a half
# on two CPU cores.
#
# - `CORPUS`: `"stdlib"` (the Python standard library's source, the default), `"book"` (Shakespeare's plays,
#   1.1 MB, downloaded once with `course_utils.download`, checked by its SHA-256 and cached; offline, one line
#   says so and the run goes back to the default) or `"own"` (the text file or folder named by `OWN_TEXT`).
# - `SCALE`: `1` trains for about a minute on two cores. `SCALE = 4` reads four times as much text and trains
#   four times as many steps (several minutes on two cores; far less on a GPU, which `pick_device` takes when
#   there is one); the cell before training prints the time to expect on your machine.
#
# The text describes the default run (`"stdlib"`, `SCALE = 1`), and the assertions in the cells check its
# claims. With another corpus or scale the numbers change, and sometimes the conclusions (on Shakespeare, for
# one, the character 5-gram beats the one-minute GPT); the checks of the default's claims then stand aside, and
# the general ones still run.

# %% slideshow={"slide_type": "-"}
CORPUS = "stdlib"            # "stdlib", "book" or "own"
OWN_TEXT = "my_corpus.txt"   # with CORPUS = "own": a UTF-8 text file, or a folder of text files
SCALE = 1                    # 1: about a minute of training on 2 CPU cores; more with more time or a GPU

if not (isinstance(SCALE, int) and not isinstance(SCALE, bool) and SCALE >= 1):
    raise ValueError(f"SCALE must be a whole number >= 1, got {SCALE!r}")
MAX_CHARS = 1_500_000 * SCALE   # how much text to read
STEPS = 600 * SCALE             # pretraining steps
VAL_FRACTION = 0.2              # share of the documents held out
print(f"corpus {CORPUS!r}, scale {SCALE}: up to {MAX_CHARS:,} characters, {STEPS} training steps")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Data: real documents, curated
#
# `corpus.load_corpus` reads the documents of the chosen source. For the standard library a document is one
# `.py` file; installed packages and the test suites are left out, and so are files over 100 KB (generated
# tables and data dumps). The files are taken in a fixed pseudo-random order — sorted by a hash of their path,
# so the sample spreads over the whole library — until `MAX_CHARS` is reached. The sample is the same every time
# on one Python version, and similar, not equal, on another: the standard library changes a little with each
# release. That is why the figures in this notebook's text are rounded, and every one of them is checked by an
# assertion with a tolerance.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
documents, description = corpus.load_corpus(CORPUS, OWN_TEXT, max_chars=MAX_CHARS)
print(f"{description}: {len(documents)} documents, {sum(map(len, documents)):,} characters")
for d in documents[:5]:
    print(f"  {d.name:<34} {len(d):>7,} characters   {d.text.strip().splitlines()[0][:50]!r}")
assert sum(map(len, documents)) <= MAX_CHARS or len(documents) == 1, "the corpus respects the size cap"
assert CORPUS != "stdlib" or (len(documents) > 50 and sum(map(len, documents)) > 0.8 * MAX_CHARS), \
    "the standard library gives more than 50 files and nearly the whole cap"

# %% [markdown] slideshow={"slide_type": "-"}
# **Curation**, as in notebook 05, in order: drop documents with fewer than 200 characters (empty
# `__init__.py` files), exact duplicates, and MinHash near-duplicates (estimated Jaccard similarity of 5-word
# shingles of at least 0.7; the later document of each pair goes), then replace e-mail addresses and phone
# numbers by `<EMAIL>` and `<PHONE>`. The standard library has real examples of both: its character-set codecs
# (`encodings/cp1251.py`, `encodings/mac_roman.py`, ...) are generated from one template and differ only in a
# table, and many modules name their authors with an e-mail address.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
curated, report = corpus.curate(documents)
print(f"{report['documents']} documents, {report['characters']:,} characters")
print(f"  too short (< 200 characters): {len(report['too_short']):>3}   e.g. {report['too_short'][:3]}")
print(f"  exact duplicates:             {len(report['exact_duplicates']):>3}")
print(f"  near-duplicates (MinHash):    {len(report['near_duplicates']):>3}")
for kept_name, dropped_name, estimate in report["near_duplicates"][:4]:
    print(f"      {dropped_name:<28} ≈ {kept_name:<28} (estimated Jaccard {estimate:.2f})")
print(f"  PII replaced: {report['pii'].get('EMAIL', 0)} e-mail addresses, {report['pii'].get('PHONE', 0)} phone "
      f"numbers, in {len(report['pii_documents'])} documents")
example = next((line.strip() for d in curated for line in d.text.splitlines() if "<EMAIL>" in line), None)
print(f"  e.g. {example!r}")
print(f"kept: {report['kept']} documents, {report['kept_characters']:,} characters "
      f"({report['kept_characters'] / report['characters']:.0%} of the text)")
assert 0.8 < report["kept_characters"] / report["characters"] <= 1, "curation keeps most of the text"
assert CORPUS != "stdlib" or report["pii"].get("EMAIL", 0) >= 5, "the standard library names authors by e-mail"

# %% [markdown] slideshow={"slide_type": "-"}
# **What the text looks like.** Source code is a strange kind of text for a language model: about a third of its
# characters are whitespace (indentation, mostly: the space is by far the commonest character), almost
# everything is ASCII, and about one character in nine is a symbol such as `(`, `.`, `_` or `=`.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
stats = corpus.char_stats(curated)
print(f"{stats['documents']} documents, {stats['characters']:,} characters, {stats['bytes']:,} UTF-8 bytes, "
      f"{stats['lines']:,} lines, {stats['distinct']} distinct characters")
print(f"whitespace {stats['whitespace']:.0%}, ASCII letters {stats['letters']:.0%}, digits {stats['digits']:.0%}, "
      f"other ASCII symbols {stats['symbols']:.0%}, non-ASCII {stats['non_ascii']:.2%}")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
ax1.hist(stats["lengths"], bins=np.logspace(2, 5.3, 25))
ax1.set(xscale="log", xlabel="characters per document", ylabel="documents", title="Document sizes")
top = stats["top"]
ax2.bar(["␣" if ch == " " else repr(ch)[1:-1] if ch.isspace() else ch for ch, _ in top], [share for _, share in top])
ax2.set(ylabel="share of characters", title="The 10 most common characters")
plt.show()
assert CORPUS != "stdlib" or 0.2 < stats["whitespace"] < 0.45, "about a third of source code is whitespace"
assert CORPUS != "stdlib" or stats["non_ascii"] < 0.01, "almost all of it is ASCII"
assert CORPUS != "stdlib" or 0.07 < stats["symbols"] < 0.16, "about one character in nine is a symbol"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Bad settings fail clearly
# A run that goes wrong should say why before it spends a minute training. An empty corpus, a file that is not
# text, and a vocabulary too small to hold the 256 bytes and the special token each stop with a `ValueError`
# that says what to change.

# %% slideshow={"slide_type": "-"}
with tempfile.TemporaryDirectory() as folder:
    empty, picture = Path(folder) / "empty.txt", Path(folder) / "photo.txt"
    empty.write_text("")
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    for what, attempt in (("empty corpus", lambda: corpus.load_corpus("own", empty)),
                          ("not a text file", lambda: corpus.load_corpus("own", picture)),
                          ("vocabulary too small", lambda: BPETokenizer.train("some text", vocab_size=200))):
        try:
            attempt()
        except ValueError as error:
            print(f"{what:<21} ValueError: {str(error).replace(folder, '<folder>')}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Split by document
#
# Validation text must be text the model never saw. Cutting one long stream at 80% would put the two halves of
# one file on both sides, and the model would be tested on the other half of a file it read; so every
# **document** goes wholly to one side. Deciding by a hash of the document's *name* has two more virtues: it is
# the same on every run, and adding or removing a document never moves another one across.
# (Near-duplicates were removed first: a near-copy on the other side would leak as surely as the file itself.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.1 — a split by document
# Write `split_by_hash(names, val_fraction)` that returns `(train_names, val_names)`: a name goes to validation
# when its **hash fraction** — the first 8 hex digits of the SHA-256 of the name (UTF-8), read as an integer
# and divided by $16^8$ — is below `val_fraction`. Keep the input order within each list.
#
# The rest of the notebook trains and evaluates on your split.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Each name alone decides its side, through a number in $[0, 1)$ that looks random but is the
#    same on every machine and every run. Python's `hash()` is not: it changes from one process to the next.
# 2. **The approach.** `hashlib.sha256(name.encode("utf-8")).hexdigest()` is 64 hex digits; the first 8,
#    read with `int(digits, 16)`, are an integer below $16^8$. One pass over `names` keeps their order.
# 3. **A skeleton.**
#    ```python
#    def fraction(name):
#        return int(hashlib.sha256(___).hexdigest()[___], 16) / 16 ** 8
#    train_names = [n for n in names if ___]
#    val_names = [n for n in names if ___]
#    return train_names, val_names
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def split_by_hash(names, val_fraction):
    # BEGIN SOLUTION
    def fraction(name):
        return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) / 16 ** 8

    train_names = [n for n in names if fraction(n) >= val_fraction]
    val_names = [n for n in names if fraction(n) < val_fraction]
    return train_names, val_names
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def reference_split(names, val_fraction):
    train_docs, val_docs = corpus.split_by_document([corpus.Document(n, "") for n in names], val_fraction)
    return [d.name for d in train_docs], [d.name for d in val_docs]


toy_names = [f"module_{i}.py" for i in range(20)]
accented_names = ["café.txt", "naïve.txt", "日本.txt", "Ünïcode.py", "plain.txt", "résumé.md", "ß.txt", "ø.md"]
split_passed = check_function("10.1", split_by_hash, [
    ((toy_names, 0.2), reference_split(toy_names, 0.2)),
    ((toy_names, 0.5), reference_split(toy_names, 0.5)),
    ((toy_names[::-1], 0.9), reference_split(toy_names[::-1], 0.9)),
    ((accented_names, 0.5), reference_split(accented_names, 0.5)),
    (([d.name for d in curated], VAL_FRACTION), reference_split([d.name for d in curated], VAL_FRACTION)),
], hint="the cases are 20 names at fractions 0.2 and 0.5, the same names reversed at 0.9 (the order is "
        "kept), non-ASCII names (hash their UTF-8 bytes), and this corpus's documents. Compute each name's "
        "fraction and compare it with val_fraction.")
if not split_passed:
    print("Using the course's version, corpus.split_by_document, from here on.")
    split_by_hash = reference_split

# %% [markdown] slideshow={"slide_type": "-"}
# The package's `corpus.split_by_document` does the same on documents (and, should no document fall under the
# fraction, holds out the one with the smallest hash, so that validation is never empty).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
train_names, val_names = split_by_hash([d.name for d in curated], VAL_FRACTION)   # your split
by_name = {d.name: d for d in curated}
train_docs, val_docs = [by_name[n] for n in train_names], [by_name[n] for n in val_names]
if not val_docs:   # a small corpus of your own may have no name under the fraction
    print("No document fell under the fraction: corpus.split_by_document holds out the smallest hash instead.")
    train_docs, val_docs = corpus.split_by_document(curated, VAL_FRACTION)
train_text = "".join(d.text for d in train_docs)
val_text = "".join(d.text for d in val_docs)
print(f"train: {len(train_docs)} documents, {len(train_text):,} characters")
print(f"validation: {len(val_docs)} documents, {len(val_text):,} characters — {', '.join(d.name for d in val_docs[:6])}, ...")
assert not {d.name for d in train_docs} & {d.name for d in val_docs}, "no document is on both sides"
assert 0.1 < len(val_docs) / len(curated) < 0.3, "about a fifth of the documents are held out"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. A tokenizer for this corpus
#
# Notebook 01's byte-level BPE (`course_utils.bpe`, GPT-4's pre-split pattern, `<|endoftext|>` between
# documents) trains on the training documents in about a second. How large should its vocabulary be? A
# larger one writes the text in fewer tokens, so each training step sees more characters and the context
# window spans more code; but every token needs its own embedding row, learned from the places it occurs, and
# in a small corpus the tokens of a large vocabulary occur rarely. The sweep measures both: characters per
# token on the held-out documents, and how often the median token occurs in the training text.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
N_EMBD = 128
body_params = 4 * 12 * N_EMBD ** 2                 # 4 blocks of about 12 d^2 weights (notebook 04)
sweep = {}
print(f"{'vocabulary':>10}{'chars/token':>13}{'median count':>14}{'embedding share':>17}{'train time':>12}")
for vocab_size in (384, 512, 1024, 2048, 4096):
    start = time.perf_counter()
    bpe = BPETokenizer.train(train_text, vocab_size)
    seconds = time.perf_counter() - start
    counts = Counter(corpus.encode_documents(bpe, train_docs).tolist())
    n_val_tokens = len(corpus.encode_documents(bpe, val_docs))
    sweep[vocab_size] = dict(tokenizer=bpe, chars_per_token=len(val_text) / n_val_tokens,
                             median_count=float(np.median(list(counts.values()))),
                             embedding_share=vocab_size * N_EMBD / (vocab_size * N_EMBD + body_params))
    s = sweep[vocab_size]
    print(f"{vocab_size:>10,}{s['chars_per_token']:>13.2f}{s['median_count']:>14,.0f}{s['embedding_share']:>17.0%}"
          f"{seconds:>11.1f}s")
VOCAB = max((v for v, s in sweep.items() if s["median_count"] >= 100), default=min(sweep))
print(f"chosen: {VOCAB:,} — the largest vocabulary whose median token occurs at least 100 times in training")
ratios = [sweep[b]["chars_per_token"] / sweep[a]["chars_per_token"] for a, b in zip(sweep, list(sweep)[1:])]
assert all(1.05 < r < 1.35 for r in ratios), "each larger vocabulary writes the text in 5 to 35% fewer tokens"
assert CORPUS != "stdlib" or SCALE != 1 or VOCAB == 1024, "the rule picks 1,024 tokens for the standard library"

# %% [markdown] slideshow={"slide_type": "-"}
# Against the two ends of the scale: **characters** (notebook 01; a vocabulary of the corpus's distinct
# characters, one character per token) and **GPT-2's tokenizer** (50,257 tokens, trained on web text), loaded
# from tiktoken's cache when it is there (`$TIKTOKEN_CACHE_DIR`); without it one line says so and the table has
# one row less.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
tokenizer = sweep[VOCAB]["tokenizer"]
rows = {f"characters ({stats['distinct']} symbols)": 1.0,
        f"course BPE, {VOCAB:,} tokens": sweep[VOCAB]["chars_per_token"]}
gpt2 = load_tiktoken("r50k_base")
if gpt2 is not None:
    rows["GPT-2 (r50k_base), 50,257 tokens"] = len(val_text) / len(gpt2.encode_ordinary(val_text))
for name, chars_per_token in rows.items():
    print(f"{name:<36} {chars_per_token:5.2f} characters per token")
example = val_docs[0].text.split("\n    ", 1)[-1][:60]
print("\n" + "|".join(tokenizer.decode([i]) for i in tokenizer.encode_ordinary(example)))
if gpt2 is not None:
    print("|".join(gpt2.decode([i]) for i in gpt2.encode_ordinary(example)))
assert CORPUS != "stdlib" or gpt2 is None or rows[f"course BPE, {VOCAB:,} tokens"] > \
    rows["GPT-2 (r50k_base), 50,257 tokens"], "on this code the course BPE needs fewer tokens than GPT-2's"

# %% [markdown] slideshow={"slide_type": "-"}
# On Python source, a 1,024-token BPE trained on the corpus writes the held-out files in fewer tokens than
# GPT-2's 50,257 (when GPT-2 is in the cache, the rows above show it). GPT-2 learned its merges on web prose and
# cuts a run of indentation into single spaces, one token each; ours learned whole runs of indentation from this
# corpus. A tokenizer fits its domain — and GPT-2's embedding table alone, 50,257 × 128, would be more than six
# times our whole model.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
EOT = tokenizer.special_tokens[ENDOFTEXT]
train_ids = corpus.encode_documents(tokenizer, train_docs)
val_ids = corpus.encode_documents(tokenizer, val_docs)
print(f"{len(train_ids):,} training and {len(val_ids):,} validation tokens "
      f"({len(val_text) / (len(val_ids) - len(val_docs)):.2f} characters per token)")
assert 0.1 < len(val_ids) / (len(train_ids) + len(val_ids)) < 0.4, "the held-out tokens are a fair share"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Baselines first: n-grams and compressors
#
# Before training anything, know what a model has to beat. Nobody knows the true entropy of Python source, so
# there is no floor as in storyworld; instead, two baselines that predict text without a neural network.
#
# **Compression is prediction.** A compressor that writes a text in $B$ bytes has, in effect, given it
# probability $2^{-8B}$: arithmetic coding turns any model's probabilities $p$ into a code of about $-\log_2 p$
# bits, and the other way round. So a model's loss in **bits per character** and a compressor's output bits per
# character are one yardstick. `gzip` finds repeats within the last 32 KB; `lzma` (xz) finds them anywhere in a
# dictionary of up to 64 MB and codes them adaptively. A model has read the training text, so the fair
# compressor reads it too: the cost of the held-out text **given** the training text is
#
# $$\text{bits per character} = \frac{8\,\big(C(\text{train} + \text{held-out}) - C(\text{train})\big)}
#   {\text{characters of the held-out text}},$$
#
# with $C$ the compressed size in bytes. With no context, $C(\text{held-out}) - C(\text{nothing})$: the text's
# cost without the file format's fixed header.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.2 — gzip as a language model
# Write `gzip_bits_per_char(text, context="")`: the bits per character `gzip` (level 9) needs for `text` after
# `context`, by the formula above. Encode both as UTF-8 and divide by the number of characters of `text`.
#
# The baselines table below measures gzip with your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** What the held-out text costs is what compressing it *adds* to the compressed context: the
#    repeats gzip finds in the context are free.
# 2. **The approach.** `len(gzip.compress(data, compresslevel=9))` is $C$ of some bytes. Compress the context
#    followed by the text, and the context alone; the difference is in bytes (8 bits each); divide by the
#    text's characters, not its bytes (they differ for non-ASCII text).
# 3. **A skeleton.**
#    ```python
#    both = len(gzip.compress((___).encode("utf-8"), compresslevel=9))
#    alone = len(gzip.compress(___, compresslevel=9))
#    return ___ * (both - alone) / ___
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def gzip_bits_per_char(text, context=""):
    # BEGIN SOLUTION
    both = len(gzip.compress((context + text).encode("utf-8"), compresslevel=9))
    alone = len(gzip.compress(context.encode("utf-8"), compresslevel=9))
    return 8 * (both - alone) / len(text)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
accented = "naïve café, déjà vu " * 30
gzip_passed = check_function("10.2", gzip_bits_per_char, [
    (("abc",), compression.compression_bits_per_char("abc", "gzip")),
    (("to be or not to be " * 40,), compression.compression_bits_per_char("to be or not to be " * 40, "gzip")),
    (("the cat sat on the mat", "the cat sat on the mat. "),
     compression.compression_bits_per_char("the cat sat on the mat", "gzip", "the cat sat on the mat. ")),
    ((accented,), compression.compression_bits_per_char(accented, "gzip")),
    ((val_text[:5000], train_text[-20000:]), compression.compression_bits_per_char(val_text[:5000], "gzip",
                                                                                  train_text[-20000:])),
], hint="the cases are a 3-character text, a repetitive one, a text after a context that contains it, "
        "non-ASCII text (divide by characters, not bytes), and held-out code after training code.")
if not gzip_passed:
    print("Using the course's version, compression.compression_bits_per_char, from here on.")

    def gzip_bits_per_char(text, context=""):
        return compression.compression_bits_per_char(text, "gzip", context)

# %% [markdown] slideshow={"slide_type": "-"}
# The package's `compression.compression_bits_per_char` computes the same for `gzip`, `bz2` and `lzma`, each at
# its strongest standard level. On the held-out documents:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
baselines = {}
print(f"{'compressor':<10}{'alone':>8}{'given the training text':>26}")
for method in ("gzip", "bz2", "lzma"):
    if method == "gzip":                                     # your function
        alone, given = gzip_bits_per_char(val_text), gzip_bits_per_char(val_text, train_text)
    else:
        alone, given = (compression.compression_bits_per_char(val_text, method, context)
                        for context in ("", train_text))
    baselines[method], baselines[method + " + train"] = alone, given
    print(f"{method:<10}{baselines[method]:>8.2f}{baselines[method + ' + train']:>26.2f}   bits per character")
assert baselines["lzma"] < baselines["gzip"], "lzma predicts the held-out text better than gzip"
assert CORPUS != "stdlib" or 0.75 < baselines["lzma + train"] / baselines["lzma"] < 0.95, \
    "and about a tenth better once it has read the training text"
assert abs(baselines["gzip + train"] / baselines["gzip"] - 1) < 0.05, "gzip gains almost nothing from it"

# %% [markdown] slideshow={"slide_type": "-"}
# gzip gains almost nothing from the training text: its window is 32 KB, so it has forgotten the training text
# by the time it reaches the held-out files. lzma remembers all of it and drops by about a tenth: a held-out file shares
# whole lines with the training files — imports, idioms, license headers. That line, **lzma given the training
# text**, is the strongest baseline here, and a small model will not reach it in a minute.
#
# **A count n-gram model** (notebook 00), on characters this time: $P(c \mid$ the previous $n-1$ characters$)$
# by counting in the training text, with add-$k$ smoothing ($k = 0.01$).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
alphabet = sorted(set(train_text) | set(val_text))
ngram_bpc = {}
for n in (3, 5, 7):
    ngram = NGramModel(n, alphabet, k=0.01).fit(train_text)
    ngram_bpc[n] = ngram.nll(val_text) / math.log(2)
    print(f"character {n}-gram: {ngram_bpc[n]:.2f} bits per character on the held-out documents")
best_n = min(ngram_bpc, key=ngram_bpc.get)
baselines[f"{best_n}-gram"] = ngram_bpc[best_n]
assert CORPUS != "stdlib" or ngram_bpc[5] < min(ngram_bpc[3], ngram_bpc[7]), "5 characters of context beat 3, and 7 overfit"
assert CORPUS != "stdlib" or ngram_bpc[best_n] > baselines["gzip"], "the best n-gram model is worse than gzip"

# %% [markdown] slideshow={"slide_type": "-"}
# The n-gram model improves from 3 to 5 characters of context and gets worse at 7, as in notebook 00: most
# 6-character contexts of the held-out files were rare or never seen in training, and smoothing pays for them.
# Even the best one is worse than gzip, which can copy whole repeated lines. (We chose $n$ on the held-out
# documents, which flatters the n-gram a little.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Pretraining the course GPT
#
# Notebook 04's GPT — 4 blocks, 4 heads, 128 dimensions, a context of 128 tokens — with the BPE's vocabulary,
# trained by notebook 05's loop (AdamW, warmup and cosine decay, clipping) on random windows of the training
# stream, 16 windows per step. First a few steps on a copy of the model, to say how long the run will take
# here; and the untrained model's validation loss, the start of the learning curve.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
device = pick_device()
BLOCK, BATCH, EVAL_WINDOWS = 128, 16, 100
config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=BLOCK, n_layer=4, n_head=4, n_embd=N_EMBD)
torch.manual_seed(0)
model = GPT(config).to(device)
recipe = dict(batch_size=BATCH, learning_rate=3e-3, warmup_steps=30, weight_decay=0.1, seed=0)

# The learning curve: EVAL_WINDOWS windows spread evenly over the held-out stream (§6 then scores all of it).
stride = (len(val_ids) - 1) // EVAL_WINDOWS
curve_ids = torch.cat([val_ids[s:s + BLOCK] for s in range(0, EVAL_WINDOWS * stride, stride)] + [val_ids[-1:]])

probe = copy.deepcopy(model)      # a few steps on a copy, to time them: the first steps warm up, so twice
for _ in range(2):
    probe_run = train(probe, train_ids, curve_ids, TrainConfig(max_steps=10, eval_windows=1,
                                                               **{**recipe, "warmup_steps": 5}), progress=False)
start = time.perf_counter()
initial_val = evaluate(model, curve_ids)
eval_seconds = time.perf_counter() - start
EVAL_INTERVAL = STEPS // 6
expected_seconds = STEPS * probe_run.seconds / 10 + (STEPS // EVAL_INTERVAL) * eval_seconds
del probe
print(f"{model.num_parameters():,} parameters on {device}; {STEPS} steps of {BATCH} × {BLOCK} tokens "
      f"= {STEPS * BATCH * BLOCK:,} tokens, {STEPS * BATCH * BLOCK / len(train_ids):.1f} passes over the training text")
print(f"expected training time here: about {expected_seconds:.0f} s")
passes = STEPS * BATCH * BLOCK / len(train_ids)
assert CORPUS != "stdlib" or SCALE > 4 or 2 < passes < 4, "the run reads its training text about three times"
print(f"untrained: validation loss {initial_val:.2f} nats per token (uniform over {tokenizer.vocab_size:,} tokens: "
      f"{math.log(tokenizer.vocab_size):.2f})")
assert abs(initial_val - math.log(tokenizer.vocab_size)) < 0.3, "the untrained model guesses about uniformly"

# %% [markdown] slideshow={"slide_type": "-"}
# The live plot draws gzip's line in the loss's own units (nats per token: bits per character × ln 2 ×
# characters per token), so you can watch the model pass it.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
eval_targets = curve_ids[1:].tolist()
eval_chars = len(tokenizer.decode([i for i in eval_targets if i != EOT]))   # the characters those targets spell


def to_bits_per_char(nats_per_token):
    """A loss on the learning curve's windows, in bits per character."""
    return nats_per_token * len(eval_targets) / eval_chars / math.log(2)


gzip_line = baselines["gzip"] * math.log(2) * eval_chars / len(eval_targets)
run = train(model, train_ids, curve_ids,
            TrainConfig(max_steps=STEPS, eval_interval=EVAL_INTERVAL, eval_windows=EVAL_WINDOWS, **recipe),
            on_eval=LiveLossPlot(floor=gzip_line, floor_label="gzip -9", title=f"Pretraining on {CORPUS}"))
model = model.cpu().eval()
print(f"trained in {run.seconds:.0f} s (expected {expected_seconds:.0f} s); "
      f"validation loss {run.val_loss[-1]:.2f} nats per token")
assert 1 / 3 < run.seconds / expected_seconds < 3, "the estimate before training held within a factor of 3"
assert run.val_loss[-1] < 2 / 3 * initial_val, "training cuts the validation loss by more than a third"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. How good is it? Bits per character on held-out documents
#
# The model's loss on every token of the held-out stream (notebook 09's `token_nlls`), added up and divided by
# the characters of those documents, next to the baselines on exactly the same characters.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
model_bpc = metrics.bits_per_char(metrics.token_nlls(model, val_ids), len(val_text))
table = {**baselines, "course GPT": model_bpc}
print(f"{'bits per character on the held-out documents':<46}")
for name, bpc in sorted(table.items(), key=lambda item: -item[1]):
    print(f"  {name:<16}{bpc:6.2f}  " + "█" * round(bpc * 12))
assert CORPUS != "stdlib" or model_bpc < baselines[f"{best_n}-gram"] - 0.15, "the GPT clearly beats the best n-gram"
if CORPUS == "stdlib" and SCALE == 1:
    assert 1.0 < model_bpc / baselines["gzip"] < 1.12, "at SCALE 1 it ends about level with gzip, a little above"
    assert 1.9 < model_bpc < 2.3 and 2.4 < baselines[f"{best_n}-gram"] < 2.8 and 1.85 < baselines["gzip"] < 2.15, \
        "about 2.1 bits per character, the n-gram about 2.6, gzip 2.0"
    assert all(1.55 < baselines[m] < 1.85 for m in ("bz2", "lzma")) and 1.35 < baselines["lzma + train"] < 1.6, \
        "bz2 and lzma about 1.7, lzma given the training text about 1.5"
    assert max(baselines["bz2"], baselines["lzma"]) < model_bpc - 0.2, "bz2 and lzma alone beat it"
    assert baselines["lzma + train"] < model_bpc - 0.4, "and lzma given the training text is far ahead"
if CORPUS == "stdlib" and SCALE >= 4:
    assert 1.35 < model_bpc < 1.7, "at SCALE 4 it ends near 1.5 bits per character"
    assert model_bpc < min(baselines["gzip"], baselines["bz2"], baselines["lzma"]), "below every compressor alone"
    assert model_bpc < baselines["lzma + train"] + 0.2, "and is not far above lzma given the training text"
assert CORPUS != "book" or SCALE != 1 or baselines[f"{best_n}-gram"] < model_bpc, \
    "on Shakespeare the character 5-gram beats the one-minute GPT"

# %% [markdown] slideshow={"slide_type": "-"}
# After a minute of training on two cores the GPT, at about 2.1 bits per character, is clearly better than the
# best character n-gram (about 2.6) and about level with gzip (2.0), a little above it; bz2 and lzma (about 1.7),
# and above all lzma given the training text (about 1.5), are better still. That is the honest place of a
# 1-million-parameter model that has read about 1 MB of code three times: compressors are strong baselines on
# code, which is full of exact repeats (codec tables, licence headers, idioms), and the model has not yet
# learned to copy them. The learning curve says whether more training would help:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
curve_steps = [0] + run.eval_steps
curve_bpc = [to_bits_per_char(initial_val)] + [to_bits_per_char(v) for v in run.val_loss]
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(curve_steps, curve_bpc, "o-", color="k", label="course GPT (validation)")
for (name, bpc), colour in zip(sorted(baselines.items(), key=lambda item: -item[1]), plt.cm.tab10.colors):
    ax.axhline(bpc, ls="--", color=colour, label=f"{name} ({bpc:.2f})")
ax.set(xlabel="training step", ylabel="bits per character", ylim=(1, max(curve_bpc[1], 4)),
       title="Learning curve against the compressors")
ax.legend(fontsize=8, loc="upper right", ncol=2)
plt.show()
crossing = next((s for s, b in zip(curve_steps, curve_bpc) if b < baselines["gzip"]), None)
print("the curve crosses gzip's line " + (f"at step {crossing} of {STEPS}" if crossing else "not yet"))
print(f"last interval: {curve_bpc[-2] - curve_bpc[-1]:.3f} bits per character gained in {EVAL_INTERVAL} steps")
assert curve_bpc[-1] < curve_bpc[-2] < curve_bpc[-3], "the curve is still falling at the end"
assert CORPUS != "stdlib" or SCALE < 4 or (crossing is not None and crossing <= STEPS // 6 and VOCAB > 1024), \
    "at SCALE 4 the rule picks a larger vocabulary, and the curve is below gzip's line by the first evaluation"

# %% [markdown] slideshow={"slide_type": "-"}
# The curve is still falling when the schedule ends, a little above gzip's line. **With `SCALE = 4`** — four
# times the text and the steps; six minutes of training on our two cores — the sweep's rule picks a larger
# vocabulary (4,096 tokens in our run: with four times the text, rarer tokens are still seen often enough), the
# curve is below gzip's line by the first evaluation, a sixth of the way in, and the model ends near 1.5 bits
# per character: below gzip, bz2 and lzma alone, and not far above lzma given the training text. (With
# `SCALE = 4` the cells assert these claims.) Going further needs a larger model as well as more steps:
# notebook 05's scaling experiment.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Samples at three temperatures
# Notebook 06's sampler, from the first `def` line of the held-out files, three samples per temperature. For each sample we
# also measure its **surprisal** under the model itself (mean $-\log_2 p$ per token at temperature 1): cool
# samples stay on the model's most likely paths, hot ones wander.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
prompt_text = next((line + "\n" for d in val_docs for line in d.text.splitlines() if line.startswith("def ")),
                   val_docs[0].text[:40])   # the first function of the held-out files (for prose: its start)
prompt = torch.tensor([[EOT] + tokenizer.encode_ordinary(prompt_text)] * 3)
surprisal = {}
for temperature in (0.5, 0.8, 1.1):
    out = generate(model, prompt, max_new_tokens=60, temperature=temperature,
                   generator=torch.Generator().manual_seed(0))
    nlls = torch.stack([metrics.token_nlls(model, row) for row in out])[:, prompt.size(1) - 1:]
    surprisal[temperature] = nlls.mean().item() / math.log(2)
    print(f"── temperature {temperature}: {surprisal[temperature]:.1f} bits per token " + "─" * 30)
    print(prompt_text + tokenizer.decode(out[0, prompt.size(1):]))
assert surprisal[0.5] < surprisal[0.8] < surprisal[1.1], "the hotter the sampling, the more surprising the text"
assert surprisal[1.1] - surprisal[0.5] > 1.5, "by a couple of bits per token or more"

# %% [markdown] slideshow={"slide_type": "-"}
# None of it is Python that would run, even at the lowest temperature: the words are invented, the brackets
# rarely close. What the model has learned is the *look* of the language — an indented body after a `def` line,
# docstrings in triple quotes, `self.`, underscores and dots — long before its logic. The hotter the sampling,
# the stranger the words and the more surprising the text to the model itself: a couple of bits per token more
# from the coolest to the hottest.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Fine-tuning for a task with LoRA
#
# A small task cut from the same corpus and checkable without a human: given a function's signature (and its
# docstring, when it has one), write **the first line of its code**. `corpus.task_pairs` finds every function
# in the documents with Python's own `ast` parser; training examples come from the training files, evaluation
# from the held-out ones. Notebook 07's recipe: the loss on the answer only, rank-8 LoRA adapters on every
# linear layer of the blocks, everything else frozen; then notebook 09's metrics against the base model. (For
# prose, `task_pairs` falls back to a generic task, the second line of a paragraph from its first; a task that
# suits your own corpus is part of the project, §9.)

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
task_name, train_pairs = corpus.task_pairs(train_docs)
_, val_pairs = corpus.task_pairs(val_docs)


def encode_pairs(pairs, max_prompt=100, max_answer=24):
    """(prompt IDs, answer IDs, answer text), leaving out pairs too long for the context window."""
    fast, out = tokenizer.to_tiktoken(), []   # the same IDs, faster (notebook 01)
    for prompt_text, answer in pairs:
        p, a = fast.encode_ordinary(prompt_text), fast.encode_ordinary(answer)
        if len(p) <= max_prompt and len(a) <= max_answer:
            out.append((p, a, answer))
    return out


task_train, task_val = encode_pairs(train_pairs), encode_pairs(val_pairs)
train_examples = [example_from_ids(p, a) for p, a, _ in task_train]
val_examples = [example_from_ids(p, a) for p, a, _ in task_val]
print(f"task: {task_name}; {len(task_train)} training and {len(task_val)} held-out examples")
for prompt_ids, _, answer in task_val[:2]:
    print("\n" + tokenizer.decode(prompt_ids) + "→ " + repr(answer))
assert CORPUS != "stdlib" or (len(task_val) >= 100 and len(task_train) >= 2 * len(task_val)), \
    "hundreds of examples to train and to measure"

# %% [markdown] slideshow={"slide_type": "-"}
# Five measures, each against the truth: whether the answer is **a line of code** at all (it starts with a
# name or keyword, not a comment, a string or nothing); the **exact line**; the **statement kind** — the line's
# first word (`return`, `if`, `self`, ...) — scored with `metrics.accuracy`, next to always guessing the
# commonest one; **ROUGE-L** (notebook 09), the longest common subsequence of words, which gives credit for a
# partly right line; and the loss on the answer's tokens. Answers are greedy (`generate_responses`, with a KV
# cache), cut at the first newline.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
NEWLINE = tokenizer.encode_ordinary("\n")[0]
truth = [answer.strip() for _, _, answer in task_val]


def first_word(line):
    """The name or keyword a line starts with ('' for a comment, a string, a bracket or nothing)."""
    match = re.match(r"[A-Za-z_]\w*", line.strip())
    return match.group() if match else ""


def score_task(m):
    outputs = generate_responses(m, [p for p, _, _ in task_val], max_new_tokens=24, stop_id=NEWLINE)
    lines = [tokenizer.decode(o).split("\n")[0].strip() for o in outputs]
    return dict(lines=lines, code=np.mean([first_word(l) != "" for l in lines]),
                exact=metrics.accuracy(truth, lines),
                kind=metrics.accuracy([first_word(t) for t in truth], [first_word(l) for l in lines]),
                rouge=np.array([metrics.rouge_l(t, l).fmeasure for t, l in zip(truth, lines)]),
                loss=lm_loss(m, val_examples, pad_id=EOT))


base = score_task(model)
commonest = Counter(first_word(answer) for _, _, answer in task_train).most_common(1)[0][0]
majority = metrics.accuracy([first_word(t) for t in truth], [commonest] * len(truth))

tuned = copy.deepcopy(model)
apply_lora(tuned, rank=8, alpha=16)
n_trainable, n_total = trainable_parameters(tuned)
start = time.perf_counter()
lora_losses = finetune(tuned, train_examples, steps=120, batch_size=16, lr=3e-3, pad_id=EOT)
lora_seconds = time.perf_counter() - start
merge_lora(tuned)   # folded into the weights: a plain GPT again, for the KV-cache generation
lora = score_task(tuned)
print(f"LoRA: {n_trainable:,} of {n_total:,} parameters trained ({n_trainable / n_total:.1%}), 120 steps in "
      f"{lora_seconds:.0f} s")
print(f"\n{'':<22}{'base':>8}{'LoRA':>8}")
print(f"{'a line of code':<22}{base['code']:>8.0%}{lora['code']:>8.0%}")
print(f"{'exact line':<22}{base['exact']:>8.1%}{lora['exact']:>8.1%}")
print(f"{'statement kind':<22}{base['kind']:>8.1%}{lora['kind']:>8.1%}   always {commonest!r}: {majority:.1%}")
print(f"{'ROUGE-L F1':<22}{base['rouge'].mean():>8.3f}{lora['rouge'].mean():>8.3f}")
print(f"{'answer loss (nats)':<22}{base['loss']:>8.2f}{lora['loss']:>8.2f}")
low, high = metrics.bootstrap_ci(np.stack([lora["rouge"], base["rouge"]], axis=1),
                                 lambda rows: rows[:, 0].mean() - rows[:, 1].mean())
print(f"ROUGE-L gain {lora['rouge'].mean() - base['rouge'].mean():+.3f}, 95% bootstrap interval "
      f"[{float(low):+.3f}, {float(high):+.3f}]")
for t, b, l in list(zip(truth, base["lines"], lora["lines"]))[:5]:
    print(f"  truth {t[:34]!r:<38} base {b[:28]!r:<32} LoRA {l[:28]!r}")
if CORPUS == "stdlib" and SCALE == 1:
    assert float(low) > 0, "LoRA's gain in ROUGE-L is larger than the noise of this many examples"
    assert 1.15 < lora["rouge"].mean() / base["rouge"].mean() < 1.7, "ROUGE-L rises by about a third"
    assert 0.22 < lora["kind"] < 0.38 and max(base["kind"], majority) < 0.27, "about 30% against about 20%"
    assert lora["code"] > 0.95 and base["code"] < lora["code"] - 0.1, "LoRA answers with a line of code nearly always"
    assert lora["kind"] > max(base["kind"], majority) + 0.02, \
        "it names the statement kind more often than the base model and than always guessing the commonest"
    assert max(base["exact"], lora["exact"]) < 0.1, "neither writes many lines exactly"
    assert lora["loss"] < base["loss"] + 0.05, "the answer loss does not rise"

# %% [markdown] slideshow={"slide_type": "-"}
# What changed, and what did not. The base model has read these functions' kind of code in pretraining, but
# asked for "the first line" it often writes a comment or more docstring instead. After 120 LoRA steps on the
# task's examples (about 10 seconds) it answers with a line of code nearly every time,
# names the statement kind more often (about 30% against about 20% for the base model and for always guessing
# the commonest word), and its ROUGE-L rises by about a third, an interval clear of zero. It still writes almost
# no line exactly, and the loss on the true answers falls only a little: LoRA taught the **task's format** more
# than new knowledge of Python — the usual first result of fine-tuning a small model, and the reason to print
# the dumb baseline beside it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The model card
#
# A model card (Mitchell et al., 2019) says what a model is, what it was trained on, what it costs, how it
# was measured and what it must not be used for. Ours is generated from the run's own records, so it cannot
# drift from what happened. Its compute line is notebook 05's estimate: training costs about $6ND$ FLOPs for
# $N$ parameters and $D$ training tokens.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.3 — the compute line of the card
# Write `training_flops(n_params, steps, batch_size, block_size)`: $6ND$ FLOPs for a run of `steps` steps of
# `batch_size` windows of `block_size` tokens.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** About 6 FLOPs per parameter per training token: 2 for the forward pass (a multiply and an
#    add), 4 for the backward pass.
# 2. **The approach.** $D$ is the number of tokens the run trains on; every position of every window is a
#    target.
# 3. **A skeleton.** `return 6 * ___ * (___ * ___ * ___)`
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def training_flops(n_params, steps, batch_size, block_size):
    # BEGIN SOLUTION
    return 6 * n_params * steps * batch_size * block_size
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
flops_passed = check_function("10.3", training_flops, [
    ((1_000_000, 100, 16, 128), 1.2288e12),
    ((124_439_808, 1, 8, 1024), 6 * 124_439_808 * 8 * 1024),
    ((model.num_parameters(), STEPS, BATCH, BLOCK), 6 * model.num_parameters() * STEPS * BATCH * BLOCK),
], hint="the cases are a million parameters for 100 steps, GPT-2 small for one step, and this notebook's run. "
        "6 × parameters × tokens, with tokens = steps × batch_size × block_size.")
if not flops_passed:
    print("Using the course's version, 6 × parameters × tokens, from here on.")

    def training_flops(n_params, steps, batch_size, block_size):
        return 6 * n_params * steps * batch_size * block_size

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
tokens_seen = STEPS * BATCH * BLOCK
flops = training_flops(model.num_parameters(), STEPS, BATCH, BLOCK)   # your function
removed = len(report["too_short"]) + len(report["exact_duplicates"]) + len(report["near_duplicates"])
results = "\n".join(f"| {name} | {bpc:.2f} |" for name, bpc in sorted(table.items(), key=lambda item: item[1]))
card = f"""## Model card: course GPT on {description}

**Model.** A decoder-only transformer (the course GPT: GPT-2's architecture), {config.n_layer} blocks,
{config.n_head} heads, {config.n_embd} dimensions, context {config.block_size} tokens, {model.num_parameters():,}
parameters. Tokenizer: byte-level BPE, {tokenizer.vocab_size:,} tokens, trained on the training documents
({sweep[VOCAB]['chars_per_token']:.2f} characters per token on held-out text).

**Data.** {report['documents']} documents ({report['characters']:,} characters) read at run time. Curation: {removed}
removed ({len(report['too_short'])} too short, {len(report['exact_duplicates'])} exact and
{len(report['near_duplicates'])} near-duplicates), {sum(report['pii'].values())} e-mail addresses and phone numbers
replaced. Split by document: {len(train_docs)} for training ({len(train_text):,} characters), {len(val_docs)} held out
({len(val_text):,} characters).

**Training.** {STEPS} steps of {BATCH} × {BLOCK} tokens ({tokens_seen:,} tokens, {tokens_seen / len(train_ids):.1f} passes),
AdamW, peak learning rate 3e-3, warmup and cosine decay, on {device}: {run.seconds:.0f} s.
Compute ≈ 6ND = {flops:.2e} FLOPs.

**Results** (bits per character on the held-out documents, lower is better):

| model | bits/char |
|---|---|
{results}

**Fine-tuned variant.** LoRA rank 8 ({n_trainable:,} trained parameters) on {len(task_train)} examples of {task_name}.
On {len(task_val)} held-out examples: exact line {lora['exact']:.0%} (base {base['exact']:.0%}), statement kind
{lora['kind']:.0%} (base {base['kind']:.0%}, always '{commonest}' {majority:.0%}), ROUGE-L {lora['rouge'].mean():.2f}
(base {base['rouge'].mean():.2f}); a line of code {lora['code']:.0%} of the time (base {base['code']:.0%}).

**Intended use.** Teaching: to see every stage of building a language model on real text, end to end.

**Limitations.** Too small and too briefly trained to write working code: its samples look like Python and
rarely run. It has seen only the documents above (one Python version's standard library, or the chosen
text); held-out scores are on files from the same source (IID), not on anyone's real code. Compressors given
the training text still predict held-out files better than it does. Do not use its output for anything.
"""
display(Markdown(card))
assert f"{model_bpc:.2f}" in card and f"{flops:.2e}" in card, "the card reports the measured figures"

# %% [markdown] slideshow={"slide_type": "-"}
# To keep it, write it next to your checkpoint: `Path("model_card.md").write_text(card)` and
# `model.save("model.pt", tokenizer=tokenizer.state_dict())`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Your project: the brief
#
# Build your own small language model on a corpus **you** choose, end to end, and report honestly where it
# stands. Work alone or in pairs; one to two weeks. Start from this notebook: set `CORPUS = "own"` and
# `OWN_TEXT` to your text (a file, or a folder of text files), then change whatever you need.
#
# **Pick a corpus** you can legally use and that means something to you: your own notes, a public-domain
# author (Project Gutenberg), a language's Wikipedia dump (a slice), a code base, song lyrics you wrote, laws,
# recipes. 1–20 MB is plenty on a laptop.
#
# | milestone | what you hand in | course notebooks |
# |---|---|---|
# | **1. Data** | the corpus, its source and licence; curation counts (duplicates, near-duplicates, PII) and what you decided to remove and why; the split by document | 00, 05 |
# | **2. Tokenizer** | a BPE for your corpus; a vocabulary sweep with a rule for the size; characters per token against characters and GPT-2 | 01 |
# | **3. Pretraining** | a GPT trained within a stated budget (time, FLOPs by $6ND$); the learning curve; a checkpoint | 04, 05 |
# | **4. Baselines and evaluation** | bits per character on held-out documents against an n-gram model and against gzip and lzma, alone and given the training text; samples at several temperatures | 00, 06, 09 |
# | **5. Fine-tuning** | a small task from your corpus with a metric checkable without a human; LoRA against the base model and a dumb baseline, with a confidence interval | 07, 09 |
# | **6. Report** | a model card generated from your run, and two pages: what worked, what did not, what you would do with 10× the compute | all |
#
# **Grading rubric** (100 points):
#
# | | excellent | adequate | missing |
# |---|---|---|---|
# | Data and curation (20) | each step counted and justified; no document on both sides; PII handled | steps run, little justification | random split of one stream, or none |
# | Tokenizer (10) | measured sweep and a stated rule; compared with characters and GPT-2 | one size, measured | off-the-shelf, unmeasured |
# | Pretraining (15) | budget stated and kept; learning curve; a seed or two to show the noise | a run with a curve | no curve |
# | Evaluation (25) | bits per character on held-out documents against n-gram, gzip and lzma (with context); each claim matches a number | some baselines | only training loss, or perplexities across tokenizers |
# | Fine-tuning (15) | checkable task, base model and dumb baseline, interval | before/after numbers | anecdotes |
# | Report and card (15) | honest limitations; reproducible from the notebook; figures rounded as the noise allows | card present | no card |
#
# **Extension ideas.**
# - Train one small model per vocabulary size and choose by bits per character, not by a rule.
# - Find where your model's curve crosses lzma given the training text: how many steps, how many parameters?
#   Fit a line to loss against compute on a log scale (notebook 05's scaling experiment).
# - Teach the model to copy: measure how much of lzma's advantage is long repeats (compare on files with their
#   license header removed), and whether a longer context window closes it.
# - Continue pretraining from a GPT-2 checkpoint (notebook 04, `LOAD_REAL_GPT2`) with GPT-2's tokenizer, and
#   compare with training from scratch at the same compute.
# - Contamination (notebook 09): put a held-out file into the training set on purpose and watch its bits per
#   character fall below lzma's.
# - A task where fine-tuning must teach something new: docstrings from signatures, a new prompt format,
#   classifying files by package.
# - Align the tuned model with DPO (notebook 08) on pairs where a checker prefers lines that parse
#   (`ast.parse`) over lines that do not.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - Real text has no entropy floor, so a model is placed against **baselines**: a count n-gram model and
#   general-purpose compressors, in bits per character on held-out **documents**. Compression is prediction:
#   a compressor's size is a model's loss.
# - Curation found real problems in real text: generated near-duplicate files and authors' e-mail addresses;
#   a split by a hash of the document name keeps every file on one side and stays stable as the corpus grows.
# - A 1,024-token BPE trained on the corpus writes its code in fewer tokens than GPT-2's 50,257; the sweep's
#   rule kept the median token frequent enough to learn.
# - A 1-million-parameter GPT trained for a minute beats the best character n-gram and comes close to gzip, but
#   not to lzma — least of all lzma given the training text; its curve is still falling. With `SCALE = 4` it
#   beats every compressor alone.
# - LoRA on a task from the same corpus, in 10 seconds, taught mostly the answer's format: a line of code nearly
#   always, ROUGE-L up by about a third, the statement kind above the majority guess; exact lines still rare.
#   Always print the dumb baseline.
# - A model card generated from the run keeps the claims tied to the numbers.
#
# **Next:** your own corpus (§9). For a second look at any stage, go back to its notebook: the table in §9
# says which.

# %% slideshow={"slide_type": "-"}
summary()
