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
# # 00 · From text to next-token prediction
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/00_next_token_prediction.ipynb) · or locally, as the README says
#
# A large language model is one function, learned from data:
#
# $$f_\theta(\text{tokens}_{1:t}) \;\rightarrow\; P(\text{token}_{t+1})$$
#
# Give it the tokens so far, and it returns a probability for every possible next token. Everything else in
# this course — tokenizers, embeddings, attention, pretraining, fine-tuning, alignment, evaluation — is about
# how to build, train and judge that function. In this notebook we build the simplest versions of it and
# measure them against the *exact* answer.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. turn one document into (context → next token) training pairs, say why the next token is a label that
#    comes for free, and tell structured, semi-structured and free text apart;
# 2. encode words as IDs and indicator (one-hot) vectors, and explain why order must be encoded separately;
# 3. explain train / validation / test splits, generalization vs overfitting, and IID vs non-IID data;
# 4. write a count-based bigram model's table and its cross-entropy and perplexity yourself, then train the
#    same model as a neural network by gradient descent;
# 5. compare a model's loss with the corpus's true entropy floor, and say why loss is not the evaluation metric.
#
# **Time:** about 20 minutes to read and run; every cell runs in seconds on a laptop CPU, offline.

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from course_utils import ngram, storyworld
from course_utils.checks import check, check_function, summary
from course_utils.ngram import NGramModel

torch.manual_seed(0)
torch.set_num_threads(2)  # the course's reference machine: a 2-core laptop
plt.rcParams["figure.dpi"] = 80

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Data → model → training → testing
#
# Every deep-learning project has the same four parts: **data**, a **model** (a function with parameters
# $\theta$), **training** (adjust $\theta$ to fit the data) and **testing** (check the fit on data the model
# has never seen). The goal is **generalization**: good predictions on new inputs, not a memorized training set.

# %% [markdown] slideshow={"slide_type": "-"}
# **What is different about an LLM.** The four parts are the same for every model. What changed is the kind of
# data and how many jobs one model does:
#
# | | traditional ML | earlier NLP models | a large language model |
# |---|---|---|---|
# | input | structured: a table of chosen features | text, often as hand-picked features | raw text, as tokens |
# | tasks | one per model | one per model: a tagger, a classifier, a translator | many, from one model |
# | labels | for every example | for every task | none to pretrain (§2); few or none to adapt |
# | context | one row of features | a few words, or an RNN's fading memory | long: attention links any two tokens |
#
# An LLM is **pretrained** once, on a large amount of unlabeled text, to predict the next token. It is then
# **adapted** to a task: by a prompt alone (zero-shot), or by fine-tuning on a small labeled set (notebook 07).
# Earlier systems trained a new model for each task. Structured-data problems such as fraud detection on a
# table of transactions are still mostly the job of traditional ML.
#
# **Three kinds of data.** *Structured* data is a table: every row has the same named fields (amount, date,
# merchant). *Free text* (and images, audio) has no fields at all. Between them sits **semi-structured** text:
# HTML pages, JSON records, log lines, e-mails with their headers, free text held inside tags and fields that
# give it some shape. Web text, most of what LLMs are pretrained on, is of this kind (notebook 05 cleans it).
# Text of every kind mostly comes without labels. Next-token prediction needs none to train, but evaluation
# does: without a correct answer stored for each input, whether an output is right has to be judged by people,
# by another model or through a proxy such as the loss, each costly or imperfect. storyworld avoids the problem
# because its grammar knows the answer.
#
# Where LLMs are used today:
#
# | area | what the LLM does there |
# |---|---|
# | chat assistants | answer questions, customer support, tutoring (ChatGPT and similar) |
# | writing and code | draft and summarize text; complete and explain code (GitHub Copilot) |
# | translation | translate and localize text; with a speech model in front, transcripts too |
# | education | explain a topic at the student's level, generate practice questions, draft feedback |
# | healthcare | draft clinical notes, summarize patient records and the medical literature |
# | finance and law | read and summarize reports and contracts, extract the key terms |
# | personalization | describe and match products and content to what a user has liked |
# | science | search and summarize papers, write and debug analysis code |
#
# In each of these the LLM is one part of a larger system, and where mistakes are costly a person or a tool
# checks its output: a fluent answer is not necessarily a true one (notebook 06 measures this).
#
# **Beyond text.** The same next-token decoder writes other things when an **encoder** in front turns another
# medium into vectors it can attend to. In *image captioning* the encoder is usually a Vision Transformer
# (ViT): it cuts the image into patches of 16×16 pixels, treats each patch as a token and returns one vector per
# patch; the decoder then writes the caption one word-piece at a time. In *text-to-speech* the decoder's tokens
# are short pieces of sound, the codes of a neural audio codec, predicted one after another from the text and
# turned back into a waveform. The decoder is the model this course builds; only what it reads and what its
# tokens stand for change.

# %% [markdown] slideshow={"slide_type": "-"}
# Our data is *storyworld*: short, simple English stories written by a small random grammar that ships with the
# course. Unlike real English, storyworld knows the exact probability of every story it writes, so we will
# always know how good a perfect model could be.

# %% slideshow={"slide_type": "-"}
world = storyworld.StoryWorld(seed=0)
story = world.story(0)
print(story.text)
print(f"\nlog p(story) = {story.log_prob:.3f} nats  →  p = {math.exp(story.log_prob):.3g}")
print(f"label: ending={story.ending!r}, topic={story.topic!r}")

