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
# # 03 · Attention from scratch
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/03_attention.ipynb) · or locally, as the README says
#
# An embedding gives each token one vector, whatever surrounds it: "she" gets the same vector in every
# story. To predict what comes next, a model needs vectors that carry context: *which* girl "she" is. Attention
# builds them. Each token compares itself with every other token, turns the similarities into weights that sum
# to 1, and takes the weighted mix of their vectors. That one operation, repeated in every layer of a GPT, is
# what lets information move between positions.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. compute attention by hand: dot-product similarities, softmax weights, context vectors; then with trainable
#    query, key and value matrices;
# 2. explain, with a measurement, why the scores are divided by $\sqrt{d_k}$;
# 3. build causal and padding masks, and say where dropout acts;
# 4. write multi-head attention with reshapes and transposes, and its multi-query and grouped-query variants,
#    and compute the key/value memory they save;
# 5. prove your attention equal to PyTorch's `scaled_dot_product_attention`, `nn.MultiheadAttention` and the
#    course GPT's own attention layer;
# 6. measure attention's $O(n^2)$ cost in time and memory;
# 7. find the head of a trained GPT that links pronouns to the names they refer to, scored against storyworld's
#    ground truth, and explore any text in an attention viewer;
# 8. write an LSTM step, prove `nn.LSTM` a loop of such steps, and measure an LSTM against a GPT of the same size:
#    time per training step, loss against the entropy floor, pronouns as the antecedent moves away;
# 9. restrict attention to a sliding window, prove it equal to full attention when the window covers the text,
#    compute it block by block in $O(T\,w)$ memory, and show how far a stack of windowed layers can see.
#
# **Time:** about 45 minutes to read and run; the whole notebook runs in about a minute on a laptop CPU, offline.

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
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import SVG, display

from course_utils import attention as course_attention
from course_utils import coreference, diagrams, storyworld
from course_utils.checks import check, check_function, check_true, summary
from course_utils.model import GPT, GPTConfig, load_storyworld_gpt
from course_utils.train import TrainConfig, evaluate_text, train
from course_utils.widgets.attention_viewer import AttentionData, AttentionViewer, ViewState, render_svg

torch.manual_seed(0)
torch.set_num_threads(2)  # the course's reference machine: a 2-core laptop
plt.rcParams["figure.dpi"] = 80

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why attention replaced recurrence
# Before 2017 the strongest neural language models and translators
# were **recurrent networks** (RNNs, LSTMs among them). An RNN reads the tokens one after another and carries
# one hidden state of fixed size, updated at every step: $h_t = f(h_{t-1}, x_t)$. That design has two costs.
# Step $t$ must wait for step $t-1$, so the positions of a sequence cannot be computed in parallel, not even
# in training, where every token is known in advance. And a fact from token 3 that matters at token 300 has
# to survive some 300 rewrites of the same small vector, so long-range dependencies are easily lost. Early
# neural translators (Sutskever et al.; Cho et al., 2014) had it worst: an RNN *encoder* squeezed the whole
# source sentence into a single "context" vector, and an RNN *decoder* wrote the translation from that
# vector alone.
#
# **Attention** entered translation with Bahdanau et al. (2014): for every word it writes, the decoder scores
# *all* the encoder's hidden states and takes their weighted mix, instead of one summary vector.
# "Attention Is All You Need" (Vaswani et al., 2017) then removed the recurrence (and the convolutions some
# models used) altogether. The resulting **Transformer** computes every position at once, and any two
# positions are a single step apart. Its encoder and decoder are stacks of attention blocks (notebook 04);
# in today's models neither is an RNN.
#
# | | recurrent network | Transformer (self-attention) |
# |---|---|---|
# | positions computed | one after another: $O(n)$ sequential steps | all at once: $O(1)$ sequential steps |
# | steps between two tokens $n$ apart | $O(n)$ | $1$ |
# | cost of one layer (length $n$, width $d$) | $O(n\,d^2)$ | $O(n^2 d)$ |
# | memory of the past | one fixed-size hidden state | the keys and values of every earlier token |
#
# The third row is the price: attention's work grows with the square of the length (cheaper than an RNN
# layer while $n < d$, dearer beyond), which section 7 measures. What it buys is training that uses all the
# parallel hardware, and so pretraining on huge corpora. A bonus came with it: one architecture serves
# generation, translation, summarization and classification, and a model pretrained once can be fine-tuned
# for each new task (notebook 07).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Attention is a weighted mix, weighted by similarity
#
# Take a five-token sentence and give each token a small hand-made embedding, one number per feature. (A
# real model learns hundreds of features; notebook 02 showed how.)

# %% slideshow={"slide_type": "-"}
tokens = ["Lily", "loved", "her", "red", "ball"]
features = ["person", "female", "thing", "action", "colour"]
X = torch.tensor([
    # person female thing action colour
    [1.0,    0.9,   0.0,  0.0,   0.0],   # Lily
    [0.2,    0.0,   0.2,  1.0,   0.0],   # loved
    [0.8,    1.0,   0.0,  0.0,   0.0],   # her
    [0.0,    0.0,   0.4,  0.0,   1.0],   # red
    [0.0,    0.0,   1.0,  0.1,   0.3],   # ball
])
print(f"X: {tuple(X.shape)} = (tokens, features)")

# %% [markdown] slideshow={"slide_type": "-"}
# Attention asks, for every token $i$: *how similar is each token $j$ to me?* The dot product
# $s_{ij} = x_i \cdot x_j$ is large when two vectors point the same way. A softmax over each row turns the
# scores into weights that are positive and sum to 1,
#
# $$a_{ij} = \frac{e^{s_{ij}}}{\sum_{j'} e^{s_{ij'}}},$$
#
# and the **context vector** of token $i$ is the weighted mix $z_i = \sum_j a_{ij}\, x_j$. For all tokens at
# once: $Z = \mathrm{softmax}(X X^\top)\, X$.

# %% slideshow={"slide_type": "-"}
scores = X @ X.T                    # (5, 5): scores[i, j] = x_i · x_j
weights = scores.softmax(dim=-1)    # (5, 5): each row sums to 1
context = weights @ X               # (5, 5): row i = Σ_j weights[i, j] · x_j

print("row sums:", weights.sum(dim=-1).round(decimals=4).tolist())
print("her attends to:", {t: round(w, 2) for t, w in zip(tokens, weights[2].tolist())})
print("context vector of 'her':", {f: round(v, 2) for f, v in zip(features, context[2].tolist())})
assert weights[2, 0] > weights[2, 2] > 0.3, "'her' looks at 'Lily' a little more than at itself"
assert all(weights[i].argmax() == i for i in (0, 1, 3, 4)), "every other token looks mostly at itself"

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
for ax, matrix, title in ((axes[0], scores, "scores  X Xᵀ"), (axes[1], weights, "weights  softmax(X Xᵀ)")):
    ax.imshow(matrix, cmap="Blues")
    for i in range(5):
        for j in range(5):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set(xticks=range(5), xticklabels=tokens, yticks=range(5), yticklabels=tokens, title=title,
           xlabel="key j (looked at)", ylabel="query i (looking)")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# "her" puts most of its weight on "Lily" (0.40) and on itself (0.37), so its context vector is mostly person
