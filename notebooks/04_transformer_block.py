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
# # 04 · The transformer block and a complete GPT
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/04_transformer_block.ipynb) · or locally, as the README says
#
# Attention lets tokens share information (notebook 03). A **transformer block** wraps it with the three
# pieces that make deep stacks trainable — normalization, a feed-forward network and residual (shortcut)
# connections — and a GPT is just embeddings, a stack of identical blocks, and a head that turns vectors back
# into token scores. By the end we have a model with exactly GPT-2's architecture: GPT-2's published weights
# load into it and give the same outputs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. write LayerNorm from scratch, check it against PyTorch's, say how it differs from BatchNorm, and give the
#    two accounts of why normalization helps (internal covariate shift, a smoother loss landscape);
# 2. show with measurements why residual connections keep gradients alive in deep networks;
# 3. write the position-wise feed-forward network and compare GELU with ReLU;
# 4. write the block's forward pass, pre-norm and post-norm, and measure their gradients and their stability
#    with and without a learning-rate warmup;
# 5. write the GPT around your blocks (embeddings, final norm, tied head, loss), train it, count GPT-2's
#    124,439,808 parameters by formula and by code, and load trained and GPT-2 weights into your GPT;
# 6. tell encoder-only, decoder-only and encoder-decoder models apart by their masks and training objectives;
# 7. build cross-attention, prove it equals `nn.MultiheadAttention`, and train a small encoder-decoder against
#    a decoder-only model of the same size on a storyworld task;
# 8. explain what a mixture-of-experts layer buys: more parameters for the same compute per token.
#
# **Time:** about 35 minutes; the cells run in about two minutes on a laptop CPU, offline.

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
from dataclasses import replace

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import diagrams, storyworld
from course_utils import model as course_model
from course_utils.attention import MultiHeadAttention, copy_from_torch_multihead
from course_utils.checks import check, check_function, check_true, summary
from course_utils.download import download
from course_utils.generate import generate
from course_utils.model import CausalSelfAttention, GPTConfig, gpt2_config, load_gpt2_weights
from course_utils.tokenizers import WordTokenizer
from course_utils.train import TrainConfig, get_batch, train