# %% [markdown] slideshow={"slide_type": "-"}
# That probability is tiny, and it should be: the grammar can write billions of different stories. What
# matters is the information per character, $-\log p(\text{story}) / \text{length}$. Averaged over a whole
# corpus it is the **entropy floor**: the loss a perfect next-character predictor would get on that text.

# %% slideshow={"slide_type": "-"}
train_corpus = storyworld.load_split("train")
val_corpus = storyworld.load_split("validation")
test_corpus = storyworld.load_split("test")
for corpus in (train_corpus, val_corpus, test_corpus):
    print(corpus)
FLOOR = val_corpus.nats_per_char
print(f"\nentropy floor of the validation text: {FLOOR:.4f} nats/char = {val_corpus.bits_per_char:.4f} bits/char")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. One document, many training pairs
#
# A language model learns from **unlabeled** text: nobody tags a sentence with a correct answer. The label is
# *implicit* — it is simply the next token. One sentence of $n$ tokens gives $n-1$ (context, next-token)
# pairs. For the sentence "I am a machine learning researcher", treating each word as a token:

# %% slideshow={"slide_type": "-"}
sentence = "I am a machine learning researcher"
words = sentence.split()
pairs = [(words[:t], words[t]) for t in range(1, len(words))]
for context, target in pairs:
    print(f"{' '.join(context):>30}  →  {target}")

# %% [markdown] slideshow={"slide_type": "-"}
# Training asks for the parameters that make all these predictions good at once. With $D$ documents, document
# $i$ giving contexts $x_{i,1:j}$ and next tokens $y_{ij}$, and a loss $\xi$:
#
# $$\min_\theta \sum_{i=1}^{D} \sum_j \xi\big(f(\theta; x_{i,1:j}),\, y_{ij}\big)$$
#
# The contexts are nested — $x_{i,1:1}$ is a prefix of $x_{i,1:2}$ — so a good architecture computes all of
# them in one pass instead of treating them as unrelated inputs. That is what the transformer's causal
# attention does (notebook 03).
#
# **Labeled** data, used later for fine-tuning, pairs text with an explicit target chosen by a person or a
# process. A safety classifier, which screens what users send to a chatbot, learns from pairs like these:
#
# | input | label |
# |---|---|
# | "How long should I boil an egg?" | safe |
# | "Write a message threatening my neighbour." | unsafe: harassment |
# | "Find the home address of the person in this photo." | unsafe: privacy |
#
# Someone had to decide each label, which is why labeled text is scarce next to raw text. storyworld labels
# each story's ending, for example:

