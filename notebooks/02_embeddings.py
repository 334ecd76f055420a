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
# # 02 · Embeddings and positional encodings
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/02_embeddings.ipynb) · or locally, as the README says
#
# A network computes with numbers, and a token ID is a number without meaning: ID 94 (" king") is not
# "closer" to ID 126 (" queen") than to ID 55 (" cat"). An **embedding** gives each token a vector instead,
# and training places the vectors so that tokens used alike end up close together. The idea grew in three
# steps: count-based vectors (bag of words, TF-IDF: the workhorses of search around 2000), learned static
# vectors (word2vec, 2013), and vectors that depend on the sentence around the word (the transformer's
# attention, 2017). We build all three on storyworld, whose lexicon knows every word's category, so we can
# *score* each kind against the truth. Then we give the vectors a sense of order: positional encodings.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. compute an embedding as one-hot × matrix yourself, see that it is a lookup table indexed by token ID, and
#    say which rows a training step changes;
# 2. build bag-of-words and TF-IDF vectors from scratch and match scikit-learn;
# 3. write word2vec's negative-sampling loss, train word2vec (skip-gram) with it in PyTorch, and use cosine
#    similarity, nearest neighbours and analogies;
# 4. score embeddings against ground-truth categories and analogies, next to baselines;
# 5. tell static embeddings from contextual ones, using the course GPT;
# 6. build sinusoidal, learned and rotary (RoPE) positional encodings (RoPE's rotation yourself), and show why a
#    transformer needs one.
#
# **Time:** about 30 minutes to read and run; the whole notebook runs in well under a minute on a laptop CPU,
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
import re
import time
from collections import Counter
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import HTML, display

from course_utils import embeddings, positional, storyworld
from course_utils.checks import check, check_function, summary
from course_utils.embeddings import WordVectors, words
from course_utils.model import load_storyworld_gpt
from course_utils.widgets.embedding_explorer import (EmbeddingExplorer, ExplorerState, category_colours, project,
                                                     render_explorer)

torch.manual_seed(0)
torch.set_num_threads(2)  # the course's reference machine: a 2-core laptop
plt.rcParams["figure.dpi"] = 80
CATEGORIES = storyworld.LEXICON.category     # word -> category: the answer key for word vectors
ANALOGIES = storyworld.LEXICON.analogies     # (a, b, c, d) with a:b :: c:d

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The embedding matrix is a lookup table
#
# Let $E \in \mathbb{R}^{|V| \times d}$ hold one row of $d$ numbers per token. The embedding of token $i$ is
# row $i$. Written as arithmetic, that is a one-hot vector times the matrix: $e_i^\top E = E_{i,:}$, because
# the one-hot vector $e_i$ is zero everywhere except a 1 at position $i$. `nn.Embedding` skips the
# multiplication and reads the row directly. We use the course GPT's word-level tokenizer and its trained
# embedding table.

# %% slideshow={"slide_type": "-"}
gpt, tokenizer, record = load_storyworld_gpt()
sentence = "\nOnce there was a little girl named Lily."
ids = torch.tensor(tokenizer.encode(sentence))
print("tokens:", [tokenizer.itos[i] for i in ids])
print("IDs:   ", ids.tolist())

E = gpt.transformer.wte.weight.detach()               # (|V|, d): the course GPT's embedding matrix
print(f"embedding matrix: {E.shape[0]} tokens × {E.shape[1]} dimensions = {E.numel():,} parameters")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.1 — one-hot × E, a lookup
# Write `one_hot_embed(ids, E)`: the embeddings of a tensor of token IDs of any shape (one ID of shape `()`,
# a sentence `(T,)`, a batch `(B, T)`, ...), computed the long way, as one-hot vectors times the matrix $E$ of
# shape $(|V|, d)$. The result has the shape of `ids` with an axis of length $d$ added (`(d,)`, `(T, d)`,
# `(B, T, d)`) and $E$'s dtype. The proof below runs on your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The one-hot vector $e_i$ has a single 1, at position $i$, so $e_i^\top E$ adds up exactly one
#    row of $E$: row $i$, untouched.
# 2. **The approach.** `F.one_hot(ids, num_classes=...)` adds a last axis of length $|V|$; give it $|V|$, the
#    number of rows of $E$, not the largest ID that happens to be in `ids`. It returns integers: convert them to
#    $E$'s dtype. Then multiply by $E$ with `@`, which treats all leading axes as batch axes.
# 3. **A skeleton.**
#    ```python
#    one_hot = F.one_hot(ids, num_classes=___).to(___)   # (..., |V|)
#    return one_hot @ ___                                # (..., d)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def one_hot_embed(ids, E):
    """Token IDs of any shape (...) and E (|V|, d) -> (..., d): one-hot vectors times E."""
    # BEGIN SOLUTION
    one_hot = F.one_hot(ids, num_classes=E.shape[0]).to(E.dtype)   # (..., |V|): a 1 at each token's ID
    return one_hot @ E                                              # (..., d): that row of E
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
g = torch.Generator().manual_seed(0)
lookup_cases = [
    (torch.tensor(3), torch.randn(5, 4, generator=g)),                                 # one ID
    (torch.tensor([0, 4, 4, 1]), torch.randn(5, 4, generator=g)),                      # repeats, the last row
    (torch.randint(7, (2, 6), generator=g), torch.randn(7, 3, generator=g)),           # a batch (B, T)
    (torch.tensor([[1], [0]]), torch.randn(3, 2, dtype=torch.float64, generator=g)),   # float64
    (torch.randint(11, (3, 2, 5), generator=g), torch.randn(11, 8, generator=g)),      # three leading axes
    (ids, E),                                                                          # the course GPT's table
]
if not check_function("2.1", one_hot_embed,
                      [((i, table), nn.Embedding.from_pretrained(table)(i)) for i, table in lookup_cases],
                      hint="the cases are 1 a single ID, 3, with |V| = 5 (result shape (4,)); 2 repeated IDs and "
                           "the last row; 3 a batch (B, T); 4 a float64 table; 5 IDs with three axes; 6 the course "
                           "GPT's sentence. num_classes is E.shape[0], the one-hot vectors take E's dtype, and "
                           "nothing is flattened: @ keeps the leading axes."):
    print("Using the course's version, course_utils.embeddings.one_hot_lookup, from here on.")
    one_hot_embed = embeddings.one_hot_lookup

# %% slideshow={"slide_type": "-"}
by_matmul = one_hot_embed(ids, E)                 # (T, d): your one-hot × E
by_indexing = E[ids]                              # (T, d): rows picked directly
by_module = nn.Embedding.from_pretrained(E)(ids)  # (T, d): PyTorch's lookup
diff = max((by_matmul - by_indexing).abs().max().item(), (by_matmul - by_module).abs().max().item(),
           (embeddings.one_hot_lookup(ids, E) - by_module).abs().max().item())
print(f"max |one-hot × E − nn.Embedding(ids)| = {diff:.1e}", "✓" if diff == 0 else "✗")
assert diff == 0

# %% [markdown] slideshow={"slide_type": "-"}
# Real models are the same table, only bigger. The table's size is $|V| \times d$:

# %% slideshow={"slide_type": "-"}
for name, vocab_size, width in [("course GPT", E.shape[0], E.shape[1]), ("GPT-2 small", 50_257, 768),
                                ("GPT-3 175B", 50_257, 12_288)]:
    print(f"{name:<12} {vocab_size:>7,} tokens × {width:>6,} = {vocab_size * width:>12,} parameters")

# %% [markdown] slideshow={"slide_type": "-"}
# **Tensors: rank and shape.** PyTorch keeps all of these numbers in **tensors**, arrays with any number of
# axes. The number of axes is the tensor's **rank**; its **shape** gives the length of each axis:
#
# | tensor | rank | example shape | in this course |
# |---|---|---|---|
# | scalar | 0 | `()` | one number: a loss, a cosine similarity |
# | vector | 1 | `(128,)` | one token's embedding: a row of the course GPT's $E$ |
# | matrix | 2 | `(175, 128)` | the embedding matrix $E$: $\lvert V\rvert$ rows of $d$ numbers |
# | 3-D tensor | 3 | `(B, T, C)` | a batch of $B$ sequences of $T$ tokens, each token a vector of $C = d$ numbers |
# | $n$-D tensor | $n$ | `(stages, B, T, C)` | §4 stacks the GPT's vectors after every stage: rank 4 |
#
# Above, `ids` has shape `(T,)`, `one_hot` `(T, |V|)` and `by_module` `(T, d)`: one sentence. The model itself
# works on batches, `(B, T)` IDs in and `(B, T, C)` vectors out.
#
# **Dense vs sparse.** A one-hot vector is **sparse**: one entry is 1 and the other $|V| - 1$ are 0, so it is
# stored as a single ID. Any two different one-hot vectors are orthogonal, so they say nothing about which
# tokens are alike. An embedding is **dense**: $d$ real numbers, nearly all non-zero, learned in training, and
# for a real vocabulary far shorter than the one-hot vector (GPT-2: 768 numbers instead of 50,257). How close
# two dense vectors are is what the rest of this notebook measures. (With a real vocabulary of tens of
# thousands of words, the count vectors of §2 are sparse too.)