# and female: the pronoun has borrowed the meaning of the name. Two things are not yet right. The similarity is
# symmetric ($x_i \cdot x_j = x_j \cdot x_i$), so "Lily" must look at "her" exactly as hard as "her" looks at
# "Lily". And a token's score with itself, $x_i \cdot x_i = \lVert x_i \rVert^2$, beats every other score in
# its row unless another vector is both similar and longer ($x_i \cdot x_j \le \lVert x_i \rVert\,\lVert x_j
# \rVert$): "her" looks at "Lily" a little more than at itself only because Lily's vector is the longer one, and
# every other token looks mostly at itself. Both problems are fixed by the next section.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.1 — one context vector with a loop
# Compute the context vector of "ball" (row 4) without matrix products: for each token $j$ take the score
# $x_4 \cdot x_j$, turn the five scores into weights with a softmax you write yourself
# ($e^{s_j} / \sum e^{s_{j'}}$), and sum $w_j x_j$. Store the result (a tensor of 5 numbers) in
# `ball_context`.
#
# <details><summary>💡 Hint</summary>
#
# `s = [torch.dot(X[4], X[j]) for j in range(5)]`, then `e = [math.exp(v) for v in s]`, weights `e[j] / sum(e)`,
# and `sum(weights[j] * X[j] for j in range(5))`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
ball_scores = [torch.dot(X[4], X[j]).item() for j in range(5)]
exps = [math.exp(s) for s in ball_scores]
ball_weights = [e / sum(exps) for e in exps]
ball_context = sum(ball_weights[j] * X[j] for j in range(5))
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("3.1", ball_context, context[4], atol=1e-5,
      hint="Weights are exp(score) / sum of exp(scores), then sum weights[j] * X[j] over j.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Queries, keys and values
#
# The names come from databases. A **query** is what a token is looking for; each token also offers a
# **key**, a label to be matched against queries, and a **value**, the content it hands over when it matches.
# With three trainable matrices, each token's embedding plays all three roles through different projections:
#
# $$Q = X W_q,\qquad K = X W_k,\qquad V = X W_v,\qquad Z = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# Now "her" can ask for *a female person* ($q$) while "Lily" advertises *I am a female person* ($k$): the two
# roles differ, so attention can be asymmetric. Training (notebook 05) picks $W_q, W_k, W_v$ by gradient
# descent; here they are random, so the weights mean nothing yet. Section 8 looks at what training chose.

# %% slideshow={"slide_type": "-"}
d_in, d_k = X.shape[1], 3
generator = torch.Generator().manual_seed(0)
W_q, W_k, W_v = (nn.Parameter(torch.randn(d_in, d_k, generator=generator)) for _ in range(3))
Q, K, V = X @ W_q, X @ W_k, X @ W_v                          # (5, 3) each
qk_weights = (Q @ K.T / math.sqrt(d_k)).softmax(dim=-1)       # (5, 5)
Z = qk_weights @ V                                            # (5, 3): one context vector per token
print(f"Q, K, V: {tuple(Q.shape)}; context vectors Z: {tuple(Z.shape)}")
print(f"her → Lily {qk_weights[2, 0]:.3f}   but   Lily → her {qk_weights[0, 2]:.3f}  (no longer symmetric)")
print(f"trainable parameters: 3 × {d_in} × {d_k} = {sum(W.numel() for W in (W_q, W_k, W_v))}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Why divide by $\sqrt{d_k}$
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then
# $q \cdot k = \sum_{m=1}^{d_k} q_m k_m$ is a sum of $d_k$ terms of variance 1, so
# $\mathrm{Var}(q\cdot k) = d_k$. Real heads have $d_k = 64$ or $128$: scores with a standard deviation of 8
# or 11. A softmax of such large numbers puts nearly all weight on the largest one, and its gradient
# (which is $a_j(\delta_{jj'} - a_{j'})$) vanishes, so training stalls. Dividing by $\sqrt{d_k}$ brings the
# variance back to 1 whatever the head size. Let us measure both claims.

# %% slideshow={"slide_type": "-"}
generator = torch.Generator().manual_seed(0)
sizes = [4, 16, 64, 256, 1024]
T_keys = 16
rows = []
for d in sizes:
    q = torch.randn(2000, 1, d, generator=generator)
    k = torch.randn(2000, T_keys, d, generator=generator)
    raw = (q @ k.transpose(-2, -1)).squeeze(1)                         # (2000, 16) scores q·k
    scaled = raw / math.sqrt(d)
    rows.append((d, raw.var().item(), scaled.var().item(),
                 raw.softmax(-1).max(-1).values.mean().item(), scaled.softmax(-1).max(-1).values.mean().item()))
print(f"{'d_k':>5} {'Var(q·k)':>9} {'Var(q·k/√d)':>12} {'max weight raw':>15} {'max weight scaled':>18}")
for d, v_raw, v_scaled, m_raw, m_scaled in rows:
    print(f"{d:>5} {v_raw:>9.1f} {v_scaled:>12.2f} {m_raw:>15.2f} {m_scaled:>18.2f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].loglog(sizes, [r[1] for r in rows], "o-", label="q·k")
axes[0].loglog(sizes, [r[2] for r in rows], "o-", label="q·k / √d_k")
axes[0].loglog(sizes, sizes, "k:", label="d_k")
axes[0].set(xlabel="d_k", ylabel="variance of the score", title="Variance grows like d_k")
axes[0].legend()
axes[1].semilogx(sizes, [r[3] for r in rows], "o-", label="softmax(q·k)")
axes[1].semilogx(sizes, [r[4] for r in rows], "o-", label="softmax(q·k / √d_k)")
axes[1].axhline(1 / T_keys, color="gray", ls=":", label=f"uniform over {T_keys} keys")
axes[1].set(xlabel="d_k", ylabel="mean largest weight", ylim=(0, 1.05), title="Unscaled scores saturate the softmax")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# Unscaled, the variance tracks $d_k$ and by $d_k = 256$ the softmax is nearly one-hot: almost all weight on
# one key, almost no gradient to learn from. Scaled, the variance stays at 1 and the weights stay spread.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Masks, and dropout on the weights
#
# **Causal mask.** A language model predicts token $t+1$ from tokens $1..t$, and it trains on every position
# of a sequence at once (notebook 00). So position $i$ must not see positions $j > i$: the upper triangle of
# the score matrix is set to $-\infty$ *before* the softmax, which makes those weights exactly 0 and the
# remaining ones in each row still sum to 1.

# %% slideshow={"slide_type": "-"}
T = len(tokens)
mask = torch.ones(T, T, dtype=torch.bool).tril()             # True where query i may look at key j (j <= i)
causal_scores = scores.masked_fill(~mask, float("-inf"))
causal_weights = causal_scores.softmax(dim=-1)
print(mask.int())
print(causal_weights.round(decimals=2))
print("row sums:", causal_weights.sum(-1).round(decimals=4).tolist())

# %% [markdown] slideshow={"slide_type": "-"}
# **Padding mask.** Sequences in a batch have different lengths, so the short ones are padded to a common
# length. Padding tokens are not text: no query may attend to them. A padding mask hides those *keys*; it has
# shape $(B, 1, 1, T)$ so that it broadcasts over heads and queries, and it combines with the causal mask by a
# logical *and*.
#
# **Dropout** zeroes each weight with probability $p$ during training and scales the survivors by
# $1/(1-p)$, so each output is correct *on average*. It discourages a head from relying on one single key.
# At evaluation time it is off.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The computation in one picture
# One head on the five tokens above, with the sizes of the matrices of section 2: three projections of the
# same $X$, one score per (query, key) pair, the mask and a softmax per row, and the weighted sum of the values.
# The grid is the causal weight matrix: row $i$, a query, reads columns $1..i$, the keys at or before it; each
# row sums to 1. Exercise 3.2 writes the middle of the picture, from $Q$, $K$, $V$ to the output.

# %% slideshow={"slide_type": "-"}
diagrams.attention_flow(n_tokens=T, d_model=d_in, d_head=d_k)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.2 — attention with a mask
# Write the attention function that the rest of this notebook uses:
# `attention(q, k, v, mask=None, dropout_p=0.0)` returns `(output, weights)` with
#
# $$\text{weights} = \mathrm{softmax}\!\left(\frac{q k^\top}{\sqrt{d_k}}\ \text{with hidden scores set to } -\infty\right),
# \qquad \text{output} = \text{weights}\; v .$$
#
# Shapes: `q` is `(..., Tq, d_k)`, `k` is `(..., Tk, d_k)`, `v` is `(..., Tk, d_v)`, with any leading
# dimensions (batch, heads); the output is `(..., Tq, d_v)`, the weights `(..., Tq, Tk)`. `mask` is boolean,
# broadcastable to `(..., Tq, Tk)`, **True where a query may attend to a key** (PyTorch's convention). A query
# whose keys are all hidden gets weights 0 and output 0 (not NaN). With `dropout_p > 0`, apply `F.dropout` to
# the weights after the softmax. The check compares yours with the course's
# `course_utils.attention.scaled_dot_product_attention` on eight cases.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Scores are similarities of every query with every key, scaled so their variance stays 1.
#    A hidden key must get weight exactly 0 *and* the visible ones must still sum to 1, so the mask acts on
#    the scores, before the softmax.
# 2. **The approach.** `k.transpose(-2, -1)` swaps only the last two axes, so leading dimensions pass through.
#    `masked_fill(~mask, float("-inf"))` hides scores; the softmax runs over the keys (the last axis). A row of
#    only $-\infty$ gives NaN: `nan_to_num(0.0)` turns it into zeros.
# 3. **A skeleton.**
#    ```python
#    scores = q @ ___ / math.sqrt(___)                        # (..., Tq, Tk)
#    if mask is not None:
#        scores = scores.masked_fill(___, float("-inf"))
#    weights = scores.softmax(dim=___).nan_to_num(0.0)
#    if dropout_p > 0:
#        weights = F.dropout(weights, p=dropout_p)
#    return ___, weights
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def attention(q, k, v, mask=None, dropout_p=0.0):
    """softmax(q kᵀ / √d_k) v.  q: (..., Tq, d_k), k: (..., Tk, d_k), v: (..., Tk, d_v) → (..., Tq, d_v).
    mask: bool, broadcastable to (..., Tq, Tk), True where a query may attend to a key."""
    # BEGIN SOLUTION
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))       # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1).nan_to_num(0.0)               # a query that sees nothing gets weight 0
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)                  # training only
    return weights @ v, weights                                    # (..., Tq, d_v), (..., Tq, Tk)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def course_attention_function(q, k, v, mask=None, dropout_p=0.0):
    """The course's scaled_dot_product_attention, called as this notebook's attention is."""
    return course_attention.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p,
                                                         return_weights=True)


attention_generator = torch.Generator().manual_seed(32)


def random_qkv(*shape_q, T_k=None, d_v=None):
    """Random queries (shape_q = (..., Tq, d_k)) with keys and values for T_k keys of value size d_v."""
    *lead, T_q, d_k = shape_q
    T_k, d_v = T_k or T_q, d_v or d_k
    return tuple(torch.randn(*lead, T, d, generator=attention_generator) for T, d in ((T_q, d_k), (T_k, d_k), (T_k, d_v)))


row_hidden = torch.ones(4, 4, dtype=torch.bool).tril()
row_hidden[2] = False                                             # query 2 may look at no key at all
attention_cases = {  # what each case tests: (q, k, v, mask, dropout_p)
    "one query, 5 keys, no mask": (*random_qkv(1, 4, T_k=5), None, 0.0),
    "the 5 words, causal mask": (X, X, X, mask, 0.0),
    "2 sequences × 4 heads, causal, d_k = 64": (*random_qkv(2, 4, 7, 64), course_attention.causal_mask(7), 0.0),
    "3 queries, 6 keys, values of size 2, no mask": (*random_qkv(3, 5, T_k=6, d_v=2), None, 0.0),
    "padding mask (B, 1, 1, T) and causal, 2 sequences × 2 heads": (
        *random_qkv(2, 2, 5, 8), course_attention.padding_mask([5, 2], 5) & course_attention.causal_mask(5), 0.0),
    "a query that may see no key: weights 0, output 0": (*random_qkv(4, 3), row_hidden, 0.0),
    "dropout 0.5 on the weights (seeded)": (*random_qkv(2, 6, 4), course_attention.causal_mask(6), 0.5),
    "one token attends to itself": (*random_qkv(1, 1, 1, 8), course_attention.causal_mask(1), 0.0),
}


def attention_on(attention_function, case):
    q, k, v, case_mask, dropout_p = attention_cases[case]
    torch.manual_seed(3)                                          # the same dropout draw for yours and the course's
    return attention_function(q, k, v, case_mask, dropout_p)


if not check_function("3.2", lambda case: attention_on(attention, case),
                      [((case,), attention_on(course_attention_function, case)) for case in attention_cases],
                      hint="each case is named by what it tests. Scale by √d_k, hide scores with masked_fill(~mask, "
                           "-inf) before a softmax over the last axis, nan_to_num(0.0), dropout on the weights, "
                           "and return (weights @ v, weights)."):
    print("Using the course's attention, course_utils.attention.scaled_dot_product_attention, from here on.")
    attention = course_attention_function

# %% [markdown] slideshow={"slide_type": "-"}
# Your attention on a padded batch, with the causal and padding masks combined:

# %% slideshow={"slide_type": "-"}