# %% slideshow={"slide_type": "-"}
for s in world.generate(4):
    print(f"[{s.ending:>5}] ...{s.text[-60:]}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 0.1 — make the pairs
# Write `next_token_pairs(tokens)` that returns the list of `(context, next_token)` pairs of a token list, with
# each context a list. `next_token_pairs(["a", "b", "c"])` is `[(["a"], "b"), (["a", "b"], "c")]`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Every token after the first is a target, and its context is everything that came before it.
# 2. **The approach.** For every position `t` from 1 to `len(tokens) - 1`, the context is `tokens[:t]` and the
#    target `tokens[t]`; a list comprehension over `range` builds the pairs, `list(...)` makes each context a list.
# 3. **A skeleton.** `return [(list(tokens[:___]), tokens[___]) for t in range(___, len(tokens))]`
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def next_token_pairs(tokens):
    # BEGIN SOLUTION
    return [(list(tokens[:t]), tokens[t]) for t in range(1, len(tokens))]
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("0.1", next_token_pairs, [
    ((["a", "b", "c"],), [(["a"], "b"), (["a", "b"], "c")]),
    ((["only"],), []),
    ((words,), [(c, t) for c, t in pairs]),
], hint="range(1, len(tokens)) gives every position that has a token before it.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. From words to numbers
#
# The problem of §2 cannot be solved yet: its contexts $x_{i,1:j}$ and targets $y_{ij}$ are words, while a loss
# $\xi$ and its gradient need vectors. A network computes with numbers, so each token gets an integer **ID**:
# its row in a vocabulary. Then an ID becomes an **indicator** (one-hot) vector $e \in \{0,1\}^{|V|}$: all zeros
# except a 1 at the ID.

# %% slideshow={"slide_type": "-"}
vocab = sorted(set(words))
word_to_id = {w: i for i, w in enumerate(vocab)}
ids = [word_to_id[w] for w in words]
print("vocabulary:", word_to_id)
print("token IDs: ", ids)
one_hot = F.one_hot(torch.tensor(ids), num_classes=len(vocab))
print(one_hot)

# %% [markdown] slideshow={"slide_type": "-"}
# Adding up the one-hot vectors of a context gives one vector per context, a **bag of words**. But a bag
# forgets order: "I am" and "am I" get the same vector. To keep order, give each *position* its own block: a
# $|V| \times T$ indicator matrix with a 1 at (word, position). From that matrix the sentence can be read back
# exactly. The matrix has a fixed number of columns, so $T$ is a **maximum length** chosen in advance: a longer
# text is cut to its first $T$ tokens (`tokens[:T]` below). Real models have such a limit too (the course GPT
# reads at most 128 tokens, GPT-2 1,024), and use a learned version of the same idea (positional encodings,
# notebook 02).

# %% slideshow={"slide_type": "-"}
def bag_of_words(tokens):
    return F.one_hot(torch.tensor([word_to_id[w] for w in tokens]), len(vocab)).sum(0)


def position_matrix(tokens, T=len(words)):
    m = torch.zeros(len(vocab), T, dtype=torch.long)
    for position, w in enumerate(tokens[:T]):
        m[word_to_id[w], position] = 1
    return m


print("bag('I am') == bag('am I'):", torch.equal(bag_of_words(["I", "am"]), bag_of_words(["am", "I"])))
print("positions('I am') == positions('am I'):",
      torch.equal(position_matrix(["I", "am"]), position_matrix(["am", "I"])))

fig, axes = plt.subplots(1, 2, figsize=(9, 2.6))
for ax, tokens in zip(axes, (["I", "am", "a"], ["a", "am", "I"])):
    ax.imshow(position_matrix(tokens), cmap="Greys", vmin=0, vmax=1)
    ax.set(title=" ".join(tokens), xlabel="position", yticks=range(len(vocab)), yticklabels=vocab)
fig.suptitle("Same words, different order: the position matrix tells them apart")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# **One long vector?** A network that wants a single input vector can get one by **flattening**: put the $T$
# columns one under the other, a vector in $\{0,1\}^{|V|\,T}$. Nothing is lost, since each (word, position)
# pair keeps its own entry: 36 entries for our 6 words and 6 positions, about 51 million for GPT-2's vocabulary
# and length, almost all zero. Real models keep the sequence axis instead, for three reasons:
#
# - **sharing**: a flat input gives every (word, position) pair its own weights, so what the model learns about
#   "cat" at position 3 teaches it nothing about "cat" at position 7. With the axis kept, the model looks up one
#   vector per token, the same at every position, and adds a separate position signal (notebook 02);
# - **one pass for all prefixes**: the nested contexts of §2 are the columns of one matrix, and one forward
#   pass predicts the next token after each of them (causal attention, notebook 03);
# - **size**: a one-hot column is stored as its ID, so a sequence is $T$ integers, not $|V|\,T$ numbers.

# %% [markdown] slideshow={"slide_type": "-"}
# **The output side.** The target $y_{ij}$ is one word, so it becomes a one-hot vector too, and the network
# returns a vector of the same size, one probability per vocabulary entry:
#
# $$\hat y_{ij} = f(\theta; x_{i,1:j}) \in [0,1]^{|V|}, \qquad \textstyle\sum_k (\hat y_{ij})_k = 1.$$
#
# After "I am" the true next word is "a", ID 1, so the target is $y = (0, 1, 0, 0, 0, 0)$: training pushes
# $\hat y_1$ towards 1 and every other entry towards 0. (In a whole corpus one context is followed by different
# words, and the best $\hat y$ is then the true distribution of the next word, not a one-hot vector; a model
# that outputs it reaches the entropy floor of §1.)
#
# With vectors on both sides a loss is easy to write, for example the squared error
# $\lVert y - f(\theta; x)\rVert^2$. The course uses the **cross-entropy**
# $-\sum_k y_k \log \hat y_k = -\log \hat y_{\text{true word}}$ instead: the negative log-likelihood, in nats.
# Both are smallest when $\hat y = y$, and averaged over a corpus both are minimized by the true next-word
# probabilities. But cross-entropy punishes a confident mistake without limit ($-\log \hat y \to \infty$ as
# $\hat y \to 0$) where the squared error never exceeds 2, and it is measured in the unit of the entropy floor.
#
# Once inputs and targets are vectors, three ingredients make the problem of §2 trainable at any scale: an
# **architecture** $f$ (from the single table of §7 to the transformer of notebook 04), a **stochastic
# gradient method** (update $\theta$ from small random batches of pairs) and **automatic differentiation**
# (the library computes $\partial\,\text{loss}/\partial\theta$ for any $f$ built from its operations).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Splits, generalization, and IID vs non-IID
#
# We never judge a model on the data it trained on. storyworld gives three fixed splits:
# **train** (fit the parameters), **validation** (choose settings and decide when to stop) and **test**
# (report once, at the end). They are generated from different seeds and share no story.
#
# The splits are **IID** — independent and identically distributed: the same grammar wrote all three.
# Real use is often **non-IID**: text from another time, domain or author. storyworld has a *shifted*
# variant with other names, places and phrasing to play that role.

# %% slideshow={"slide_type": "-"}
shifted = storyworld.load_split("test", variant="shifted")
print(shifted.stories[0].text)
train_words = set(train_corpus.text.split())
shifted_words = shifted.text.split()
unseen = sum(w not in train_words for w in shifted_words) / len(shifted_words)
same = sum(w not in train_words for w in test_corpus.text.split()) / len(test_corpus.text.split())
print(f"\nwords never seen in training: test split {same:.1%}, shifted test {unseen:.1%}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The simplest language model: count bigrams
#
# Let the tokens be characters. A **bigram** model predicts the next character from the current one only:
# count how often each pair $(a, b)$ appears and normalize each row,
#
# $$P(b \mid a) = \frac{\text{count}(a b) + k}{\text{count}(a) + k\,|V|},$$
#
# where a small $k$ keeps pairs that never appeared from getting probability zero (else one unseen pair would
# make the loss infinite). Its loss is the mean negative log-likelihood of each character given the one before,
# in nats per character: the same unit as the entropy floor.

# %% slideshow={"slide_type": "-"}
chars = sorted(set(train_corpus.text) | set(val_corpus.text) | set(shifted.text))
stoi = {c: i for i, c in enumerate(chars)}
V = len(chars)
train_ids = torch.tensor([stoi[c] for c in train_corpus.text])
val_ids = torch.tensor([stoi[c] for c in val_corpus.text])
print(f"{V} distinct characters; {len(train_ids):,} training characters")

k = 0.01
counts = torch.zeros(V, V)   # counts[a, b]: how often character b follows character a in the training text
counts.index_put_((train_ids[:-1], train_ids[1:]), torch.ones(len(train_ids) - 1), accumulate=True)
h_id, e_id = stoi["h"], stoi["e"]
print(f"'h' is followed by something {counts[h_id].sum():,.0f} times, by 'e' {counts[h_id, e_id]:,.0f} times")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 0.2 — build the bigram table
# Write `bigram_probabilities(counts, k)`: from the $(|V|, |V|)$ table of pair counts, return the $(|V|, |V|)$
# table whose row $a$ is the add-$k$ smoothed distribution $P(\cdot \mid a)$ of the formula above. The rest of
# the notebook uses your table: the loss, the samples, the heat-map and the explorer all come from it.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Row $a$ holds what followed $a$. Smoothing pretends every pair was seen $k$ more times; then
#    each row is turned into probabilities that sum to 1.
# 2. **The approach.** Add $k$ to every entry of the table, then divide each row by the sum of that same row.
#    The row sum is $\text{count}(a) + k|V|$, the denominator of the formula. A row of zeros (a character never
#    followed by anything) must come out uniform.
# 3. **A skeleton.**
#    ```python
#    smoothed = counts + ___
#    return smoothed / smoothed.sum(dim=___, keepdim=True)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def bigram_probabilities(counts, k):
    """(V, V) pair counts -> (V, V) table of P(b | a), add-k smoothed; row a sums to 1."""
    # BEGIN SOLUTION
    smoothed = counts + k                                 # every pair gets k pseudo-counts
    return smoothed / smoothed.sum(dim=1, keepdim=True)  # row a: divided by count(a) + k|V|
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def pair_counts(text, vocab):
    """counts[a, b]: how often character b follows character a in text."""
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text])
    return torch.zeros(len(vocab), len(vocab)).index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1),
                                                          accumulate=True)