# %% [markdown] slideshow={"slide_type": "-"}
# **Which rows does a training step change?** The loss depends on row $i$ only if token $i$ is in the batch,
# so every other row gets a gradient of exactly zero. A fresh `nn.Embedding` shows it:

# %% slideshow={"slide_type": "-"}
torch.manual_seed(0)
table = nn.Embedding(tokenizer.vocab_size, 16)
batch = torch.tensor(tokenizer.encode(" the cat played with the dog"))
loss = table(batch).pow(2).sum()        # any loss computed from the looked-up rows
loss.backward()
rows_with_gradient = (table.weight.grad.abs().sum(1) > 0).nonzero().flatten().tolist()
print("tokens in the batch:       ", sorted(set(batch.tolist())))
print("rows with non-zero gradient:", rows_with_gradient)
assert rows_with_gradient == sorted(set(batch.tolist()))

# %% [markdown] slideshow={"slide_type": "-"}
# Two caveats in real models. The course GPT (like GPT-2) **ties** the embedding table to its output layer:
# the same matrix also scores every possible next token, so after one batch *every* row has a gradient.
# And Adam's momentum and weight decay keep moving rows for a while after their gradient is zero. The
# statement "only rows in the batch change" is exact for a plain input table with plain SGD.

# %% slideshow={"slide_type": "-"}
gpt.zero_grad()
x = torch.tensor([tokenizer.encode("\nOnce there was a little girl named Lily.")])
_, gpt_loss = gpt(x[:, :-1], x[:, 1:])
gpt_loss.backward()
tied_rows = int((gpt.transformer.wte.weight.grad.abs().sum(1) > 0).sum())
print(f"course GPT, one sentence of {x.shape[1] - 1} input tokens: {tied_rows} of {E.shape[0]} rows "
      "have a gradient (the output layer shares the matrix)")
gpt.zero_grad()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Counting: bag of words and TF-IDF
#
# The oldest word vectors come from counting. Take $n$ documents (here: the 4,000 training stories) and a
# vocabulary. The **bag of words** of a document counts each word, ignoring order. Stacked, the counts form a
# matrix $C \in \mathbb{N}^{n \times |V|}$.
#
# Raw counts favour words that are everywhere ("the", "Once"). **TF-IDF** scales each column by how rare the
# word is across documents. With $\mathrm{df}(w)$ the number of documents that contain $w$:
#
# $$\mathrm{idf}(w) = \ln\frac{1+n}{1+\mathrm{df}(w)} + 1, \qquad
#   \mathrm{tfidf}(d, w) = \frac{C_{dw}\,\mathrm{idf}(w)}{\big\lVert C_{d,:} \odot \mathrm{idf} \big\rVert_2}.$$
#
# Each document row ends up with length 1. These are scikit-learn's default definitions ("smooth" idf).

# %% slideshow={"slide_type": "-"}
train = storyworld.load_split("train")
documents = [words(story.text) for story in train.stories]
vocab = sorted({w for document in documents for w in document})
word_to_col = {w: j for j, w in enumerate(vocab)}
print(f"{len(documents):,} documents, {sum(map(len, documents)):,} words, vocabulary of {len(vocab)}")
print("first document:", " ".join(documents[0][:16]), "...")

counts = torch.zeros(len(documents), len(vocab), dtype=torch.float64)
for i, document in enumerate(documents):
    for w, c in Counter(document).items():
        counts[i, word_to_col[w]] = c

n_docs = counts.shape[0]
df = (counts > 0).sum(0).double()      # in how many stories each word occurs
idf = torch.log((1 + n_docs) / (1 + df)) + 1
weighted = counts * idf
tfidf = weighted / weighted.norm(dim=1, keepdim=True)

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** The package's versions, and scikit-learn's `CountVectorizer` and `TfidfVectorizer` given the
# same words (`tokenizer=words, lowercase=False`; the other settings are their defaults), produce the same
# matrices:

# %% slideshow={"slide_type": "-"}
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

texts = [story.text for story in train.stories]
sk_count = CountVectorizer(tokenizer=words, lowercase=False, token_pattern=None)
sk_counts = torch.from_numpy(sk_count.fit_transform(texts).toarray()).double()
sk_tfidf_vectorizer = TfidfVectorizer(tokenizer=words, lowercase=False, token_pattern=None)
sk_tfidf = torch.from_numpy(sk_tfidf_vectorizer.fit_transform(texts).toarray())
assert list(sk_count.get_feature_names_out()) == vocab == list(sk_tfidf_vectorizer.get_feature_names_out())

package_counts, _ = embeddings.bag_of_words(documents)
package_tfidf, package_idf = embeddings.tfidf(package_counts)
diff_counts = max((counts - sk_counts).abs().max().item(), (counts - package_counts).abs().max().item())
diff_tfidf = max((tfidf - sk_tfidf).abs().max().item(), (tfidf - package_tfidf).abs().max().item())
print(f"max |ours − CountVectorizer, package| = {diff_counts:.1e}", "✓" if diff_counts == 0 else "✗")
print(f"max |ours − TfidfVectorizer, package| = {diff_tfidf:.1e}", "✓" if diff_tfidf < 1e-12 else "✗")
assert diff_counts == 0 and diff_tfidf < 1e-12

# %% [markdown] slideshow={"slide_type": "-"}
# TF-IDF picks out what is special about a story: its names, objects and places score high, and the words
# every story shares score low.

# %% slideshow={"slide_type": "-"}
row = tfidf[0]
top = row.argsort(descending=True)[:6].tolist()
bottom = [j for j in row.argsort().tolist() if row[j] > 0][:4]
print("highest:", ", ".join(f"{vocab[j]} {row[j]:.2f}" for j in top))
print("lowest: ", ", ".join(f"{vocab[j]} {row[j]:.2f}" for j in bottom))

# %% [markdown] slideshow={"slide_type": "-"}
# A TF-IDF matrix describes documents by words, and read by columns it describes **words by documents**: the
# vector of "king" says in which stories, and how strongly, "king" appears. Two words are then similar when
# they occur in the same stories. Look at what that finds:

# %% slideshow={"slide_type": "-"}
tfidf_vectors = WordVectors(vocab, tfidf.T.float(), "TF-IDF")
for w in ("king", "red", "dog"):
    print(f"{w:>5}: " + ", ".join(f"{n} {c:.2f}" for n, c in tfidf_vectors.nearest(w, 5)))

# %% [markdown] slideshow={"slide_type": "-"}
# Neighbours by **co-occurrence** are words that appear *together* ("Once", "In", "end" are in every story,
# so their columns are identical and tie). A story has one colour and one object, so two colours never share
# a story: TF-IDF cannot see that "red" and "blue" are the same kind of word. For that we need the words
# *around* a word, not the document it is in.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.2 — rare words weigh more
# Using `counts` and `n_docs`, compute the idf of the word `"king"` with the smoothed formula above. Store it
# in `idf_king` (a Python float).
#
# <details><summary>💡 Hint</summary>
#
# `df` is the number of stories whose row has a non-zero count in the "king" column:
# `(counts[:, word_to_col["king"]] > 0).sum().item()`. Then `math.log((1 + n_docs) / (1 + df)) + 1`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
df_king = (counts[:, word_to_col["king"]] > 0).sum().item()
idf_king = math.log((1 + n_docs) / (1 + df_king)) + 1
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("2.2", idf_king, package_idf[word_to_col["king"]].item(),
      hint="idf = ln((1 + n) / (1 + df)) + 1, with df the number of stories containing 'king'.")