lengths = torch.tensor([5, 3])                                      # "Lily loved her red ball", "Lily loved her"
batch = torch.stack([X, torch.cat([X[:3], torch.zeros(2, 5)])])     # (2, 5, 5), the second padded with zeros
padding = (torch.arange(T) < lengths[:, None])[:, None, :]          # (B, 1, T): which keys are real
_, padded_weights = attention(batch, batch, batch, mask=padding & mask)
print("sentence 2, weights with causal & padding masks:")
print(padded_weights[1].round(decimals=2))

# %% [markdown] slideshow={"slide_type": "-"}
# Rows 3 and 4 of sentence 2 are padding queries: their outputs are ignored later (the loss skips them), so
# whatever they attend to does not matter. The real tokens never look at padding.
#
# Dropout, one draw and the average of many:

# %% slideshow={"slide_type": "-"}
torch.manual_seed(0)
_, undropped = attention(X, X, X, mask=mask)
_, dropped = attention(X, X, X, mask=mask, dropout_p=0.5)
print(dropped.round(decimals=2))
print("row sums of this draw:", [round(v, 2) for v in dropped.sum(-1).tolist()])
average = torch.stack([attention(X, X, X, mask=mask, dropout_p=0.5)[1] for _ in range(4000)]).mean(0)
print(f"averaged over 4000 draws, the weights differ from the undropped ones by at most "
      f"{(average - undropped).abs().max():.2f}")

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** Your function against PyTorch's fused kernel, which takes the same boolean convention (True =
# may attend):