def package_table(text, vocab, k):
    """The expected table: course_utils.ngram.NGramModel (n = 2) fitted on the same text."""
    model = NGramModel(n=2, vocab=vocab, k=k).fit(text)
    return torch.tensor([[model.prob(a, b) for b in model.vocab] for a in model.vocab])


random_text = "".join(np.random.default_rng(0).choice(list("abcde"), size=300))
table_cases = [("abab", "ab", 1.0), ("aab", "abc", 0.5), (random_text, "abcde", 0.01), (story.text, chars, k)]
if not check_function("0.2", bigram_probabilities,
                      [((pair_counts(text, vocab), k_), package_table(text, vocab, k_))
                       for text, vocab, k_ in table_cases],
                      hint="the cases are 1 'abab' with k = 1, where row 'a' is (0 + 1, 2 + 1) / 4; 2 'aab' over "
                           "'abc', where 'b' and 'c' are never followed by anything, so their rows are uniform; "
                           "3 random text; 4 the story of §1. Add k to every count, then divide each row by its "
                           "own sum (dim=1), not each column."):
    print("Using the course's version, course_utils.ngram.bigram_probabilities, from here on.")
    bigram_probabilities = ngram.bigram_probabilities

# %% slideshow={"slide_type": "-"}
bigram_probs = bigram_probabilities(counts, k)   # (V, V): row a is P(· | a), from your function
print(f"P(e | h) = {bigram_probs[h_id, e_id]:.3f}; every row sums to 1: "
      f"{torch.allclose(bigram_probs.sum(dim=1), torch.ones(V))}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 0.3 — cross-entropy and perplexity
# A model's loss on a text is its **cross-entropy**: the mean over positions of $-\log \hat y_{\text{true token}}$,
# in nats. A loss of $L$ nats means the model is, on average, as unsure as a fair choice among $e^{L}$ options:
# its **perplexity**. Write `cross_entropy(probs, targets)` returning both, as Python numbers
# `(loss, perplexity)`: `probs` is $(N, |V|)$, row $i$ the model's distribution for position $i$, and `targets`
# $(N,)$ holds the token that came at each position. The bigram's predictions for a text `ids` are
# `bigram_probs[ids[:-1]]` (the row of each current character) and its targets `ids[1:]`; every loss below is
# computed by your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Only the probability given to the token that actually came matters: the loss is its
#    negative log, averaged over positions, and the perplexity undoes the log of that average.
# 2. **The approach.** Pick `probs[i, targets[i]]` for every row $i$ at once (index with `torch.arange(N)` and
#    `targets`), take the natural log, average and negate; then exponentiate the mean, not each position.
# 3. **A skeleton.**
#    ```python
#    picked = probs[torch.arange(len(targets)), ___]   # (N,)
#    loss = -picked.___().mean().item()
#    return loss, math.___(loss)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def cross_entropy(probs, targets):
    """(N, V) predicted distributions, (N,) tokens that came -> (mean NLL in nats, perplexity)."""
    # BEGIN SOLUTION
    picked = probs[torch.arange(len(targets)), targets]   # (N,): the probability of what came
    loss = -picked.log().mean().item()
    return loss, math.exp(loss)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
case_generator = torch.Generator().manual_seed(0)
some_val = val_ids[:1001]
ce_cases = [
    (torch.full((5, V), 1 / V), torch.zeros(5, dtype=torch.long)),          # a uniform guess
    (torch.tensor([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05]]), torch.tensor([0, 1])),  # confident and right
    (torch.tensor([[0.98, 0.01, 0.01]]), torch.tensor([2])),                # one confident mistake
    (torch.rand(7, 5, generator=case_generator).softmax(dim=1), torch.randint(5, (7,), generator=case_generator)),
    (bigram_probs[some_val[:-1]], some_val[1:]),                            # the bigram on validation text
]
if not check_function("0.3", cross_entropy, [(case, ngram.cross_entropy(*case)) for case in ce_cases],
                      hint="the cases are 1 a uniform guess over |V| (loss log |V|, perplexity |V|); 2 a "
                           "confident, right model; 3 one confident mistake; 4 random predictions; 5 the bigram "
                           "on 1,000 validation characters. Use the natural log (nats), the mean over positions, "
                           "and e to the mean loss."):
    print("Using the course's version, course_utils.ngram.cross_entropy, from here on.")
    cross_entropy = ngram.cross_entropy