print(f"idf: king {package_idf[word_to_col['king']]:.3f}, the {package_idf[word_to_col['the']]:.3f}, "
      f"Once {package_idf[word_to_col['Once']]:.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. word2vec: learn vectors from the company words keep
#
# "You shall know a word by the company it keeps" (Firth, 1957). **Skip-gram** turns that into a training
# task: from a word $c$ (the *center*), predict the words $o$ within a window of $\pm m$ positions. Each word
# gets two vectors: $v_w$ when it is the center and $u_w$ when it is the context. A softmax over the whole
# vocabulary is expensive, so **negative sampling** replaces it with $K$ yes/no questions: is $o$ a real
# neighbour of $c$, or is $n_k$ a random word? The loss of one pair is
#
# $$\ell(c, o) = -\log \sigma(u_o^\top v_c) - \sum_{k=1}^{K} \log \sigma(-u_{n_k}^\top v_c),
#   \qquad n_k \sim P(w) \propto \mathrm{count}(w)^{3/4}.$$
#
# First the training pairs. With a window of 2, "a little girl named Lily":

# %% slideshow={"slide_type": "-"}
def skipgram_pairs(tokens, window):
    return [(tokens[i], tokens[j]) for i in range(len(tokens))
            for j in range(max(0, i - window), min(len(tokens), i + window + 1)) if j != i]


example = ["a", "little", "girl", "named", "Lily"]
example_pairs = skipgram_pairs(example, window=2)
print(len(example_pairs), "pairs:", example_pairs[:7], "...")
example_ids = torch.arange(len(example))
centers, contexts = embeddings.skipgram_pairs(example_ids, window=2)
package_pairs = sorted((example[c], example[o]) for c, o in zip(centers.tolist(), contexts.tolist()))
assert sorted(example_pairs) == package_pairs
print("same pairs as embeddings.skipgram_pairs ✓")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.3 — the negative-sampling loss
# Write `sgns_loss(v_center, u_context, u_noise)`: the loss $\ell(c, o)$ above, averaged over a batch of $B$
# pairs. `v_center` $(B, d)$ holds the center vectors $v_c$, `u_context` $(B, d)$ the context vectors $u_o$ of
# the real neighbours, `u_noise` $(B, K, d)$ the context vectors of the $K$ noise words of each pair. Return a
# 0-dimensional tensor: training calls `.backward()` on it. Write $\log\sigma(x)$ as `F.logsigmoid(x)`, which
# stays finite where `torch.log(torch.sigmoid(x))` gives $-\infty$ (one case has scores of ±144). word2vec is
# trained below with your loss.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Each pair asks $K + 1$ yes/no questions: the real neighbour should score high,
#    $\sigma(u_o^\top v_c)$ near 1, and every noise word low, $\sigma(-u_{n_k}^\top v_c)$ near 1. The loss is minus
#    the log of these probabilities, summed over the $K + 1$ questions, then averaged over the $B$ pairs.
# 2. **The approach.** The real scores are a dot product per row, shape $(B,)$. The noise scores have shape
#    $(B, K)$: for each pair, its $K$ noise vectors times its own $v_c$, a batched matrix product
#    (`u_noise @ v_center.unsqueeze(-1)` is $(B, K, 1)$). Take `logsigmoid` of the real scores and of *minus*
#    the noise scores, sum the noise terms over $K$, add the two, negate, and average over the batch.
# 3. **A skeleton.**
#    ```python
#    positive = F.logsigmoid((v_center * u_context).sum(___))                    # (B,)
#    noise_scores = (u_noise @ v_center.unsqueeze(-1)).squeeze(-1)               # (B, K)
#    negative = F.logsigmoid(___).sum(___)                                       # (B,)
#    return -(positive + negative).___()
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def sgns_loss(v_center, u_context, u_noise):
    """v_center, u_context: (B, d); u_noise: (B, K, d) -> the mean negative-sampling loss, a 0-d tensor."""
    # BEGIN SOLUTION
    positive = F.logsigmoid((v_center * u_context).sum(-1))                       # (B,): log σ(u_o · v_c)
    noise_scores = (u_noise @ v_center.unsqueeze(-1)).squeeze(-1)                  # (B, K): u_n · v_c
    negative = F.logsigmoid(-noise_scores).sum(-1)                                 # (B,): Σ_k log σ(-u_n · v_c)
    return -(positive + negative).mean()
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
g = torch.Generator().manual_seed(0)


def random_batch(B, K, d, scale=1.0):
    """(v_center, u_context, u_noise) of B pairs with K noise words each, entries of about ±scale."""
    return (scale * torch.randn(B, d, generator=g), scale * torch.randn(B, d, generator=g),
            scale * torch.randn(B, K, d, generator=g))


sgns_cases = [
    (torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]]), torch.tensor([[[1.0, 1.0]]])),   # B = K = 1
    random_batch(1, 3, 4),                                                                      # K = 3 noise words
    random_batch(4, 2, 3),                                                                      # a batch of 4
    random_batch(32, 5, 8),                                                                     # word2vec's K = 5
    random_batch(6, 4, 1),                                                                      # d = 1
    (torch.tensor([[12.0, 0.0]]), torch.tensor([[12.0, 0.0]]), torch.tensor([[[12.0, 0.0]]])),  # scores ±144
]
if not check_function("2.3", sgns_loss, [(case, embeddings.sgns_loss(*case)) for case in sgns_cases],
                      hint="the cases are 1 one pair with one noise word; 2 one pair with 3 noise words (their "
                           "terms are summed, not averaged); 3 and 4 batches (the pairs are averaged, not "
                           "summed); 5 d = 1; 6 a real score of +144 and a noise score of +144, whose loss is "
                           "about 144, not infinite. The noise terms are log σ of minus their score; use "
                           "F.logsigmoid and return a tensor."):
    print("Using the course's version, course_utils.embeddings.sgns_loss, from here on.")
    sgns_loss = embeddings.sgns_loss

# %% [markdown] slideshow={"slide_type": "-"}
# Your loss, against the package's `SkipGram` module on the same weights:

# %% slideshow={"slide_type": "-"}
torch.manual_seed(0)
sg = embeddings.SkipGram(vocab_size=50, dim=8)
nn.init.normal_(sg.context.weight)   # non-zero context vectors, so the test is not trivial
c, o, noise = torch.randint(50, (32,)), torch.randint(50, (32,)), torch.randint(50, (32, 5))
ours = sgns_loss(sg.center(c), sg.context(o), sg.context(noise))
diff = (ours - sg(c, o, noise)).abs().item()
print(f"max |ours − SkipGram| = {diff:.1e}", "✓" if diff < 1e-6 else "✗")
assert diff < 1e-6

# %% [markdown] slideshow={"slide_type": "-"}
# Now train on all of storyworld's training split: about 300,000 words, every (center, context) pair within 4
# words, inside one story, 5 noise words per pair, 32 dimensions. Very frequent words ("a", "the") are
# randomly thinned out (subsampling), as in the original word2vec. Two passes over the data take seconds.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
word_ids = torch.tensor([word_to_col[w] for document in documents for w in document])
story_of_word = torch.tensor([i for i, document in enumerate(documents) for _ in document])
start = time.perf_counter()
result = embeddings.train_skipgram(word_ids, len(vocab), dim=32, window=4, negatives=5, epochs=2,
                                   segments=story_of_word, seed=0, loss_fn=sgns_loss)   # with your loss
print(f"{result.steps} steps over {result.pairs:,} pairs per pass, in {time.perf_counter() - start:.1f} s")
print(f"loss: first step {result.losses[0]:.3f}, mean of the last 50 steps "
      f"{sum(result.losses[-50:]) / 50:.3f}  (chance: 6 × ln 2 = {6 * math.log(2):.3f})")