# %% slideshow={"slide_type": "-"}
q, k, v = torch.randn(3, 2, 4, 7, 16).unbind(0)                       # (B=2, heads=4, T=7, d=16)
ours, _ = attention(q, k, v, mask=torch.ones(7, 7, dtype=torch.bool).tril())
theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
diff = (ours - theirs).abs().max().item()
print(f"max |ours − F.scaled_dot_product_attention| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
assert diff < 1e-5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Multi-head attention, and heads that share keys
#
# One head computes one pattern of weights. **Multi-head attention** runs $h$ heads side by side, each on its
# own slice of the channels (head size $d_k = C/h$), so that different heads can track different relations:
# one the previous token, one the subject of the sentence, one the name a pronoun refers to. Their outputs are
# concatenated and mixed by one more matrix $W_o$:
#
# $$\mathrm{MHA}(X) = \big[\,\mathrm{head}_1;\ \dots;\ \mathrm{head}_h\,\big]\, W_o,\qquad
# \mathrm{head}_m = \mathrm{softmax}\!\left(\frac{Q_m K_m^\top}{\sqrt{d_k}}\right) V_m .$$
#
# No loop over heads is needed: project once to $C$ channels, then *reshape* the channels into
# (heads, head size) and move the head axis next to the batch axis, so one batched matrix product serves all
# heads. Watch the shapes:

# %% slideshow={"slide_type": "-"}
B, T, C, n_heads = 2, 5, 8, 2
x = torch.randn(B, T, C)
q_proj = nn.Linear(C, C)
q = q_proj(x)
print(f"x                                {tuple(x.shape)}   (B, T, C)")
print(f"q = x W_q                        {tuple(q.shape)}   (B, T, C)")
q = q.view(B, T, n_heads, C // n_heads)
print(f".view(B, T, nh, hs)              {tuple(q.shape)}   channels split into heads")
q = q.transpose(1, 2)
print(f".transpose(1, 2)                 {tuple(q.shape)}   (B, nh, T, hs): heads act like a batch")
print(f"q @ kᵀ                           {tuple((q @ q.transpose(-2, -1)).shape)}   (B, nh, T, T): one matrix per head")
y = (q @ q.transpose(-2, -1)).softmax(-1) @ q
print(f"weights @ v                      {tuple(y.shape)}   (B, nh, T, hs)")
print(f".transpose(1, 2).reshape(B, T, C) {tuple(y.transpose(1, 2).reshape(B, T, C).shape)}   heads side by side again")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.3 — split into heads
# Write `split_heads(x, n_heads)` that turns a `(B, T, C)` tensor into `(B, n_heads, T, C // n_heads)`, head
# $m$ holding channels $m \cdot hs$ to $(m+1) \cdot hs - 1$.
#
# <details><summary>💡 Hint</summary>
#
# `x.view(B, T, n_heads, C // n_heads)` splits the last axis; `.transpose(1, 2)` swaps time and heads.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def split_heads(x, n_heads):
    # BEGIN SOLUTION
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
sample = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
check_function("3.3", split_heads, [
    ((sample, 2), torch.stack([sample[..., :4], sample[..., 4:]], dim=1)),
    ((sample, 4), torch.stack([sample[..., 2 * m:2 * m + 2] for m in range(4)], dim=1)),
    ((sample, 1), sample[:, None]),
], hint="view(B, T, n_heads, C // n_heads), then transpose(1, 2).")

# %% [markdown] slideshow={"slide_type": "-"}
# **Multi-query and grouped-query attention.** When a model generates text it caches the keys and values of
# every earlier token, so that each new token computes only its own (the KV cache, notebook 06). That cache,
# not the weights, is what fills a GPU's memory on long texts. **Multi-query attention** (MQA) keeps $h$ query
# heads but only *one* key/value head, shared by all of them; **grouped-query attention** (GQA) keeps $g$
# key/value heads, each shared by a group of $h/g$ query heads. MHA is $g = h$, MQA is $g = 1$. The
# implementation only changes the width of $W_k, W_v$ and repeats each key/value head for its group.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.4 — multi-head attention's forward pass
# `MultiHeadAttention` below has its four projections: `q_proj` to `n_heads` heads of size `head_size`,
# `k_proj` and `v_proj` to `n_kv_heads` heads (MHA, GQA or MQA), and `out_proj`. Write
# `forward(x, attn_mask=None, is_causal=False)`: `x` is `(B, T, C)`, the result `(B, T, C)`. Each key/value
# head serves `n_heads // n_kv_heads` *consecutive* query heads; `attn_mask` (boolean, True = may attend,
# broadcastable to `(B, n_heads, T, T)`) and, with `is_causal`, the causal mask both apply. Use your
# `attention` from Exercise 3.2, with dropout `self.dropout` only while `self.training`. The check gives yours
# the weights of the course's `course_utils.attention.MultiHeadAttention` and compares the two on seven cases;
# the proofs, the timings and the layers later in this notebook then use yours.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Project once, cut the channels into heads, let every head attend in one batched call,
#    put the heads side by side again and mix them with $W_o$. Grouped heads only need each key/value head
#    copied once per query head it serves.
# 2. **The approach.** `view(B, T, heads, head_size).transpose(1, 2)` as in Exercise 3.3, for queries with
#    `n_heads` and for keys and values with `n_kv_heads`; `repeat_interleave(n_heads // n_kv_heads, dim=1)`
#    repeats each key/value head next to itself (`repeat` would interleave the groups wrongly). Combine masks
#    with `&`. Merging is the reverse reshape: `transpose(1, 2).reshape(B, T, C)`.
# 3. **A skeleton.**
#    ```python
#    B, T, C = x.shape
#    q = self.q_proj(x).view(B, T, ___, ___).transpose(1, 2)           # (B, nh, T, hs)
#    k = ...                                                            # (B, nkv, T, hs), then repeated
#    mask = attn_mask
#    if is_causal:
#        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
#        mask = causal if mask is None else ___
#    y, _ = attention(q, k, v, mask, self.dropout if self.training else 0.0)
#    return self.out_proj(___)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, n_kv_heads=None, dropout=0.0):
        super().__init__()
        self.n_heads = n_heads
        self.n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads   # h: MHA, 1: MQA, between: GQA
        self.head_size = d_model // n_heads
        self.q_proj = nn.Linear(d_model, n_heads * self.head_size)
        self.k_proj = nn.Linear(d_model, self.n_kv_heads * self.head_size)
        self.v_proj = nn.Linear(d_model, self.n_kv_heads * self.head_size)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x, attn_mask=None, is_causal=False):
        # BEGIN SOLUTION
        B, T, C = x.shape
        nh, nkv, hs = self.n_heads, self.n_kv_heads, self.head_size
        q = self.q_proj(x).view(B, T, nh, hs).transpose(1, 2)            # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, nkv, hs).transpose(1, 2)           # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, nkv, hs).transpose(1, 2)           # (B, nkv, T, hs)
        k = k.repeat_interleave(nh // nkv, dim=1)                        # (B, nh, T, hs): one copy per query head
        v = v.repeat_interleave(nh // nkv, dim=1)                        # (B, nh, T, hs)
        mask = attn_mask
        if is_causal:
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            mask = causal if mask is None else mask & causal
        y, _ = attention(q, k, v, mask, self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)                           # (B, T, C): concatenate the heads
        return self.out_proj(y)                                          # mix them
        # END SOLUTION


# %% slideshow={"slide_type": "-"}
mha_generator = torch.Generator().manual_seed(34)
mha_cases = {  # what each case tests: ((d_model, n_heads, n_kv_heads), x, attn_mask, is_causal)
    "MHA, 4 heads, causal, 2 sequences of 6 tokens": ((16, 4, 4), torch.randn(2, 6, 16, generator=mha_generator),
                                                      None, True),
    "MHA, 4 heads, no mask": ((16, 4, 4), torch.randn(2, 6, 16, generator=mha_generator), None, False),
    "one head": ((8, 1, 1), torch.randn(1, 5, 8, generator=mha_generator), None, True),
    "GQA: 4 query heads share 2 key/value heads": ((16, 4, 2), torch.randn(2, 6, 16, generator=mha_generator),
                                                   None, True),
    "MQA: 4 query heads share 1 key/value head": ((16, 4, 1), torch.randn(1, 7, 16, generator=mha_generator),
                                                  None, True),
    "a padding mask (B, 1, 1, T) and causal": ((16, 2, 2), torch.randn(2, 5, 16, generator=mha_generator),
                                               course_attention.padding_mask([5, 3], 5), True),
    "one token, 8 heads sharing 2": ((32, 8, 2), torch.randn(3, 1, 32, generator=mha_generator), None, True),
}


def mha_output(attention_class, case):
    """attention_class(d_model, n_heads, n_kv_heads) with the weights of the course's layer, seeded, on `case`."""
    sizes, x, case_mask, is_causal = mha_cases[case]
    torch.manual_seed(0)
    course_layer = course_attention.MultiHeadAttention(*sizes)   # random weights and biases
    layer = attention_class(*sizes).eval()
    layer.load_state_dict(course_layer.state_dict())             # same names: q_proj, k_proj, v_proj, out_proj
    with torch.no_grad():
        return layer(x, attn_mask=case_mask, is_causal=is_causal)


if not check_function("3.4", lambda case: mha_output(MultiHeadAttention, case),
                      [((case,), mha_output(course_attention.MultiHeadAttention, case)) for case in mha_cases],
                      hint="each case is named by what it tests. Split q into n_heads heads and k, v into "
                           "n_kv_heads, repeat_interleave k and v over the group, combine attn_mask & causal, "
                           "then merge the heads with transpose(1, 2).reshape(B, T, C) and apply out_proj."):
    print("Using the course's MultiHeadAttention, course_utils.attention.MultiHeadAttention, from here on.")
    MultiHeadAttention = course_attention.MultiHeadAttention

# %% [markdown] slideshow={"slide_type": "-"}
# Your layer in its three forms, with the parameters each spends on keys and values:

# %% slideshow={"slide_type": "-"}
x = torch.randn(2, 10, 256)
for name, n_kv in (("MHA", 8), ("GQA", 2), ("MQA", 1)):
    layer = MultiHeadAttention(256, 8, n_kv)
    kv_parameters = sum(p.numel() for p in (*layer.k_proj.parameters(), *layer.v_proj.parameters()))
    print(f"{name}: 8 query heads, {n_kv} KV head(s): output {tuple(layer(x, is_causal=True).shape)}, "
          f"W_k and W_v hold {kv_parameters:,} parameters")
print()
for name, n_kv in (("MHA", 32), ("GQA", 8), ("MQA", 1)):  # a 7B-parameter model: 32 layers, 32 heads of size 128
    kv = course_attention.kv_cache_bytes(n_layers=32, n_kv_heads=n_kv, head_size=128, seq_len=4096)
    print(f"7B-size model, {name} with {n_kv:>2} KV heads: KV cache for 4,096 tokens in float16 = {kv / 2**30:.3f} GiB")

# %% [markdown] slideshow={"slide_type": "-"}
# With 8 key/value heads instead of 32 the cache is 4× smaller, with one it is 32× smaller; quality drops a
# little with MQA, hardly with GQA. That is why Llama 2's largest models (34B and 70B; its 7B and 13B keep plain
# multi-head attention), all of Llama 3 and Mistral 7B use GQA. The formula is
#
# $$\text{KV bytes} = 2 \times \text{layers} \times \text{KV heads} \times \text{head size} \times
# \text{tokens} \times \text{batch} \times \text{bytes per number}.$$

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.5 — size a KV cache
# A Mistral-7B-like model has 32 layers, 8 key/value heads of size 128 and a context of 32,768 tokens. How many
# bytes does its KV cache take for one sequence in bfloat16 (2 bytes per number)? Store it in
# `mistral_kv_bytes`, and the same for the course GPT (4 layers, 4 heads of size 32, 128 tokens, float32) in
# `course_gpt_kv_bytes`.
#
# <details><summary>💡 Hint</summary>
#
# Multiply: 2 (keys and values) × layers × KV heads × head size × tokens × bytes per number.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
mistral_kv_bytes = 2 * 32 * 8 * 128 * 32_768 * 2
course_gpt_kv_bytes = 2 * 4 * 4 * 32 * 128 * 4
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("3.5a", mistral_kv_bytes, 4 * 2**30, hint="2 × 32 × 8 × 128 × 32,768 × 2 bytes: exactly 4 GiB.")
check("3.5b", course_gpt_kv_bytes, course_attention.kv_cache_bytes(4, 4, 32, 128, bytes_per_value=4),
      hint="float32 numbers take 4 bytes; the course GPT has no grouped heads: 4 KV heads.")
print(f"Mistral-like: {course_attention.kv_cache_bytes(32, 8, 128, 32_768) / 2**30:.0f} GiB per sequence; "
      f"course GPT: {course_attention.kv_cache_bytes(4, 4, 32, 128, bytes_per_value=4) / 1024:.0f} KiB")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Proof: equal to PyTorch, and to the course GPT
#
# Four references, several shapes, with and without the causal mask:
#
# * `F.scaled_dot_product_attention`, PyTorch's fused kernel (with `enable_gqa=True` for grouped heads);
# * `nn.MultiheadAttention`, with its weights copied into ours. It stores $W_q, W_k, W_v$ stacked in one
#   `in_proj_weight`, and its boolean masks mean the opposite of ours: True = *hidden*;
# * `course_utils.attention.MultiHeadAttention`, the package's finished version, which later notebooks import;
# * the `CausalSelfAttention` layer inside the course GPT (`course_utils.model`), whose fused `c_attn` holds
#   $W_q, W_k, W_v$ stacked the other way.

# %% slideshow={"slide_type": "-"}
def copy_from_torch(ours, mha):
    with torch.no_grad():
        for proj, w, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), mha.in_proj_weight.chunk(3),
                              mha.in_proj_bias.chunk(3)):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        ours.out_proj.load_state_dict(mha.out_proj.state_dict())
    return ours


torch.manual_seed(0)
results = []
for B, T, C, nh in ((1, 1, 8, 1), (2, 7, 16, 4), (3, 33, 64, 8), (2, 128, 128, 4)):
    x = torch.randn(B, T, C)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for is_causal in (False, True):
        with torch.no_grad():
            # 1. the attention function against the fused kernel
            q, k, v = torch.randn(3, B, nh, T, C // nh).unbind(0)
            ours, _ = attention(q, k, v, causal if is_causal else None)
            theirs = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
            results.append(("attention vs F.sdpa", (B, T, C, nh), is_causal, (ours - theirs).abs().max().item()))
            # 2. grouped-query attention against the fused kernel's GQA mode
            g = max(nh // 2, 1)
            gqa = MultiHeadAttention(C, nh, g).eval()
            q = gqa.q_proj(x).view(B, T, nh, -1).transpose(1, 2)
            k = gqa.k_proj(x).view(B, T, g, -1).transpose(1, 2)
            v = gqa.v_proj(x).view(B, T, g, -1).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
            theirs = gqa.out_proj(y.transpose(1, 2).reshape(B, T, C))
            results.append((f"GQA ({nh}q/{g}kv) vs F.sdpa", (B, T, C, nh), is_causal,
                            (gqa(x, is_causal=is_causal) - theirs).abs().max().item()))
            # 3. multi-head attention against nn.MultiheadAttention (True = hidden in its masks)
            mha = nn.MultiheadAttention(C, nh, batch_first=True).eval()
            ours_mha = copy_from_torch(MultiHeadAttention(C, nh), mha).eval()
            theirs, _ = mha(x, x, x, attn_mask=~causal if is_causal else None, need_weights=False)
            results.append(("MHA vs nn.MultiheadAttention", (B, T, C, nh), is_causal,
                            (ours_mha(x, is_causal=is_causal) - theirs).abs().max().item()))
            # 4. ... and against the package's finished version
            package = course_attention.MultiHeadAttention(C, nh).eval()
            package.load_state_dict(ours_mha.state_dict())
            results.append(("MHA vs course_utils.attention", (B, T, C, nh), is_causal,
                            (ours_mha(x, is_causal=is_causal) - package(x, is_causal=is_causal)).abs().max().item()))

# 5. the course GPT's own attention layer, with its trained weights
gpt, tokenizer, record = load_storyworld_gpt()
gpt_attention = gpt.transformer.h[0].attn
C, nh = gpt.config.n_embd, gpt.config.n_head
ours_gpt = MultiHeadAttention(C, nh).eval()
with torch.no_grad():
    for proj, w, b in zip((ours_gpt.q_proj, ours_gpt.k_proj, ours_gpt.v_proj),
                          gpt_attention.c_attn.weight.chunk(3), gpt_attention.c_attn.bias.chunk(3)):
        proj.weight.copy_(w)
        proj.bias.copy_(b)
    ours_gpt.out_proj.load_state_dict(gpt_attention.c_proj.state_dict())
    x = torch.randn(2, 100, C)
    results.append(("MHA vs course GPT layer 0", (2, 100, C, nh), True,
                    (ours_gpt(x, is_causal=True) - gpt_attention(x)).abs().max().item()))

print(f"{'check':<32}{'(B, T, C, heads)':<20}{'causal':<8}{'max |diff|':>11}")
for name, shape, is_causal, diff in results:
    print(f"{name:<32}{str(shape):<20}{str(is_causal):<8}{'< 1e-6' if diff < 1e-6 else f'{diff:.1e}':>11}")
worst = max(r[3] for r in results)
print(f"\nlargest difference over {len(results)} comparisons: {'< 1e-6' if worst < 1e-6 else f'{worst:.1e}'} ✓")
assert worst <= 1e-5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. The cost: quadratic in the length
#
# Every query meets every key: for $T$ tokens that is a $T \times T$ matrix of scores per head, so time grows
# like $T^2$. Written out as above, the scores, the masked scores and the weights are all stored, so memory
# grows like $T^2$ too. PyTorch's fused kernel computes the same numbers block by block without ever storing
# the whole matrix (the idea of FlashAttention): still $O(T^2)$ time, but $O(T)$ memory. We measure both, for
# one sequence with 4 heads of size 32, on one thread. (The timings vary from run to run; the memory counts do
# not.)

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def best_time(fn, repeats=5):
    """Least CPU time of this thread over a few runs: unlike wall-clock time, it does not count the moments
    when other programs had the processor."""
    fn()                                                            # warm-up
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times)


lengths = [256, 512, 1024, 2048]
cost = {"written out": [], "fused F.sdpa": []}
torch.set_num_threads(1)  # one thread, so that this thread's CPU time is all the work
for T in lengths:
    q, k, v = torch.randn(3, 1, 4, T, 32).unbind(0)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    runs = {"written out": lambda: attention(q, k, v, causal),
            "fused F.sdpa": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)}
    for name, fn in runs.items():
        cost[name].append((best_time(fn), course_attention.allocated_bytes(fn)))
torch.set_num_threads(2)
print(f"{'T':>6}" + "".join(f"{name + ' ms':>18}{name + ' MB':>18}" for name in cost))
for n, T in enumerate(lengths):
    print(f"{T:>6}" + "".join(f"{cost[name][n][0] * 1e3:>18.1f}{cost[name][n][1] / 2**20:>18.1f}" for name in cost))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for name, values in cost.items():
    axes[0].loglog(lengths, [t for t, _ in values], "o-", label=name)
    axes[1].loglog(lengths, [m / 2**20 for _, m in values], "o-", label=name)
reference = np.array(lengths, dtype=float) / lengths[-1]
axes[0].loglog(lengths, cost["written out"][-1][0] * reference**2, "k:", label="∝ T²")
axes[1].loglog(lengths, cost["written out"][-1][1] / 2**20 * reference**2, "k:", label="∝ T²")
axes[1].loglog(lengths, cost["fused F.sdpa"][-1][1] / 2**20 * reference, "k--", label="∝ T")
axes[0].set(xlabel="sequence length T", ylabel="CPU seconds (best of 5)", title="Time")
axes[1].set(xlabel="sequence length T", ylabel="MB allocated", title="Memory")
for ax in axes:
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.minorticks_off()
    ax.legend()
fig.tight_layout()
plt.show()
for name, values in cost.items():
    ratios = [later[0] / earlier[0] for earlier, later in zip(values, values[1:])]
    print(f"{name}: each doubling of T multiplies the time by " + ", ".join(f"×{r:.1f}" for r in ratios)
          + "  (×4 is quadratic)")
growth = {name: values[-1][0] / values[1][0] for name, values in cost.items()}   # T = 512 → 2048
print("T ×4 (512 → 2048): time " + ", ".join(f"{name} ×{g:.0f}" for name, g in growth.items())
      + "  (×16 is quadratic, ×4 linear)")
assert growth["written out"] > 10, "the written-out version's time grows like T² or faster"
assert growth["fused F.sdpa"] > 6, "the fused kernel's time grows clearly faster than the length"

# %% slideshow={"slide_type": "-"}
memory_ratio = cost["written out"][-1][1] / cost["written out"][-2][1]
fused_ratio = cost["fused F.sdpa"][-1][1] / cost["written out"][-1][1]
print(f"memory of the written-out version: ×{memory_ratio:.1f} per doubling of T")
print(f"at T = {lengths[-1]}, the fused kernel allocates {'under 1%' if fused_ratio < 0.01 else f'{fused_ratio:.0%}'} "
      f"of the written-out memory")
assert 3.5 < memory_ratio < 4.5 and fused_ratio < 0.01, "written-out memory grows like T², the fused kernel's not"

# %% [markdown] slideshow={"slide_type": "-"}
# The fused kernel's time grows by about ×3 a doubling here: clearly faster than linear, though below the ×4 of
# pure $T^2$ arithmetic, since at these short lengths costs that grow only like $T$ still weigh in.
#
# At $T = 2048$ each score matrix takes 64 MB. The operating system hands out blocks that large as fresh pages,
# and the first write to each page costs time, so the written-out version can grow even faster than $T^2$ there:
# one more price of storing the whole matrix, and one the fused kernel does not pay.
#
# That quadratic term is why attention is the most expensive part of a transformer on long texts, why context
# windows were long stuck at a few thousand tokens, and why so much work goes into fused kernels, KV caches and
# grouped key/value heads.
#
# It is the price of the trade in the opening table. A recurrent layer's work grows only like $T$, but its $T$
# steps must run one after another, and a fact from the first token must survive $T-1$ updates of the hidden
# state to reach the last. Attention does $T^2$ work, but none of it waits for the rest, so it spreads over
# parallel hardware, and the first token is one step away from the last.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. What heads learn: a pronoun head
#
# The course GPT (4 layers × 4 heads, trained by `scripts/train_storyworld_gpt.py` on storyworld) has to predict
# "she" or "he" and then keep track of who that is. storyworld knows, for every pronoun, which earlier word it
# refers to. So we can score every head: for each pronoun in the validation stories, does the pronoun's
# **highest attention to an earlier token** land exactly on its antecedent?
#
# `course_utils.coreference` maps storyworld's character spans onto token positions and does the scoring.
# Two baselines keep the numbers honest: a head attending to a *random* earlier token, and the rule "pick the
# most recent name", which is strong here because storyworld only writes "she" or "he" when one character of
# that gender is in the story.

# %% slideshow={"slide_type": "-"}
validation = storyworld.load_split("validation")
encoded = coreference.encode_stories(validation.stories, tokenizer)
link = encoded.links[0]
pieces = encoded.pieces[link.story]
print(f"{len(encoded.links):,} pronouns in {len(validation.stories)} stories; the first: "
      f"{pieces[link.pronoun_pos]!r} at token {link.pronoun_pos} → {pieces[link.antecedent_pos]!r} at token "
      f"{link.antecedent_pos}")

head_scores = coreference.score_heads(gpt, encoded)
baselines = coreference.chance_baselines(encoded)
layer, head = head_scores.best
print(f"\naccuracy of each head (rows: layers, columns: heads), pronoun → antecedent:")
print(np.array2string(head_scores.accuracy, precision=3, floatmode="fixed"))
print(f"\nbest head: layer {layer}, head {head}: {head_scores.accuracy[layer, head]:.1%} of {len(head_scores.links):,} pronouns")
print(f"chance (a random earlier token): {baselines['uniform']:.1%}")
print(f"rule 'most recent name':         {baselines['most_recent_name']:.1%}")
print(f"best head, counting any earlier mention of the same character: "
      f"{head_scores.same_character_accuracy[layer, head]:.1%}")

fig, ax = plt.subplots(figsize=(4.6, 3.8))
ax.imshow(head_scores.accuracy, cmap="Greens", vmin=0, vmax=1)
for l in range(head_scores.accuracy.shape[0]):
    for h in range(head_scores.accuracy.shape[1]):
        ax.text(h, l, f"{head_scores.accuracy[l, h]:.0%}", ha="center", va="center")
ax.set(xticks=range(4), yticks=range(4), xlabel="head", ylabel="layer",
       title=f"Pronoun → antecedent\n(chance {baselines['uniform']:.0%})")
plt.show()

# %% slideshow={"slide_type": "-"}
print(f"layer {layer}, head {head}, by pronoun:")
for pronoun, (accuracy, count) in head_scores.by_pronoun(layer, head).items():
    print(f"  {pronoun:>4}: {accuracy:6.1%}  of {count}")

# %% [markdown] slideshow={"slide_type": "-"}
# Read that honestly. The best head finds the antecedent about ten times more often than chance, mostly for
# subject pronouns ("she", "he"): from the pronoun it looks back at the name the pronoun stands for. It almost
# never does so for "her", "his", "him" or "it", and the plain rule "most recent name" beats it by far. One head
# is not the model's whole coreference machinery; other heads and layers carry some of it.
#
# Head and rule disagree on some pronouns. Where another character's name is closer, the rule picks the wrong
# name, and the head is sometimes right: it behaves as if its query asked for a name of the right gender rather
# than for the closest name. Here is the first such pronoun (explore others in the viewer of section 11):

# %% slideshow={"slide_type": "-"}
rule_hits = np.array([coreference.most_recent_name(encoded.pieces[l.story], l.pronoun_pos) == l.antecedent_pos
                      for l in head_scores.links])
head_hits = head_scores.hits[:, layer, head]
print(f"head right, rule wrong: {np.sum(head_hits & ~rule_hits)} pronouns;  "
      f"rule right, head wrong: {np.sum(rule_hits & ~head_hits)}")
example = head_scores.links[int(np.argmax(head_hits & ~rule_hits))]        # the first such pronoun
example_story = validation.stories[example.story]
display(SVG(render_svg(AttentionData.from_model(gpt, tokenizer, example_story.text),
                       ViewState("head", layer=layer, head=head, selected=example.pronoun_pos))))

# %% [markdown] slideshow={"slide_type": "-"}
# Why would the link be made *at* the pronoun? A causal model has to choose between "she" and "he" one token
# earlier: the token **before** the pronoun is where "she" is predicted, so that is where knowing the character
# pays off. Which head looks at the antecedent from there?

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.6 — look from the token before the pronoun
# `maps = coreference.attention_maps(gpt, idx)` gives every head's weights, shape (stories, layers, heads, T, T).
# For the first 100 stories, compute for each layer and head the fraction of their pronouns for which the
# highest attention **from the token before the pronoun** (query `q = link.pronoun_pos - 1`) to the tokens
# before it (keys `0 .. q-1`) lands on `link.antecedent_pos`. Store the `(4, 4)` array in `before_accuracy`.
#
# <details><summary>💡 Hint</summary>
#
# Loop over the links in `first_100`; `maps[l.story, :, :, q, :q].argmax(-1)` is a (4, 4) tensor of positions;
# compare it with `l.antecedent_pos`, add up the hits and divide by `len(first_100)`.
# </details>

# %% slideshow={"slide_type": "-"}
maps = coreference.attention_maps(gpt, encoded.batch(0, 100))             # (100, 4, 4, T, T)
first_100 = [l for l in encoded.links if l.story < 100]

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
hits = torch.zeros(4, 4)
for l in first_100:
    q = l.pronoun_pos - 1
    hits += (maps[l.story, :, :, q, :q].argmax(-1) == l.antecedent_pos).float()
before_accuracy = (hits / len(first_100)).numpy()
# END SOLUTION

# %% slideshow={"slide_type": "-"}
story_lengths = [len(ids) for ids in encoded.ids]
expected = coreference.score_attention(maps, first_100, story_lengths, query_offset=-1)[0].mean(axis=0)
check("3.6", before_accuracy, expected, atol=1e-6,
      hint="q = l.pronoun_pos - 1; maps[l.story, :, :, q, :q].argmax(-1) == l.antecedent_pos, averaged over links.")
best_before = np.unravel_index(np.argmax(expected), expected.shape)
print(f"from the token before the pronoun, the best head is layer {best_before[0]}, head {best_before[1]}: "
      f"{expected[best_before]:.0%} (chance {coreference.chance_baselines(encoded, -1)['uniform']:.0%})")

# %% [markdown] slideshow={"slide_type": "-"}
# A head in the *first* layer points at the antecedent from the position that must predict the pronoun far more
# often than any head does from the pronoun itself. A first-layer head sees only token identities and positions,
# so it has learned something like "look at the most recent name": enough to tell "she" from "he". Attention
# heads are small, specialised lookups, and where they look depends on what the position has to predict.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Recurrence against attention, measured
#
# The table at the top of this notebook made claims about recurrent networks: their steps run one after
# another, and everything they know about the past must fit in one fixed-size state. Here we measure them. We
# build the recurrent network that led language modelling before 2017, the **LSTM** (long short-term memory,
# Hochreiter and Schmidhuber, 1997), give it about as many parameters as a small GPT, train both on the same
# storyworld text, and compare time per training step, loss against the entropy floor, and pronouns.
#
# An LSTM carries two vectors from token to token: the hidden state $h_t$ (its output) and the cell state
# $c_t$ (its memory). At each token it computes four gate vectors from the input $x_t$ and the previous
# $h_{t-1}$, with one matrix product each:
#
# $$\begin{pmatrix} i \\ f \\ g \\ o \end{pmatrix} = W_{ih}\, x_t + b_{ih} + W_{hh}\, h_{t-1} + b_{hh},\qquad
# c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g),\qquad h_t = \sigma(o) \odot \tanh(c_t).$$
#
# The **forget** gate $\sigma(f)$ says how much of the old memory to keep, the **input** gate $\sigma(i)$ how
# much of the candidate $\tanh(g)$ to write into it, the **output** gate $\sigma(o)$ how much of it to show.
# Since $c_t$ is carried forward by a product and a sum instead of a matrix, gradients survive more steps than
# in a plain RNN. But $h_t$ needs $h_{t-1}$: the steps cannot run side by side.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.7 — one LSTM step
# Write `lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)` for a batch: `x` is `(B, d_in)`, `h` and `c` are
# `(B, H)`, `W_ih` is `(4H, d_in)`, `W_hh` is `(4H, H)` and the biases are `(4H,)`. Return the new `(h, c)`.
# The four gates are stacked in PyTorch's order: input, forget, candidate, output. The check runs your step
# against PyTorch's `nn.LSTMCell` with random weights and states, for three sizes.
#
# <details><summary>💡 Hint</summary>
#
# `gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh` is `(B, 4H)`; `i, f, g, o = gates.chunk(4, dim=-1)`; a
# sigmoid on `i`, `f` and `o`, a tanh on `g` and on the new `c`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    # BEGIN SOLUTION
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh             # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)                        # 4 x (B, H)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()               # keep some memory, write some new
    h = o.sigmoid() * c.tanh()                                 # show some of it
    return h, c
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def lstm_cell_cases(sizes=((1, 1, 1), (3, 5, 4), (2, 8, 16))):
    """(arguments, expected (h, c)) for random cells of sizes (B, d_in, H); expected from nn.LSTMCell."""
    torch.manual_seed(1)
    cases = []
    for B, d_in, H in sizes:
        cell = nn.LSTMCell(d_in, H)
        x, h, c = torch.randn(B, d_in), torch.randn(B, H), torch.randn(B, H)
        with torch.no_grad():
            expected = cell(x, (h, c))
        weights = [p.detach() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
        cases.append(((x, h, c, *weights), expected))
    return cases


check_function("3.7", lstm_step, lstm_cell_cases(), atol=1e-5,
               hint="gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, chunk into i, f, g, o; "
                    "c = σ(f)·c + σ(i)·tanh(g), h = σ(o)·tanh(c).");

# %% [markdown] slideshow={"slide_type": "-"}
# `nn.LSTM` runs that step once per token. Proof, with a loop over `nn.LSTMCell` given the same weights:

# %% slideshow={"slide_type": "-"}
torch.manual_seed(0)
lstm = nn.LSTM(8, 16, batch_first=True)
cell = nn.LSTMCell(8, 16)
cell.load_state_dict({name.removesuffix("_l0"): p for name, p in lstm.state_dict().items()})
x = torch.randn(2, 10, 8)                                         # (B, T, d_in)
with torch.no_grad():
    h = c = torch.zeros(2, 16)                                    # (B, H): nothing read yet
    outputs = []
    for t in range(x.size(1)):                                    # step t cannot start before step t-1 ends
        h, c = cell(x[:, t], (h, c))
        outputs.append(h)
    ours = torch.stack(outputs, dim=1)                            # (B, T, H)
    theirs, _ = lstm(x)
diff = (ours - theirs).abs().max().item()
print(f"max |loop of nn.LSTMCell − nn.LSTM| = {diff:.1e}", "✓" if diff < 1e-6 else "✗")
assert diff < 1e-6

# %% [markdown] slideshow={"slide_type": "-"}
# Now two language models of about the same size: an LSTM (an embedding, one LSTM layer of width 120, a linear
# read-out to the vocabulary) and a course GPT of 2 blocks of width 64. The LSTM has the course GPT's interface,
# `model(idx, targets) → (logits, loss)`, so `course_utils.train` trains and evaluates both.

# %% slideshow={"slide_type": "-"}
class LSTMLanguageModel(nn.Module):
    """Token embedding → one LSTM layer → logits over the vocabulary: the recurrent counterpart of the GPT."""

    def __init__(self, vocab_size, n_embd, hidden_size, block_size):
        super().__init__()
        self.config = SimpleNamespace(block_size=block_size)       # training window, read by course_utils.train
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.lstm = nn.LSTM(n_embd, hidden_size, batch_first=True)
        self.lm_head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, targets=None):
        h, _ = self.lstm(self.wte(idx))                            # (B, T, H): h[:, t] has read tokens 0..t
        logits = self.lm_head(h)                                   # (B, T, vocab_size)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


vocab_size = tokenizer.vocab_size
torch.manual_seed(0)
lstm_lm = LSTMLanguageModel(vocab_size, n_embd=64, hidden_size=120, block_size=128)
torch.manual_seed(0)
small_gpt = GPT(GPTConfig(vocab_size=vocab_size, block_size=128, n_layer=2, n_head=4, n_embd=64))
for name, model in (("LSTM", lstm_lm), ("GPT", small_gpt)):
    print(f"{name:>4}: {sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown] slideshow={"slide_type": "-"}
# **Time per training step.** A batch of 2,048 tokens, cut into sequences of length $T$ (so $2048/T$ of them),
# forward and backward, on one thread. The GPT's work comes in a few large matrix products whatever $T$ is.
# The LSTM's comes in $T$ small products of $2048/T$ rows, each waiting for the one before.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def training_step(model, idx):
    _, loss = model(idx, idx)                                     # the targets do not change the cost
    loss.backward()


tokens_per_batch = 2048
sequence_lengths = [16, 32, 64, 128]
step_seconds = {"LSTM": [], "GPT": []}
torch.set_num_threads(1)
for T in sequence_lengths:
    idx = torch.randint(vocab_size, (tokens_per_batch // T, T))
    for name, model in (("LSTM", lstm_lm), ("GPT", small_gpt)):
        step_seconds[name].append(best_time(lambda: training_step(model, idx), repeats=3))
torch.set_num_threads(2)
for model in (lstm_lm, small_gpt):
    model.zero_grad(set_to_none=True)
print(f"{'T':>5}{'sequences':>11}{'LSTM ms':>10}{'GPT ms':>9}{'LSTM / GPT':>12}")
for n, T in enumerate(sequence_lengths):
    lstm_ms, gpt_ms = step_seconds["LSTM"][n] * 1e3, step_seconds["GPT"][n] * 1e3
    print(f"{T:>5}{tokens_per_batch // T:>11}{lstm_ms:>10.0f}{gpt_ms:>9.0f}{lstm_ms / gpt_ms:>11.1f}×")
slowdown = {name: s[-1] / s[0] for name, s in step_seconds.items()}
print(f"T 16 → 128, same tokens: LSTM ×{slowdown['LSTM']:.1f}, GPT ×{slowdown['GPT']:.1f}")

fig, ax = plt.subplots(figsize=(5.2, 3.4))
for name, seconds in step_seconds.items():
    ax.plot(sequence_lengths, [s * 1e3 for s in seconds], "o-", label=name)
ax.set_xscale("log", base=2)
ax.set_xticks(sequence_lengths, [str(T) for T in sequence_lengths])
ax.minorticks_off()
ax.set(xlabel="sequence length T (2,048 tokens a batch)", ylabel="ms per step (best of 3)", ylim=(0, None),
       title="One training step, one thread")
ax.legend()
plt.show()
assert step_seconds["LSTM"][-1] < 1.5 * step_seconds["GPT"][-1], "on one core the LSTM's step is not the slower"
assert slowdown["LSTM"] < 2, "on one core the LSTM's step hardly depends on how the tokens are cut"

# %% [markdown] slideshow={"slide_type": "-"}
# On one CPU core the measurement does not favour attention: the LSTM's step takes about half the GPT's,
# whatever $T$. One core computes one product after another anyway, so having to wait costs nothing, and
# PyTorch's LSTM loop is tight compiled code. (The GPT also does more arithmetic per token here: four $64
# \times 64$ matrices and a feed-forward layer per block, and the attention itself.)
#
# What recurrence costs is parallel hardware left idle. At $T = 128$ each of the LSTM's 128 steps offers
# $16 \times 480 = 7{,}680$ numbers to compute at once (sequences × four gates of width 120), and must end
# before the next begins. The first product of a GPT block computes all $2{,}048 \times 192 \approx 393{,}000$
# queries, keys and values at once. A GPU with thousands of cores stays busy on the second and mostly waits on
# the first, and the longer the sequences, the more steps it waits through. That, not a CPU core's speed,
# is why attention could be trained on far more text.

# %% [markdown] slideshow={"slide_type": "-"}
# **Loss after the same budget.** Both models train for 300 steps on the same batches (16 windows of 128
# tokens, AdamW, the schedule of notebook 05), and we evaluate them on the validation stories in nats per
# character, beside storyworld's entropy floor and the course GPT, which trained 4× longer on batches twice as
# large.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
train_ids = torch.tensor(tokenizer.encode(storyworld.load_split("train").text), dtype=torch.long)
val_ids = torch.tensor(tokenizer.encode(validation.text), dtype=torch.long)
budget = TrainConfig(max_steps=300, batch_size=16, learning_rate=3e-3, warmup_steps=30, eval_interval=50,
                     eval_windows=16)
training_runs = {name: train(model, train_ids, val_ids, budget, progress=False)
        for name, model in (("LSTM", lstm_lm), ("GPT", small_gpt))}
final = {name: evaluate_text(model, tokenizer, validation.text)["nats_per_char"]
         for name, model in (("LSTM", lstm_lm), ("GPT", small_gpt))}
floor = validation.nats_per_char
print(f"{'':<26}{'seconds':>8}{'nats/char':>11}{'above the floor':>17}")
for name, run in training_runs.items():
    print(f"{name + ', 300 steps':<26}{run.seconds:>8.1f}{final[name]:>11.3f}{final[name] - floor:>17.3f}")
print(f"{'course GPT, 1,200 steps':<26}{record['train_seconds']:>8.0f}{record['val_nats_per_char']:>11.3f}"
      f"{record['val_nats_per_char'] - floor:>17.3f}")
print(f"{'entropy floor':<26}{'':>8}{floor:>11.3f}")

fig, ax = plt.subplots(figsize=(5.2, 3.4))
for name, run in training_runs.items():
    ax.plot(run.eval_steps, run.val_loss, "o-", label=name)
ax.set(xlabel="step", ylabel="validation loss (nats per token)", title="Same batches, same schedule")
ax.legend()
plt.show()
assert final["LSTM"] < final["GPT"], "after the same 300 steps the LSTM's loss is the lower"
assert min(final.values()) > floor + 0.03, "both small models stay well above the entropy floor"
assert record["val_nats_per_char"] < floor + 0.02, "the course GPT comes within 0.02 of the floor"

# %% [markdown] slideshow={"slide_type": "-"}
# After the same 300 steps the LSTM is ahead, about 0.16 nats per character against the GPT's 0.18, both
# well above the floor of 0.09; the course GPT, with 7× the parameters and 8× the tokens, comes within about
# 0.01 of it. So attention did not win by learning more per step in a small model. It won because its steps
# are cheap on parallel hardware, so the same hours buy far more training, and far larger models.

# %% [markdown] slideshow={"slide_type": "-"}
# **Pronouns at a distance.** To write "she" or "he" (or "her", "his", "him") a model must know who the
# sentence is about and that character's gender, last stated at the character's previous mention, $d$ tokens
# back. storyworld records that mention for every pronoun (section 8). For each pronoun of 200 validation
# stories we ask, at the token before it: does the model give more probability to the pronouns of the right
# gender than to those of the other (same capitalisation)? Chance is 50%.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
GENDER = {" she": "female", " She": "female", " her": "female", " he": "male", " He": "male", " him": "male",
          " his": "male"}


@torch.no_grad()
def pronoun_gender_hits(model, encoded, n_stories):
    """(distances, hits) for every gendered pronoun in the first n_stories: d = pronoun − previous mention, and
    whether the model, one token earlier, puts more probability on the right gender than on the other."""
    probs = model(encoded.batch(0, n_stories))[0].softmax(dim=-1)   # (stories, T, vocab_size)
    distances, hits = [], []
    for link in encoded.links:
        pronoun = encoded.pieces[link.story][link.pronoun_pos]
        if link.story >= n_stories or pronoun not in GENDER:
            continue
        p = probs[link.story, link.pronoun_pos - 1]                     # what the model expects next
        same_case = [w for w in GENDER if w[1].isupper() == pronoun[1].isupper()]
        right = sum(p[tokenizer.stoi[w]] for w in same_case if GENDER[w] == GENDER[pronoun])
        wrong = sum(p[tokenizer.stoi[w]] for w in same_case if GENDER[w] != GENDER[pronoun])
        distances.append(link.pronoun_pos - link.antecedent_pos)
        hits.append(bool(right > wrong))
    return np.array(distances), np.array(hits)


edges = [1, 5, 10, 20, 40, 200]                                        # distance buckets [1, 5), [5, 10), ...
labels = [f"{a}–{b - 1}" for a, b in zip(edges, edges[1:-1])] + [f"{edges[-2]}+"]
by_distance, overall = {}, {}
for name, model in (("LSTM, 300 steps", lstm_lm), ("GPT, 300 steps", small_gpt), ("course GPT", gpt)):
    distances, hits = pronoun_gender_hits(model, encoded, n_stories=200)
    bucket = np.digitize(distances, edges[1:-1])
    by_distance[name] = [hits[bucket == b].mean() for b in range(len(labels))]
    overall[name] = hits.mean()
    print(f"{name:<17} all {hits.mean():.0%}   by distance: "
          + "  ".join(f"{label} {a:.0%}" for label, a in zip(labels, by_distance[name])))
print(f"pronouns per bucket: " + "  ".join(f"{label}: {np.sum(bucket == b)}" for b, label in enumerate(labels)))

fig, ax = plt.subplots(figsize=(5.6, 3.4))
for name, accuracy in by_distance.items():
    ax.plot(labels, accuracy, "o-", label=name)
ax.axhline(0.5, color="gray", ls=":", label="chance")
ax.set(xlabel="tokens back to the previous mention", ylabel="right gender", ylim=(0.4, 1.02),
       title="Pronoun gender against distance")
ax.legend()
plt.show()
assert min(by_distance["course GPT"]) > 0.95, "the course GPT gets the gender right at every distance"
assert min(by_distance["LSTM, 300 steps"]) > 0.7, "the LSTM is well above chance at every distance"
assert overall["GPT, 300 steps"] < 0.7, "the small GPT is still near chance"

# %% [markdown] slideshow={"slide_type": "-"}
# In 300 steps the small GPT has not learned pronoun gender: it stays near chance at every distance. The LSTM
# has, well above chance at every distance, 40 tokens back and more; carrying one bit (the gender) through a
# 100-token story is easy for its cell state. The course GPT gets essentially every pronoun right, at every
# distance: once trained, attention reads a mention 40 tokens back as directly as one 4 tokens back.
# storyworld is a mild test of memory, though. The fading that hurt recurrent translators shows over hundreds
# of tokens and many facts, where one fixed-size state must hold them all.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. Sliding-window attention: attention on a budget
#
# Full attention lets every token see every earlier token and pays $T^2$ for it (section 7). **Sliding-window
# attention** lets query $i$ see only the last $w$ keys, $i - w < j \le i$: a band of width $w$ below the
# diagonal of the causal mask. Each row then has at most $w$ scores, so the work is $O(T\,w)$ instead of
# $O(T^2)$, and a model that generates needs to cache only the last $w$ keys and values. Longformer (2020)
# used such local windows for long documents, Mistral 7B (2023) uses $w = 4096$ in every layer, and Gemma 2
# alternates windowed layers with full ones.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.8 — the sliding-window mask
# Write `sliding_window_mask(T, w)`: a `(T, T)` boolean tensor, True where query $i$ may attend to key $j$,
# that is where $j \le i$ and $i - j < w$. With $w = 1$ each token sees only itself; with $w \ge T$ it is the
# causal mask of section 4.
#
# <details><summary>💡 Hint</summary>
#
# `positions[:, None] - positions[None, :]` is the `(T, T)` table of $i - j$, how far back key $j$ lies from
# query $i$. Keep the entries with $0 \le i - j < w$.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def sliding_window_mask(T, w):
    # BEGIN SOLUTION
    positions = torch.arange(T)
    behind = positions[:, None] - positions[None, :]        # (T, T): i - j
    return (behind >= 0) & (behind < w)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("3.8", sliding_window_mask, [
    ((1, 1), course_attention.causal_mask(1, window=1)),
    ((5, 1), course_attention.causal_mask(5, window=1)),
    ((6, 3), course_attention.causal_mask(6, window=3)),
    ((4, 4), course_attention.causal_mask(4, window=4)),
    ((4, 9), course_attention.causal_mask(4, window=9)),
], hint="behind = arange(T)[:, None] - arange(T)[None, :]; keep (behind >= 0) & (behind < w).");

# %% [markdown] slideshow={"slide_type": "-"}
# The package's `course_attention.causal_mask(T, window=w)` builds the same band. With the mask alone, the
# $T \times T$ scores are still computed and stored, and then most of them are thrown away: time and memory
# stay $O(T^2)$. To save anything, compute the band block by block. A block of $w$ consecutive queries
# $s, \dots, s+w-1$ can only see keys $s-w+1, \dots, s+w-1$, so its scores fit in a $w \times (2w-1)$
# matrix, and $T/w$ blocks store $O(T\,w)$ numbers in all. (The causal mask with more keys than queries,
# from section 4's cache convention, is exactly the band of such a block.)

# %% slideshow={"slide_type": "-"}
def sliding_window_attention(q, k, v, window):
    """Attention in which query i sees keys i-window+1 .. i, computed one block of `window` queries at a time,
    so no score matrix larger than (window, 2·window − 1) is ever stored. q, k, v: (..., T, hs) → (..., T, hs)."""
    T = q.size(-2)
    blocks = []
    for start in range(0, T, window):
        stop = min(start + window, T)                               # queries start .. stop-1
        first = max(0, start - window + 1)                          # the earliest key any of them may see
        band = course_attention.causal_mask(stop - start, stop - first, window=window)   # (queries, keys)
        out, _ = attention(q[..., start:stop, :], k[..., first:stop, :], v[..., first:stop, :], band)
        blocks.append(out)                                          # (..., stop - start, hs)
    return torch.cat(blocks, dim=-2)                                # (..., T, hs)


torch.manual_seed(0)
q, k, v = torch.randn(3, 2, 4, 12, 16).unbind(0)                    # (B=2, heads=4, T=12, hs=16)
full_causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
proofs = []
for w in (12, 20):                                                  # w >= T: the window hides nothing
    windowed, _ = attention(q, k, v, course_attention.causal_mask(12, window=w))
    proofs.append((f"w = {w} ≥ T, masked", "full causal F.sdpa", (windowed - full_causal).abs().max().item()))
    proofs.append((f"w = {w} ≥ T, in blocks", "full causal F.sdpa",
                   (sliding_window_attention(q, k, v, w) - full_causal).abs().max().item()))
for w in (1, 3, 5):
    band = course_attention.causal_mask(12, window=w)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=band)
    proofs.append((f"w = {w}, masked", "F.sdpa, same mask", (attention(q, k, v, band)[0] - reference).abs().max().item()))
    proofs.append((f"w = {w}, in blocks", "F.sdpa, same mask",
                   (sliding_window_attention(q, k, v, w) - reference).abs().max().item()))
for ours, theirs, diff in proofs:
    print(f"{ours:<24} vs {theirs:<20} max |diff| = {'< 1e-6' if diff < 1e-6 else f'{diff:.1e}'}")
worst = max(diff for *_, diff in proofs)
print(f"largest difference over {len(proofs)} comparisons: {'< 1e-6' if worst < 1e-6 else f'{worst:.1e}'} ✓")
assert worst < 1e-5

# %% [markdown] slideshow={"slide_type": "-"}
# **Time and memory** as the length grows, with $w = 128$, beside the written-out full attention of section 7
# (same 4 heads of size 32, one thread, measured there).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
window = 128
window_cost = {"window, masked": [], "window, in blocks": []}
torch.set_num_threads(1)
for T in lengths:
    q, k, v = torch.randn(3, 1, 4, T, 32).unbind(0)
    band = course_attention.causal_mask(T, window=window)
    runs = {"window, masked": lambda: attention(q, k, v, band),
            "window, in blocks": lambda: sliding_window_attention(q, k, v, window)}
    for name, fn in runs.items():
        window_cost[name].append((best_time(fn, repeats=3), course_attention.allocated_bytes(fn)))
torch.set_num_threads(2)
compared = {"full (section 7)": cost["written out"], **window_cost}
print(f"{'T':>6}" + "".join(f"{name + ' ms':>22}{'MB':>7}" for name in compared))
for n, T in enumerate(lengths):
    print(f"{T:>6}" + "".join(f"{values[n][0] * 1e3:>22.1f}{values[n][1] / 2**20:>7.1f}" for values in compared.values()))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for name, values in compared.items():
    axes[0].loglog(lengths, [t for t, _ in values], "o-", label=name)
    axes[1].loglog(lengths, [m / 2**20 for _, m in values], "o-", label=name)
axes[0].set(xlabel="sequence length T", ylabel="CPU seconds", title=f"Time, w = {window}")
axes[1].set(xlabel="sequence length T", ylabel="MB allocated", title=f"Memory, w = {window}")
for ax in axes:
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.minorticks_off()
    ax.legend()
fig.tight_layout()
plt.show()
memory = {name: [m for _, m in values] for name, values in compared.items()}
growth = {name: values[-1][0] / values[1][0] for name, values in compared.items()}   # T = 512 → 2048
print("T ×4 (512 → 2048): time " + ", ".join(f"{name} ×{g:.0f}" for name, g in growth.items()))
print(f"at T = {lengths[-1]}: the masked window allocates {memory['window, masked'][-1] / memory['full (section 7)'][-1]:.0%} "
      f"of full attention's memory, the blocks {memory['window, in blocks'][-1] / memory['full (section 7)'][-1]:.0%}")
assert 0.8 < memory["window, masked"][-1] / memory["full (section 7)"][-1] < 1.3, "a mask alone saves no memory"
assert memory["window, in blocks"][-1] < 0.2 * memory["full (section 7)"][-1], "blocks: a fraction of the memory"
assert 1.7 < memory["window, in blocks"][-1] / memory["window, in blocks"][-2] < 2.3, "blocks: memory ∝ T"
assert growth["window, in blocks"] < 8 < growth["window, masked"], "blocks: time ∝ T; masked: faster than T"

# %% [markdown] slideshow={"slide_type": "-"}
# The mask alone changes nothing: the same time and the same memory as full attention, since every score is
# still computed and stored. In blocks, time and memory grow like $T$, about ×2 a doubling, and at
# $T = 2048$ the blocks allocate about an eighth of full attention's memory: each query stores about $2w = 256$
# scores instead of up to 2,048. At $T = 2w$ there is nothing to save.

# %% [markdown] slideshow={"slide_type": "-"}
# **What is lost.** In one windowed layer, a token $w$ or more positions back cannot be attended at all. In the
# next layer, though, a query can attend to a token that itself attended $w-1$ positions further back, so what
# a position can depend on widens by $w - 1$ per layer: $L(w-1) + 1$ positions after $L$ layers. Check it in a
# stack of three windowed attention layers ($w = 4$, random weights, residual connections as in a GPT block):
# which input positions have any influence, any non-zero gradient, on the last token's output?

# %% slideshow={"slide_type": "-"}
T_reach, w_reach, n_layers = 24, 4, 3
torch.manual_seed(0)
band = course_attention.causal_mask(T_reach, window=w_reach)
layers = [MultiHeadAttention(16, 2) for _ in range(n_layers)]
x = torch.randn(1, T_reach, 16, requires_grad=True)
h, reach = x, []
for block in layers:
    h = h + block(h, attn_mask=band)                                   # (1, T, 16): one windowed layer more
    grad, = torch.autograd.grad(h[0, -1].sum(), x, retain_graph=True)  # (1, T, 16): how each input moves it
    reach.append(grad[0].abs().sum(-1) > 0)                            # (T,): True where input j has influence
for L, seen in enumerate(reach, start=1):
    by_mask = torch.linalg.matrix_power(band.float(), L)[-1] > 0       # (T,): reachable through L band steps
    print(f"after {L} layer{'s' if L > 1 else ' '}: the last token depends on the last {int(seen.sum())} positions "
          f"(L(w-1)+1 = {L * (w_reach - 1) + 1}), the band's {L}-step paths agree: {'✓' if torch.equal(seen, by_mask) else '✗'}")
    assert int(seen.sum()) == L * (w_reach - 1) + 1 and torch.equal(seen, by_mask)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 2.2]})