torch.manual_seed(0)
torch.set_num_threads(2)
plt.rcParams["figure.dpi"] = 80

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Layer normalization
#
# Activations drift in scale as they pass through many layers, which makes training slow and fragile.
# **LayerNorm** rescales each token's vector to mean 0 and variance 1, then lets the model choose its own
# scale $\gamma$ and shift $\beta$:
#
# $$\text{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta, \qquad
# \mu = \frac{1}{C}\sum_{i=1}^{C} x_i, \quad \sigma^2 = \frac{1}{C}\sum_{i=1}^{C} (x_i - \mu)^2$$
#
# where $C$ is the vector's length (d_model) and $\epsilon$ (`layer_norm_eps`) avoids dividing by zero.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.1 — LayerNorm
# Write `forward` of the `LayerNorm` module below: the formula above, over the last dimension, with the
# learned scale `self.weight` ($\gamma$), the shift `self.bias` ($\beta$, `None` in a model built without
# biases) and `self.eps` ($\epsilon$). Means, a variance and a square root: no normalization function from
# torch. The parameters have GPT-2's names, so GPT-2's weights will load into the blocks you build from it.
# The check gives yours and the course's (`course_utils.model.LayerNorm`, which calls PyTorch's
# `F.layer_norm`) the same random $\gamma$ and $\beta$, on five cases named by what they test. When it passes,
# every LayerNorm in the rest of this notebook is yours.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Each token's vector is normalized on its own, by its own mean and variance over its $C$
#    features; then each feature gets its own scale and shift.
# 2. **The approach.** The mean and the variance over `dim=-1` with `keepdim=True`, so that they broadcast
#    back over the features. The variance divides by $C$ (the population variance), not by $C - 1$; $\epsilon$
#    goes under the square root. Multiply by `self.weight`; add `self.bias` only when there is one.
# 3. **A skeleton.**
#    ```python
#    mean = x.mean(dim=___, keepdim=True)
#    var = x.var(dim=-1, keepdim=True, unbiased=___)
#    y = (x - mean) / torch.sqrt(___) * self.weight
#    return y if self.bias is None else ___
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
class LayerNorm(nn.Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last dimension."""

    def __init__(self, n_features, bias=True, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_features))                        # γ
        self.bias = nn.Parameter(torch.zeros(n_features)) if bias else None        # β

    def forward(self, x):
        # BEGIN SOLUTION
        mean = x.mean(dim=-1, keepdim=True)                  # (..., 1): one mean per token
        var = x.var(dim=-1, keepdim=True, unbiased=False)    # population variance, as in the formula
        y = (x - mean) / torch.sqrt(var + self.eps) * self.weight
        return y if self.bias is None else y + self.bias
        # END SOLUTION


# %% slideshow={"slide_type": "-"}
def with_course_weights(your_class, course_class, *args, seed=0):
    """Your module, your_class(*args), holding the weights of the course's course_class(*args) drawn at random
    (seeded): the checks of Exercises 4.1 to 4.4 run it against the course's module with these weights. Random,
    because at initialization many weights are exactly 0 or 1, which would hide a missing piece. None while
    your module has no parameters (not written yet)."""
    torch.manual_seed(seed)
    course = course_class(*args)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in course.named_parameters():
            if p.dim() == 1 and name.endswith("weight"):       # a LayerNorm's gain: about 1
                p.copy_(torch.rand(p.shape, generator=generator) + 0.5)
            else:                                               # each layer's outputs stay of size about 1
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(p.size(-1)))
    yours = your_class(*args)
    if not list(yours.parameters()):
        return None
    names, course_names = sorted(yours.state_dict()), sorted(course.state_dict())
    if names != course_names:
        raise ValueError(f"its parameters are named {names}; GPT-2's names, as the course uses them, are "
                         f"{course_names}")
    yours.load_state_dict(course.state_dict())                 # and every shape must match
    return yours.eval()


# %% slideshow={"slide_type": "-"}
torch.manual_seed(41)
layer_norm_cases = {  # what each case tests: (input, bias?, eps)
    "a batch: 2 sequences of 5 tokens": (torch.randn(2, 5, 8) * 4 + 3, True, 1e-5),
    "a single vector of 16 features": (torch.randn(16) - 2, True, 1e-5),
    "no bias (bias=False)": (torch.randn(3, 6) * 2, False, 1e-5),
    "eps 0.1, features of variance 0.04": (torch.randn(2, 3, 12) * 0.2, True, 0.1),
    "a token whose features are all equal": (torch.full((1, 4), 7.0), True, 1e-5),
}


def layer_norm_output(layer_norm_class, case):
    x, bias, eps = layer_norm_cases[case]
    module = with_course_weights(layer_norm_class, course_model.LayerNorm, x.size(-1), bias, eps)
    return None if module is None else module(x)


if not check_function("4.1", lambda case: layer_norm_output(LayerNorm, case),
                      [((case,), layer_norm_output(course_model.LayerNorm, case)) for case in layer_norm_cases],
                      hint="each case is named by what it tests. The variance divides by C (unbiased=False), ε "
                           "goes inside the square root, and without a bias there is nothing to add."):
    print("Using the course's LayerNorm, course_utils.model.LayerNorm, from here on.")
    LayerNorm = course_model.LayerNorm

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### LayerNorm vs BatchNorm: which numbers are averaged together
# **BatchNorm** normalizes each *feature* across the examples of a batch (and positions); **LayerNorm**
# normalizes each *token* across its own features. So BatchNorm's output for one example depends on which other
# examples share its batch — awkward for variable-length text and for generating one token at a time — while
# LayerNorm treats every token alone.

# %% slideshow={"slide_type": "-"}
acts = torch.randn(4, 6) * torch.tensor([1.0, 5.0, 0.5, 2.0, 8.0, 1.0]) + 2   # 4 tokens × 6 features
ln_out = F.layer_norm(acts, (6,))
bn_out = F.batch_norm(acts, None, None, training=True)
print("LayerNorm: mean of each token (row)     ", ln_out.mean(dim=1).abs().max().item() < 1e-6)
print("BatchNorm: mean of each feature (column)", bn_out.mean(dim=0).abs().max().item() < 1e-6)

changed = acts.clone()
changed[3] *= 10                                    # change a *different* token
print("token 0 changes under LayerNorm when token 3 changes:",
      not torch.allclose(F.layer_norm(changed, (6,))[0], ln_out[0]))
print("token 0 changes under BatchNorm when token 3 changes:",
      not torch.allclose(F.batch_norm(changed, None, None, training=True)[0], bn_out[0]))

fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
for ax, title, mask in ((axes[0], "LayerNorm: one group per token (row)", torch.arange(4)[:, None].expand(4, 6)),
                        (axes[1], "BatchNorm: one group per feature (column)", torch.arange(6)[None, :].expand(4, 6))):
    ax.imshow(mask, cmap="tab10", vmin=0, vmax=9)
    ax.set(title=title, xlabel="feature", ylabel="token in batch")
fig.suptitle("Cells of one colour are normalized together")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why does normalization help? Two accounts
# **Internal covariate shift** (Ioffe & Szegedy, 2015, who introduced BatchNorm with it). Every update to the
# early layers changes the distribution of the inputs the later layers receive, so each layer keeps
# re-adapting to a moving target. Fixing each input's mean and variance should stop the drift, and so allow
# higher learning rates and faster training. LayerNorm (Ba et al., 2016) was proposed with the same argument,
# for recurrent networks, where batch statistics are awkward.
#
# **A smoother loss landscape** (Santurkar et al., 2018, "How does batch normalization help optimization?").
# They tested the first account on image classifiers and found it does not hold up:
#
# - they added random noise after each BatchNorm, a shift and a scale that change at every step, so the next
#   layer's inputs drift *more* than without any normalization; the network still trained about as well as
#   with plain BatchNorm, and better than with no normalization;
# - measured as how much a layer's gradient changes when the layers before it are updated, the shift was not
#   smaller with BatchNorm, and sometimes larger.
#
# What BatchNorm did change is the landscape: along the direction of a step, the loss and its gradient change
# more slowly (smaller Lipschitz constants), so the gradient stays a reliable guide over a longer step, and
# larger learning rates work. Dividing by an $\ell_p$ norm instead, which does not fix the mean and variance,
# smoothed the landscape too and trained about as well. Both papers study BatchNorm; why LayerNorm helps a
# transformer is less settled, and section 4 shows that *where* the norm sits matters a great deal.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Residual (shortcut) connections
#
# Backpropagation multiplies one factor per layer. If those factors are mostly below 1, the gradient reaching
# the first layers shrinks exponentially with depth — the **vanishing-gradient problem** — and early layers
# stop learning. A residual connection computes $x + f(x)$ instead of $f(x)$: the $+x$ path carries the
# gradient back unchanged, whatever $f$ does.
#
# Below: a stack of 20 small layers, the same weights, with and without shortcuts. We measure the gradient
# norm that reaches each layer's weights.

# %% slideshow={"slide_type": "-"}
class DeepStack(nn.Module):
    def __init__(self, depth=20, width=32, shortcut=True):
        super().__init__()
        self.layers = nn.ModuleList(nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(depth))
        self.shortcut = shortcut

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x) if self.shortcut else layer(x)
        return x


grad_norms = {}
for shortcut in (False, True):
    torch.manual_seed(0)
    stack = DeepStack(shortcut=shortcut)
    stack(torch.randn(64, 32)).pow(2).mean().backward()
    grad_norms[shortcut] = [layer[0].weight.grad.norm().item() for layer in stack.layers]

fig, ax = plt.subplots(figsize=(6, 3.3))
ax.semilogy(range(1, 21), grad_norms[False], "o-", label="plain stack")
ax.semilogy(range(1, 21), grad_norms[True], "o-", label="with residual connections")
ax.set(xlabel="layer (1 = closest to the input)", ylabel="gradient norm (log scale)",
       title="Residual connections keep gradients alive")
ax.legend()
plt.show()
print(f"first-layer gradient: plain {grad_norms[False][0]:.1e}, residual {grad_norms[True][0]:.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The feed-forward network
#
# After attention mixes information *between* tokens, a small two-layer network processes each token *on its
# own* (position-wise): expand from $d_\text{model}$ to $d_\text{ff} = 4\,d_\text{model}$, apply a
# non-linearity, contract back.
#
# $$\text{FFN}(x) = W_2\,\phi(W_1 x + b_1) + b_2$$
#
# GPT-2 uses **GELU**, $x\,\Phi(x)$ with $\Phi$ the normal CDF: like ReLU for large $|x|$ but smooth, and it
# lets small negative values through.

# %% slideshow={"slide_type": "-"}
z = torch.linspace(-4, 4, 200)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(z, F.relu(z), label="ReLU")
ax.plot(z, F.gelu(z), label="GELU (exact)")
ax.plot(z, F.gelu(z, approximate="tanh"), "--", label="GELU (tanh approx., GPT-2)")
ax.set(title="Activation functions", xlabel="x")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.2 — the feed-forward network
# Write the `MLP` module. In `__init__`: `self.c_fc`, a linear layer from `config.n_embd` to `config.d_ff`
# features; `self.act`, GPT-2's GELU (the tanh approximation); `self.c_proj`, a linear layer back to
# `config.n_embd`; and `self.dropout`, dropout with probability `config.dropout`. Both linear layers have
# biases when `config.bias` is True. In `forward`, the four one after the other. The names are GPT-2's: the
# check copies the course's weights (`course_utils.model.MLP`, random) into yours by name, so it tells you when
# a name or a shape differs, and compares the outputs on five cases.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Expand, bend, contract, for each token on its own. A linear layer acts on the last
#    dimension, so a `(B, T, C)` input needs no reshaping.
# 2. **The approach.** Two `nn.Linear(in_features, out_features, bias=config.bias)`, one
#    `nn.GELU(approximate="tanh")` and one `nn.Dropout(config.dropout)`. The hidden size is `config.d_ff`,
#    which is $4\,C$ unless the configuration says otherwise. `forward` applies c_fc, act, c_proj, dropout.
# 3. **A skeleton.**
#    ```python
#    self.c_fc = nn.Linear(config.n_embd, ___, bias=config.bias)
#    self.act = nn.GELU(approximate=___)
#    self.c_proj = nn.Linear(___, ___, bias=config.bias)
#    self.dropout = nn.Dropout(___)
#    ...
#    return self.dropout(self.c_proj(___))
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
class MLP(nn.Module):
    """The position-wise feed-forward network: expand to d_ff, GELU, contract back to n_embd."""

    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION
        self.c_fc = nn.Linear(config.n_embd, config.d_ff, bias=config.bias)      # expand
        self.act = nn.GELU(approximate="tanh")                                   # GPT-2's GELU
        self.c_proj = nn.Linear(config.d_ff, config.n_embd, bias=config.bias)    # contract
        self.dropout = nn.Dropout(config.dropout)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))
        # END SOLUTION


# %% slideshow={"slide_type": "-"}
small_width = GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8)   # C = 8, d_ff = 32
torch.manual_seed(42)
mlp_cases = {  # what each case tests: (config, input)
    "a batch: 2 sequences of 5 tokens": (small_width, torch.randn(2, 5, 8)),
    "a single token": (small_width, torch.randn(1, 1, 8)),
    "inputs of std 3: the GELUs differ": (small_width, torch.randn(4, 8) * 3),
    "d_ff 20, not 4 × n_embd": (replace(small_width, d_ff=20), torch.randn(2, 3, 8)),
    "no biases (bias=False)": (replace(small_width, bias=False), torch.randn(2, 3, 8)),
}


def mlp_output(mlp_class, case):
    config, x = mlp_cases[case]
    module = with_course_weights(mlp_class, course_model.MLP, config)
    return None if module is None else module(x)


if not check_function("4.2", lambda case: mlp_output(MLP, case),
                      [((case,), mlp_output(course_model.MLP, case)) for case in mlp_cases],
                      hint="each case is named by what it tests. GPT-2's GELU is the tanh approximation; the "
                           "hidden size is config.d_ff; bias=config.bias in both linear layers.", rtol=1e-5):
    print("Using the course's MLP, course_utils.model.MLP, from here on.")
    MLP = course_model.MLP

# %% slideshow={"slide_type": "-"}
config = GPTConfig(vocab_size=100, block_size=16, n_layer=2, n_head=4, n_embd=64)
ffn = MLP(config)
tokens = torch.randn(2, 16, 64)                                       # (B, T, C)
print("FFN:", tuple(tokens.shape), "→", tuple(ffn.c_fc(tokens).shape), "→", tuple(ffn(tokens).shape))
print(f"FFN parameters: {sum(p.numel() for p in ffn.parameters()):,} = 8·C² + 5·C = {8 * 64**2 + 5 * 64:,}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The block: pre-norm vs post-norm
#
# A block is attention and the FFN, each wrapped in a residual connection and a LayerNorm. Where the norm sits
# matters:
#
# | | one sublayer $f$ | used by |
# |---|---|---|
# | **post-norm** | $x \leftarrow \text{LN}(x + f(x))$ | the original Transformer (2017), BERT |
# | **pre-norm** | $x \leftarrow x + f(\text{LN}(x))$ | GPT-2 and most LLMs since |
#
# In pre-norm the residual path from the loss to every layer is a clean sum, so gradients reach all layers with
# similar size. In post-norm every path goes through a LayerNorm per layer.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The residual stream
# Drawn for a pre-norm GPT: the vector of each position runs straight from the embeddings to the LM head, and
# every sublayer *adds* to it. Each branch reads a normalized copy and writes its result back with a $+$;
# nothing on the stream itself is normalized until the final LayerNorm. So the output of block $\ell$ is the
# embeddings plus the sum of every branch before it, and a branch that has learned nothing (adds 0) leaves
# the stream as it was.

# %% slideshow={"slide_type": "-"}
diagrams.residual_stream(n_layer=config.n_layer)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.3 — the block's forward pass
# `Block` below holds its four sublayers under GPT-2's names: `ln_1`, `attn` (notebook 03's causal
# self-attention, `course_utils.model.CausalSelfAttention`), `ln_2` and `mlp`, built from your LayerNorm and
# your MLP. Write `forward(x)` for both rows of the table: pre-norm when `self.prenorm` is True (GPT-2),
# post-norm when it is False (2017); attention first, then the FFN, each with its residual connection. `x`
# and the result are `(B, T, C)`. The check compares yours with `course_utils.model.Block`, with the same
# random weights, on four cases.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The residual stream $x$ is a running sum: each sublayer reads it and adds what it computed.
#    Pre-norm normalizes what the sublayer reads; post-norm normalizes the sum after the addition.
# 2. **The approach.** Two lines for each variant, one per sublayer, the second reading the first's result.
#    Each sublayer has its own LayerNorm: `ln_1` goes with `attn`, `ln_2` with `mlp`. In pre-norm the stream
#    itself is never normalized inside the block.
# 3. **A skeleton.**
#    ```python
#    if self.prenorm:
#        x = x + self.attn(___)
#        x = ___ + self.mlp(___)
#    else:
#        x = self.ln_1(___)
#        x = ___
#    return x
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
class Block(nn.Module):
    """Causal self-attention, then the FFN, each with a LayerNorm and a residual connection."""

    def __init__(self, config):
        super().__init__()
        self.prenorm = config.prenorm
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x):
        # BEGIN SOLUTION
        if self.prenorm:
            x = x + self.attn(self.ln_1(x))   # tokens share information
            x = x + self.mlp(self.ln_2(x))    # each token refines its own
        else:
            x = self.ln_1(x + self.attn(x))
            x = self.ln_2(x + self.mlp(x))
        return x
        # END SOLUTION


# %% slideshow={"slide_type": "-"}
torch.manual_seed(43)
block_cases = {  # what each case tests: (config, input)
    "pre-norm, 2 sequences of 5 tokens": (small_width, torch.randn(2, 5, 8) * 2 + 1),
    "pre-norm, one sequence of one token": (small_width, torch.randn(1, 1, 8)),
    "pre-norm, no biases, eps 0.01": (replace(small_width, bias=False, layer_norm_eps=1e-2), torch.randn(1, 7, 8)),
    "post-norm, 2 sequences of 5 tokens": (replace(small_width, prenorm=False), torch.randn(2, 5, 8) * 2 + 1),
}


def block_output(block_class, case):
    config, x = block_cases[case]
    module = with_course_weights(block_class, course_model.Block, config)
    return None if module is None else module(x)


if not check_function("4.3", lambda case: block_output(Block, case),
                      [((case,), block_output(course_model.Block, case)) for case in block_cases],
                      hint="each case is named by what it tests. Pre-norm: x + sublayer(LN(x)), twice, the FFN "
                           "reading the stream after the attention's addition; post-norm: LN(x + sublayer(x))."):
    print("Using the course's Block, course_utils.model.Block, from here on.")
    Block = course_model.Block

# %% [markdown] slideshow={"slide_type": "-"}
# Now measure the gradients at initialization, on a 16-block model. These measurements and the training runs
# below use the course's GPT, `course_utils.model.GPT`: the same blocks as yours, with PyTorch's fused
# LayerNorm, which trains these 16-block models faster. Section 5 builds the GPT around your blocks.

# %% slideshow={"slide_type": "-"}
train_corpus = storyworld.load_split("train", 1500)
stories = train_corpus.text
val_text = storyworld.load_split("validation", 100).text
word_tokenizer = WordTokenizer.train(stories)
train_ids = torch.tensor(word_tokenizer.encode(stories))
val_ids = torch.tensor(word_tokenizer.encode(val_text))


def deep_config(prenorm):
    return GPTConfig(vocab_size=word_tokenizer.vocab_size, block_size=32, n_layer=16, n_head=2, n_embd=32,
                     prenorm=prenorm)


def block_gradient_norms(model):
    """The gradient norm of each block's parameters, all taken together."""
    return [math.sqrt(sum(p.grad.pow(2).sum().item() for p in block.parameters())) for block in model.transformer.h]


xb, yb = get_batch(train_ids, 8, 32, torch.Generator().manual_seed(0))
deep_models, block_grads = {}, {}
for prenorm in (True, False):
    torch.manual_seed(0)
    deep_models[prenorm] = course_model.GPT(deep_config(prenorm))
    deep_models[prenorm](xb, yb)[1].backward()
    block_grads[prenorm] = block_gradient_norms(deep_models[prenorm])

fig, ax = plt.subplots(figsize=(6, 3.3))
ax.semilogy(range(1, 17), block_grads[True], "o-", label="pre-norm (GPT-2)")
ax.semilogy(range(1, 17), block_grads[False], "o-", label="post-norm (2017)")
ax.set(xlabel="block", ylabel="gradient norm at init", title="Where the gradient goes at the first step")
ax.legend()
plt.show()
for prenorm, name in ((True, "pre-norm "), (False, "post-norm")):
    g = block_grads[prenorm]
    print(f"{name}: largest / median block gradient = {max(g) / sorted(g)[len(g) // 2]:.1f}")

# %% [markdown] slideshow={"slide_type": "-"}
# Pre-norm gives every block a gradient of the same size. In the post-norm model the first block gets a
# gradient about seventeen times larger than the median block, and blocks 2–16 all get the same. Why the
# first? It is the only block whose input does not come out of a LayerNorm: it gets the sum of the token and
# position embeddings, both initialized with standard deviation 0.02, so the sum's entries have a standard
# deviation of about 0.03. Block 1's first LayerNorm normalizes that sum plus the attention's output, dividing
# by about 0.03, and backpropagation through it multiplies the gradient by the same factor, $1/0.03 \approx 35$.
# So the attention's biases in block 1 get gradients about 35 times larger than in block 2, whose input is
# already a LayerNorm's output, of standard deviation 1. (The attention's weights are not affected: their
# gradients also scale with their inputs, which are just as small.) Two measurements test this explanation:
# what each block's first LayerNorm divides by, and the same model with the embedding sum multiplied by 35,
# so that block 1 too receives vectors of standard deviation about 1.

# %% slideshow={"slide_type": "-"}
def first_norm_input_std(model, idx):
    """For each block, the standard deviation of the vectors its first LayerNorm normalizes (mean over tokens)."""
    stds = []
    hooks = [block.ln_1.register_forward_hook(lambda module, inputs, output: stds.append(inputs[0].std(-1).mean().item()))
             for block in model.transformer.h]
    with torch.no_grad():
        model(idx)
    for hook in hooks:
        hook.remove()
    return stds


post = deep_models[False]
stds = first_norm_input_std(post, xb)
print(f"post-norm, std of the input to block 1's first LayerNorm: {stds[0]:.3f};  blocks 2–16: "
      f"{min(stds[1:]):.2f} to {max(stds[1:]):.2f}")
bias_ratio = (post.transformer.h[0].attn.c_proj.bias.grad.norm() / post.transformer.h[1].attn.c_proj.bias.grad.norm()).item()
print(f"gradient of the attention output bias, block 1 / block 2 = {bias_ratio:.0f};  1 / {stds[0]:.3f} = {1 / stds[0]:.0f}")
print(f"post-norm blocks 2–16: largest / smallest block gradient = {max(block_grads[False][1:]) / min(block_grads[False][1:]):.2f}")

torch.manual_seed(0)
scaled = course_model.GPT(deep_config(prenorm=False))
scaled.transformer.drop.register_forward_hook(lambda module, inputs, output: output * 35)  # the embedding sum × 35
scaled(xb, yb)[1].backward()
g = block_gradient_norms(scaled)
print(f"post-norm with the embedding sum × 35: block-1 input std {first_norm_input_std(scaled, xb)[0]:.2f}, "
      f"largest / median block gradient = {max(g) / sorted(g)[len(g) // 2]:.1f}")
assert stds[0] < 0.05 and all(0.9 < s < 1.1 for s in stds[1:])
assert 25 < bias_ratio < 50 and max(g) / sorted(g)[len(g) // 2] < 1.5

# %% [markdown] slideshow={"slide_type": "-"}
# The explanation holds: block 1 normalizes a sum of standard deviation 0.03, the others vectors of standard
# deviation 1; the ratio of the bias gradients is that factor; and with the embedding sum scaled up, the
# spike is gone. (The 2017 Transformer multiplies its embeddings by $\sqrt{d_\text{model}}$, which shrinks
# this factor.) This is not the effect Xiong et al. (2020) analysed: in their post-norm Transformer the
# gradients at initialization are largest near the *output*, which they give as the reason post-norm needs
# a learning-rate warmup. Here blocks 2–16 get equal gradients, within 1%.
#
# Does post-norm need a warmup here, and does the spike matter for training? Train the 16-block models for
# 100 steps (no gradient clipping), three seeds each: pre-norm and post-norm at a moderate learning rate
# (0.01) and a higher one (0.02), at 0.02 also with a 25-step linear warmup, and post-norm at 0.02 once more
# with the embedding sum × 35, without the spike. The dotted line is the **unigram loss**, that of a model
# that predicts every word by its frequency in the training text and ignores the context.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
SEEDS = (0, 1, 2)
arms = {  # name: (learning rate, pre-norm?, warmup steps, embedding sum × 35?)
    "0.01 pre-norm": (1e-2, True, 1, False),
    "0.01 post-norm": (1e-2, False, 1, False),
    "0.02 pre-norm": (2e-2, True, 1, False),
    "0.02 post-norm": (2e-2, False, 1, False),
    "0.02 post-norm, embeddings × 35": (2e-2, False, 1, True),
    "0.02 pre-norm, warmup 25": (2e-2, True, 25, False),
    "0.02 post-norm, warmup 25": (2e-2, False, 25, False),
}
counts = torch.bincount(train_ids, minlength=word_tokenizer.vocab_size) + 1
unigram = -(counts / counts.sum()).log()[val_ids[1:64 * 32 + 1]].mean().item()   # the 64 windows evaluate() reads
final, curves = {}, {}
for name, (lr, prenorm, warmup, scale_embeddings) in arms.items():
    final[name], runs = [], []
    for seed in SEEDS:
        torch.manual_seed(seed)
        model = course_model.GPT(deep_config(prenorm))
        if scale_embeddings:
            model.transformer.drop.register_forward_hook(lambda module, inputs, output: output * 35)
        result = train(model, train_ids, val_ids,
                       TrainConfig(max_steps=100, batch_size=8, learning_rate=lr, warmup_steps=warmup,
                                   grad_clip=1e9, eval_interval=100, seed=seed), progress=False)
        final[name].append(result.val_loss[-1])
        runs.append(result.train_loss)
    curves[name] = torch.tensor(runs).mean(0)
mean = {name: sum(v) / len(v) for name, v in final.items()}
print(f"validation loss after 100 steps (nats/token); the unigram loss is {unigram:.2f}\n")
print(f"{'learning rate, block':<34}" + "".join(f"{'seed ' + str(s):>8}" for s in SEEDS) + f"{'mean':>8}")
for name, values in final.items():
    print(f"{name:<34}" + "".join(f"{v:>8.2f}" for v in values) + f"{mean[name]:>8.2f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
for name in arms:
    ax = axes[0] if name.startswith("0.01") else axes[1]
    smooth = curves[name].unfold(0, 10, 1).mean(1)                    # a 10-step running mean
    ax.plot(range(10, 101), smooth, ":" if "× 35" in name else "-", label=name[5:])
for ax, lr in zip(axes, ("0.01", "0.02")):
    ax.axhline(unigram, color="k", ls=":", lw=1, label="unigram loss")
    ax.set(title=f"learning rate {lr}, mean of {len(SEEDS)} seeds", xlabel="step", ylabel="training loss")
    ax.legend(fontsize=8)
plt.show()

assert min(final["0.01 pre-norm"]) > max(final["0.01 post-norm"]) + 0.5, \
    "at lr 0.01 without warmup post-norm ends lower than pre-norm on every seed"
assert 1.2 < mean["0.01 post-norm"] < 1.8, "at lr 0.01 post-norm reaches about 1.5 nats"
assert 2.8 < mean["0.01 pre-norm"] < 4.2, "at lr 0.01 pre-norm is still at about 3 to 4 nats"
assert mean["0.01 pre-norm"] < unigram - 0.5, "pre-norm keeps learning at lr 0.01 without warmup"
assert abs(mean["0.02 post-norm"] - unigram) < 0.15, "at lr 0.02 without warmup post-norm stalls at the unigram loss"
assert abs(mean["0.02 post-norm, embeddings × 35"] - unigram) < 0.15, \
    "removing block 1's gradient spike does not save post-norm at lr 0.02"
assert mean["0.02 post-norm, warmup 25"] < unigram - 1.5, \
    "with a 25-step warmup post-norm trains at lr 0.02, far below the unigram loss"
assert mean["0.02 pre-norm"] < unigram - 0.5, "pre-norm keeps learning at lr 0.02 without warmup"
assert mean["0.02 pre-norm, warmup 25"] < mean["0.02 pre-norm"] - 0.8, "warmup helps pre-norm at lr 0.02 too"

# %% [markdown] slideshow={"slide_type": "-"}
# What the runs show (the figures move a little from seed to seed and from one CPU to another; the pattern
# does not):
#
# - At 0.01 without warmup, **post-norm trains better** than pre-norm, on every seed: about 1.5 nats, while
#   pre-norm is still at about 3 to 4 (mean of the seeds). Post-norm is not simply the worse design.
# - At 0.02 without warmup, **post-norm collapses to the unigram loss** and stays there: it predicts word
#   frequencies and no longer uses the context. Without the gradient spike it collapses just the same, so the
#   spike is not what breaks it.
# - **A 25-step warmup saves post-norm** at 0.02: it trains normally, far below the unigram loss. This is the
#   warmup that post-norm Transformers need.
# - **Pre-norm did not collapse**: without warmup it kept learning at both rates, slowly (on average well
#   below the unigram loss). Warmup helps it too, a lot at 0.02.
#
# So pre-norm is the *robust* choice — where post-norm fails outright, it only slows down — not the better one
# at every learning rate. That robustness matters when one training run costs millions (notebook 05), and
# large pre-norm models are still trained with a warmup.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The complete GPT
#
# $$\text{tokens} \xrightarrow{\text{token + position embeddings}} x_0
# \xrightarrow{\text{block}_1 \dots \text{block}_L} x_L \xrightarrow{\text{LN}} \xrightarrow{\text{LM head}}
# \text{logits} \in \mathbb{R}^{T \times |V|}$$
#
# The LM head projects each final vector onto the vocabulary. With **weight tying** it reuses the token
# embedding matrix: the same $|V| \times d$ table reads tokens in and writes them out. The course GPT always
# ties them (`share_embeddings` in the table below): in `course_utils/model.py`, `GPT.__init__` sets
# `self.transformer.wte.weight = self.lm_head.weight`, so both names hold one tensor, trained by both uses. It
# saves $|V| \cdot d$ parameters, counted below. Stacking more blocks adds capacity — more computation per
# token — but not context: the context window is set by `block_size` alone.
#
# The course GPT (`course_utils.model.GPT`) is configured by the usual hyperparameter table:

# %% slideshow={"slide_type": "-"}
gpt2_small = gpt2_config()
for name, value, meaning in gpt2_small.hyperparameter_table():
    print(f"{name:<24}{str(value):<10}{meaning}")

# %% [markdown] slideshow={"slide_type": "-"}
# The layer rows say which stacks a model has. A decoder-only GPT has `decoder_num_layers` $=$ `n_layers` and
# no encoder; with `causal=False` the same stack is an encoder (BERT). An encoder-decoder sets the two
# separately: T5-small has 6 encoder and 6 decoder blocks, and shares one embedding matrix between encoder,
# decoder and output layer. Section 7 builds a small one.

# %% [markdown] slideshow={"slide_type": "-"}
# **Where dropout acts.** `dropout_rate` (the field `GPTConfig.dropout`) sets one probability $p$ for every
# dropout in the course GPT, and there are three places:
#
# 1. **after the embeddings**: `transformer.drop` acts on the sum of token and position embeddings,
#    $x_0 = \text{drop}(\text{wte}[\text{token}] + \text{wpe}[\text{position}])$;
# 2. **on the attention weights**, after the softmax and before they mix the values (notebook 03, section 4):
#    `attn.attn_dropout` when the weights are written out, or the `dropout_p` argument of
#    `F.scaled_dot_product_attention` in the fused path;
# 3. **on each sublayer's output, just before it joins the residual (shortcut) path**: `attn.resid_dropout`
#    after the attention's output projection `c_proj`, and `mlp.dropout` after the FFN's `c_proj`. A pre-norm
#    block is therefore $x \leftarrow x + \text{drop}(f(\text{LN}(x)))$, once for attention and once for the FFN.
#
# The residual path itself, the final LayerNorm and the LM head are never dropped. Dropout acts only in
# training mode: `model.eval()` turns every `nn.Dropout` into the identity, and the fused kernel then gets
# `dropout_p = 0`, so at inference the same input always gives the same logits. Hugging Face's GPT-2
# configuration names the same three places `embd_pdrop`, `attn_pdrop` and `resid_pdrop` (0.1 each by
# default); GPT-2 small's configuration here, like the course's storyworld models, uses $p = 0$, as the table
# prints.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.4 — the GPT's forward pass
# `GPT.__init__` below builds the model of the diagram from your blocks, under GPT-2's names: `transformer.wte`
# (token embeddings, $|V| \times C$), `transformer.wpe` (position embeddings, `block_size` $\times C$),
# `transformer.drop`, the blocks `transformer.h`, the final `transformer.ln_f`, and `lm_head`, tied to `wte`.
# It initializes them as GPT-2 does. Write `forward(idx, targets=None)`:
#
# - `idx` is `(B, T)` token IDs; the token at position $t$ gets `wte[idx[:, t]] + wpe[t]`, then dropout;
# - then every block in turn, the final LayerNorm and the LM head: logits `(B, T, vocab_size)`;
# - return `(logits, None)` without targets; with `targets` `(B, T)` return `(logits, loss)`, where `loss` is
#   the mean cross-entropy of `targets[:, t]` under `logits[:, t]`, skipping the positions whose target is
#   `-100`. The targets are already the next tokens (`get_batch` shifted them): do not shift again.
#
# The check gives yours and the course's GPT the same random weights and compares logits and loss on six
# cases. When it passes, the rest of the notebook trains, counts and loads *your* GPT.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Tokens in, one vector per token through the residual stream, scores over the vocabulary
#    out. Position is the only thing that tells the model where a token stands: attention on its own does not
#    know the order.
# 2. **The approach.** The positions are `torch.arange(T)` (on `idx.device`), looked up in `wpe`; their `(T, C)`
#    broadcasts over the batch. Loop over `self.transformer.h`. For the loss flatten to `(B·T, V)` and `(B·T,)`
#    and call `F.cross_entropy(..., ignore_index=-100)`.
# 3. **A skeleton.**
#    ```python
#    B, T = idx.shape
#    tr = self.transformer
#    x = tr.drop(tr.wte(___) + tr.wpe(___))                 # (B, T, C)
#    for block in tr.h:
#        x = ___
#    logits = self.lm_head(___)                             # (B, T, vocab_size)
#    if targets is None:
#        return logits, None
#    return logits, F.cross_entropy(logits.view(-1, ___), targets.view(-1), ignore_index=___)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
class GPT(nn.Module):
    """Token + position embeddings -> your blocks -> final LayerNorm -> the tied LM head."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),    # token embeddings (V, C)
            wpe=nn.Embedding(config.block_size, config.n_embd),    # position embeddings (block_size, C)
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd, bias=config.bias, eps=config.layer_norm_eps),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight          # weight tying: one matrix, two uses
        self.apply(course_model.GPT._init_weights)                 # GPT-2's initialization: N(0, 0.02), zero biases
        for name, p in self.named_parameters():                    # and smaller for what writes into the stream
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())          # the tied matrix counts once

    def forward(self, idx, targets=None):
        # BEGIN SOLUTION
        B, T = idx.shape
        tr = self.transformer
        positions = torch.arange(T, device=idx.device)             # (T,)
        x = tr.drop(tr.wte(idx) + tr.wpe(positions))               # (B, T, C): (T, C) broadcasts over the batch
        for block in tr.h:
            x = block(x)
        logits = self.lm_head(tr.ln_f(x))                          # (B, T, vocab_size)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-100)
        return logits, loss
        # END SOLUTION


# %% slideshow={"slide_type": "-"}
tiny_gpt = GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=8)
torch.manual_seed(44)
skip_three = torch.randint(16, (2, 6))
skip_three[:, :3] = -100
gpt_cases = {  # what each case tests: (config, idx, targets)
    "no targets: (logits, None)": (tiny_gpt, torch.randint(16, (2, 6)), None),
    "with targets: (logits, loss)": (tiny_gpt, torch.randint(16, (2, 6)), torch.randint(16, (2, 6))),
    "targets -100 at 3 positions": (tiny_gpt, torch.randint(16, (2, 6)), skip_three),
    "one sequence of one token": (tiny_gpt, torch.randint(16, (1, 1)), torch.randint(16, (1, 1))),
    "a full block_size of 8 tokens": (tiny_gpt, torch.randint(16, (3, 8)), torch.randint(16, (3, 8))),
    "3 blocks without biases": (replace(tiny_gpt, n_layer=3, bias=False), torch.randint(16, (2, 5)),
                                torch.randint(16, (2, 5))),
}


def gpt_output(gpt_class, case):
    config, idx, targets = gpt_cases[case]
    model = with_course_weights(gpt_class, course_model.GPT, config)
    return None if model is None else model(idx, targets)


if not check_function("4.4", lambda case: gpt_output(GPT, case),
                      [((case,), gpt_output(course_model.GPT, case)) for case in gpt_cases],
                      hint="each case is named by what it tests. Positions are arange(T), not the token IDs; "
                           "the final LayerNorm comes before the head; the targets are already shifted."):
    print("Using the course's GPT, course_utils.model.GPT, from here on.")
    GPT = course_model.GPT

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Train your GPT
# Your GPT is a complete language model: `course_utils.train.train` (notebook 05 writes it) trains it on the
# storyworld words of section 4. Two blocks of width 48, 300 steps. Beside it the course's GPT trains from the
# same seed, on the same batches: both start from the same weights, because `__init__` creates the same
# modules in the same order, so the two curves should lie on top of each other, apart from rounding.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
small_config = GPTConfig(vocab_size=word_tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=48)
small_run = TrainConfig(max_steps=300, batch_size=16, warmup_steps=30, eval_interval=100)
runs = {}
for name, gpt_class in (("your GPT", GPT), ("course GPT", course_model.GPT)):
    torch.manual_seed(0)
    model = gpt_class(small_config)
    runs[name] = (model, train(model, train_ids, val_ids, small_run, progress=False))
your_gpt, your_run = runs["your GPT"]
course_run = runs["course GPT"][1]

fig, ax = plt.subplots(figsize=(6, 3.2))
for name, (_, result) in runs.items():
    ax.plot(result.steps, result.train_loss, "-" if name == "your GPT" else "--", label=f"{name}, training")
ax.axhline(unigram, color="k", ls=":", lw=1, label="unigram loss")
ax.set(xlabel="step", ylabel="loss (nats/token)", title="Training your GPT on storyworld")
ax.legend()
plt.show()
print(f"validation loss after {small_run.max_steps} steps: your GPT {your_run.val_loss[-1]:.2f}, course GPT "
      f"{course_run.val_loss[-1]:.2f} nats/token; unigram loss {unigram:.2f}")
assert your_run.val_loss[-1] < 1.0 < unigram, "your GPT gets under one nat per token in 300 steps"
assert abs(your_run.val_loss[-1] - course_run.val_loss[-1]) < 0.05, "the two curves end together"

# %% [markdown] slideshow={"slide_type": "-"}
# The loss falls far below the unigram loss, to under one nat per token (about 0.7) in 300 steps: the model
# uses the context. Let it continue a story, greedily (`course_utils.generate.generate`, the decoding loop of
# notebook 06; `use_cache=False`, because your forward has no KV cache). It already writes storyworld's
# sentences, though the details need not fit together (a boy may get a girl's name). The words come from a
# training run, so they can differ from machine to machine.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
prompt = torch.tensor([word_tokenizer.encode("Once upon a time")])
continuation = generate(your_gpt, prompt, 30, temperature=0, use_cache=False)
written = word_tokenizer.decode(continuation[0].tolist())
print(written)
assert re.match(r"Once upon a time, there was an? (\w+ )+named \w+\.", written), \
    "your GPT opens a story as storyworld does"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Trained weights in your GPT
# The course ships a storyworld GPT trained for 1,200 steps (notebook 05 trains it). Its weights have the same
# names and shapes as your modules, so they load into your class as they are, and your forward pass then
# computes what the course's does.

# %% slideshow={"slide_type": "-"}
story_gpt, story_tokenizer, story_record = course_model.load_storyworld_gpt()
yours_trained = GPT(story_gpt.config)
yours_trained.load_state_dict(story_gpt.state_dict())
yours_trained.eval()
story = torch.tensor([story_tokenizer.encode(val_text)[:story_gpt.config.block_size]])
with torch.no_grad():
    difference = (yours_trained(story)[0] - story_gpt(story)[0]).abs().max().item()
print(f"{story_gpt.num_parameters():,} parameters loaded; max |your logits − the course's| on a validation "
      f"story {'< 1e-4 ✓' if difference < 1e-4 else f'= {difference:.1e} ✗'}")
assert difference < 1e-4

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
story_prompt = torch.tensor([story_tokenizer.encode("Once upon a time")])
continuation = generate(yours_trained, story_prompt, 40, temperature=0, use_cache=False)
written = story_tokenizer.decode(continuation[0].tolist())
print(written)
assert re.match(r"Once upon a time, there was an? (\w+ )+named \w+\. (He|She) lived in", written), \
    "with the trained weights your GPT writes storyworld's opening sentences"

# %% [markdown] slideshow={"slide_type": "-"}
# Count GPT-2 small's parameters by formula. With $V$ tokens, context $T$, width $C$ and $L$ blocks:
#
# - token and position embeddings: $VC + TC$ (the LM head is tied: no extra parameters);
# - one block: attention $4C^2 + 4C$ (q, k, v and output projections with biases), FFN $8C^2 + 5C$, two
#   LayerNorms $4C$ — in all $12C^2 + 13C$;
# - final LayerNorm: $2C$.

# %% slideshow={"slide_type": "-"}
V, T, C, L = 50257, 1024, 768, 12
by_formula = V * C + T * C + L * (12 * C**2 + 13 * C) + 2 * C
gpt2_model = GPT(gpt2_small)
by_counting = gpt2_model.num_parameters()
print(f"formula  {by_formula:,}\ncounting {by_counting:,}", "✓" if by_formula == by_counting == 124_439_808 else "✗")
assert by_formula == by_counting == 124_439_808
print(f"without weight tying: {by_counting + V * C:,}")

parts = {"token embeddings": V * C, "position embeddings": T * C,
         "attention (all blocks)": L * (4 * C**2 + 4 * C), "feed-forward (all blocks)": L * (8 * C**2 + 5 * C),
         "LayerNorms": L * 4 * C + 2 * C}
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.barh(list(parts), [v / 1e6 for v in parts.values()])
ax.set(xlabel="millions of parameters", title="Where GPT-2 small's 124M parameters are")
plt.show()

# GPT-3 175B: L = 96 blocks of width 12,288. The 12·L·C² term dominates:
print(f"GPT-3: 12·96·12288² = {12 * 96 * 12288**2 / 1e9:.0f}B parameters in its blocks")
del gpt2_model

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.5 — one block of GPT-2 small
# How many parameters does one GPT-2 small block have? Store the number in `block_params`, computed from the
# formula with $C = 768$.
#
# <details><summary>💡 Hint</summary>
#
# $12C^2 + 13C$.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
block_params = 12 * 768**2 + 13 * 768
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("4.5", block_params, sum(p.numel() for p in Block(gpt2_small).parameters()),
      hint="Attention 4C² + 4C, FFN 8C² + 5C, two LayerNorms 4C.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Identical to GPT-2
#
# GPT-2's released weights use the same names as our modules (`transformer.h.0.attn.c_attn.weight`, ...). One
# difference: GPT-2 was written with "Conv1D" layers that store each weight matrix transposed, so the converter
# transposes four matrices per block (`course_utils.model.convert_gpt2_state_dict`).
#
# **Proof**, offline: build Hugging Face's GPT-2 with random weights, copy them into the course GPT, and compare
# the logits.

# %% slideshow={"slide_type": "-"}
try:
    import transformers
except ImportError:
    transformers = None
    print("transformers is not installed; skipping the comparison (pip install transformers).")

if transformers is not None:
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(vocab_size=300, n_positions=64, n_embd=96, n_layer=3, n_head=4,
                                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    hf_model = transformers.GPT2LMHeadModel(hf_config).eval()
    your_gpt2 = load_gpt2_weights(GPT(gpt2_config(vocab_size=300, block_size=64, n_embd=96, n_layer=3,
                                                     n_head=4)), hf_model.state_dict()).eval()
    idx = torch.randint(300, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (your_gpt2(idx)[0] - hf_model(idx).logits).abs().max().item()
    print(f"max |course GPT − transformers GPT-2| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
    assert diff < 1e-5

# %% [markdown] slideshow={"slide_type": "-"}
# With a network connection you can load the real GPT-2 (548 MB, downloaded once, checksum-verified) into the
# course class and let it write. Set `LOAD_REAL_GPT2 = True` to try it.

# %% slideshow={"slide_type": "-"}
LOAD_REAL_GPT2 = False

if not LOAD_REAL_GPT2:
    print("Skipping the real GPT-2 (set LOAD_REAL_GPT2 = True to download 548 MB).")
else:
    import tiktoken

    from course_utils.model import from_pretrained_gpt2

    real_gpt2 = from_pretrained_gpt2()
    if real_gpt2 is not None:
        encoding = tiktoken.get_encoding("gpt2")
        prompt = torch.tensor([encoding.encode("Once upon a time, there was a little girl named Lily.")])
        out = real_gpt2.generate(prompt, 40, temperature=0.8, top_k=40, generator=torch.Generator().manual_seed(0))
        print(encoding.decode(out[0].tolist()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Encoder-only, decoder-only, encoder-decoder
#
# The same block serves three families; what changes is **which positions may attend to which** and **what
# the model is trained to predict**.
#
# | family | attention | trained to | good at | examples |
# |---|---|---|---|---|
# | encoder-only | every token sees every token | fill in masked tokens | classification, search embeddings | BERT |
# | decoder-only | each token sees itself and the past (causal mask) | predict the next token | generating text | GPT |
# | encoder-decoder | encoder: all-to-all; decoder: causal + **cross-attention** to the encoder | rebuild corrupted spans / map input to output | translation, summarization | T5, Whisper |
#
# An encoder is a note-taker that reads everything and summarizes; a decoder is a storyteller that writes one
# token at a time. Cross-attention is ordinary attention whose queries come from the decoder and whose keys
# and values come from the encoder's output.
#
# That gives two kinds of use. An encoder is a **representation** model: its output is a vector per token
# (pooled, one per text) that feeds a classifier or a search index, and most embedding models used for
# retrieval descend from BERT. A decoder is a **generative** model: its output is a distribution over the next
# token, so it writes. BERT is therefore not a translation model: it has no decoder to write the output.
# Mapping one sequence to another is the classic encoder-decoder task, the one the original Transformer was
# built for, and one of T5's text-to-text tasks.
#
# In time: the Transformer (2017, encoder-decoder, for translation) → GPT-1 (2018, decoder-only, pretrained
# then fine-tuned) and BERT (2018, encoder-only) → GPT-2 (2019) → T5 (2019, encoder-decoder) → GPT-3 (2020,
# 175 billion parameters, tasks from examples in the prompt) → instruction-tuned, aligned models such as
# InstructGPT and ChatGPT (2022, notebook 08). Most large generative models since are decoder-only.

# %% slideshow={"slide_type": "-"}
T_enc, T_dec = 6, 4
masks = {
    "encoder: bidirectional": torch.ones(T_enc, T_enc),
    "decoder: causal": torch.ones(T_dec, T_dec).tril(),
    "cross-attention: decoder → encoder": torch.ones(T_dec, T_enc),
}
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, (title, mask) in zip(axes, masks.items()):
    ax.imshow(mask, cmap="Greens", vmin=0, vmax=1.3)
    ax.set(title=title, xlabel="key position (attended to)", ylabel="query position")
fig.suptitle("Who may attend to whom (green = allowed)")
fig.tight_layout()
plt.show()

# One attention function, three uses: only the mask and the source of keys/values change.
d = 16
encoder_states = torch.randn(1, T_enc, d)
decoder_states = torch.randn(1, T_dec, d)
enc_out = F.scaled_dot_product_attention(encoder_states, encoder_states, encoder_states)
dec_out = F.scaled_dot_product_attention(decoder_states, decoder_states, decoder_states, is_causal=True)
cross_out = F.scaled_dot_product_attention(decoder_states, encoder_states, encoder_states)
print("encoder self-attention :", tuple(enc_out.shape))
print("decoder self-attention :", tuple(dec_out.shape))
print("cross-attention        :", tuple(cross_out.shape), "(queries from the decoder, keys/values from the encoder)")

# Causality, checked: changing the last decoder token changes only the last decoder output.
changed = decoder_states.clone()
changed[0, -1] += 1
dec_changed = F.scaled_dot_product_attention(changed, changed, changed, is_causal=True)
print("decoder outputs that changed:", (dec_changed - dec_out).abs().amax(-1)[0].gt(1e-6).tolist())

# %% [markdown] slideshow={"slide_type": "-"}
# The three training objectives on one storyworld sentence (word-level for readability):

# %% slideshow={"slide_type": "-"}
sentence = "Lily had a red ball and she loved it very much".split()
g = torch.Generator().manual_seed(3)
masked = [w if torch.rand(1, generator=g).item() > 0.25 else "[MASK]" for w in sentence]
print("causal LM (GPT)        input:", " ".join(sentence[:-1]))
print("                       target:", " ".join(sentence[1:]), "  ← every next word")
print("masked LM (BERT)       input:", " ".join(masked))
print("                       target:", [w for w, m in zip(sentence, masked) if m == "[MASK]"], " ← only the masked words")
spans = [(2, 4), (7, 9)]
corrupted, target = [], []
position = 0
for n, (start, end) in enumerate(spans):
    corrupted += sentence[position:start] + [f"<X{n}>"]
    target += [f"<X{n}>"] + sentence[start:end]
    position = end
corrupted += sentence[position:]
print("span corruption (T5)   input:", " ".join(corrupted))
print("                       target:", " ".join(target))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Cross-attention, written out
# A decoder block of an encoder-decoder has three sublayers, each pre-norm with its residual connection:
# causal self-attention over the output so far, **cross-attention** to the encoder, and the FFN.
# Cross-attention is notebook 03's multi-head attention with two inputs: the decoder's states
# $Y \in \mathbb{R}^{T_\text{dec} \times C}$ give the queries, the encoder's output
# $H \in \mathbb{R}^{T_\text{enc} \times C}$ gives the keys and the values. For one head,
#
# $$\text{CrossAttn}(Y, H) = \text{softmax}\!\left(\frac{(Y W_Q)(H W_K)^\top}{\sqrt{d_k}}\right) H W_V
# \quad \in \mathbb{R}^{T_\text{dec} \times d_k}$$
#
# and the heads are concatenated and projected by $W_O$, as before. The score matrix is
# $T_\text{dec} \times T_\text{enc}$, so the two lengths need not match, and there is **no causal mask**: the
# whole source is known before the first output token is written (only padding would be hidden). The
# decoder's own self-attention keeps its causal mask.

# %% slideshow={"slide_type": "-"}
class CrossAttention(nn.Module):
    """Multi-head attention whose queries come from the decoder and whose keys and values come from the
    encoder's output. No mask: every decoder position may read every encoder position."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)      # reads the decoder
        self.k_proj = nn.Linear(d_model, d_model)      # reads the encoder
        self.v_proj = nn.Linear(d_model, d_model)      # reads the encoder
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, memory):
        B, T_dec, C = x.shape                          # x: the decoder's states
        T_enc, nh, hs = memory.size(1), self.n_heads, C // self.n_heads   # memory: the encoder's output
        q = self.q_proj(x).view(B, T_dec, nh, hs).transpose(1, 2)         # (B, nh, T_dec, hs)
        k = self.k_proj(memory).view(B, T_enc, nh, hs).transpose(1, 2)    # (B, nh, T_enc, hs)
        v = self.v_proj(memory).view(B, T_enc, nh, hs).transpose(1, 2)    # (B, nh, T_enc, hs)
        y = F.scaled_dot_product_attention(q, k, v)                       # (B, nh, T_dec, hs): no mask
        return self.out_proj(y.transpose(1, 2).reshape(B, T_dec, C))     # (B, T_dec, C)


torch.manual_seed(0)
torch_cross = nn.MultiheadAttention(32, 4, batch_first=True)    # PyTorch stacks W_Q, W_K, W_V in in_proj_weight
cross = CrossAttention(32, 4)
with torch.no_grad():
    for proj, weight, bias in zip((cross.q_proj, cross.k_proj, cross.v_proj),
                                  torch_cross.in_proj_weight.chunk(3), torch_cross.in_proj_bias.chunk(3)):
        proj.weight.copy_(weight)
        proj.bias.copy_(bias)
    cross.out_proj.load_state_dict(torch_cross.out_proj.state_dict())
decoder_x, encoder_h = torch.randn(2, 5, 32), torch.randn(2, 9, 32)   # T_dec = 5, T_enc = 9
with torch.no_grad():
    ours = cross(decoder_x, encoder_h)
    theirs = torch_cross(decoder_x, encoder_h, encoder_h, need_weights=False)[0]
    course = copy_from_torch_multihead(MultiHeadAttention(32, 4), torch_cross)(decoder_x, context=encoder_h)
diff = (ours - theirs).abs().max().item()
print("decoder", tuple(decoder_x.shape), "+ encoder", tuple(encoder_h.shape), "→", tuple(ours.shape))
print(f"max |ours − nn.MultiheadAttention| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
diff_course = (course - theirs).abs().max().item()
print(f"max |course_utils MultiHeadAttention(context) − nn.MultiheadAttention| = {diff_course:.1e}",
      "✓" if diff_course < 1e-5 else "✗")
assert diff < 1e-5 and diff_course < 1e-5

# No causal mask: changing the *last* encoder token changes every decoder output.
changed = encoder_h.clone()
changed[:, -1] += 1
with torch.no_grad():
    moved = (cross(decoder_x, changed) - ours).abs().amax(-1)[0]
print("decoder outputs that changed:", moved.gt(1e-6).tolist())

# %% [markdown] slideshow={"slide_type": "-"}
# The data flow of the whole model, drawn (LayerNorms and residual connections left out). The encoder reads the
# source once; every decoder block reads the encoder's output $H$ through its cross-attention. When generating,
# $H$ and the keys and values computed from it stay the same for every new output token. With `share_embeddings` the token
# embeddings of encoder and decoder and the LM head are one matrix.

# %% slideshow={"slide_type": "-"}
diagrams.encoder_decoder()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### An encoder-decoder against a decoder-only model: reversing a sentence
# The task: read one storyworld sentence and write its words in reverse order, then `<eos>`. The answer is
# known exactly, so we can score exact matches, on sentences that never occur in the training text. The first
# word to write is the *last* word read.
#
# Two models of about the same size see the same batches for the same number of steps, with the same optimizer:
#
# - **encoder-decoder**: one encoder block (bidirectional) and one decoder block (causal self-attention,
#   cross-attention, FFN), embeddings shared by encoder, decoder and LM head;
# - **decoder-only**: the course GPT with two blocks, its FFN widened to $5C$ so that the two parameter counts
#   match, reading `source <sep> reversal <eos>` as one sequence. Its loss is taken on the reversal and `<eos>`
#   only, the same tokens the encoder-decoder predicts after its `<sep>`.
#
# Each batch holds sentences of one length, so neither model needs padding.

# %% slideshow={"slide_type": "-"}
def plain_sentences(corpus):
    """The sentences made of words only (no speech, no commas), as tuples of words without the full stop."""
    found = []
    for story in corpus.stories:
        for sentence in re.split(r"(?<=[.!?]) ", story.text):
            if re.fullmatch(r"[A-Za-z ]+\.", sentence):
                found.append(tuple(sentence[:-1].split()))
    return found


seq_train = sorted(set(plain_sentences(train_corpus)))
seq_test = sorted(set(plain_sentences(storyworld.load_split("validation", 300))) - set(seq_train))  # unseen
seq_itos = ["<sep>", "<eos>"] + sorted({word for sentence in seq_train + seq_test for word in sentence})
seq_stoi = {word: i for i, word in enumerate(seq_itos)}
SEP, EOS = seq_stoi["<sep>"], seq_stoi["<eos>"]
by_length = {}
for sentence in seq_train:
    by_length.setdefault(len(sentence), []).append(sentence)
print(f"{len(seq_train):,} distinct training sentences; {len(seq_test)} test sentences, none of them in the "
      f"training text; {len(seq_itos)} tokens; {min(by_length)} to {max(by_length)} words")
print("source:", " ".join(seq_test[0]), "\ntarget:", " ".join(reversed(seq_test[0])), "<eos>")


def reversal_batch(rng, batch_size=32):
    """Training sentences of one length as token IDs: sources (B, n) and their reversals (B, n)."""
    n = rng.choices(list(by_length), weights=[len(group) for group in by_length.values()])[0]
    src = torch.tensor([[seq_stoi[word] for word in sentence] for sentence in rng.choices(by_length[n], k=batch_size)])
    return src, src.flip(1)


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder's output, FFN: each pre-norm, with a residual."""

    def __init__(self, config):
        super().__init__()
        self.ln_1, self.attn = LayerNorm(config.n_embd), CausalSelfAttention(config)
        self.ln_cross, self.cross = LayerNorm(config.n_embd), CrossAttention(config.n_embd, config.n_head)
        self.ln_2, self.mlp = LayerNorm(config.n_embd), MLP(config)

    def forward(self, x, memory):
        x = x + self.attn(self.ln_1(x))                   # the output written so far
        x = x + self.cross(self.ln_cross(x), memory)      # what the source says
        return x + self.mlp(self.ln_2(x))


class EncoderDecoder(nn.Module):
    """Encoder blocks (the course Block without its causal mask), then decoder blocks that read their output."""

    def __init__(self, config, encoder_num_layers, decoder_num_layers):
        super().__init__()
        C = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, C)     # one table for encoder, decoder and LM head
        self.wpe_enc = nn.Embedding(config.block_size, C)
        self.wpe_dec = nn.Embedding(config.block_size, C)
        self.encoder = nn.ModuleList(Block(replace(config, causal=False)) for _ in range(encoder_num_layers))
        self.ln_enc = LayerNorm(C)
        self.decoder = nn.ModuleList(DecoderBlock(config) for _ in range(decoder_num_layers))
        self.ln_f = LayerNorm(C)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight             # share_embeddings
        self.apply(course_model.GPT._init_weights)

    def forward(self, src, dec_in, targets=None):
        """src (B, T_enc), dec_in (B, T_dec) token IDs -> logits (B, T_dec, vocab_size) and the loss."""
        memory = self.wte(src) + self.wpe_enc(torch.arange(src.size(1)))           # (B, T_enc, C)
        for block in self.encoder:
            memory = block(memory)                                                 # every token sees all
        memory = self.ln_enc(memory)
        x = self.wte(dec_in) + self.wpe_dec(torch.arange(dec_in.size(1)))          # (B, T_dec, C)
        for block in self.decoder:
            x = block(x, memory)
        logits = self.lm_head(self.ln_f(x))                                        # (B, T_dec, vocab_size)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def encoder_decoder_loss(model, src, tgt):
    column = lambda token: torch.full((src.size(0), 1), token)
    return model(src, torch.cat([column(SEP), tgt], 1), torch.cat([tgt, column(EOS)], 1))[1]


def decoder_only_loss(model, src, tgt):
    column = lambda token: torch.full((src.size(0), 1), token)
    sequence = torch.cat([src, column(SEP), tgt, column(EOS)], 1)               # s1..sn <sep> r1..rn <eos>
    targets = sequence[:, 1:].clone()
    targets[:, :src.size(1)] = -100                                              # no loss on the source
    return model(sequence[:, :-1], targets)[1]


@torch.no_grad()
def reverse_greedily(model, src):
    """Write n + 1 tokens, each the most likely one given the source and the output so far."""
    out = torch.full((src.size(0), 1), SEP)
    for _ in range(src.size(1) + 1):
        logits = model(src, out)[0] if isinstance(model, EncoderDecoder) else model(torch.cat([src, out], 1))[0]
        out = torch.cat([out, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return out[:, 1:]                                                            # (B, n + 1)


seq_width = 32
seq_config = GPTConfig(vocab_size=len(seq_itos), block_size=2 * max(by_length) + 2, n_layer=1, n_head=4,
                       n_embd=seq_width)
torch.manual_seed(0)
encoder_decoder = EncoderDecoder(seq_config, encoder_num_layers=1, decoder_num_layers=1)
torch.manual_seed(0)
decoder_only = GPT(replace(seq_config, n_layer=2, d_ff=5 * seq_width))
for name, model, layers in (("encoder-decoder", encoder_decoder, "1 + 1"), ("decoder-only", decoder_only, "0 + 2")):
    print(f"{name:<16} encoder + decoder blocks {layers}: {sum(p.numel() for p in model.parameters()):,} parameters")

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
SEQ_STEPS, SEQ_LR = 500, 5e-3


def train_reversal(model, loss_fn):
    """SEQ_STEPS AdamW steps on the batches of a fixed seed: both models see the same sentences."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=SEQ_LR, weight_decay=0.0)
    rng, losses, start = random.Random(0), [], time.perf_counter()
    for _ in range(SEQ_STEPS):
        loss = loss_fn(model, *reversal_batch(rng))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return torch.tensor(losses), time.perf_counter() - start


def reversal_accuracy(model, sentences):
    """Exact matches (every word and the <eos> right), and the accuracy at each output position."""
    model.eval()
    exact, hits, counts = 0, torch.zeros(max(by_length) + 1), torch.zeros(max(by_length) + 1)
    for n in sorted({len(sentence) for sentence in sentences}):
        src = torch.tensor([[seq_stoi[word] for word in sentence] for sentence in sentences if len(sentence) == n])
        right = reverse_greedily(model, src) == torch.cat([src.flip(1), torch.full((len(src), 1), EOS)], 1)
        exact += right.all(1).sum().item()
        hits[:n + 1] += right.sum(0)
        counts[:n + 1] += len(src)
    model.train()
    return exact / len(sentences), hits / counts


seq_results = {}
for name, model, loss_fn in (("encoder-decoder", encoder_decoder, encoder_decoder_loss),
                             ("decoder-only", decoder_only, decoder_only_loss)):
    losses, seconds = train_reversal(model, loss_fn)
    exact, by_position = reversal_accuracy(model, seq_test)
    seq_results[name] = dict(losses=losses, seconds=seconds, exact=exact, by_position=by_position,
                             train_exact=reversal_accuracy(model, seq_train[::8])[0])
    print(f"{name:<16} {seconds:4.1f} s   final loss {losses[-50:].mean():.2f}   exact matches: "
          f"{exact:.0%} of the test sentences, {seq_results[name]['train_exact']:.0%} of training ones")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for name, result in seq_results.items():
    axes[0].plot(result["losses"].unfold(0, 20, 1).mean(1), label=name)
    axes[1].plot(range(1, len(result["by_position"]) + 1), result["by_position"], "o-", label=name)
axes[0].set(xlabel="step", ylabel="training loss (20-step mean)", title="Reversing storyworld sentences")
axes[1].set(xlabel="output position (1 = the last source word)", ylabel="accuracy on the test sentences",
            title="Greedy output, word by word", ylim=(0, 1.05))
for ax in axes:
    ax.legend()
plt.show()
example = seq_test[1]
for name, model in (("encoder-decoder", encoder_decoder), ("decoder-only", decoder_only)):
    out = reverse_greedily(model, torch.tensor([[seq_stoi[word] for word in example]]))[0]
    print(f"{name:<16}", " ".join(example), "→", " ".join(seq_itos[i] for i in out))

ed_exact, do_exact = seq_results["encoder-decoder"]["exact"], seq_results["decoder-only"]["exact"]
assert do_exact > ed_exact + 0.46, "the decoder-only model reverses clearly more unseen sentences exactly"
assert 0.68 < do_exact <= 1, "the decoder-only model gets about 95% of the test sentences right"
assert ed_exact < 0.25, "the encoder-decoder model gets about 0% right"

# %% [markdown] slideshow={"slide_type": "-"}
# What the run shows (the numbers move a little from one CPU to another): after 500 steps on the same batches,
# the **decoder-only** model reverses about 95% of the unseen sentences exactly, the encoder-decoder
# about 0%. The plot on the right shows where the errors are, position by position.
#
# So on this task, at this size and number of steps, the separate encoder does not pay. A plausible reason,
# not measured here: the decoder-only model's two blocks both work on one sequence, source and output together, so its second block can build on
# what the first found in the source, while the encoder-decoder reads the source through a single
# cross-attention. Which family wins depends on the task, the size and the training budget (try more steps or
# blocks); T5's authors found encoder-decoders best on their text-to-text tasks.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Mixture of experts
#
# A **mixture-of-experts** (MoE) layer replaces the one feed-forward network by $E$ of them (the experts) and
# a small **router** that picks the top $k$ experts for each token:
#
# $$\text{MoE}(x) = \sum_{i \in \text{top-}k(r(x))} g_i(x)\, \text{FFN}_i(x), \qquad
# g(x) = \text{softmax over the chosen } k \text{ of } r(x) = W_r x$$
#
# Parameters grow $E$-fold, but each token only runs through $k$ experts: more capacity for about the same
# compute per token. (Mixtral 8×7B has 8 experts per layer and uses 2 per token.)

# %% slideshow={"slide_type": "-"}
class MoEFeedForward(nn.Module):
    def __init__(self, config, n_experts=8, top_k=2):
        super().__init__()
        self.top_k = top_k
        self.router = nn.Linear(config.n_embd, n_experts, bias=False)
        self.experts = nn.ModuleList(MLP(config) for _ in range(n_experts))

    def forward(self, x):
        B, T, C = x.shape
        flat = x.reshape(-1, C)                                          # (B·T, C)
        scores = self.router(flat)                                       # (B·T, E)
        top_scores, top_experts = scores.topk(self.top_k, dim=-1)        # (B·T, k)
        gates = top_scores.softmax(dim=-1)                               # weights of the chosen experts
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token_idx, slot = (top_experts == e).nonzero(as_tuple=True)  # tokens routed to expert e
            if len(token_idx):
                out[token_idx] += gates[token_idx, slot, None] * expert(flat[token_idx])
        self.last_choice = top_experts
        return out.reshape(B, T, C)


torch.manual_seed(0)
moe_config = GPTConfig(vocab_size=100, block_size=16, n_layer=1, n_head=4, n_embd=64)
dense = MLP(moe_config)
one_expert = MoEFeedForward(moe_config, n_experts=1, top_k=1)
one_expert.experts[0].load_state_dict(dense.state_dict())
probe = torch.randn(2, 16, 64)
diff = (one_expert(probe) - dense(probe)).abs().max().item()
print(f"max |MoE with one expert − dense FFN| = {diff:.1e}", "✓" if diff < 1e-6 else "✗")
assert diff < 1e-6

moe = MoEFeedForward(moe_config, n_experts=8, top_k=2)
moe(torch.randn(4, 16, 64))
load = torch.bincount(moe.last_choice.flatten(), minlength=8)
dense_params = sum(p.numel() for p in dense.parameters())
moe_params = sum(p.numel() for p in moe.parameters())
print(f"dense FFN: {dense_params:,} parameters, all used by every token")
print(f"MoE (8 experts, top-2): {moe_params:,} parameters, {2 * dense_params + 8 * 64:,} used per token")
print("tokens per expert (untrained router):", load.tolist())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.6 — parameters in use
# A GPT-2-sized MoE layer has $E = 8$ experts, each a GPT-2 small FFN ($C = 768$, $d_\text{ff} = 3072$, with
# biases), routes each token to $k = 2$ of them, and has a bias-free router. Compute `total_params` (all
# parameters of the layer) and `active_params` (those one token uses: its two experts and the router).
#
# <details><summary>💡 Hint</summary>
#
# One FFN has $8C^2 + 5C$ parameters; the router is a $C \times E$ matrix.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
ffn_params = 8 * 768**2 + 5 * 768
total_params = 8 * ffn_params + 768 * 8
active_params = 2 * ffn_params + 768 * 8
# END SOLUTION

# %% slideshow={"slide_type": "-"}
big = MoEFeedForward(gpt2_small, n_experts=8, top_k=2)
check("4.6a", total_params, sum(p.numel() for p in big.parameters()),
      hint="Eight experts plus the router.")
check("4.6b", active_params, 2 * sum(p.numel() for p in big.experts[0].parameters()) + big.router.weight.numel(),
      hint="Two experts plus the router: the other six are skipped for this token.")
del big

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.7 — which mask?
# A model must read a whole review and label it positive or negative. Set `needs_causal_mask` to `True` or
# `False`: should its encoder hide future tokens?
#
# <details><summary>💡 Hint</summary>
#
# The whole review is available at once, and a word's meaning often depends on what follows it.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
needs_causal_mask = False
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("4.7", needs_causal_mask, False,
      hint="Classification reads the full input: an encoder-only, bidirectional model (like BERT) fits.")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.8 — cross-attention, written out
# Write `cross_attention(x, memory, W_q, W_k, W_v, W_o, n_heads)`: multi-head cross-attention without biases,
# with matrix products and a softmax (no `F.scaled_dot_product_attention`, no `nn.MultiheadAttention`).
# `x` is the decoder's `(B, T_dec, C)`, `memory` the encoder's output `(B, T_enc, C)`, and each `W` a
# `(C, C)` matrix used as `nn.Linear` uses its weight (`x @ W.T`). Return `(B, T_dec, C)`. The check compares
# it with `nn.MultiheadAttention` on four cases, with decoder and encoder lengths that differ.
#
# <details><summary>💡 Hint</summary>
#
# Queries from `x`, keys and values from `memory`. Split $C$ into `n_heads` heads of `hs = C // n_heads`:
# `.view(B, T, n_heads, hs).transpose(1, 2)`. The scores `q @ k.transpose(-2, -1) / math.sqrt(hs)` are
# `(B, n_heads, T_dec, T_enc)`; no mask. Softmax over the last axis, multiply by `v`, put the heads side by
# side again, then apply `W_o`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def cross_attention(x, memory, W_q, W_k, W_v, W_o, n_heads):
    # BEGIN SOLUTION
    B, T_dec, C = x.shape
    T_enc, hs = memory.size(1), C // n_heads
    q = (x @ W_q.T).view(B, T_dec, n_heads, hs).transpose(1, 2)           # (B, nh, T_dec, hs)
    k = (memory @ W_k.T).view(B, T_enc, n_heads, hs).transpose(1, 2)      # (B, nh, T_enc, hs)
    v = (memory @ W_v.T).view(B, T_enc, n_heads, hs).transpose(1, 2)      # (B, nh, T_enc, hs)
    weights = (q @ k.transpose(-2, -1) / math.sqrt(hs)).softmax(dim=-1)   # (B, nh, T_dec, T_enc): no mask
    y = (weights @ v).transpose(1, 2).reshape(B, T_dec, C)                # heads side by side
    return y @ W_o.T
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
cases = []
for B, T_dec, T_enc, C, n_heads in ((1, 3, 5, 8, 2), (2, 4, 4, 8, 1), (2, 6, 2, 12, 3), (3, 1, 7, 16, 4)):
    torch.manual_seed(10 * T_dec + T_enc)
    torch_attention = nn.MultiheadAttention(C, n_heads, bias=False, batch_first=True)
    x, memory = torch.randn(B, T_dec, C), torch.randn(B, T_enc, C)
    with torch.no_grad():
        expected = torch_attention(x, memory, memory, need_weights=False)[0]
    W_q, W_k, W_v = torch_attention.in_proj_weight.detach().chunk(3)
    cases.append(((x, memory, W_q, W_k, W_v, torch_attention.out_proj.weight.detach(), n_heads), expected))
check_function("4.8", cross_attention, cases,
               hint="queries from x, keys and values from memory, and no mask: the scores are (T_dec, T_enc); "
                    "scale by √(C // n_heads), not √C.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - **LayerNorm** normalizes each token over its features ($\mu$, $\sigma$ per token); BatchNorm normalizes each
#   feature over the batch, so its outputs depend on the other examples. BatchNorm was introduced to reduce
#   "internal covariate shift"; Santurkar et al. (2018) found a smoother loss landscape explains its benefit better.
# - **Residual connections** carry gradients through deep stacks; without them the first layers barely learn.
# - The **feed-forward network** expands ×4, applies GELU, and contracts, one token at a time.
# - **Pre-norm vs post-norm** (16 blocks, 3 seeds, 100 steps): pre-norm spreads gradients evenly; post-norm's
#   first block, which normalizes the tiny embedding sum, gets ~17× the median. At lr 0.01 post-norm trained
#   better; at 0.02 it collapsed to the unigram loss unless warmed up, while pre-norm kept learning.
# - A **GPT** = token + position embeddings, $L$ blocks, a final LayerNorm and a tied LM head:
#   $VC + TC + L(12C^2 + 13C) + 2C$ = 124,439,808 parameters for GPT-2 small. You wrote its LayerNorm, FFN,
#   block and forward pass; your GPT trained on storyworld like the course's, step for step, and the course's
#   trained weights and GPT-2's load into it and give the same logits.
# - Encoder-only, decoder-only and encoder-decoder models differ in masks, cross-attention and objective.
#   **Cross-attention** takes its queries from the decoder and its keys and values from the encoder, with no
#   mask; ours equals `nn.MultiheadAttention`. On reversing unseen storyworld sentences (500 steps, same size, same batches) the decoder-only model got about 95% exactly right, the encoder-decoder about 0%; on other tasks the ranking can differ.
# - **Mixture of experts** multiplies parameters while keeping compute per token nearly fixed.
#
# **Next:** [05 · Pretraining](05_pretraining.ipynb) — training this GPT on storyworld against the entropy floor.

# %% slideshow={"slide_type": "-"}
summary()