w2v = WordVectors(vocab, result.model.center.weight, "word2vec")
final_loss = sum(result.losses[-50:]) / 50
assert abs(result.losses[0] - 6 * math.log(2)) < 1e-3, "training starts at chance, 6 × ln 2 per pair"
assert final_loss < 0.7 * result.losses[0], "two passes bring the loss well below chance"

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(result.losses, lw=0.8)
ax.set(xlabel="step", ylabel="loss per pair", title="word2vec (skip-gram, negative sampling) on storyworld")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.4 — cosine similarity
# Vectors are compared by the angle between them, not their length:
# $\cos(a, b) = \dfrac{a^\top b}{\lVert a\rVert\,\lVert b\rVert}$, from $-1$ (opposite) through 0 (unrelated)
# to 1 (same direction). Write `cosine(a, b)` for two 1-D tensors, returning a Python float.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Divide out both lengths, so only the direction is left: a vector and a longer copy of it
#    score 1.
# 2. **The approach.** `a @ b` is the dot product of two 1-D tensors and `a.norm()` the length;
#    `.item()` turns a one-number tensor into a Python float.
# 3. **A skeleton.** `return (a @ b / (___ * ___)).item()`
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def cosine(a, b):
    # BEGIN SOLUTION
    return (a @ b / (a.norm() * b.norm())).item()
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("2.4", cosine, [
    ((torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])), 0.0),
    ((torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0])), 1.0),
    ((torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0])), -1.0),
    ((w2v["king"], w2v["queen"]), w2v.similarity("king", "queen")),
], hint="Divide the dot product by the product of the two lengths (.norm()).")

# %% [markdown] slideshow={"slide_type": "-"}
# **Nearest neighbours** of a word are the words with the highest cosine similarity to it:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
for w in ("king", "red", "dog", "cake", "park", "Lily", "happy"):
    print(f"{w:>6}: " + ", ".join(f"{n} {c:.2f}" for n, c in w2v.nearest(w, 5)))
print(f"\nhappy–glad {w2v.similarity('happy', 'glad'):.2f}, sad–angry {w2v.similarity('sad', 'angry'):.2f}, "
      f"happy–sad {w2v.similarity('happy', 'sad'):.2f}")
for w in ("red", "dog", "Lily"):
    same = sum(CATEGORIES.get(n) == CATEGORIES[w] for n, _ in w2v.nearest(w, 5))
    assert same >= 4, f"{w}'s nearest neighbours are of its own kind"
assert min(w2v.similarity("happy", "glad"), w2v.similarity("happy", "proud")) > 0.9, "synonyms are nearly parallel"
assert 0.3 < w2v.similarity("happy", "sad") < w2v.similarity("happy", "glad") - 0.2, \
    "antonyms stay clearly further apart than synonyms (about 0.6)"

# %% [markdown] slideshow={"slide_type": "-"}
# Colours sit with colours, animals with animals, girls' names with girls' names: nobody told the model the
# categories. Synonyms (happy, glad, proud) are nearly parallel. Antonyms are a classic weakness of
# word2vec, because "happy" and "sad" fill the same slots; here they are still kept apart (about 0.6), because a
# storyworld story that ends sadly has a different plot before it.
#
# **Analogies.** If the difference queen − king is a "female" direction, then adding it to prince should land
# near princess: the answer to $a:b :: c:?$ is the word closest to $b - a + c$ (excluding $a$, $b$, $c$).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
expected_answers = {("king", "queen", "prince"): "princess", ("boy", "man", "girl"): "woman",
                    ("girl", "princess", "boy"): "prince", ("woman", "man", "queen"): "king"}
for (a, b, c), expected in expected_answers.items():
    answer = ", ".join(f"{w} {s:.2f}" for w, s in w2v.analogy(a, b, c, k=3))
    print(f"{a}:{b} :: {c}:?  →  {answer}")
assert all(w2v.analogy(a, b, c)[0][0] == d for (a, b, c), d in expected_answers.items()), \
    "each of the four analogies finds the expected word first"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.5 — solve an analogy
# Write `solve_analogy(wv, a, b, c)` that returns the word (a string) whose vector has the highest cosine
# similarity with `wv[b] - wv[a] + wv[c]`, skipping `a`, `b` and `c` themselves. Loop over `wv.words` and use
# your `cosine`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** $b - a$ is the direction that turns $a$ into $b$; added to $c$ it points where $c$'s
#    counterpart should be. The three given words are excluded, or $c$ itself would usually win.
# 2. **The approach.** Build the target vector once; then the best word is a `max` over the other words,
#    keyed by the cosine of its vector with the target.
# 3. **A skeleton.**
#    ```python
#    target = wv[___] - wv[___] + wv[___]
#    candidates = (w for w in wv.words if w not in ___)
#    return max(candidates, key=lambda w: cosine(___, ___))
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def solve_analogy(wv, a, b, c):
    # BEGIN SOLUTION
    target = wv[b] - wv[a] + wv[c]
    return max((w for w in wv.words if w not in (a, b, c)), key=lambda w: cosine(wv[w], target))
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("2.5", lambda a, b, c: solve_analogy(w2v, a, b, c), [
    (("king", "queen", "prince"), w2v.analogy("king", "queen", "prince")[0][0]),
    (("man", "woman", "boy"), w2v.analogy("man", "woman", "boy")[0][0]),
    (("girl", "princess", "boy"), w2v.analogy("girl", "princess", "boy")[0][0]),
], hint="Build b − a + c once, then take the max over the other words by cosine.")

# %% [markdown] slideshow={"slide_type": "-"}
# **word2vec's relatives.** Two later methods also learn one static vector per word:
#
# - **GloVe** (Stanford, 2014) first counts, once, over the whole corpus, how often word $j$ appears within a
#   window of word $i$: $X_{ij}$. Then it fits vectors to those counts instead of learning from one window at a
#   time: $w_i^\top \tilde w_j + b_i + \tilde b_j \approx \log X_{ij}$, by least squares weighted so that rare
#   pairs count less and very frequent ones are capped. That is a factorization of the log co-occurrence matrix:
#   global counts as in §2, but of neighbours instead of documents. (word2vec with negative sampling was later
#   shown to factorize a shifted co-occurrence matrix implicitly, so the two are closer than they look.)
# - **fastText** (Facebook AI Research, 2016) makes a word's vector the sum of vectors for its character
#   $n$-grams ($n$ = 3 to 6, with `<` and `>` marking the word's edges) and for the whole word: "where" is
#   `<wh`, `whe`, `her`, `ere`, `re>`, ..., `<where>`. A word never seen in training, or misspelled, still
#   shares most of its $n$-grams with known words and gets a sensible vector, where word2vec and GloVe have
#   none. Subword tokens (notebook 01) solve the same problem for LLMs.
#
# For real text these rarely need training from scratch: pretrained vectors are published and load in a few
# lines. A well-known set is word2vec trained by Google on Google News text (300 dimensions, about 3 million
# words and phrases), available through the gensim library as `gensim.downloader.load("word2vec-google-news-300")`
# (a download of well over a gigabyte, so not run here). Like ours, these vectors are static.
#
# The whole line of ideas, from this notebook's start to its end:
#
# | when | method | a word's vector comes from | vectors per word |
# |---|---|---|---|
# | counting era | bag of words → TF-IDF (§2) | the documents it occurs in | one, sparse |
# | 2013 | word2vec (§3) | predicting its neighbours | one, dense |
# | 2014 | GloVe | fitting global co-occurrence counts | one, dense |
# | 2016 | fastText | its character $n$-grams | one, dense, also for unseen words |
# | 2018 on | contextual: ELMo, BERT, GPT (§5) | the whole text around it | one per occurrence |

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Scoring embeddings against the answer key
#
# storyworld knows each content word's category (12 of them: colours, animals, foods, boys' names, ...) and
# 36 analogies between its eight roles, each pair differing in gender, age or rank (boy:girl :: king:queen,
# girl:woman :: prince:king, girl:princess :: boy:prince). Two scores:
#
# - **neighbour purity@5**: for each of the 83 categorized words, the fraction of its 5 nearest categorized
#   words that share its category, averaged. Random vectors get about
#   $\frac{1}{N}\sum_w \frac{n_{c(w)}-1}{N-1}$, with $n_c$ the size of category $c$;
# - **analogy accuracy**: the fraction of the 36 analogies whose top answer is exactly right (searched over the
#   whole vocabulary). Random vectors get about 1 in 164.
#
# We score five sets of vectors: random ones (a baseline that knows nothing), the TF-IDF word vectors,
# word2vec, the course GPT's embedding table, and the GPT's **contextual** vectors (next section) averaged
# over every place a word occurs.

# %% slideshow={"slide_type": "-"}
def gpt_hidden_states(idx):
    """The course GPT's vector for every token of a batch of token IDs (B, T) after each stage: the input
    embedding (token + position), then the output of each of the 4 blocks. A list of (B, T, C) tensors."""
    x = gpt.transformer.wte(idx) + gpt.transformer.wpe(torch.arange(idx.shape[1]))
    states = [x]
    for block in gpt.transformer.h:
        x = block(x)
        states.append(x)
    return states