axes[0].imshow(band, cmap="Blues")
axes[0].set(xlabel="key j", ylabel="query i", title=f"one layer's mask, w = {w_reach}")
axes[1].imshow(torch.stack(reach).float(), cmap="Oranges", aspect="auto", vmin=0, vmax=1.4)
axes[1].set(yticks=range(n_layers), yticklabels=[f"{L} layer{'s' if L > 1 else ''}" for L in range(1, n_layers + 1)],
            xlabel="input position j", title=f"positions that influence the last token ({T_reach - 1})")
fig.tight_layout()
plt.show()

print()
for name, tokens_cached in (("full attention", 32_768), (f"window of 4,096", 4096)):
    kv = course_attention.kv_cache_bytes(n_layers=32, n_kv_heads=8, head_size=128, seq_len=tokens_cached)
    print(f"Mistral-like model, 32,768 tokens, {name}: KV cache {kv / 2**30:.1f} GiB")

# %% [markdown] slideshow={"slide_type": "-"}
# A token farther back still counts, but only by way of tokens in between: each layer relays what its window
# saw, a little like a recurrent network handing its state along. Mistral 7B's 32 layers of $w = 4096$ reach
# about 131,000 tokens in principle, and its cache stops growing at 4,096 tokens (8× smaller at 32,768). Long-range
# facts travel through several relays, though, and each relay is a lossy mix; models that must find a detail far
# back (Gemma 2) keep some full-attention layers.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 11. The attention viewer
#
# Three views of the same numbers, after BertViz:
#
# * **head view**: queries on the left, keys on the right, a line from query $i$ to key $j$ as opaque as
#   $a_{ij}$; one head or all heads of a layer, one colour per head;
# * **model view**: every layer × head at once; the patterns differ from head to head;
# * **neuron view**: one head and one query: $q$, every visible $k_j$, the products $q_m k_{j,m}$, the score
#   $q\cdot k_j/\sqrt{d_k}$ and the softmax weight. The other two views are built from this.
#
# First the static pictures (they are what you see on GitHub), then the live viewer.

