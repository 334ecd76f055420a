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
# Attention lets tokens share information (notebook 03). A **transformer block** wraps it with the three
# pieces that make deep stacks trainable — normalization, a feed-forward network and residual (shortcut)
# connections — and a GPT is just embeddings, a stack of identical blocks, and a head that turns vectors back
# into token scores. By the end we have a model with exactly GPT-2's architecture: GPT-2's published weights
# load into it and give the same outputs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. write LayerNorm from scratch, prove it equals PyTorch's, and say how it differs from BatchNorm;
# 2. show with measurements why residual connections keep gradients alive in deep networks;
# 3. build the position-wise feed-forward network and compare GELU with ReLU;
# 4. assemble pre-norm and post-norm blocks, and measure their gradients and their stability with and
#    without a learning-rate warmup;
# 5. count GPT-2's 124,439,808 parameters by formula and by code, and load GPT-2 weights into the course GPT;
# 6. tell encoder-only, decoder-only and encoder-decoder models apart by their masks and training objectives;
# 7. explain what a mixture-of-experts layer buys: more parameters for the same compute per token.
#
# **Time:** about 25 minutes; the cells run in about a minute on a laptop CPU, offline.

# %% slideshow={"slide_type": "-"}
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import storyworld
from course_utils.checks import check, check_function, check_true, summary
from course_utils.model import GPT, MLP, Block, GPTConfig, LayerNorm, gpt2_config, load_gpt2_weights
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

# %% slideshow={"slide_type": "-"}
def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)                  # (..., 1): one mean per token
    var = x.var(dim=-1, keepdim=True, unbiased=False)    # population variance, as in the formula
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


x = torch.randn(2, 5, 8) * 4 + 3                         # (B, T, C): 2 sequences, 5 tokens, 8 features
reference = nn.LayerNorm(8)
with torch.no_grad():
    reference.weight.uniform_(0.5, 1.5)
    reference.bias.uniform_(-0.5, 0.5)
ours = layer_norm(x, reference.weight, reference.bias)
diff = (ours - reference(x)).abs().max().item()
print(f"max |ours − nn.LayerNorm| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
assert diff < 1e-5

course = LayerNorm(8)
course.load_state_dict(reference.state_dict())
diff_course = (course(x) - reference(x)).abs().max().item()
print(f"max |course_utils LayerNorm − nn.LayerNorm| = {diff_course:.1e}", "✓" if diff_course < 1e-5 else "✗")
assert diff_course < 1e-5

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
# ### Exercise 4.1 — LayerNorm without weights
# Write `normalize(x)` that returns LayerNorm's output with $\gamma = 1$, $\beta = 0$ and $\epsilon = 10^{-5}$,
# over the last dimension, without calling any normalization function from torch.
#
# <details><summary>💡 Hint</summary>
#
# Subtract `x.mean(-1, keepdim=True)` and divide by `torch.sqrt(var + 1e-5)`, where `var` is
# `x.var(-1, keepdim=True, unbiased=False)`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def normalize(x):
    # BEGIN SOLUTION
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-5)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
cases = [((t,), F.layer_norm(t, t.shape[-1:])) for t in (torch.randn(3, 4), torch.randn(2, 3, 16) * 7 + 1)]
check_function("4.1", normalize, cases,
               hint="unbiased=False: LayerNorm divides by C, not C − 1.")

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
# similar size. In post-norm every path goes through a LayerNorm per layer. Measure it at initialization,
# on a 16-block model:

# %% slideshow={"slide_type": "-"}
stories = storyworld.load_split("train", 1500).text
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
    deep_models[prenorm] = GPT(deep_config(prenorm))
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
scaled = GPT(deep_config(prenorm=False))
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
        model = GPT(deep_config(prenorm))
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
# embedding matrix: the same $|V| \times d$ table reads tokens in and writes them out. Stacking more blocks adds
# capacity — more computation per token — but not context: the context window is set by `block_size` alone.
#
# The course GPT (`course_utils.model.GPT`) is configured by the usual hyperparameter table:

# %% slideshow={"slide_type": "-"}
gpt2_small = gpt2_config()
for name, value, meaning in gpt2_small.hyperparameter_table():
    print(f"{name:<24}{str(value):<10}{meaning}")

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
# ### Exercise 4.2 — one block of GPT-2 small
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
check("4.2", block_params, sum(p.numel() for p in Block(gpt2_small).parameters()),
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
    course_model = load_gpt2_weights(GPT(gpt2_config(vocab_size=300, block_size=64, n_embd=96, n_layer=3,
                                                     n_head=4)), hf_model.state_dict()).eval()
    idx = torch.randint(300, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (course_model(idx)[0] - hf_model(idx).logits).abs().max().item()
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
# ### Exercise 4.3 — parameters in use
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
check("4.3a", total_params, sum(p.numel() for p in big.parameters()),
      hint="Eight experts plus the router.")
check("4.3b", active_params, 2 * sum(p.numel() for p in big.experts[0].parameters()) + big.router.weight.numel(),
      hint="Two experts plus the router: the other six are skipped for this token.")
del big

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4.4 — which mask?
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
check("4.4", needs_causal_mask, False,
      hint="Classification reads the full input: an encoder-only, bidirectional model (like BERT) fits.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - **LayerNorm** normalizes each token over its features ($\mu$, $\sigma$ per token); BatchNorm normalizes each
#   feature over the batch, so its outputs depend on the other examples.
# - **Residual connections** carry gradients through deep stacks; without them the first layers barely learn.
# - The **feed-forward network** expands ×4, applies GELU, and contracts, one token at a time.
# - **Pre-norm vs post-norm** (16 blocks, 3 seeds, 100 steps): pre-norm spreads gradients evenly; post-norm's
#   first block, which normalizes the tiny embedding sum, gets ~17× the median. At lr 0.01 post-norm trained
#   better; at 0.02 it collapsed to the unigram loss unless warmed up, while pre-norm kept learning.
# - A **GPT** = token + position embeddings, $L$ blocks, a final LayerNorm and a tied LM head:
#   $VC + TC + L(12C^2 + 13C) + 2C$ = 124,439,808 parameters for GPT-2 small. The course GPT loads GPT-2's
#   weights and matches its logits.
# - Encoder-only, decoder-only and encoder-decoder models differ in masks, cross-attention and objective.
# - **Mixture of experts** multiplies parameters while keeping compute per token nearly fixed.
#
# **Next:** [05 · Pretraining](05_pretraining.ipynb) — training this GPT on storyworld against the entropy floor.

# %% slideshow={"slide_type": "-"}
summary()