with torch.no_grad():   # proof: our unrolled forward pass gives the model's own logits
    idx = torch.tensor([tokenizer.encode(sentence)])
    states = gpt_hidden_states(idx)
    logits, _ = gpt(idx)
    diff = (gpt.lm_head(gpt.transformer.ln_f(states[-1])) - logits).abs().max().item()
print(f"max |unrolled − GPT forward| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
assert diff < 1e-5

# %% slideshow={"slide_type": "-"}
validation = storyworld.load_split("validation")
encoded = [tokenizer.encode("\n" + story.text) for story in validation.stories[:200]]
T = max(map(len, encoded))
newline = tokenizer.stoi["\n"]
# One batch, padded on the right: a causal model's vectors for the real tokens never see the padding.
batch_ids = torch.tensor([e + [newline] * (T - len(e)) for e in encoded])                # (B, T)
real = torch.tensor([[t < len(e) for t in range(T)] for e in encoded])                   # (B, T)
with torch.no_grad():
    states = torch.stack(gpt_hidden_states(batch_ids))                                   # (stages, B, T, C)
LAYERS = states.shape[0]                                  # input embedding + one per block

pieces = [piece.strip() for piece in tokenizer.itos]
is_word = torch.tensor([piece.isalpha() for piece in pieces])
mask = real & is_word[batch_ids]                          # word tokens, not punctuation or padding
occurrence_ids = batch_ids[mask]                          # (N,): the token of every word occurrence
counts_per_token = torch.bincount(occurrence_ids, minlength=len(pieces))
sums = torch.zeros(LAYERS, len(pieces), states.shape[-1]).index_add_(1, occurrence_ids, states[:, mask])
seen = counts_per_token.nonzero().flatten()
contextual = []    # one WordVectors per stage: each word's vector averaged over all its occurrences
for layer in range(LAYERS):
    contextual.append(WordVectors([pieces[i] for i in seen], sums[layer, seen] / counts_per_token[seen, None],
                                  f"GPT contextual (block {layer}, mean)" if layer else "GPT input (mean)"))

gpt_table = WordVectors([pieces[i] for i in range(len(pieces)) if is_word[i]], E[is_word], "GPT embedding table")
random_baseline = embeddings.random_vectors(vocab, 32, seed=0)
print(f"contextual vectors from {len(occurrence_ids):,} word occurrences in {len(encoded)} validation stories")

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
chance = embeddings.chance_purity(CATEGORIES)
print(f"{'vectors':<32}{'dims':>6}{'purity@5':>10}{'analogies':>11}")
print(f"{'chance (expected)':<32}{'':>6}{chance:>10.3f}{1 / (len(vocab) - 3):>11.3f}")
scores = {}
for wv in (random_baseline, tfidf_vectors, w2v, gpt_table, contextual[-1]):
    scores[wv.name] = embeddings.score_embeddings(wv, CATEGORIES, ANALOGIES, k=5)
    print(f"{wv.name:<32}{wv.dim:>6}{scores[wv.name]['purity']:>10.3f}{scores[wv.name]['analogy']:>11.3f}")
assert abs(scores["random"]["purity"] - chance) < 0.05, "random vectors score at chance"
assert scores["TF-IDF"]["purity"] < chance, "TF-IDF scores below chance on purity"
assert scores["word2vec"]["purity"] > 0.75 and scores["word2vec"]["analogy"] > 0.8, \
    "word2vec recovers most categories and analogies"
assert scores["GPT embedding table"]["purity"] > 0.75 and scores["GPT embedding table"]["analogy"] > 0.8, \
    "the GPT's embedding table learned the same structure"

# %% [markdown] slideshow={"slide_type": "-"}
# Honest reading of the table:
#
# - random vectors score at chance, as they must; TF-IDF scores *below* chance on purity, for the reason seen
#   above: words of one category avoid each other within a story;
# - word2vec, trained in seconds on 300,000 words, recovers most categories and the analogies (storyworld's
#   grammar makes gender, age and rank consistent, which real text does far less cleanly);
# - the GPT's embedding table learned the same structure as a side effect of next-token prediction.
#
# One training run is one sample. word2vec with other seeds:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
seed_scores = [scores["word2vec"]]
for seed in (1, 2):
    run = embeddings.train_skipgram(word_ids, len(vocab), dim=32, window=4, negatives=5, epochs=2,
                                    segments=story_of_word, seed=seed)
    seed_scores.append(embeddings.score_embeddings(WordVectors(vocab, run.model.center.weight), CATEGORIES,
                                                   ANALOGIES))
for seed, s in enumerate(seed_scores):
    print(f"word2vec seed {seed}: purity@5 {s['purity']:.3f}, analogies {s['analogy']:.3f}")
purities = [s["purity"] for s in seed_scores]
assert min(purities) > 0.75 and min(s["analogy"] for s in seed_scores) > 0.7, "every seed learns the structure"
assert max(purities) - min(purities) < 0.1, "purity moves by a few points from seed to seed"

# %% [markdown] slideshow={"slide_type": "-"}
# Every seed recovers the categories, but purity moves by a few points from seed to seed and analogy accuracy can
# drop by several of the 36 analogies: a difference that small between two sets of vectors, measured on one run
# each, says nothing. (The same holds for the exact figures above: another computer rounds the last digits of
# the training differently and gets slightly different vectors, with the same conclusions.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Static vs contextual embeddings
#
# word2vec gives "bank" one vector, whether it is "the bank of a river" or "going to the bank": a **static**
# embedding. A transformer's vector for a token after a few layers depends on the tokens around it: a
# **contextual** embedding (BERT, GPT). storyworld's "bank" is "small": it describes a child ("a small boy")
# and a home ("a small hut"). Here is a validation story with both:

# %% slideshow={"slide_type": "-"}
story = next(s for s in validation.stories
             if re.search(r"was a small (girl|boy|prince|princess)", s.text)
             and re.search(r"in a small (house|hut|cottage|castle|palace)", s.text))
print(story.text[:100], "...")
idx = torch.tensor(tokenizer.encode("\n" + story.text))
with torch.no_grad():
    story_states = [state[0] for state in gpt_hidden_states(idx[None])]     # per stage: (T, C)
small = [t for t, token in enumerate(idx.tolist()) if tokenizer.itos[token] == " small"][:2]
print("' small' at token positions", small, "followed by",
      [tokenizer.itos[idx[t + 1]] for t in small])

# %% slideshow={"slide_type": "-"}
def group_mean(layer, group):
    """Mean contextual vector of a group of words at one stage (each word averaged over its contexts)."""
    return torch.stack([contextual[layer][w] for w in group]).mean(0)


CHILD, HOME = ("little", "young"), ("big", "pretty", "warm")   # the other child and home adjectives
print(f"word2vec: cos(small, small) = {w2v.similarity('small', 'small'):.3f}, whatever the context\n")
print(f"{'course GPT':<16}{'small₁ vs':>10}{'small₁ (boy) vs':>22}{'small₂ (hut) vs':>22}")
print(f"{'':<16}{'small₂':>10}{'child adj':>11}{'home adj':>11}{'child adj':>11}{'home adj':>11}")
rows = []
with torch.no_grad():
    for layer in range(LAYERS):
        a, b = story_states[layer][small[0]], story_states[layer][small[1]]
        child, home = group_mean(layer, CHILD), group_mean(layer, HOME)
        rows.append([F.cosine_similarity(x, y, dim=0).item()
                     for x, y in ((a, b), (a, child), (a, home), (b, child), (b, home))])
        name = "input embedding" if layer == 0 else f"after block {layer}"
        print(f"{name:<16}{rows[-1][0]:>10.3f}" + "".join(f"{v:>11.3f}" for v in rows[-1][1:]))
assert rows[-1][0] < 0.9 and rows[-1][1] > rows[-1][2] and rows[-1][4] > rows[-1][3]

fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.plot([r[0] for r in rows], "ko-", label="small₁ vs small₂")
ax.plot([r[1] for r in rows], "C0s-", label="small₁ (boy) vs child adjectives")
ax.plot([r[2] for r in rows], "C0s:", label="small₁ (boy) vs home adjectives")
ax.plot([r[4] for r in rows], "C1^-", label="small₂ (hut) vs home adjectives")
ax.plot([r[3] for r in rows], "C1^:", label="small₂ (hut) vs child adjectives")
ax.set(xticks=range(LAYERS), xticklabels=["embed"] + [f"block {i}" for i in range(1, LAYERS)],
       ylabel="cosine similarity", title="One word, two contexts, in the course GPT")
ax.legend(fontsize=7, loc="lower left")
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# At the input the two occurrences differ only by their position vectors, and each is as close to the child
# adjectives as to the home adjectives. Block by block they part: by the last block the "small" before "boy"
# sits with "little" and "young", the one before "hut" with "big", "pretty" and "warm". (The GPT is causal:
# the vector at "small" sees only the words to its left, "there was a" vs "lived in a", and is shaped to
# predict what comes next.)
#
# The same averaging shows a cost: deeper vectors describe the *prediction* more than the word, so their
# category purity drops layer by layer.

# %% slideshow={"slide_type": "-"}
for layer, wv in enumerate(contextual):
    s = embeddings.score_embeddings(wv, CATEGORIES, ANALOGIES)
    name = "input embedding" if layer == 0 else f"after block {layer}"
    print(f"{name:<16} purity@5 {s['purity']:.3f}   analogies {s['analogy']:.3f}")

# %% [markdown] slideshow={"slide_type": "-"}
# **Vectors for sentences and documents.** A transformer gives one vector per token, but many uses want one
# per sentence, paragraph or document: to find the passages closest to a question, to cluster or classify
# texts. The token vectors are **pooled** into one:
#
# - **mean pooling**: average the last layer's token vectors, leaving out padding. §4 averaged over the
#   occurrences of a word in the same way; notebook 09 averages the course GPT's final vectors over the first 75
#   tokens of a story and classifies the story from that single vector.
# - **a summary token**: BERT puts a special `[CLS]` token first. Its encoder lets every token see every other
#   one, so the final vector at `[CLS]` can draw on the whole input, and training makes it the summary used for
#   classification. In a causal decoder like GPT only the *last* token has seen everything, so it plays that
#   role (notebook 07's classifier reads it).
#
# BERT also has optional **segment embeddings** for inputs made of two parts (a question and a passage, or two
# sentences that may or may not follow each other): a learned vector for part A or part B is added to every
# token. Its input embedding is token + position + segment; the course GPT's (`gpt_hidden_states` in §4) is
# token + position.
#
# **Representation vs generative models.** Most embedding models used for search and retrieval-augmented
# generation (RAG) are BERT-style encoders, further trained so that texts with similar meaning get vectors with
# high cosine similarity (Sentence-BERT, for example, mean-pools its encoder's token vectors). A collection of
# documents is embedded once, and each question retrieves the passages nearest to it. Such **representation
# models** return vectors, for search, clustering and classification. **Generative models**, decoder-only
# transformers such as GPT and the course GPT, return text, one token at a time. Both are built from the same
# embeddings and attention layers; they differ in what they are trained to give back.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The embedding-space explorer
#
# Like TensorFlow's Embedding Projector: each set of vectors projected to 2-D (PCA or t-SNE), points coloured by
# storyworld category, a search box that highlights a word and its $k$ nearest neighbours (cosine, in the full
# space), an analogy box (`queen - king + prince`), and a switch between the sets. For the contextual set, the
# two uses of "small" are added as separate points (`small→person`, `small→home`: the next word's category).
# First a static picture of the default state:

# %% slideshow={"slide_type": "-"}
small_at = (batch_ids[:, :-1] == tokenizer.stoi[" small"]).nonzero().tolist()       # (story, position)
sense_of = {"home": "small→home"}
sense_vectors = {}
for b, t in small_at:
    sense = sense_of.get(CATEGORIES.get(pieces[batch_ids[b, t + 1]]), "small→person")
    sense_vectors.setdefault(sense, []).append(states[-1, b, t])
senses = sorted(sense_vectors)
contextual_set = WordVectors(contextual[-1].words + senses,
                             torch.cat([contextual[-1].vectors,
                                        torch.stack([torch.stack(sense_vectors[s]).mean(0) for s in senses])]),
                             "GPT contextual (block 4)")
explorer_categories = {**CATEGORIES, "small→home": "adjective", "small→person": "adjective"}
print(f"contextual set: {len(contextual_set)} points; small→person averages {len(sense_vectors['small→person'])} "
      f"occurrences, small→home {len(sense_vectors['small→home'])}")

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
sets = {"word2vec": w2v, "TF-IDF": tfidf_vectors, "GPT embedding table": gpt_table,
        "GPT contextual (block 4)": contextual_set}
default = ExplorerState("word2vec", projection="pca", query="king", k=8, analogy="queen - king + prince")
view = render_explorer(default, sets, explorer_categories)
display(view.figure)
display(HTML(view.html))
assert view.analogy[0][0] == "princess", "queen − king + prince lands on princess"

# %% [markdown] slideshow={"slide_type": "-"}
# Try it (the controls work in a running notebook): search `small→home` in the contextual set, switch to
# t-SNE, compare TF-IDF's map with word2vec's, type a word that does not exist.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
explorer = EmbeddingExplorer(sets, explorer_categories, default)
assert explorer.view.analogy[0][0] == "princess", "the live explorer starts from the same state as the picture"
explorer

# %% [markdown] slideshow={"slide_type": "-"}
# Unknown words and malformed expressions give a message instead of an error:

# %% slideshow={"slide_type": "-"}
for query, analogy in [("dragon", ""), ("King", "queen - kingg + prince"), ("", "queen -")]:
    print(render_explorer(replace(default, query=query, analogy=analogy), sets, explorer_categories).messages)

# %% [markdown] slideshow={"slide_type": "-"}
# The same vectors under t-SNE, which keeps close neighbours close but distorts large distances: word2vec's
# categories come out as islands, while TF-IDF's map has no colour-coherent islands at all.

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, name in zip(axes, ("word2vec", "TF-IDF")):
    wv = sets[name]
    xy = project(wv.vectors, "tsne", seed=0)
    word_categories = [CATEGORIES.get(w) for w in wv.words]
    for category, colour in category_colours(CATEGORIES).items():
        mask = np.array([c == category for c in word_categories])
        ax.scatter(xy[mask, 0], xy[mask, 1], s=18, color=colour, label=category)
    other = np.array([c is None for c in word_categories])
    ax.scatter(xy[other, 0], xy[other, 1], s=6, color="#ccc", label="(no category)")
    ax.set(title=f"{name} (t-SNE)", xticks=[], yticks=[])
axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Positional encodings
#
# Self-attention mixes token vectors with weights computed from the vectors themselves, so it treats its
# input as a **set**: shuffle the tokens and the outputs are shuffled the same way, nothing else changes.
# "The cat sat on the mat" and "on the mat sat the cat" contain the same six words. Fed to a transformer layer
# (PyTorch's, untrained, without a mask) without positions, the two give the same outputs up to order, so
# any summary of them — here the mean over tokens, which a classifier might read — is identical:

# %% slideshow={"slide_type": "-"}
torch.manual_seed(0)
cat_words = ["the", "cat", "sat", "on", "mat"]
toy_embedding = nn.Embedding(len(cat_words), 16)
encoder_layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                                           batch_first=True).eval()