# %% slideshow={"slide_type": "-"}
viewer_text = ("Once upon a time, there was a little girl named Lily. She lived in a small house near the forest. "
               "One day, she met a young boy named Tom. He had a red ball.")
viewer_data = AttentionData.from_model(gpt, tokenizer, viewer_text)
she = max(i for i, t in enumerate(viewer_data.tokens) if t.strip() == "she")
display(SVG(render_svg(viewer_data, ViewState("model"))))
display(SVG(render_svg(viewer_data, ViewState("neuron", layer=layer, head=head, selected=she))))

# %% [markdown] slideshow={"slide_type": "-"}
# In the live viewer, type any text (words storyworld does not know become `<unk>`), press Enter, then pick a
# view, a layer and a head. In the head view, hover over a token to isolate its lines and click it to keep only
# its row with the weights written out; in the model view, click a thumbnail to open that head.

# %% slideshow={"slide_type": "-"}
AttentionViewer(gpt, tokenizer, viewer_text, layer=layer, head=head, selected=she)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - Attention mixes token vectors with weights $a_{ij} = \mathrm{softmax}_j(q_i \cdot k_j / \sqrt{d_k})$: each
#   token's context vector $z_i = \sum_j a_{ij} v_j$ borrows from the tokens most similar to what it looks for.
# - Queries, keys and values are three trainable projections of the same embeddings; they make attention
#   asymmetric and learnable.
# - Without the $1/\sqrt{d_k}$ the score variance grows like $d_k$ and the softmax saturates (measured).
# - The causal mask sets future scores to $-\infty$; the padding mask hides padding keys; dropout zeroes
#   weights during training only.
# - Multi-head attention is one batched product after a reshape and transpose; MQA and GQA share key/value heads
#   and shrink the KV cache by $h/g$.
# - Our attention equals `F.scaled_dot_product_attention`, `nn.MultiheadAttention` and the course GPT's layer to
#   within $10^{-5}$; it costs $O(T^2)$ time, and $O(T^2)$ memory unless fused.
# - In the trained GPT, heads specialise: one links pronouns to their antecedents far above chance, though a
#   simple "most recent name" rule still does better, and a first-layer head finds the antecedent from the token
#   that predicts the pronoun.
# - An LSTM step, $c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g)$, $h_t = \sigma(o) \odot \tanh(c_t)$,
#   needs the previous one: `nn.LSTM` is a loop of $T$ of them. On one CPU core an LSTM's training step was no
#   slower than a GPT's of the same size, and after 300 steps it had the lower loss and knew pronoun gender,
#   which the small GPT had not yet learned. Attention's advantage is parallel hardware: the same hours train
#   far more (the course GPT gets the pronouns right at every distance).
# - A sliding window of $w$ keys equals full attention when $w \ge T$. A mask alone saves nothing; computed in
#   blocks it takes $O(T\,w)$ time and memory. A token $w$ or more back is reached only through $L$ layers,
#   $L(w-1)+1$ positions in all (measured), and the KV cache stops growing at $w$ tokens.
#
# **Next:** [04 · The transformer block](04_transformer_block.ipynb) — attention, feed-forward, residuals and
# normalization stacked into a GPT.

# %% slideshow={"slide_type": "-"}
summary()