# %% slideshow={"slide_type": "-"}
def bigram_nll(probs, ids, chunk=100_000):
    """Mean -log P(ids[t+1] | ids[t]) in nats per character: the cross-entropy of the bigram's predictions,
    taken in chunks so that the (chunk, V) table of predicted rows stays small."""
    contexts, targets = ids[:-1], ids[1:]
    total = sum(cross_entropy(probs[contexts[i:i + chunk]], targets[i:i + chunk])[0] * len(targets[i:i + chunk])
                for i in range(0, len(targets), chunk))
    return total / len(targets)


val_loss, val_perplexity = cross_entropy(bigram_probs[val_ids[:-1]], val_ids[1:])
print(f"bigram  train loss {bigram_nll(bigram_probs, train_ids):.4f}   validation loss {val_loss:.4f}   "
      f"floor {FLOOR:.4f}  nats/char")
print(f"perplexity per character: bigram {val_perplexity:.2f}, perfect model {math.exp(FLOOR):.3f}, "
      f"uniform guess {V}")

# %% [markdown] slideshow={"slide_type": "-"}
# Perplexity is at least 1, reached only by a model that is certain and right. It has **no upper bound**: a
# uniform guess has perplexity exactly $|V|$ (52 here), and a model that is confidently wrong, putting a tiny
# probability on what actually comes, does worse than that without limit. What $|V|$ does cap is the
# perplexity of a model's *own* uncertainty, $e^{H}$ with $H$ the entropy of its predicted distribution: no
# distribution over $|V|$ tokens is more spread out than the uniform one. The bigram, about as unsure as a
# choice among 8 characters, beats the uniform guess by far; a perfect model would hesitate between about 1.1.

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** The course package has a general n-gram model (`course_utils.ngram.NGramModel`). For $n=2$ it must
# give the same probabilities as our table:

# %% slideshow={"slide_type": "-"}
reference = NGramModel(n=2, vocab=chars, k=k).fit(train_corpus.text[:200_000])
small_ids = train_ids[:200_000]
small_counts = torch.zeros(V, V).index_put_((small_ids[:-1], small_ids[1:]), torch.ones(len(small_ids) - 1),
                                            accumulate=True)
small_probs = bigram_probabilities(small_counts, k)
ours = torch.tensor([[small_probs[stoi[a], stoi[b]].item() for b in chars] for a in "Ls ."])
theirs = torch.tensor([[reference.prob(a, b) for b in chars] for a in "Ls ."])
diff = (ours - theirs).abs().max().item()
print(f"max |ours − NGramModel| = {diff:.1e}", "✓" if diff < 1e-6 else "✗")
assert diff < 1e-6

# %% slideshow={"slide_type": "-"}
shown = [c for c in chars if c.isalpha() and c.islower()] + [" ", ".", ","]
idx = [stoi[c] for c in shown]
fig, ax = plt.subplots(figsize=(7, 6.5))
ax.imshow(bigram_probs[idx][:, idx], cmap="Blues")
labels = [repr(c)[1:-1] if c != " " else "␣" for c in shown]
ax.set(xticks=range(len(shown)), xticklabels=labels, yticks=range(len(shown)), yticklabels=labels,
       xlabel="next character b", ylabel="current character a", title="Bigram model: P(b | a)")
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# Sampling from the bigram model shows what one character of context buys: plausible letter pairs, no words.