def encode(text, positions=None):
    ids = torch.tensor([[cat_words.index(w) for w in text.lower().split()]])
    x = toy_embedding(ids)
    if positions is not None:
        x = x + positions[: ids.shape[1]]
    with torch.no_grad():
        return encoder_layer(x)[0]


s1, s2 = "The cat sat on the mat", "On the mat sat the cat"
no_pos = (encode(s1).mean(0) - encode(s2).mean(0)).abs().max().item()
pe = positional.sinusoidal_encoding(16, 16)
with_pos = (encode(s1, pe).mean(0) - encode(s2, pe).mean(0)).abs().max().item()
cat_same = (encode(s1)[1] - encode(s2)[5]).abs().max().item()
print(f"without positions: max |mean output₁ − mean output₂| = {no_pos:.1e};  'cat' gets the same vector "
      f"in both: max |cat₁ − cat₂| = {cat_same:.1e}")
print(f"with sinusoidal positions:   max |mean output₁ − mean output₂| = {with_pos:.2f}")
assert no_pos < 1e-5 and cat_same < 1e-5 and with_pos > 0.01

# %% [markdown] slideshow={"slide_type": "-"}
# (A decoder's causal mask breaks this symmetry, since each token sees a different prefix, and GPT-style models
# can learn some order from it alone; every major model adds positions anyway.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Sinusoidal encodings
# The original transformer adds a fixed vector to the token embedding at position $p$:
#
# $$PE_{p,2i} = \sin(p\,\omega_i), \qquad PE_{p,2i+1} = \cos(p\,\omega_i), \qquad \omega_i = 10000^{-2i/d}.$$
#
# Pair $i$ is a clock hand turning at speed $\omega_i$: the first pairs turn fast, the last ones slowly.

