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
#    ground truth, and explore any text in an attention viewer.
#
# **Time:** about 30 minutes to read and run; the whole notebook runs in about a minute on a laptop CPU, offline.

# %% slideshow={"slide_type": "-"}
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import SVG, display

from course_utils import attention as course_attention
from course_utils import coreference, storyworld
from course_utils.checks import check, check_function, check_true, summary
from course_utils.model import load_storyworld_gpt
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
# Here is the attention function with a mask and dropout, written out once and reused for the rest of the
# notebook:

# %% slideshow={"slide_type": "-"}
def attention(q, k, v, mask=None, dropout_p=0.0):
    """softmax(q kᵀ / √d_k) v.  q: (..., Tq, d_k), k: (..., Tk, d_k), v: (..., Tk, d_v) → (..., Tq, d_v).
    mask: bool, broadcastable to (..., Tq, Tk), True where a query may attend to a key."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))       # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1).nan_to_num(0.0)               # a query that sees nothing gets weight 0
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)                  # training only
    return weights @ v, weights                                    # (..., Tq, d_v), (..., Tq, Tk)


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
# **Dropout** zeroes each weight with probability $p$ during training and scales the survivors by
# $1/(1-p)$, so each output is correct *on average*. It discourages a head from relying on one single key.
# At evaluation time it is off.

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
# **Proof.** Our function against PyTorch's fused kernel, which takes the same boolean convention (True =
# may attend):

# %% slideshow={"slide_type": "-"}
q, k, v = torch.randn(3, 2, 4, 7, 16).unbind(0)                       # (B=2, heads=4, T=7, d=16)
ours, _ = attention(q, k, v, mask=torch.ones(7, 7, dtype=torch.bool).tril())
theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
diff = (ours - theirs).abs().max().item()
print(f"max |ours − F.scaled_dot_product_attention| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
assert diff < 1e-5

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3.2 — build the causal mask
# Write `my_causal_mask(T)` that returns a `(T, T)` boolean tensor, True where query $i$ may attend to key
# $j$, i.e. where $j \le i$, without `tril`.
#
# <details><summary>💡 Hint</summary>
#
# `torch.arange(T)` gives the positions; compare a column of query positions `[:, None]` with a row of key
# positions `[None, :]`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def my_causal_mask(T):
    # BEGIN SOLUTION
    positions = torch.arange(T)
    return positions[None, :] <= positions[:, None]
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("3.2", my_causal_mask, [
    (1, torch.ones(1, 1, dtype=torch.bool)),
    (3, torch.ones(3, 3, dtype=torch.bool).tril()),
    (6, course_attention.causal_mask(6)),
], hint="Key j is visible to query i when j <= i: compare arange(T)[None, :] with arange(T)[:, None].")

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
# implementation only changes the width of $W_k, W_v$ and repeats each key/value head for its group:

# %% slideshow={"slide_type": "-"}
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
        y, self.weights = attention(q, k, v, mask, self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)                           # (B, T, C): concatenate the heads
        return self.out_proj(y)                                          # mix them


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
# ### Exercise 3.4 — size a KV cache
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
check("3.4a", mistral_kv_bytes, 4 * 2**30, hint="2 × 32 × 8 × 128 × 32,768 × 2 bytes: exactly 4 GiB.")
check("3.4b", course_gpt_kv_bytes, course_attention.kv_cache_bytes(4, 4, 32, 128, bytes_per_value=4),
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
# than for the closest name. Here is the first such pronoun (explore others in the viewer of section 9):

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
# ### Exercise 3.5 — look from the token before the pronoun
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
check("3.5", before_accuracy, expected, atol=1e-6,
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
# ## 9. The attention viewer
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
#
# **Next:** [04 · The transformer block](04_transformer_block.ipynb) — attention, feed-forward, residuals and
# normalization stacked into a GPT.

# %% slideshow={"slide_type": "-"}
summary()