# %% slideshow={"slide_type": "-"}
def sample_bigram(probs, start=".", n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = [stoi[start]]
    for _ in range(n):
        out.append(torch.multinomial(probs[out[-1]], 1, generator=g).item())
    return "".join(chars[i] for i in out[1:])


print(sample_bigram(bigram_probs))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. More context, and the first sight of overfitting
#
# An $n$-gram model looks at the last $n-1$ characters. More context should help — up to a point. Below, each
# model is fitted on a small training set (20,000 characters) and scored on validation text. Watch the two
# curves part: the validation loss turns up after $n = 6$ while the training loss goes on falling. The bigger
# models start to **memorize** contexts they saw instead of learning patterns that **generalize**. A third
# column fits the same models with almost no smoothing ($k = 10^{-6}$), to show what the smoothing does.

# %% slideshow={"slide_type": "-"}
small_train = train_corpus.text[:20_000]
small_val = val_corpus.text[:20_000]
orders = [1, 2, 3, 4, 5, 6, 8, 10, 12]
results = []
for n in orders:
    model = NGramModel(n=n, vocab=chars, k=k).fit(small_train)
    unsmoothed = NGramModel(n=n, vocab=chars, k=1e-6).fit(small_train)
    context_counts = model.totals   # how often each context occurs in the training text
    seen_once = sum(context_counts[tuple(small_train[max(0, i - n + 1):i])] == 1
                    for i in range(len(small_train))) / len(small_train)
    results.append((n, model.nll(small_train), model.nll(small_val), unsmoothed.nll(small_train), seen_once))
print(f"{'':>5}{'train':>8}{'validation':>12}{'train, k=1e-6':>15}{'context seen once':>19}   (nats/char)")
for n, tr, va, tr_unsmoothed, once in results:
    print(f"n={n:>2}{tr:>8.3f}{va:>12.3f}{tr_unsmoothed:>15.3f}{once:>19.1%}")
best = min(results, key=lambda r: r[2])
print(f"best validation loss at n={best[0]}; beyond it the model memorizes")
print(f"a context seen once gives its next character (1 + k) / (1 + k|V|) = {(1 + k) / (1 + k * V):.2f} of the "
      f"probability: {-math.log((1 + k) / (1 + k * V)):.2f} nats")
train_loss = {n: tr for n, tr, *_ in results}
assert best[0] == 6, "validation loss is lowest at n = 6"
assert train_loss[12] > train_loss[10], "the smoothed training loss rises again at n = 12"
assert all(a[3] > b[3] for a, b in zip(results, results[1:])), "without smoothing the training loss keeps falling"

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(orders, [r[1] for r in results], "o-", label="train")
ax.plot(orders, [r[2] for r in results], "o-", label="validation")
ax.plot(orders, [r[3] for r in results], ".:", color="C0", label="train, k = 1e-6")
ax.axhline(FLOOR, color="k", ls="--", label=f"entropy floor {FLOOR:.3f}")
ax.set(xlabel="n (context = n − 1 characters)", ylabel="nats per character", yscale="log",
       title="n-gram models: more context helps, then overfits")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# At $n = 12$ the smoothed training loss rises too, from 0.238 to 0.248: the smoothing, not the data, is
# paying. With 11 characters of context, 13.5% of the training positions have a context that occurs only once,
# and add-$k$ smoothing spreads $k|V| = 0.52$ pseudo-counts over all 52 characters, so the character that
# really followed keeps only $(1+k)/(1+k|V|) = 0.66$ of the probability: 0.41 nats where an unsmoothed count
# would pay nothing. The longer the context, the more contexts are that rare, and the more training loss the
# smoothing costs. With $k = 10^{-6}$ the training loss falls at every $n$: that is memorization in its purest
# form, and exactly the model that would give an unseen validation context almost no probability. Smoothing
# buys safety on new text with a little training loss: training loss is not what we are trying to minimize.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. The same bigram, as a neural network trained by gradient descent
#
# Now the deep-learning way. The model is a table of **parameters** $W \in \mathbb{R}^{|V|\times|V|}$; the
# current character's one-hot vector $x$ picks a row, $\text{logits} = x W$, and a softmax turns logits into
# probabilities. Training repeats four steps:
#
# 1. **forward pass**: compute $P(\cdot \mid a)$ for a batch of characters;
# 2. **loss**: cross-entropy $-\log P(b \mid a)$ against the actual next characters $b$;
# 3. **backpropagation**: compute $\partial\,\text{loss} / \partial W$;
# 4. **update**: $W \leftarrow W - \eta\, \nabla_W \text{loss}$.
#
# Nobody tells the network about counting, yet gradient descent drives it to the count-based answer. The three
# ingredients of §3 are all here: the architecture is one table $W$ followed by a softmax, so $\hat y$ is a row
# of probabilities; the stochastic gradient method updates from random batches of 4,096 characters; and
# automatic differentiation is `loss.backward()`.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
W = torch.zeros(V, V, requires_grad=True)   # all-zero logits: every next character equally likely at first
x_all, y_all = train_ids[:-1], train_ids[1:]
generator = torch.Generator().manual_seed(0)
losses, learning_rate = [], 50.0   # large, because each row of W gets a small share of the gradient
start = time.perf_counter()
for step in range(1000):
    batch = torch.randint(len(x_all), (4096,), generator=generator)
    logits = F.one_hot(x_all[batch], V).float() @ W       # (B, V): one-hot × matrix = picking a row of W
    loss = F.cross_entropy(logits, y_all[batch])         # 2. loss
    W.grad = None
    loss.backward()                                      # 3. backpropagation
    with torch.no_grad():
        W -= learning_rate * W.grad                      # 4. update
    losses.append(loss.item())
neural_probs = W.detach().softmax(dim=1)
print(f"1000 steps in {time.perf_counter() - start:.1f}s; training loss {losses[0]:.3f} → "
      f"{np.mean(losses[-100:]):.3f} (mean of the last 100 batches)")
count_train = bigram_nll(bigram_probs, train_ids)
assert losses[0] > 3.9 and abs(np.mean(losses[-100:]) - count_train) < 0.05, \
    "from log |V| at the start, gradient descent brings the training loss down to the count bigram's"

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
neural_val = bigram_nll(neural_probs, val_ids)
count_val = bigram_nll(bigram_probs, val_ids)
print(f"validation loss: neural bigram {neural_val:.3f}, count bigram {count_val:.3f}, floor {FLOOR:.3f} nats/char")
print(f"largest difference between the two probability tables: "
      f"{(neural_probs - bigram_probs).abs().max():.3f} (rows of rare characters are still learning)")
assert abs(neural_val - count_val) < 0.03, "the neural bigram reaches the count bigram's validation loss"
assert (neural_probs - bigram_probs).abs().max() < 0.2, "the two probability tables nearly agree"
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(losses, label="neural bigram (training batches)")
ax.axhline(count_val, color="C1", ls=":", label="count bigram, validation")
ax.axhline(FLOOR, color="k", ls="--", label="entropy floor")
ax.axhline(math.log(V), color="gray", ls="-.", label="uniform guess: log |V|")
ax.set(xlabel="step", ylabel="nats per character", title="Gradient descent finds the counting answer")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# The bigram models sit far above the floor. The remaining gap is information a bigram cannot see: which
# character the story is about, what colour the ball was, whether the story turns happy. Closing that gap
# needs long context, which is what the rest of the course builds.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 0.4 — parameters and model size
# Model size is counted in **parameters**: every learned weight and bias. Our neural bigram has one weight per
# (current, next) pair. A word-level bigram over GPT-2's 50,257-token vocabulary would need how many? Store it in
# `gpt2_vocab_bigram_params`, and the number of parameters of our character bigram in `our_bigram_params`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** A bigram has one weight for every (current, next) pair of the vocabulary: a square table.
# 2. **The approach.** A $|V| \times |V|$ table has $|V|^2$ entries, with $|V| = 50{,}257$ for GPT-2's vocabulary.
#    `W.numel()` counts ours.
# 3. **A skeleton.**
#    ```python
#    our_bigram_params = W.___()
#    gpt2_vocab_bigram_params = ___
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
our_bigram_params = W.numel()
gpt2_vocab_bigram_params = 50_257 ** 2
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("0.4a", our_bigram_params, V * V, hint="W has V rows and V columns.")
check("0.4b", gpt2_vocab_bigram_params, 2_525_766_049, hint="50,257 squared.")
print(f"GPT-2 small has 124M parameters and looks at 1,024 tokens of context; a bigram table over its "
      f"vocabulary would have {2_525_766_049 / 1e9:.1f}B and look at one.")

# %% [markdown] slideshow={"slide_type": "-"}
# **What the parameters hold.** A model does not keep facts the way a database does: there is no entry for "the
# Eiffel Tower" that can be looked up, corrected or deleted. Its parameters hold **statistical regularities**
# of the training text, learned in pretraining from nothing but next-token prediction. Given "The Eiffel Tower
# is located in", a well-trained model puts most of its probability on " Paris" because that continuation was
# overwhelmingly common in what it read. Grammar, facts and patterns of reasoning are all picked up this way,
# as side effects of one objective. The same mechanism produces fluent continuations that are false when the
# text gave no clear pattern (notebook 06).
#
# **Bigger is not always better.** More parameters mean more capacity, but also more compute and more data to
# train, and more memory and time for every prediction. With too little data a large model memorizes: the
# n-gram models of §6 showed it in miniature. A smaller model trained on enough data can beat a larger one
# trained on too little: DeepMind's Chinchilla (70B parameters) outperformed their Gopher (280B) by spending
# the same compute on more training tokens. To choose, read the **model card** published with a model: its
# size, what data it was trained on, how it was evaluated and on what, its intended uses and its known
# limitations. The `record` that comes with the course GPT in §8 is a model card in miniature.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Loss is not the evaluation metric
#
# The loss is what training minimizes: smooth, differentiable, averaged over every character. What we *care*
# about is usually something else: is the generated story grammatical? Is the answer correct? storyworld can
# check grammaticality exactly — a text the grammar cannot write has probability zero.
#
# Here is a preview of where the course is going: a small GPT that the course trained on storyworld
# (`scripts/train_storyworld_gpt.py`, explained in notebook 05). We compare both models on the loss *and* on a
# metric: the fraction of sampled stories the grammar accepts, from 500 samples of each at temperature 1.
# (The GPT samples with `course_utils.generate`, notebook 06's sampler, which draws the same tokens as
# `gpt.generate` but reuses earlier work, so 500 stories take a few seconds.)

# %% slideshow={"slide_type": "-"}
from course_utils.generate import generate
from course_utils.model import load_storyworld_gpt

gpt, gpt_tokenizer, record = load_storyworld_gpt()
print(f"course GPT: {gpt.num_parameters():,} parameters, validation loss "
      f"{record['val_nats_per_char']:.3f} nats/char (floor {record['floor_nats_per_char']:.3f})")

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
N_SAMPLES = 500
newline_id = gpt_tokenizer.stoi["\n"]
samples = generate(gpt, torch.full((N_SAMPLES, 1), newline_id), max_new_tokens=120,
                   generator=torch.Generator().manual_seed(0), stop_token=newline_id)
gpt_stories = [gpt_tokenizer.decode(row[1:]).split("\n")[0] for row in samples]
bigram_stories = [sample_bigram(bigram_probs, seed=s, n=400).split("\n")[0] for s in range(N_SAMPLES)]
gpt_ok = sum(world.log_prob(s) > -math.inf for s in gpt_stories) / len(gpt_stories)
bigram_ok = sum(world.log_prob(s) > -math.inf for s in bigram_stories) / len(bigram_stories)
print(f"A GPT sample:\n{gpt_stories[0]}\n")
print(f"{'model':<15}{'val loss (nats/char)':>22}{'grammatical samples':>22}")
print(f"{'count bigram':<15}{count_val:>22.3f}{bigram_ok:>22.0%}")
print(f"{'course GPT':<15}{record['val_nats_per_char']:>22.3f}{gpt_ok:>22.0%}")
print(f"{'perfect model':<15}{FLOOR:>22.3f}{'100%':>22}")
standard_error = math.sqrt(gpt_ok * (1 - gpt_ok) / N_SAMPLES)
print(f"\n{N_SAMPLES} samples: the GPT's share is known to about ±{2 * standard_error:.0%} (two standard errors); "
      f"with 20 samples it would be ±{2 * math.sqrt(gpt_ok * (1 - gpt_ok) / 20):.0%}")
assert bigram_ok < 0.02, "the bigram (almost) never writes a grammatical story"
assert 0.5 < gpt_ok < 0.75, "only around 60% of the course GPT's samples at T = 1 are grammatical"
assert 0.18 < 2 * math.sqrt(gpt_ok * (1 - gpt_ok) / 20) < 0.23, "20 samples leave about ±20 points of doubt"

# %% [markdown] slideshow={"slide_type": "-"}
# The bigram's loss is twenty times the GPT's, and none of its samples is a story. The GPT's loss is about 12%
# above the floor, yet only around 60% of its samples are stories the grammar could write: the others
# slip somewhere, a girl named Tom, a rabbit that turns into a duck halfway, a friend whose name changes. A loss
# close to perfect does not mean outputs close to perfect.
#
# A share measured on samples is itself an estimate, and a noisy one when the samples are few: on 20 samples
# it could come out anywhere within about 20 points either side. Notebooks 06 and 09 sample the same model with
# the same sampler at $T = 1$ from a few dozen stories each, so their shares differ from this one by a few
# points of chance, not because the model changed.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Try it: the next-token explorer
# Three models side by side, each answering $P(\text{next token} \mid \text{context})$ for the text in the box:
#
# - **storyworld (perfect)**: the exact next-character distribution, computed from the grammar itself — the
#   model whose loss is the entropy floor;
# - **count bigram**: sees only the last character;
# - **course GPT**: predicts whole words (its tokens are words with their leading space), from up to 128 words
#   of context.
#
# Type a story opening, or press *add the most likely token* to let the perfect model write one greedily. Try
# `Once upon a time, there was a little girl named Lily. ` and compare how sure each model is of `She`.

# %% slideshow={"slide_type": "-"}
from course_utils.widgets.next_token import NextTokenExplorer


def perfect_predict(context):
    return list(world.next_char_distribution(context).items())


def bigram_predict(context):
    last = context[-1] if context else "\n"
    if last not in stoi:
        raise ValueError(f"{last!r} is not a storyworld character")
    top = bigram_probs[stoi[last]].topk(20)
    return [(chars[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]


def gpt_predict(context):
    # The GPT's tokens are words with their leading space, so a typed trailing space is the start of the next
    # word: predict from the text before it, keep the words that start with a space, and show them without it.
    started_word = context.endswith(" ")
    context = context[:-1] if started_word else context
    unknown = [w for w in gpt_tokenizer.split(context) if w not in gpt_tokenizer.stoi]
    if unknown:
        raise ValueError(f"unknown to this word-level model: {unknown[:3]} (finish the word, or check spelling)")
    ids = gpt_tokenizer.encode("\n" + context)[-gpt.config.block_size:]
    with torch.no_grad():
        probs = gpt(torch.tensor([ids]))[0][0, -1].softmax(dim=-1)
    words = gpt_tokenizer.itos
    if started_word:   # P(word | context, the word starts with a space)
        probs = probs * torch.tensor([w.startswith(" ") for w in words])
        probs = probs / probs.sum()
    top = probs.topk(20)
    return [(words[i][1:] if started_word else words[i], p)
            for p, i in zip(top.values.tolist(), top.indices.tolist()) if p > 0]


NextTokenExplorer({"storyworld (perfect)": perfect_predict, "count bigram": bigram_predict,
                   "course GPT": gpt_predict},
                  context="Once upon a time, there was a little girl named Lily.", k=6)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - A language model is $f_\theta(\text{tokens}_{1:t}) \rightarrow P(\text{token}_{t+1})$. One document of $n$
#   tokens gives $n-1$ training pairs; the next token is a free, implicit label.
# - Tokens become IDs, IDs become one-hot vectors; a bag of words loses order, so position must be encoded.
# - Train, validation and test splits separate fitting, choosing and reporting. Generalization is the goal;
#   the n-gram experiment showed overfitting as training and validation loss parting ways.
# - IID data comes from the same process as training; shifted data does not, and unseen words appear.
# - Between tables and free text sits semi-structured text (HTML, JSON, logs); most text has no labels, which is
#   why evaluation, not training, is the hard part.
# - You wrote the bigram table and its cross-entropy; every loss, sample and picture after them came from your
#   code. Perplexity $e^{L}$ is at least 1 and has no upper bound; a uniform guess has exactly $|V|$.
# - Add-$k$ smoothing keeps unseen text possible at the price of some training loss, which is why the smoothed
#   training loss rose again at $n = 12$: training loss is a means, not the goal.
# - A count bigram and a neural bigram trained by gradient descent reach the same loss. Both sit far above
#   storyworld's entropy floor: the gap is what longer context can still explain.
# - The course GPT is 12% above the floor, yet only around 60% of its samples are grammatical; such a share
#   needs hundreds of samples to be trusted.
# - Model size is its parameter count; the loss is a training signal, and evaluation uses task metrics.
#
# **Next:** [01 · Tokenization](01_tokenization.ipynb) — better tokens than single characters.

# %% slideshow={"slide_type": "-"}
summary()