# %% slideshow={"slide_type": "-"}
def sinusoidal(n_positions, d):
    pe = torch.zeros(n_positions, d, dtype=torch.float64)
    for p in range(n_positions):
        for i in range(d // 2):
            omega = 10000 ** (-2 * i / d)
            pe[p, 2 * i] = math.sin(p * omega)
            pe[p, 2 * i + 1] = math.cos(p * omega)
    return pe


ours = sinusoidal(128, 128)
diff = (ours - positional.sinusoidal_encoding(128, 128, dtype=torch.float64)).abs().max().item()
print(f"max |ours − positional.sinusoidal_encoding| = {diff:.1e}", "✓" if diff < 1e-12 else "✗")
assert diff < 1e-12

# %% [markdown] slideshow={"slide_type": "-"}
# Since $\sin a \sin b + \cos a \cos b = \cos(a - b)$, the dot product of two encodings is
# $PE_p \cdot PE_q = \sum_i \cos\big((p-q)\,\omega_i\big)$: it depends on the distance $p - q$ only, and it is
# largest at distance 0.

# %% slideshow={"slide_type": "-"}
starts = (0, 20, 60)
curves = torch.stack([ours[p0] @ ours[p0:p0 + 64].T for p0 in starts])   # PE_p0 · PE_{p0+k}, k = 0..63
spread = (curves - curves[0]).abs().max().item()
print(f"PE_p·PE_(p+k) from starts {starts}: max |curve − curve from 0| = {spread:.1e}",
      "✓" if spread < 1e-9 else "✗")
assert spread < 1e-9

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
im = axes[0].imshow(ours.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
axes[0].set(xlabel="position p", ylabel="dimension", title="Sinusoidal encoding (d = 128)")
fig.colorbar(im, ax=axes[0])
for p0, curve in zip(starts, curves):
    style = dict(lw=2) if p0 == 0 else dict(ls="none", marker="o+"[p0 > 20], ms=4)
    axes[1].plot(curve, label=f"from position {p0}", **style)
axes[1].set(xlabel="distance k", ylabel=r"$PE_p \cdot PE_{p+k}$", title="Dot product depends on distance only")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Learned position embeddings
# GPT-2 (and the course GPT) instead learn a second table, one row per position up to the context window,
# added to the token embedding: `x = wte(ids) + wpe(positions)`. Nothing forces it to be smooth, but training
# makes neighbouring positions similar. The course GPT's 128 position vectors:

# %% slideshow={"slide_type": "-"}
wpe = gpt.transformer.wpe.weight.detach()
position_similarity = embeddings.cosine_similarity(wpe, wpe)
print(f"{wpe.shape[0]} positions × {wpe.shape[1]} dims; mean cosine to the next position "
      f"{position_similarity.diagonal(1).mean():.2f}, to one 32 positions away "
      f"{position_similarity.diagonal(32).mean():.2f}")
learned = positional.LearnedPositionalEmbedding(dim=wpe.shape[1], max_len=wpe.shape[0])
learned.weight.data.copy_(wpe)
with torch.no_grad():
    tokens = gpt.transformer.wte(torch.tensor([tokenizer.encode(sentence)]))   # (1, T, d)
    diff = (learned(tokens) - (tokens + wpe[: tokens.shape[1]])).abs().max().item()
print(f"max |LearnedPositionalEmbedding − (wte + wpe)| = {diff:.1e}", "✓" if diff == 0 else "✗")
assert diff == 0

fig, ax = plt.subplots(figsize=(5.5, 4.2))
im = ax.imshow(position_similarity, cmap="RdBu", vmin=-1, vmax=1)
ax.set(xlabel="position", ylabel="position", title="Course GPT: cosine of learned positions")
fig.colorbar(im, ax=ax)
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# A learned table knows only the positions it was trained on: the course GPT cannot read token 129
# (`block_size` is 128). Sinusoids can be computed for any position, though models do not automatically
# *generalize* to lengths they never saw.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Rotary position embedding (RoPE)
# Most current models (LLaMA, Mistral, Qwen, ...) add nothing to the embedding. RoPE **rotates** each query and
# key vector inside attention: the pair of features $(x_{2i}, x_{2i+1})$ at position $m$ turns by the angle
# $m\theta_i$, with $\theta_i = 10000^{-2i/d}$. As a matrix, $\mathrm{RoPE}(x, m) = R_m x$ with $R_m$
# block-diagonal:
#
# $$R_m = \mathrm{diag}\!\left(\begin{pmatrix}\cos m\theta_0 & -\sin m\theta_0\\ \sin m\theta_0 & \cos m\theta_0\end{pmatrix},
#   \dots\right).$$
#
# Rotations compose, $R_m^\top R_n = R_{n-m}$, so the attention score $(R_m q)^\top (R_n k) = q^\top R_{n-m}\,k$
# depends on the **relative** position $n - m$ only.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.6 — RoPE's rotation
# Write `rope(x, positions)` for a tensor `x` of shape $(\dots, T, d)$ ($d$ even; any leading axes, such as
# batch and heads) whose row $t$ sits at position `positions[t]`: turn each pair $(x_{2i}, x_{2i+1})$ by the
# angle $m\theta_i$, $\theta_i = 10000^{-2i/d}$, as $R_m$ above does, without building the matrix. Pair
# neighbouring features, 0 with 1, 2 with 3, ...: the pairing of the RoFormer paper and of the package (a
# few cells below shows the other convention, which pairs feature $i$ with feature $i + d/2$). Return a new
# tensor of `x`'s shape and dtype. The proofs and the picture below run on your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Pair $i$ of the vector at position $m$ is a point in a plane, turned by the angle
#    $\varphi = m\theta_i$: $(a, b) \mapsto (a\cos\varphi - b\sin\varphi,\; a\sin\varphi + b\cos\varphi)$. The first
#    pair turns fastest ($\theta_0 = 1$ radian per position), the last one slowest.
# 2. **The approach.** `torch.arange(0, d, 2)` is $2i$ for every pair, so
#    $\theta = 10000^{-\text{arange}(0, d, 2)/d}$ has shape $(d/2,)$, and `positions[:, None] * theta` gives the
#    $(T, d/2)$ angles, which broadcast over the leading axes of `x` (compute them in float64: angles of large
#    positions lose digits in float32). The even features `x[..., 0::2]` are the $a$'s, the odd ones
#    `x[..., 1::2]` the $b$'s; write the rotated pairs back into the same slots of a new tensor.
# 3. **A skeleton.**
#    ```python
#    d = x.shape[-1]
#    theta = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / ___)   # (d/2,)
#    angles = positions.to(torch.float64)[:, None] * ___                    # (T, d/2)
#    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
#    a, b = x[..., 0::2], x[..., 1::2]                                      # (..., T, d/2) each
#    out = torch.empty_like(x)
#    out[..., 0::2] = a * cos - ___
#    out[..., 1::2] = ___
#    return out
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def rope(x, positions):
    """x (..., T, d), positions (T,) -> x with pair (x_2i, x_2i+1) of row t turned by positions[t] · θ_i."""
    # BEGIN SOLUTION
    d = x.shape[-1]
    theta = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)   # (d/2,): θ_i, fast to slow
    angles = positions.to(torch.float64)[:, None] * theta                # (T, d/2): m θ_i
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]                                    # the two coordinates of each pair
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
g = torch.Generator().manual_seed(0)
rope_cases = [
    (torch.tensor([[1.0, 0.0]]), torch.tensor([1])),                                 # one pair at m = 1
    (torch.randn(3, 4, dtype=torch.float64, generator=g), torch.arange(3)),          # two pairs, m = 0, 1, 2
    (torch.randn(2, 3, 5, 8, generator=g), torch.arange(5)),                         # batch and heads
    (torch.randn(3, 8, generator=g), torch.tensor([5, 6, 7])),                       # not starting at 0
    (torch.randn(4, 16, dtype=torch.float64, generator=g), torch.tensor([0, 9, 40, 100])),  # far apart
    (torch.randn(1, 6, 64, generator=g), torch.arange(6)),                           # d = 64
]
if not check_function("2.6", rope, [((x, m), positional.apply_rope(x, m)) for x, m in rope_cases],
                      hint="the cases are 1 the point (1, 0) at position 1, which must become (cos 1, sin 1); "
                           "2 two pairs at positions 0, 1, 2; 3 a (batch, heads, T, d) tensor; 4 positions 5, 6, 7, "
                           "not 0, 1, 2; 5 positions far apart; 6 d = 64. Pair neighbours (0 with 1), not halves; "
                           "θ_i = 10000^(-2i/d) with i the pair's index; the angle is positions[t] · θ_i.",
                      atol=1e-5):
    print("Using the course's version, course_utils.positional.apply_rope, from here on.")
    rope = positional.apply_rope

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** Your rotation equals $R_m x$ with the matrix written out, and the package's `positional.apply_rope`;
# then the property that matters, with your function: the score depends on $n - m$ only.

# %% slideshow={"slide_type": "-"}
def rotation_matrix(m, d):
    blocks = []
    for i in range(d // 2):
        angle = m * 10000 ** (-2 * i / d)
        blocks.append(torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
                                   dtype=torch.float64))
    return torch.block_diag(*blocks)


d = 64
g = torch.Generator().manual_seed(0)
q, k = torch.randn(d, dtype=torch.float64, generator=g), torch.randn(d, dtype=torch.float64, generator=g)
xs = torch.randn(10, d, dtype=torch.float64, generator=g)   # ten vectors at positions 0..9
ours = torch.stack([rotation_matrix(m, d) @ xs[m] for m in range(10)])   # R_m x, one matrix per position
diff = max((ours - rope(xs, torch.arange(10))).abs().max().item(),
           (ours - positional.apply_rope(xs)).abs().max().item())
print(f"max |R_m x − your rope, positional.apply_rope| = {diff:.1e}", "✓" if diff < 1e-12 else "✗")
assert diff < 1e-12


def rope_score(m, n):
    """(R_m q) · (R_n k) for the fixed q and k above, rotated by your rope."""
    q_m = rope(q[None], torch.tensor([m]))[0]
    k_n = rope(k[None], torch.tensor([n]))[0]
    return (q_m @ k_n).item()


pairs = [(7, 3), (107, 103), (1007, 1003), (50_007, 50_003)]
relative = [rope_score(m, n) for m, n in pairs]
gap = max(relative) - min(relative)
print("scores for (m, n) =", pairs, "→", [round(s, 6) for s in relative])
print(f"all have n − m = −4: max |score − score| = {gap:.1e}", "✓" if gap < 1e-9 else "✗")
lengths = (rope(xs, torch.arange(10)).norm(dim=1) - xs.norm(dim=1)).abs().max().item()
print(f"rotations keep lengths: max | |RoPE(x)| − |x| | = {lengths:.1e}")
assert gap < 1e-9 and lengths < 1e-12

# %% [markdown] slideshow={"slide_type": "-"}
# **Another pairing, the same idea.** The RoFormer paper and `positional.apply_rope` pair neighbouring features,
# $(x_{2i}, x_{2i+1})$. Hugging Face's Llama code (and GPT-NeoX before it) pairs feature $i$ with feature
# $i + d/2$ instead: it splits the vector into halves $x = (x_1, x_2)$ and computes
# $x \cos + \mathrm{rotate\_half}(x) \sin$ with $\mathrm{rotate\_half}(x) = (-x_2, x_1)$. Pair $i$ still turns
# by $m	heta_i$, so the score again depends on $n - m$ only; the two conventions differ by a fixed reordering
# of the features, which a trained model absorbs into $W_q$ and $W_k$ (the script that converts Meta's Llama
# weights for Hugging Face permutes those matrices for exactly this reason). Comparing numbers with Hugging
# Face's implementation therefore needs that permutation first:

# %% slideshow={"slide_type": "-"}
def rope_half(x, positions):
    """RoPE as Hugging Face's Llama writes it: feature i and feature i + d/2 form pair i."""
    angles = positional.rope_angles(positions, x.shape[-1])            # (T, d/2): m θ_i
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def half_score(m, n):
    return (rope_half(q[None], torch.tensor([m]))[0] @ rope_half(k[None], torch.tensor([n]))[0]).item()


half_relative = [half_score(m, n) for m, n in pairs]
half_gap = max(half_relative) - min(half_relative)
print("half-rotation scores for (m, n) =", pairs, "→", [round(s, 6) for s in half_relative])
print(f"all have n − m = −4: max |score − score| = {half_gap:.1e}", "✓" if half_gap < 1e-9 else "✗")

# The reordering: interleaved feature 2i goes to position i, feature 2i + 1 to position i + d/2.
to_halves = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])
positions = torch.arange(10)
same = (rope_half(xs[:, to_halves], positions) - positional.apply_rope(xs, positions)[:, to_halves]).abs().max()
print(f"rope_half(reordered x) vs reordered apply_rope(x): max |difference| = {same.item():.1e}",
      "✓" if same < 1e-12 else "✗")
assert half_gap < 1e-9 and same < 1e-12

# %% [markdown] slideshow={"slide_type": "-"}
# With the same $q$ and $k$ the half-rotation score is another number than the interleaved one, because other
# features are paired; what carries over is the property that matters: it is the same for every $(m, n)$ with the
# same $n - m$. And once the features are reordered, the two conventions agree exactly.

# %% slideshow={"slide_type": "-"}
offsets = torch.arange(-40, 41)
fig, ax = plt.subplots(figsize=(6, 3))
for m in (0, 100, 1000):
    style = dict(lw=2) if m == 0 else dict(ls="none", marker="o+"[m > 100], ms=4)
    ax.plot(offsets, [rope_score(m, m + int(r)) for r in offsets], label=f"query at position {m}", **style)
ax.set(xlabel="relative position n − m", ylabel=r"$(R_m q)\cdot(R_n k)$",
       title="RoPE: the score depends only on n − m")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2.7 — how fast do the hands turn?
# For RoPE with $d = 64$ and base 10000, pair $i$ turns by $\theta_i = 10000^{-2i/64}$ radians per
# position. After how many positions is pair 0 back where it started (`period_first`), and the last pair,
# $i = 31$ (`period_last`)? Answer with floats.
#
# <details><summary>💡 Hint</summary>
#
# A full turn is $2\pi$ radians, so the period is $2\pi / \theta_i$.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
period_first = 2 * math.pi / 10000 ** (-2 * 0 / 64)
period_last = 2 * math.pi / 10000 ** (-2 * 31 / 64)
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("2.7a", period_first, 2 * math.pi, hint="θ_0 = 1 radian per position.")
angles = positional.rope_angles(torch.tensor([1]), 64)[0]
check("2.7b", period_last, 2 * math.pi / angles[-1].item(), hint="θ_31 = 10000^(-62/64): divide 2π by it.")
print(f"pair 0 repeats every {2 * math.pi:.1f} positions, pair 31 every {2 * math.pi / angles[-1]:,.0f}: "
      "fast pairs resolve nearby order, slow ones far-away order")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - An embedding matrix is a lookup table: one-hot × $E$ = row of $E$ = `nn.Embedding`. Only the rows of the
#   tokens in a batch get a gradient, unless the matrix is tied to the output layer (GPT-2, the course GPT).
# - Bag of words and TF-IDF describe documents; read by column they describe words by the documents they
#   appear in, which finds topics, not kinds of words (below-chance purity here).
# - word2vec (skip-gram with negative sampling) learns from the words *around* a word, and recovers
#   storyworld's categories and analogies far above random vectors; so does the GPT's embedding table.
# - Static embeddings give a word one vector; a transformer's contextual vectors differ with the sentence
#   ("small" before "boy" vs before "hut").
# - Attention sees a set, so order must be injected: sinusoidal (fixed, dot product depends on distance),
#   learned (a table, limited to the trained length), or RoPE (rotating queries and keys so that scores depend
#   on relative position only).
# - You wrote the one-hot lookup, word2vec's loss (the vectors above were trained with it) and RoPE's rotation;
#   the proofs after each ran on your code.
#
# **Next:** [03 · Attention](03_attention.ipynb) — how the tokens' vectors are mixed.

# %% slideshow={"slide_type": "-"}
summary()
