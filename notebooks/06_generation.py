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
# # 06 · Generation
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/06_generation.ipynb) · or locally, as the README says
#
# A trained language model gives one thing: a probability for every possible next token. Text comes from
# using it in a loop — pick a token, append it, ask again. *How* we pick decides whether the text is dull,
# varied or broken; *how we compute* each step decides whether it is fast. And fluent text is not true
# text: a model writes a confident answer whether or not its prompt contains one. storyworld knows the
# answer to every one of these questions, so we can measure all of them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. turn logits into probabilities with a temperature, and write greedy, top-k and top-p (nucleus)
#    sampling from scratch;
# 2. measure, with storyworld's grammar as the judge, how decoding settings trade correctness for variety,
#    and why greedy decoding and repetition penalties misbehave;
# 3. build a KV cache, prove that it changes no output, and measure its speed-up, the time to first token
#    and the time per token; quantize the weights to int8 per channel, prove the rounding error against
#    PyTorch's, and measure model size and loss against the entropy floor, beside bfloat16;
# 4. show a model answering fluently about facts its prompt never states (hallucination), measure how
#    putting the facts in the prompt (grounding) changes its answers, and build retrieval-augmented generation:
#    retrieve the story with TF-IDF or the GPT's own hidden states, measure recall@k and the answers;
# 5. spend more compute at test time — best-of-N with a checker, and majority voting — and plot accuracy
#    against N.
#
# **Time:** about 40 minutes to read and run; the notebook runs in about a minute on two laptop CPU cores,
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

import copy
import io
import math
import re
import time
import warnings
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import diagrams, embeddings, metrics, storyworld
from course_utils import generate as gen
from course_utils.checks import check, check_function, check_true, summary
from course_utils.model import GPT, CausalSelfAttention, GPTConfig, load_storyworld_gpt

torch.manual_seed(0)
torch.set_num_threads(2)  # the course's reference machine: a 2-core laptop
plt.rcParams["figure.dpi"] = 80

gpt, tokenizer, record = load_storyworld_gpt()
world = storyworld.StoryWorld(seed=0)
NEWLINE = tokenizer.stoi["\n"]  # every story starts after a newline, as in training
print(f"course GPT: {gpt.num_parameters():,} parameters, a word-level vocabulary of {tokenizer.vocab_size} "
      f"tokens, a context window of {gpt.config.block_size} tokens")


def encode(prompt: str) -> torch.Tensor:
    """A prompt as the start of a story: (1, T) token IDs, newline first."""
    return torch.tensor([tokenizer.encode("\n" + prompt)])


@torch.no_grad()
def next_logits(prompt: str) -> torch.Tensor:
    """The model's logits for the token after `prompt`: shape (vocab_size,)."""
    return gpt(encode(prompt))[0][0, -1]


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. From logits to probabilities
#
# The model's last layer outputs one score per vocabulary token, the **logits** $z \in \mathbb{R}^{|V|}$.
# The softmax turns them into probabilities; a **temperature** $T > 0$ divides the logits first:
#
# $$p_i(T) = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}.$$
#
# $T = 1$ is the distribution the model learned. $T < 1$ sharpens it: as $T \to 0$ all the mass goes to the
# largest logit. $T > 1$ flattens it: as $T \to \infty$ every token becomes equally likely.
#
# After "…a little girl named", storyworld picks one of its eight girls' names uniformly. We can compute that
# exactly from the grammar (character by character with `next_char_distribution`) and set it beside the
# model's prediction:

# %% slideshow={"slide_type": "-"}
def true_token_prob(prefix: str, token: str) -> float:
    """storyworld's exact probability that the story continues `prefix` with `token` (a whole word)."""
    p = 1.0
    for i, ch in enumerate(token):
        p *= world.next_char_distribution(prefix + token[:i]).get(ch, 0.0)
        if p == 0.0:
            return 0.0
    if token[-1].isalpha():  # the word must end here, not run on into a longer word
        after = world.next_char_distribution(prefix + token)
        p *= sum(q for ch, q in after.items() if not ch.isalpha())
    return p


PROMPT = "Once upon a time, there was a little girl named"
logits = next_logits(PROMPT)
probs = logits.softmax(dim=-1)
top = probs.topk(10)
print(f"{'next token':<12}{'model':>8}{'storyworld':>12}")
for p, i in zip(top.values.tolist(), top.indices.tolist()):
    token = tokenizer.itos[i]
    print(f"{token!r:<12}{p:>8.3f}{true_token_prob(PROMPT, token):>12.3f}")
print(f"the other {tokenizer.vocab_size - 10} tokens share {1 - top.values.sum().item():.4f} of the probability")

# %% [markdown] slideshow={"slide_type": "-"}
# The model has learned the grammar's rule well: eight names near $1/8$, and almost nothing elsewhere. Now
# watch the temperature reshape the same logits. The right panel shows the **entropy**
# $H = -\sum_i p_i \ln p_i$ of the distribution: $\ln 8 \approx 2.08$ nats for the true one.

# %% slideshow={"slide_type": "-"}
temperatures = [0.5, 1.0, 2.0]
shown = probs.topk(14).indices
labels = [tokenizer.itos[i].strip() or repr(tokenizer.itos[i]) for i in shown.tolist()]
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
for j, T in enumerate(temperatures):
    ax.bar(np.arange(len(shown)) + (j - 1) * 0.27, (logits / T).softmax(-1)[shown], width=0.27, label=f"T = {T:g}")
ax.axhline(1 / 8, color="k", ls="--", lw=1, label="storyworld: 1/8")
ax.set(yscale="log", ylim=(1e-6, 1.5), xticks=range(len(shown)), ylabel="probability (log scale)",
       title=f"Next token after '…{PROMPT[-22:]}'")
ax.set_xticklabels(labels, rotation=45)
ax.legend(fontsize=8, ncol=2)
grid = np.linspace(0.1, 3, 59)
entropy = [-(p * p.clamp_min(1e-30).log()).sum().item() for p in ((logits / T).softmax(-1) for T in grid)]
ax2.plot(grid, entropy)
ax2.axhline(math.log(8), color="k", ls="--", lw=1, label="storyworld: ln 8")
ax2.set(xlabel="temperature T", ylabel="entropy (nats)", title="Higher T, flatter distribution")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

names = probs.topk(8).indices                                  # the eight names
wrong = torch.ones_like(probs, dtype=torch.bool)
wrong[names] = False                                           # the 167 tokens that cannot come next
hot = (logits / 2).softmax(-1)
gain = hot[shown[8:]] / probs[shown[8:]]                       # the six wrong tokens in the plot
print(f"T = 1 → 2: the six wrong tokens in the plot gain ×{gain.min():.0f} to ×{gain.max():.0f}; all "
      f"{wrong.sum().item()} wrong tokens together go from {probs[wrong].sum():.1%} to {hot[wrong].sum():.1%} "
      f"of the probability")
assert 15 < gain.min() and gain.max() < 50, "the wrong tokens shown gain roughly thirtyfold at T = 2"
assert 0.05 < hot[wrong].sum() < 0.15 and probs[wrong].sum() < 0.005, \
    "the wrong tokens' share grows from about 0.1% to about 9%"

# %% [markdown] slideshow={"slide_type": "-"}
# At $T = 2$ the tokens that should never come next (a boy's name, "She") gain roughly thirtyfold, the
# rarest tokens even more, and all 167 wrong tokens together go from about 0.1% of the probability to about
# 9%: that tail is where broken text comes from. At $T = 0.5$ the eight names are no longer equally likely:
# the model's small preferences get exaggerated.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.1 — softmax with a temperature
# Write `softmax_with_temperature(logits, T)` for a 1-D tensor of logits and $T > 0$, using only `exp`, `sum`
# and arithmetic (no `softmax`). Subtract the largest logit first so that `exp` cannot overflow.
#
# <details><summary>💡 Hint</summary>
#
# `z = logits / T`, then `e = (z - z.max()).exp()` and return `e / e.sum()`. Subtracting a constant from
# every logit does not change the softmax.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def softmax_with_temperature(logits, T):
    # BEGIN SOLUTION
    z = logits / T
    e = (z - z.max()).exp()
    return e / e.sum()
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
example = torch.tensor([2.0, 1.0, 0.0, -1.0])
check_function("6.1", softmax_with_temperature, [
    ((example, 1.0), example.softmax(-1)),
    ((example, 0.25), (example / 0.25).softmax(-1)),
    ((example, 10.0), (example / 10).softmax(-1)),
    ((torch.tensor([1000.0, 999.0]), 1.0), torch.tensor([1000.0, 999.0]).softmax(-1)),
], hint="Divide by T, subtract the maximum, exponentiate, normalize. The last case overflows without "
        "the subtraction.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Decoding strategies from scratch
#
# One step of generation turns logits into one token. The four classic ways:
#
# - **greedy**: take $\arg\max_i z_i$. Deterministic; the limit $T \to 0$.
# - **sampling** with temperature $T$: draw $i \sim p(T)$.
# - **top-k**: keep the $k$ largest logits, set the others to $-\infty$, then sample.
# - **top-p** (nucleus sampling, Holtzman et al. 2020): sort the probabilities
#   $p_{(1)} \ge p_{(2)} \ge \dots$ and keep the smallest prefix whose mass reaches $p$,
#   i.e. the first $m$ tokens with $m = \min\{m : \sum_{j \le m} p_{(j)} \ge p\}$; then sample.
#
# Top-k keeps a fixed number of tokens whatever the shape of the distribution; top-p adapts: few tokens when
# the model is sure, many when it is not. Both cut the long tail of unlikely tokens.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.2 — top-k and top-p filtering
# Write the two filters. Each takes logits of shape `(..., vocab)` (one row, or a batch of rows) and returns
# a new tensor of the same shape, where the tokens it removes have logit $-\infty$ and the others keep theirs:
#
# - `top_k_logits(logits, k)` keeps the $k$ largest logits of each row. A logit *equal* to the $k$-th largest
#   is kept too (ties are not broken), as nanoGPT does;
# - `top_p_logits(logits, p)` keeps, in each row, the most probable tokens up to and including the first one
#   at which their probability (the softmax of the row) adds up to at least $p$.
#
# The check compares yours with the course's (`course_utils.generate.top_k_filter` and `top_p_filter`) on
# eight cases, one row and batches; the sampler, the proof and the plots below then use yours.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Top-k: a threshold, the $k$-th largest value of the row. Top-p: sort by probability, walk
#    down the ranking adding probabilities, and stop once the total has reached $p$.
# 2. **The approach.** `torch.topk(logits, k, dim=-1).values` gives the $k$ largest in order, its last column
#    the threshold; `masked_fill` whatever is below it. For top-p sort in descending order, softmax and
#    `cumsum`; a token is dropped when the mass of the tokens ranked *above* it (`cumsum - probs`) is already
#    $\ge p$, so the token that crosses $p$ stays. The mask is in sorted order: `scatter` it back with the
#    sort's indices before filling the original logits.
# 3. **A skeleton.**
#    ```python
#    kth = torch.topk(logits, k, dim=-1).values[..., ___]      # (..., 1)
#    return logits.masked_fill(logits < ___, float("-inf"))
#
#    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
#    probs = sorted_logits.softmax(dim=-1)
#    drop_sorted = probs.cumsum(dim=-1) - probs >= ___
#    drop = drop_sorted.scatter(-1, ___, drop_sorted)          # back to vocabulary order
#    return logits.masked_fill(___, float("-inf"))
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def top_k_logits(logits, k):
    # BEGIN SOLUTION
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]          # the k-th largest logit of each row
    return logits.masked_fill(logits < kth, float("-inf"))
    # END SOLUTION


def top_p_logits(logits, p):
    # BEGIN SOLUTION
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    sorted_probs = sorted_logits.softmax(dim=-1)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs      # mass of the tokens ranked above
    drop = (mass_before >= p).scatter(-1, order, mass_before >= p)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
filter_generator = torch.Generator().manual_seed(62)
batch_of_rows = torch.randn(4, 30, generator=filter_generator) * 2
filter_cases = {  # what each case tests: (filter, logits, k or p)
    "top-k, k = 3, one row": ("top-k", torch.randn(30, generator=filter_generator) * 2, 3),
    "top-k, k = 5, 4 rows": ("top-k", batch_of_rows, 5),
    "top-k, k = 1: greedy": ("top-k", batch_of_rows, 1),
    "top-k, ties at the k-th: kept": ("top-k", torch.tensor([[3.0, 1.0, 1.0, 1.0, 0.0]]), 2),
    "top-p, p = 0.5, one row": ("top-p", torch.randn(30, generator=filter_generator) * 2, 0.5),
    "top-p, p = 0.9, 4 rows": ("top-p", batch_of_rows, 0.9),
    "top-p, p = 0.001: the top token": ("top-p", batch_of_rows, 0.001),
    "top-p, the token crossing p: kept": ("top-p", torch.tensor([0.5, 0.3, 0.2]).log(), 0.7),
}


def filtered(filters, case):
    kind, case_logits, setting = filter_cases[case]
    return filters[kind](case_logits, setting)


course_filters = {"top-k": gen.top_k_filter, "top-p": gen.top_p_filter}
if not check_function("6.2", lambda case: filtered({"top-k": top_k_logits, "top-p": top_p_logits}, case),
                      [((case,), filtered(course_filters, case)) for case in filter_cases],
                      hint="each case is named by what it tests. Keep ties with the k-th logit; in top-p keep "
                           "the token at which the mass reaches p, and scatter the mask back to vocabulary order."):
    print("Using the course's filters, course_utils.generate.top_k_filter and top_p_filter, from here on.")
    top_k_logits, top_p_logits = gen.top_k_filter, gen.top_p_filter

# %% [markdown] slideshow={"slide_type": "-"}
# With the filters, one step of each strategy, and a sampler that puts them together:

# %% slideshow={"slide_type": "-"}
def greedy(logits):
    return logits.argmax(dim=-1, keepdim=True)


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """(B, vocab) logits -> (B, 1) token IDs."""
    if temperature == 0:
        return greedy(logits)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_logits(logits, top_k)
    if top_p is not None:
        logits = top_p_logits(logits, top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)


for name, kept in [("top-k, k = 3", top_k_logits(logits, 3)), ("top-p, p = 0.5", top_p_logits(logits, 0.5)),
                   ("top-p, p = 0.99", top_p_logits(logits, 0.99)), ("top-p, p = 0.9999", top_p_logits(logits, 0.9999))]:
    survivors = [tokenizer.itos[i].strip() for i in torch.nonzero(kept > -math.inf).flatten().tolist()]
    print(f"{name:<18} keeps {len(survivors):>3} tokens: {', '.join(survivors[:10])}")

# %% [markdown] slideshow={"slide_type": "-"}
# Top-p at 0.5 keeps half of the eight valid names, and so removes valid stories; at 0.99 it keeps exactly
# the eight names and drops the 167 tokens that should never come here. Top-k cannot know that the right
# number is eight.
#
# **Proof.** The course package has the finished versions (`course_utils.generate`). Ours must give the same
# filtered logits on random inputs, and our sampling loop the same tokens as the model's own
# `GPT.generate` for the same random generator:

# %% slideshow={"slide_type": "-"}
random_logits = torch.randn(64, tokenizer.vocab_size, generator=torch.Generator().manual_seed(0)) * 3
diffs = []
for k in (1, 5, 50):
    ours, theirs = top_k_logits(random_logits, k), gen.top_k_filter(random_logits, k)
    diffs.append(torch.equal(ours.isinf(), theirs.isinf()) and torch.equal(ours[~ours.isinf()], theirs[~theirs.isinf()]))
for p in (0.1, 0.5, 0.9, 0.999):
    ours, theirs = top_p_logits(random_logits, p), gen.top_p_filter(random_logits, p)
    diffs.append(torch.equal(ours.isinf(), theirs.isinf()) and torch.equal(ours[~ours.isinf()], theirs[~theirs.isinf()]))
print(f"filters identical to course_utils.generate: {sum(diffs)} of {len(diffs)}", "✓" if all(diffs) else "✗")
assert all(diffs)


@torch.no_grad()
def generate_from_scratch(model, idx, max_new_tokens, **settings):
    for _ in range(max_new_tokens):
        logits = model(idx[:, -model.config.block_size:])[0][:, -1, :]
        idx = torch.cat((idx, sample(logits, **settings)), dim=1)
    return idx


start = encode("Once upon a time,").repeat(4, 1)
for settings in (dict(temperature=0), dict(temperature=0.8, top_k=10)):
    ours = generate_from_scratch(gpt, start, 40, generator=torch.Generator().manual_seed(1), **settings)
    reference = gpt.generate(start, 40, generator=torch.Generator().manual_seed(1), **settings)
    print(f"{settings}: same tokens as GPT.generate: {torch.equal(ours, reference)}")
    assert torch.equal(ours, reference)
print(tokenizer.decode(ours[0, 1:]))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. What decoding does to the text, with the grammar as the judge
#
# For real language, "is this sample good?" needs a human. For storyworld it needs one line:
# `world.log_prob(story) > -inf` says whether the grammar could have written the story at all. So for each
# setting we sample 32 stories and measure
#
# - **correctness**: the fraction the grammar accepts;
# - **variety**: the fraction of distinct stories;
# - **typicality**: the mean true log-probability of the accepted ones, against real stories' mean.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def sample_stories(n=32, seed=0, **settings):
    """n stories from the start token, each cut at its closing newline."""
    out = gen.generate(gpt, torch.full((n, 1), NEWLINE), 125, generator=torch.Generator().manual_seed(seed),
                       stop_token=NEWLINE, **settings)
    return [tokenizer.decode(row[1:]).split("\n")[0] for row in out]


def judge(stories):
    log_probs = [world.log_prob(s) for s in stories]
    accepted = [lp for lp in log_probs if lp > -math.inf]
    return {"grammatical": len(accepted) / len(stories), "distinct": len(set(stories)) / len(stories),
            "log_prob": sum(accepted) / len(accepted) if accepted else float("nan")}


test_stories = storyworld.load_split("test", 200).stories
REAL_LOG_PROB = sum(s.log_prob for s in test_stories) / len(test_stories)
sweep_T = [0, 0.5, 0.7, 1.0, 1.3, 1.6, 2.0]
results = {}
for top_p in (None, 0.9):
    for T in sweep_T:
        if T == 0 and top_p is not None:  # greedy ignores top-p
            results[T, top_p] = results[T, None]
        else:
            results[T, top_p] = judge(sample_stories(temperature=T, top_p=top_p))
print(f"real stories: mean log p = {REAL_LOG_PROB:.1f} nats\n")
print(f"{'T':>4} {'top-p':>6} {'grammatical':>12} {'distinct':>9} {'mean log p':>11}")
for (T, top_p), r in results.items():
    print(f"{T:>4g} {top_p or '-':>6} {r['grammatical']:>12.0%} {r['distinct']:>9.0%} {r['log_prob']:>11.1f}")

moderate = [results[T, None] for T in (0.5, 0.7, 1.0)]
assert results[0, None]["distinct"] == 1 / 32, "greedy writes one story 32 times"
assert all(r["distinct"] > 0.9 for r in moderate), "moderate temperatures write varied stories"
assert all(abs(r["log_prob"] - REAL_LOG_PROB) < 1.5 for r in moderate), \
    "moderate-temperature stories are about as probable as real ones (within about a nat)"
assert all(0.5 <= r["grammatical"] <= 0.85 for r in moderate), "most of them are grammatical, about a third not"
assert 0.5 <= results[1.0, None]["grammatical"] <= 0.8, "about two thirds of the T = 1 stories are grammatical"
assert results[2.0, None]["grammatical"] < 0.1, "at T = 2 almost every story breaks"
assert 0.4 < results[1.6, 0.9]["grammatical"] < 0.8 and results[1.6, None]["grammatical"] < 0.15, \
    "top-p 0.9 keeps about 60% of the T = 1.6 stories grammatical, against almost none without it"

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for top_p, style in ((None, "o-"), (0.9, "s--")):
    label = "temperature only" if top_p is None else "with top-p 0.9"
    for ax, key in zip(axes, ("grammatical", "distinct", "log_prob")):
        ax.plot(sweep_T, [results[T, top_p][key] for T in sweep_T], style, label=label)
axes[0].set(ylabel="fraction the grammar accepts", ylim=(-0.03, 1.03), title="Correctness")
axes[1].set(ylabel="fraction of distinct stories", ylim=(-0.03, 1.03), title="Variety")
axes[2].axhline(REAL_LOG_PROB, color="k", ls=":", label="real stories")
axes[2].set(ylabel="mean log p of accepted stories", title="Typicality (true log-probability)")
for ax in axes:
    ax.set(xlabel="temperature T")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# Three regimes:
#
# - **Greedy** ($T = 0$) is deterministic: the same prompt always gives the same text, so the 32 stories are
#   one story 32 times, no variety at all. (That is not yet the *repetition problem*, which is repetition
#   within one text; it comes below.)
# - **Moderate temperatures** (0.5 to 1) write varied stories, about as probable as real ones (within about a
#   nat), and most of them grammatical: about two thirds at $T = 1$.
# - **High temperatures** lift the tail of unlikely tokens, and almost every story breaks. Top-p 0.9 cuts the
#   tail before sampling and keeps high-temperature samples grammatical much longer: about 60% at $T = 1.6$,
#   against almost none without it.
#
# Each point is 32 stories, so a share is uncertain by about ±8 percentage points: differences of a few
# stories are noise, and another seed gives a somewhat different share. Lowering the temperature below 1 does
# not remove the last third of errors. Where are they? Mostly at one place:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def wrong_pet(story):
    """The story says the hero has one animal, then takes another one to the outing."""
    owned = re.search(r" also had an? (\w+)\.", story)
    taken = re.search(r" went to the \w+ with (?:her|his) (\w+)\.", story)
    return bool(taken) and (owned is None or owned.group(1) != taken.group(1))


low_T = [s for T in (0.5, 0.7, 1.0) for s in sample_stories(temperature=T, seed=1)]
rejected = [s for s in low_T if world.log_prob(s) == -math.inf]
print(f"T in (0.5, 0.7, 1.0): {len(rejected)} of {len(low_T)} stories rejected; "
      f"{sum(map(wrong_pet, rejected))} of them take the wrong pet on the outing")
example = next(s for s in rejected if wrong_pet(s))
print("for example: …" + re.search(r"\w+ also had .*? with (?:her|his) \w+\.", example).group(0))
assert 0.2 < len(rejected) / len(low_T) < 0.55, "about a third of the stories at T <= 1 are rejected"
assert sum(map(wrong_pet, rejected)) / len(rejected) > 0.6, "most rejected stories take the wrong pet on the outing"

# %% [markdown] slideshow={"slide_type": "-"}
# The model writes *an* animal fluently, but often not the one the story stated. Keep this in mind for
# section 5.
#
# **The repetition problem.** Greedy decoding's real trouble shows in a long text. Let the model write 800
# tokens greedily, about eight stories (past 128 tokens it sees only the last 128), and measure the share of
# repeated 20-token runs: runs of 20 tokens that already occurred earlier in the same text. storyworld's text
# is formulaic, yet 800 tokens of real stories repeat no such run. A common fix for loops is the **repetition
# penalty** of CTRL (Keskar et al. 2019): before choosing, divide the logit of every token already in the text
# by $\theta > 1$ (multiply it, if negative), so that it becomes less likely either way.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.3 — the repetition penalty
# Write `penalize_repetition(logits, previous, theta)`: `logits` is `(B, V)`, one row of next-token logits
# per text, and `previous` is `(B, T)`, the token IDs of each text so far. Return new logits where every
# token that occurs in *its own row's* text has its logit $z$ replaced by $z / \theta$ if $z > 0$ and by
# $z \cdot \theta$ otherwise; a token seen several times is penalized once; the other logits are unchanged.
# The check compares yours with `course_utils.generate.apply_repetition_penalty` on seven cases; the greedy
# texts below are then written with your penalty, passed to the course's decoding loop as a
# `logits_processor`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Only the logits of seen tokens change, and each moves *towards less likely*: dividing a
#    negative logit by $\theta$ would raise it.
# 2. **The approach.** `torch.gather(logits, 1, previous)` reads, row by row, the logits of the seen tokens
#    (a repeated token is read twice, and gets the same new value twice); `torch.where` picks divide or
#    multiply; `scatter` writes them back into a copy. Or build a boolean `(B, V)` mask of seen tokens with
#    `scatter` and apply `torch.where` to the whole matrix.
# 3. **A skeleton.**
#    ```python
#    seen = torch.gather(logits, 1, ___)                      # (B, T)
#    seen = torch.where(seen > 0, ___, ___)
#    return logits.scatter(1, ___, seen)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def penalize_repetition(logits, previous, theta):
    # BEGIN SOLUTION
    seen = torch.gather(logits, 1, previous)                      # (B, T): each text's seen tokens
    seen = torch.where(seen > 0, seen / theta, seen * theta)      # less likely, whatever the sign
    return logits.scatter(1, previous, seen)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
penalty_generator = torch.Generator().manual_seed(64)
penalty_cases = {  # what each case tests: (logits, previous, theta)
    "one text, positive and negative logits": (torch.tensor([[2.0, -1.0, 0.5, 3.0, -2.0]]), torch.tensor([[0, 1]]), 2.0),
    "a token seen three times: penalized once": (torch.tensor([[2.0, -1.0, 0.5, 3.0]]), torch.tensor([[3, 3, 3]]), 2.0),
    "2 texts, each with its own history": (torch.randn(2, 12, generator=penalty_generator) * 3,
                                           torch.tensor([[0, 1, 2, 5], [7, 7, 8, 11]]), 1.5),
    "theta 1: nothing changes": (torch.randn(3, 10, generator=penalty_generator), torch.tensor([[1], [2], [3]]), 1.0),
    "a zero logit stays zero": (torch.tensor([[0.0, 1.0, -1.0]]), torch.tensor([[0, 1, 2]]), 3.0),
    "theta below 1 favours repeats": (torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[0, 1]]), 0.5),
    "4 texts of 20 tokens, 50-token vocabulary": (torch.randn(4, 50, generator=penalty_generator) * 2,
                                                  torch.randint(50, (4, 20), generator=penalty_generator), 1.2),
}


def penalized(penalty_function, case):
    logits, previous, theta = penalty_cases[case]
    return penalty_function(logits.clone(), previous, theta)      # a copy: yours may change it in place


if not check_function("6.3", lambda case: penalized(penalize_repetition, case),
                      [((case,), penalized(gen.apply_repetition_penalty, case)) for case in penalty_cases],
                      hint="each case is named by what it tests. Per row, only tokens in that row's text change: "
                           "z / θ where z > 0, z · θ otherwise, once per token however often it was seen."):
    print("Using the course's penalty, course_utils.generate.apply_repetition_penalty, from here on.")
    penalize_repetition = gen.apply_repetition_penalty

# %% [markdown] slideshow={"slide_type": "-"}
# Greedy decoding without and with your penalty:

# %% slideshow={"slide_type": "-"}
def repeated_share(ids, n=20):
    """The share of n-token runs in ids that already occurred earlier in the same text."""
    seen, repeats = set(), 0
    for i in range(len(ids) - n + 1):
        run = tuple(ids[i:i + n])
        repeats += run in seen
        seen.add(run)
    return repeats / (len(ids) - n + 1)


def your_penalty(theta):
    """generate's settings for decoding with your penalize_repetition at this theta."""
    return dict(logits_processor=lambda logits, text: penalize_repetition(logits, text, theta))


def describe(name, ids):
    stories = tokenizer.decode(ids).split("\n")[1:-1]                 # the complete stories
    grammatical = sum(world.log_prob(story) > -math.inf for story in stories)
    print(f"{name:<26} repeated 20-token runs {repeated_share(ids):>4.0%}   {len(stories)} stories, "
          f"{len(set(stories))} distinct, {grammatical} grammatical")
    return repeated_share(ids)


LONG = 800
real_text = tokenizer.encode("\n" + "\n".join(s.text for s in test_stories))[:LONG + 1]
looping = gen.generate(gpt, torch.full((1, 1), NEWLINE), LONG, temperature=0)[0].tolist()
unlooped = gen.generate(gpt, torch.full((1, 1), NEWLINE), LONG, temperature=0, **your_penalty(1.2))[0].tolist()
shares = {"real stories": describe("real stories", real_text),
          "greedy": describe("greedy", looping),
          "greedy, penalty 1.2": describe("greedy, penalty 1.2", unlooped)}
print("\nthe end of the greedy text:\n" + tokenizer.decode(looping)[-600:])
assert shares["real stories"] < 0.05, "real storyworld text repeats (almost) no 20-token run"
assert 0.35 < shares["greedy"] < 0.65, "about half of the greedy text's 20-token runs are repeats"
assert shares["greedy, penalty 1.2"] < 0.05, "with the penalty the greedy text no longer repeats"

# %% [markdown] slideshow={"slide_type": "-"}
# Greedy decoding falls into a loop: after a few stories it alternates between two stories word for word, and
# about half of its 20-token runs are repeats. Each step picks the likeliest token for the last 128 tokens, so
# once the window holds text the model has written before, it writes the same continuation again. The penalty
# breaks the loop. But it is a heuristic, and storyworld shows its cost: a story *must* repeat its hero's
# name and its toy. Sampling at $T = 1$ with growing penalties:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
penalties = [1.0, 1.2, 1.5, 2.0]
penalty_results = [judge(sample_stories(temperature=1.0, **your_penalty(theta))) for theta in penalties]
for theta, r in zip(penalties, penalty_results):
    print(f"penalty {theta:.1f}: {r['grammatical']:.0%} grammatical, {r['distinct']:.0%} distinct")
print("\n" + sample_stories(n=1, seed=3, temperature=1.0, **your_penalty(2.0))[0])
share = dict(zip(penalties, (r["grammatical"] for r in penalty_results)))
assert share[1.2] < share[1.0] - 0.15, "already at 1.2 the penalty costs many grammatical stories"
assert share[1.5] <= 0.1 and share[2.0] <= 0.1, "from 1.5 on (almost) no story stays grammatical"

# %% [markdown] slideshow={"slide_type": "-"}
# Already at $\theta = 1.2$ far fewer stories are grammatical, and from 1.5 on (almost) none: the penalty
# pushes the model away from the very words a story has to repeat.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Try it: the decoding explorer
# Type the start of a story and move the sliders. The bars are the next-token probabilities at your
# temperature; grey, struck-through tokens are the ones top-k or top-p filtered out; ★ marks the token that
# was drawn, and below is a continuation sampled with your settings (change the seed to draw another).
# Try temperature 2 with top-p off, then with top-p 0.9. This model knows only storyworld's 175 tokens:
# other words get a message instead of a prediction.

# %% slideshow={"slide_type": "-"}
from course_utils.widgets.decoding_explorer import DecodingExplorer

DecodingExplorer(gpt, tokenizer, prompt="Once upon a time, there was a little girl named Lily. She lived in a",
                 temperature=1.5, top_p=0.9, seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The KV cache
#
# Generating without a cache repeats work. To write token $t+1$ the model runs on all $t$ tokens so far,
# although for tokens $1..t-1$ nothing has changed since the last step. After a $P$-token prompt, $n$ new
# tokens cost
#
# $$\underbrace{\sum_{t=P}^{P+n-1} t}_{\text{no cache}} \approx nP + \tfrac{n^2}{2}
# \qquad\text{vs.}\qquad \underbrace{P + (n-1)}_{\text{KV cache}} \quad \text{token-positions.}$$
#
# Why is it safe to keep old work? In causal attention token $s$ only looks at tokens $\le s$, and its
# position is fixed, so its key $k_s = W_K x_s$ and value $v_s = W_V x_s$ at every layer never change. The new
# token only needs its own query against all keys:
#
# $$\text{attn}(q_t) = \text{softmax}\!\left(\frac{q_t\,[k_1 \dots k_t]^\top}{\sqrt{d_h}}\right)[v_1 \dots v_t].$$
#
# So we keep, per layer, $K$ and $V$ of shape (batch, heads, tokens, head size), append one row per step,
# and feed the model only the newest token.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The cache, step by step
# A prompt of three tokens and three generated ones, for one layer and one head. The prefill computes the
# prompt's keys and values in one forward pass; after that each step feeds one token, computes its query, key
# and value, appends the key and value, and attends with its query over everything cached.

# %% slideshow={"slide_type": "-"}
diagrams.kv_cache(prompt_tokens=3, new_tokens=3)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.4 — attention with a KV cache
# Write `attention_with_cache(attn, x, past)`: one causal self-attention layer of the course GPT
# (`attn`, a `course_utils.model.CausalSelfAttention`) run on the *new* tokens `x` only, `(B, T, C)`, given
# `past`, the keys and values of the `P` tokens before them (a pair of `(B, n_head, P, head_size)` tensors),
# or `None` when there are none. Return the layer's output for the new tokens, `(B, T, C)`, and the pair
# extended by the new tokens' keys and values, `(B, n_head, P + T, head_size)` each. The outputs must be
# what the layer computes on all `P + T` tokens at once, for its last `T` rows.
#
# The layer's `c_attn` computes queries, keys and values at once (`C` channels each, in that order) and
# `c_proj` mixes the heads; `attn.n_head` is the number of heads. The check runs yours on a random layer, a
# few tokens at a time, and compares with the course GPT's own cached attention on six cases.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Old tokens' keys and values never change, so only the new tokens' are computed and
#    appended. The new queries attend over all $P + T$ keys; new token $i$ sits at position $P + i$ and may
#    see keys $0 \dots P + i$.
# 2. **The approach.** `c_attn(x).split(C, dim=2)`, then `view(B, T, n_head, C // n_head).transpose(1, 2)`
#    each (notebook 03). `torch.cat` along the token axis (`dim=2`) with `past`. The causal mask is no longer
#    square: `torch.ones(T, P + T).tril(diagonal=P)`. `F.scaled_dot_product_attention(q, k, v, attn_mask=...)`
#    does the rest; merge the heads and apply `c_proj`.
# 3. **A skeleton.**
#    ```python
#    B, T, C = x.shape
#    q, k, v = attn.c_attn(x).split(C, dim=2)
#    q, k, v = (t.view(B, T, ___, ___).transpose(1, 2) for t in (q, k, v))
#    if past is not None:
#        k, v = torch.cat((past[0], k), dim=___), torch.cat((past[1], v), dim=___)
#    P = k.size(2) - T
#    mask = torch.ones(T, P + T, dtype=torch.bool).tril(diagonal=___)
#    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
#    return attn.c_proj(___), (k, v)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def attention_with_cache(attn, x, past):
    """Causal self-attention of new tokens x (B, T, C) over the cached keys/values `past` plus their own."""
    # BEGIN SOLUTION
    B, T, C = x.shape
    q, k, v = attn.c_attn(x).split(C, dim=2)
    q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k, v))
    if past is not None:
        k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
    P = k.size(2) - T                                              # tokens cached before these
    mask = torch.ones(T, P + T, dtype=torch.bool).tril(diagonal=P)  # new token i sees keys 0 .. P + i
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attn.c_proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def course_attention_with_cache(attn, x, past):
    """The same step by the course GPT's own attention, which writes into a course_utils.generate.KVCache."""
    cache = gen.KVCache()
    if past is not None:
        cache.append(0, torch.stack(past))                        # the P cached tokens' keys and values
        cache.length = past[0].size(2)
    y = attn(x, cache=cache, layer=0)
    cache.length += x.size(1)                                     # GPT.forward does this after its last layer
    return y, (cache.keys[0], cache.values[0])


cache_generator = torch.Generator().manual_seed(63)
cache_cases = {  # what each case tests: (n_head, tokens, how many new tokens each call gets)
    "no past: the prompt on its own, 5 tokens": (4, torch.randn(1, 5, 16, generator=cache_generator), [5]),
    "a prompt of 4, then 3 steps of one token": (4, torch.randn(1, 7, 16, generator=cache_generator), [4, 1, 1, 1]),
    "a prompt of 3, then a chunk of 4 tokens": (4, torch.randn(1, 7, 16, generator=cache_generator), [3, 4]),
    "2 sequences, a prompt of 2, then 2 steps": (2, torch.randn(2, 4, 16, generator=cache_generator), [2, 1, 1]),
    "one token, then one more": (4, torch.randn(3, 2, 16, generator=cache_generator), [1, 1]),
    "one head: a prompt of 3, then a chunk of 3": (1, torch.randn(1, 6, 16, generator=cache_generator), [3, 3]),
}


@torch.no_grad()
def cached_run(step, case):
    """Run a random attention layer with `step` over the case's tokens, chunk by chunk: every chunk's
    outputs side by side, and the keys and values cached at the end."""
    n_head, x, chunks = cache_cases[case]
    torch.manual_seed(0)
    attn = CausalSelfAttention(GPTConfig(n_embd=x.size(-1), n_head=n_head)).eval()    # random weights
    outputs, past, start = [], None, 0
    for T in chunks:
        y, past = step(attn, x[:, start:start + T], past)
        outputs.append(y)
        start += T
    return torch.cat(outputs, dim=1), past[0], past[1]


if not check_function("6.4", lambda case: cached_run(attention_with_cache, case),
                      [((case,), cached_run(course_attention_with_cache, case)) for case in cache_cases],
                      hint="each case is named by what it tests. Concatenate past and new keys and values along "
                           "the token axis (dim=2), and offset the causal mask: tril(diagonal=P), P the cached "
                           "tokens, so new token i sees keys 0 .. P + i."):
    print("Using the course GPT's own cached attention, course_attention_with_cache above, from here on.")
    attention_with_cache = course_attention_with_cache

# %% [markdown] slideshow={"slide_type": "-"}
# The whole model with a cache, built on your step (the course GPT's blocks are pre-norm:
# $x + \text{attn}(\text{LN}(x))$, then $x + \text{MLP}(\text{LN}(x))$), a cache being one `(k, v)` pair
# per layer:

# %% slideshow={"slide_type": "-"}
@torch.no_grad()
def forward_with_cache(model, idx, cache=None):
    """Logits of the new tokens idx (B, T), and the cache extended by them."""
    P = 0 if cache is None else cache[0][0].size(2)
    tr = model.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(P, P + idx.size(1)))    # the new tokens sit at positions P, P+1, ...
    new_cache = []
    for layer, block in enumerate(tr.h):
        a, kv = attention_with_cache(block.attn, block.ln_1(x), None if cache is None else cache[layer])
        x = x + a
        x = x + block.mlp(block.ln_2(x))
        new_cache.append(kv)
    return model.lm_head(tr.ln_f(x)), new_cache


# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** Feed a story in one chunk, then the rest one token at a time, through `forward_with_cache`. The logits must equal one full
# forward pass over the whole text, and the course GPT's own cached forward, `gpt(idx, cache=KVCache())`, where
# each attention layer writes into the cache; and generating with the cache must give the same tokens as the
# loop without it (the whole window through the model at every step), greedy and sampled.

# %% slideshow={"slide_type": "-"}
story_ids = encode(test_stories[0].text)
full_logits = gpt(story_ids)[0]
with torch.no_grad():
    chunks, cache = [], None
    out, cache = forward_with_cache(gpt, story_ids[:, :20])
    chunks.append(out)
    for t in range(20, story_ids.size(1)):
        out, cache = forward_with_cache(gpt, story_ids[:, t:t + 1], cache)
        chunks.append(out)
ours = torch.cat(chunks, dim=1)
with torch.no_grad():
    package = gpt(story_ids, cache=gen.KVCache())[0]
d_full = (ours - full_logits).abs().max().item()
d_package = (ours - package).abs().max().item()
print(f"{story_ids.size(1)} tokens: max |cached − full forward| = {d_full:.0e}, "
      f"max |ours − the course GPT's cached forward| = {d_package:.0e}", "✓" if max(d_full, d_package) < 1e-4 else "✗")
assert max(d_full, d_package) < 1e-4   # float32 rounding on logits of size ~10: same numbers, another order

start = encode("Once there was").repeat(4, 1)
for settings in (dict(temperature=0), dict(temperature=1.0), dict(temperature=0.7, top_k=5)):
    with_cache = gen.generate(gpt, start, 60, generator=torch.Generator().manual_seed(2), **settings)
    reference = gen.generate(gpt, start, 60, generator=torch.Generator().manual_seed(2), use_cache=False, **settings)
    print(f"{settings}: 4 × 60 tokens identical to the loop without a cache: {torch.equal(with_cache, reference)}")
    assert torch.equal(with_cache, reference)

# %% [markdown] slideshow={"slide_type": "-"}
# Our `torch.cat` copies the whole cache at every step, so step $t$ moves $t$ cached vectors per layer. The
# package's `KVCache` instead writes each step's keys and values *in place* into a buffer allocated ahead,
# doubling it when full (as a Python list grows): a step no longer copies what is already cached (attention
# still reads all of it).
# Serving systems go further and allocate the whole window, or fixed-size pages of it, up front.

# %% [markdown] slideshow={"slide_type": "-"}
# **The context window.** The course GPT has *learned absolute positions*: a token's keys and values depend on
# where it sits. Once the text is longer than `block_size` = 128 tokens, `GPT.generate` slides the window, so
# every token moves one position and every cached key is stale. Keeping the old keys anyway (a "sliding
# cache") computes something else:

# %% slideshow={"slide_type": "-"}
long_ids = encode(" ".join(s.text for s in test_stories[:2]))[:, :129]        # one token more than the window
window = long_ids[:, 1:]                                                      # what the model can see
exact = gpt(window)[0][0, -1]
with torch.no_grad():
    stale = gen.KVCache()
    gpt(long_ids[:, :128], cache=stale)                                       # keys of positions 0..127
    stale.drop_oldest(1)                                                      # drop the oldest token ...
    slid = gpt(long_ids[:, 128:], cache=stale)[0][0, -1]                      # ... and append the new one
print(f"sliding cache vs recomputing the window: max |Δ logit| = {(slid - exact).abs().max():.1f}, "
      f"same most likely token: {slid.argmax().item() == exact.argmax().item()}")
beyond = gen.generate(gpt, encode("Once"), 160, temperature=0)
same = torch.equal(beyond, gen.generate(gpt, encode("Once"), 160, temperature=0, use_cache=False))
print(f"160 tokens, past the 128-token window: with the cache == without it: {same}")
assert same

# %% [markdown] slideshow={"slide_type": "-"}
# So past the window `course_utils.generate` recomputes the window at every step: exactly the tokens of the
# loop without a cache, but no saving there. With *relative* positions (RoPE, ALiBi) attention depends only on the distance
# between two tokens, so a slid cache keeps every position right. It is still not exact: only the first
# layer's keys and values depend on the token alone. In every later layer a token's key and value come from
# what the token attended to, and that included the tokens just evicted; recomputing the window without them
# gives other numbers. Our model shows this part too, with the positions kept fixed: the keys and values of
# tokens 1–127 computed while token 0 was visible, against the same tokens at the same positions without it.

# %% slideshow={"slide_type": "-"}
@torch.no_grad()
def keys_and_values(model, idx, first_position):
    """Per layer, the keys and values of the tokens idx (B, T) placed at positions first_position, ...+T-1."""
    tr = model.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(first_position, first_position + idx.size(1)))
    per_layer = []
    for block in tr.h:
        a, kv = attention_with_cache(block.attn, block.ln_1(x), None)
        x = x + a
        x = x + block.mlp(block.ln_2(x))
        per_layer.append(kv)
    return per_layer


with_evicted = keys_and_values(gpt, long_ids[:, :128], 0)          # tokens 0..127: token 0 visible
without = keys_and_values(gpt, long_ids[:, 1:128], 1)              # tokens 1..127 at the same positions
stale_diffs = []
for layer, ((k_old, v_old), (k_new, v_new)) in enumerate(zip(with_evicted, without), start=1):
    stale_diffs.append(max((k_old[:, :, 1:] - k_new).abs().max().item(), (v_old[:, :, 1:] - v_new).abs().max().item()))
    relative = ((k_old[:, :, 1:] - k_new).norm(dim=-1) / k_new.norm(dim=-1)).mean().item()
    print(f"layer {layer}: max |Δ key or value| = {stale_diffs[-1]:.1f}, mean change of a key {relative:.0%}")
assert stale_diffs[0] == 0, "layer 1's keys and values do not depend on the evicted token"
assert min(stale_diffs[1:]) > 0.05, "the later layers' keys and values do"

# %% [markdown] slideshow={"slide_type": "-"}
# Layer 1 is identical; later layers differ by a few percent. So a slid RoPE cache is an approximation of
# recomputing the window (often a harmless one), not the same computation. A model *trained* with a sliding
# attention window, as the first Mistral 7B was, is different: its deeper layers are meant to carry
# information from beyond the window, so a rolling cache computes exactly what it was trained to compute.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Measuring the speed-up
# Now time it. Our checkpoint's window is only 128 tokens, so we time a randomly initialized course GPT of the
# same size (4 layers, 4 heads, 128 dimensions) with a 512-token window: random weights cost the same as
# trained ones, and the nonsense it writes does not matter for timing. Timings depend on the machine and on
# what else runs on it; yours will differ.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def seconds(fn, repeats=3):
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


torch.manual_seed(0)
long_gpt = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=512, n_layer=4, n_head=4, n_embd=128)).eval()
lengths = [16, 32, 64, 128, 256]
timings = {}
for n in lengths:
    prompt = torch.full((1, 1), NEWLINE)
    timings[n] = [seconds(lambda: gen.generate(long_gpt, prompt, n, temperature=0, use_cache=cache))
                  for cache in (False, True)]
print(f"{'new tokens':>10} {'no cache':>10} {'KV cache':>10} {'speed-up':>9}")
for n, (slow, fast) in timings.items():
    print(f"{n:>10} {slow:>9.3f}s {fast:>9.3f}s {slow / fast:>8.1f}×")
per_doubling = [[timings[b][i] / timings[a][i] for a, b in zip(lengths, lengths[1:])] for i in (0, 1)]
for i, name in enumerate(("no cache", "KV cache")):
    print(f"{name}: each doubling of the length multiplies the time by "
          + ", ".join(f"{r:.1f}" for r in per_doubling[i]))
speed_up = {n: slow / fast for n, (slow, fast) in timings.items()}
growth = [timings[256][i] / timings[64][i] for i in (0, 1)]          # 4× the tokens
assert speed_up[256] > 2, "at 256 tokens the KV cache is faster by a wide margin"
assert speed_up[256] > speed_up[16], "the cache pays off more the longer the text"
assert 5 < growth[0] < 16, \
    "without the cache 4x the tokens take well over 4x the time, but less than the 16x of pure quadratic growth"
assert 2.5 < growth[1] < 7, "with the cache the time grows about linearly with the length"

# %% slideshow={"slide_type": "-"}
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.4))
ax.plot(lengths, [timings[n][0] for n in lengths], "o-", label="no cache")
ax.plot(lengths, [timings[n][1] for n in lengths], "s-", label="KV cache")
ax.set(xlabel="tokens generated", ylabel="seconds", title="Generation time (batch 1, greedy)")
ax.legend()
ax2.plot(lengths, [timings[n][0] / timings[n][1] for n in lengths], "o-", color="C2")
ax2.axhline(1, color="k", lw=0.8)
ax2.set(xlabel="tokens generated", ylabel="speed-up (×)", title="The cache pays off more the longer the text")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# With the cache each doubling of the length about doubles the time: linear growth, one token's work per
# step. Without it each doubling costs well over twice the time, yet less than the ×4 of pure quadratic
# growth: each step reruns the whole text, a cost that grows quadratically with the length, on top of a
# fixed cost per step that still weighs a lot in texts this short. (At 256 tokens the benchmark
# `benchmarks/bench_kv_cache.py` measures the same comparison more carefully.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Time to first token vs time per token
# A chat interface shows tokens as they come (`gen.stream`). Two numbers describe how it feels:
#
# - **time to first token** (TTFT): the *prefill*, one forward pass over the whole prompt that fills the cache,
#   then the first sample. It grows with the prompt;
# - **time per output token**: each *decode* step runs one token against the cache. It barely depends on the
#   prompt here (it reads a longer cache, a small cost for this model).
#
# The total time for $n$ tokens is about $\text{TTFT} + (n - 1) \times \text{time per token}$.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def stream_timing(model, prompt_len, n_new=32):
    prompt = torch.randint(tokenizer.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    stamps = []
    for _ in gen.stream(model, prompt, n_new, temperature=0):
        stamps.append(time.perf_counter() - t0)
    return stamps[0], (stamps[-1] - stamps[0]) / (n_new - 1)


prompt_lengths = [8, 64, 128, 256, 384, 448]
# The best of 7 runs for each number: other work on the machine only ever adds time, so the minimum is the
# measurement least disturbed by it.
runs = {P: [stream_timing(long_gpt, P) for _ in range(7)] for P in prompt_lengths}
latency = {P: (min(r[0] for r in runs[P]), min(r[1] for r in runs[P])) for P in prompt_lengths}
print(f"{'prompt':>7} {'TTFT':>9} {'per token':>10}")
for P, (ttft, per_token) in latency.items():
    print(f"{P:>7} {1000 * ttft:>7.1f}ms {1000 * per_token:>8.2f}ms")
assert latency[448][0] > 3 * latency[8][0], "the time to first token grows with the prompt"
assert latency[448][1] < 3 * latency[8][1], "the time per token barely depends on the prompt"
assert latency[448][1] < 0.5 * latency[448][0], "a decode step costs far less than a long prompt's prefill"

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(prompt_lengths, [1000 * latency[P][0] for P in prompt_lengths], "o-", label="time to first token (prefill)")
ax.plot(prompt_lengths, [1000 * latency[P][1] for P in prompt_lengths], "s-", label="time per later token (decode)")
ax.set(xlabel="prompt length (tokens)", ylabel="milliseconds", title="Prefill grows with the prompt; decode stays small")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# **Making inference cheaper.** The KV cache removes repeated work. The other standard techniques make each
# step cheaper, mostly by moving fewer bytes: to write one token for one sequence, a decode step must read every
# weight of the model, so at batch size 1 memory traffic, not arithmetic, sets the pace.
#
# | technique | the idea | what it saves |
# |---|---|---|
# | **KV cache** (this section) | keep each layer's past keys and values | recomputing the prefix at every step |
# | **mixed precision** (FP16, BF16) | 16-bit floats; key sums stay 32-bit | half the memory; faster GPU matmuls |
# | **quantization** (8- or 4-bit) | integer weights, one scale per group | 2–4× less memory than 16-bit |
# | **kernel fusion** (notebook 03) | several steps in one GPU kernel, as FlashAttention | memory traffic |
# | **sparse or local attention** | attend only to some tokens, e.g. the last $w$ | $O(Tw)$, not $O(T^2)$ |
# | **batching** | many requests through the model at once | one read of the weights serves them all |
#
# The cache and kernel fusion compute the same numbers (the cache changed no token above). 16-bit floats and
# quantization round them a little, usually harmlessly, though aggressive quantization costs some accuracy.
# Local attention changes the model itself, which must be trained that way (the first Mistral 7B, as its paper
# reports, used a sliding window of 4,096 tokens). Batching multiplies the cache: the 64 GPT-2 sequences of
# exercise 6.3 needed 4.5 GiB, which is why serving systems also keep the cache in fewer bits and hand out its
# memory in pages. All of these make each token *cheaper*; section 6 pulls the other lever, spending *more*
# tokens on a question to answer it better.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Quantization and low precision, measured
# The table's two rounding techniques, written out. **int8 per-channel symmetric quantization** stores each
# weight matrix $W$ (out × in) of an `nn.Linear` as 8-bit integers and one float scale per output row $r$:
#
# $$s_r = \frac{\max_j |W_{rj}|}{127}, \qquad q_{rj} = \operatorname{clamp}\!\big(\operatorname{round}(W_{rj} / s_r),\,
# -127,\, 127\big), \qquad \hat W_{rj} = s_r\, q_{rj}.$$
#
# Rounding to the nearest step moves a weight by at most half a step: $|W_{rj} - \hat W_{rj}| \le s_r / 2$. One
# scale per row (*per channel*), not one per matrix (*per tensor*), so that a row of large weights does not
# coarsen the steps of all the others. We keep the embeddings and LayerNorms in float32 and compute in float32
# with $\hat W$ (*weight-only* quantization: the saving is memory, the bytes a decode step must read).

# %% slideshow={"slide_type": "-"}
def quantize_per_channel(w):
    """(out, in) float weights -> (out, in) int8 and one scale per output row (out,)."""
    scale = w.abs().amax(dim=1).clamp_min(1e-12) / 127                 # a row of zeros gets a tiny scale
    q = (w / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize(q, scale):
    return q.float() * scale[:, None]                                    # (out, in) float32


def linear_layers(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]


int8_gpt = copy.deepcopy(gpt)
int8_state = {}                                                          # what an int8 checkpoint would store
int8_bytes, worst_step, worst_reference = 0, 0.0, 0.0
for name, layer in linear_layers(int8_gpt):
    w = layer.weight.detach()
    q, scale = quantize_per_channel(w)
    w_hat = dequantize(q, scale)
    reference = torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(len(scale), dtype=torch.int32),
                                                       0, -127, 127)  # PyTorch's quantize-dequantize
    worst_reference = max(worst_reference, (w_hat - reference).abs().max().item())
    worst_step = max(worst_step, ((w - w_hat).abs() / scale[:, None]).max().item())
    int8_state[name + ".weight"], int8_state[name + ".scale"] = q, scale
    int8_bytes += q.numel() * q.element_size() + scale.numel() * 4     # int8 weights, float32 scales
    layer.weight = nn.Parameter(w_hat)    # lm_head gets its own copy: the float embedding table stays as it was
quantized = {id(layer.weight) for _, layer in linear_layers(int8_gpt)}
for name, p in int8_gpt.named_parameters():                           # the rest stays float32
    if id(p) not in quantized:
        int8_state[name] = p.detach()
        int8_bytes += p.numel() * 4
fp32_bytes = sum(p.numel() * 4 for p in gpt.parameters())
print(f"{len(linear_layers(gpt))} linear layers: max |ours − torch.fake_quantize_per_channel_affine| = "
      f"{worst_reference:.1e}", "✓" if worst_reference == 0 else "✗")
print(f"largest error {worst_step:.3f} steps (at most 0.5: rounding to the nearest step)",
      "✓" if worst_step <= 0.5 + 1e-6 else "✗")
print(f"model size: float32 {fp32_bytes:,} bytes, int8 weights {int8_bytes:,} bytes "
      f"({fp32_bytes / int8_bytes:.1f}× smaller)")
assert worst_reference == 0 and worst_step <= 0.5 + 1e-6

w = gpt.transformer.h[0].mlp.c_fc.weight.detach()
per_tensor = w.abs().max() / 127
print(f"one scale for all of block 1's c_fc instead of one per row: the mean step is "
      f"{per_tensor / (w.abs().amax(dim=1) / 127).mean():.1f}× coarser")

# %% [markdown] slideshow={"slide_type": "-"}
# **The reference.** PyTorch's own `quantize_dynamic` replaces each `nn.Linear` with an int8 version (here
# with per-channel scales); it also rounds each layer's *input* to 8 bits on the fly, which is where
# "dynamic" comes from, and multiplies in integers. Its scales are $\max|W_{r\cdot}|/127.5$, as it uses the
# full range $-128 \dots 127$. Last, **bfloat16**: the same 8 exponent bits as float32 (the same range) but 7
# mantissa bits instead of 23, so every weight and every layer's output is rounded to about 3 significant
# digits. All four against the entropy floor on 50 held-out stories:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
held_out = storyworld.load_split("test", 50)
held_out_ids = torch.tensor(tokenizer.encode("\n" + held_out.text))


def nats_per_char(model):
    return metrics.token_nlls(model, held_out_ids).sum().item() / held_out.n_chars


def saved_bytes(state):
    """The size of a checkpoint file: torch.save of the state dict."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


with warnings.catch_warnings():   # torch.ao.quantization announces its move to the torchao package
    warnings.simplefilter("ignore")
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        torch_int8 = quantize_dynamic(copy.deepcopy(gpt), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
        torch_modules = dict(torch_int8.named_modules())
        torch_steps = 0.0
        for name, layer in linear_layers(gpt):
            packed = torch_modules[name].weight()                        # a quantized tensor: int8 and scales
            error = (layer.weight.detach() - packed.dequantize()).abs() / packed.q_per_channel_scales()[:, None]
            torch_steps = max(torch_steps, error.max().item())
    except (ImportError, AttributeError, RuntimeError) as error:
        torch_int8 = None
        print(f"this PyTorch build has no dynamic quantization ({error}): the reference row is left out")
bf16_gpt = copy.deepcopy(gpt).to(torch.bfloat16)

floor = held_out.nats_per_char
losses = {"float32": nats_per_char(gpt), "int8, ours": nats_per_char(int8_gpt)}
try:
    losses["bfloat16"] = nats_per_char(bf16_gpt)
except RuntimeError as error:      # some CPU builds (or ATEN_CPU_CAPABILITY=default) lack a bfloat16 matmul
    print(f"no bfloat16 matmul here ({error}): bfloat16 weights with float32 arithmetic instead")
    losses["bfloat16"] = nats_per_char(copy.deepcopy(bf16_gpt).float())
sizes = {"float32": saved_bytes(gpt.state_dict()), "int8, ours": saved_bytes(int8_state),
         "bfloat16": saved_bytes(bf16_gpt.state_dict())}
if torch_int8 is not None:
    losses["int8, PyTorch"] = nats_per_char(torch_int8)
    sizes["int8, PyTorch"] = saved_bytes(torch_int8.state_dict())
gap = losses["float32"] - floor
print(f"entropy floor {floor:.4f} nats/char; float32 is {gap:.4f} above it\n")
print(f"{'weights':<15}{'file bytes':>11}{'nats/char':>11}{'change':>10}{'of the gap':>12}")
for name, loss in losses.items():
    change = loss - losses["float32"]
    print(f"{name:<15}{sizes[name]:>11,}{loss:>11.4f}{change:>+10.5f}{change / gap:>+12.1%}")
if torch_int8 is not None:
    print(f"\nPyTorch's int8 weights: largest error {torch_steps:.3f} of its steps")
for name in losses:
    assert abs(losses[name] - losses["float32"]) < 0.05 * gap, \
        f"{name}: the loss moves by less than 5% of the gap to the floor"
assert sizes["int8, ours"] < sizes["float32"] / 3, "int8 weights make the model over three times smaller"
assert torch_int8 is None or torch_steps <= 0.5 + 1e-3, "PyTorch's int8 weights too are within half a step"

# %% [markdown] slideshow={"slide_type": "-"}
# int8 weights make the checkpoint about three times smaller (one byte a weight and one scale per row; the
# embeddings stay float32) and move the loss by less than 5% of the gap to the entropy floor, in either direction;
# PyTorch's version, which also rounds the activations, does the same, and so does bfloat16 at half the size.
# For this model the rounding is noise far below what it still has to learn. Large models lose little at 8 bits
# too; at 4 bits and fewer, outlier weights force smaller groups (one scale per 64 or 128 weights), a
# calibration set, and methods such as GPTQ or AWQ that choose the rounding to keep each layer's outputs.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.5 — clip the outliers
# A few very large weights set a row's scale and make the steps coarse for all the others. **Clipping** shrinks
# the scale to $s_r = c \cdot \max_j |W_{rj}| / 127$ with $0 < c \le 1$ and clamps the weights beyond it to
# $\pm 127$ steps: the largest weights get worse, all the others finer. Write `fake_quantize_int8(w, clip)`:
# per-channel symmetric int8 of a 2-D `w`, with that scale, returning the dequantized float weights $\hat W$.
#
# <details><summary>💡 Hint</summary>
#
# One scale per row: `scale = clip * w.abs().amax(dim=1) / 127`, then `q = (w / scale[:, None]).round()`,
# clamped to $[-127, 127]$ (with $c < 1$ the clamp is what keeps the large weights at 127 steps), and
# `q * scale[:, None]`. A single `w.abs().max()` for the whole matrix is per-tensor, not per-channel.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def fake_quantize_int8(w, clip=1.0):
    # BEGIN SOLUTION
    scale = clip * w.abs().amax(dim=1) / 127
    q = (w / scale[:, None]).round().clamp(-127, 127)
    return q * scale[:, None]
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def pytorch_fake_quantize(w, clip):
    """PyTorch's quantize-then-dequantize with the scales of the task, as the reference."""
    scale = clip * w.abs().amax(dim=1) / 127
    return torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(len(scale), dtype=torch.int32), 0, -127, 127)


rows = torch.tensor([[2.54, -1.0, 0.5], [0.0254, 0.01, -0.02]])      # two rows 100× apart
random_w = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
check_function("6.5", fake_quantize_int8, [
    ((rows, 1.0), rows),                                               # steps 0.02 and 0.0002: exact
    ((rows, 0.5), torch.tensor([[1.27, -1.0, 0.5], [0.0127, 0.01, -0.0127]])),   # the largest clamped
    ((random_w, 1.0), pytorch_fake_quantize(random_w, 1.0)),
    ((random_w * 3, 0.7), pytorch_fake_quantize(random_w * 3, 0.7)),
], hint="One scale per row (amax over dim=1), times clip; round, clamp to [-127, 127], multiply back.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Hallucination: fluent answers without a source
#
# A language model is trained to continue text plausibly, not to say "I don't know". storyworld never names a
# pet, never says where the friend lives, and never gives the friend a pet. Ask anyway, by starting the
# sentence, and storyworld itself says no story can continue this way. The model continues fluently:

# %% slideshow={"slide_type": "-"}
def storyworld_verdict(prompt):
    try:
        world.next_char_distribution(prompt)
        return "a story can continue this"
    except ValueError:
        return "no storyworld story starts like this"


def possessive(story):
    """'her' or 'his' for the story's hero, from the role word of the first sentence."""
    role = re.match(r".*? there was an? \w+ (\w+) named", story.text).group(1)
    return {"female": "her", "male": "his"}[next(r.gender for r in storyworld.LEXICON.roles if r.word == role)]


with_pet = next(s for s in test_stories if " also had a " in s.text and s.topic == "share")
no_pet = next(s for s in test_stories if " also had a " not in s.text)
met = re.search(r".*?There, \w+ met an? \w+ \w+ named (\w+)\.", with_pet.text)
unstated = {
    "the pet's name": re.search(r"(.* also had an? \w+)\.", with_pet.text).group(1) + " named",
    "what else the friend had": met.group(0) + f" {met.group(1)} also had a",
    "the pet of a hero who has none": re.search(r"(.* went to the \w+)", no_pet.text).group(1)
                                      + " with " + possessive(no_pet),
}
for question, prompt in unstated.items():
    ids = encode(prompt)
    answer = gen.generate(gpt, ids, 8, temperature=0)[0, ids.size(1):]
    confidence = next_logits(prompt).softmax(-1).max().item()
    print(f"{question}:  …{prompt[-40:]!r} → {tokenizer.decode(answer)!r}")
    print(f"    the model's first word has p = {confidence:.2f}; storyworld: {storyworld_verdict(prompt)}")

# %% [markdown] slideshow={"slide_type": "-"}
# Each answer reads like storyworld and each is made up: the story contains no such fact. The third story
# never mentions a pet, and the model takes "his" or "her" one to the outing anyway. (The model cannot even
# be asked about the weather: "weather" is not one of its 175 tokens.)
#
# Now a systematic version, scored with storyworld's own question–answer pairs (`Story.qa`). Two questions:
#
# - *"Who did the hero meet?"*, asked as the sentence `"Can I play with your ball?" asked ___` (stories about
#   sharing);
# - *"Which pet does the hero have?"*, asked as `…went to the park with her ___` (stories with a pet).
#
# Each question is asked twice: with the story as it is (**grounded**: the answer is in the prompt), and with
# the one sentence that states the answer removed (**ungrounded**: nothing in the prompt says it). Besides
# accuracy we record how sure the model is that *some* answer of the right kind comes next: its total
# probability on the names (or the animals).

# %% slideshow={"slide_type": "-"}
def qa_answer(story, start):
    return next(q.answer for q in story.qa if q.question.startswith(start))


def friend_prompts(story):
    """(grounded prompt, ungrounded prompt, true answer) for 'Who did X meet?'"""
    grounded = re.search(r'(.*\?" asked)', story.text).group(1)
    ungrounded = re.sub(r" There, \w+ met an? \w+ \w+ named \w+\.", "", grounded)
    return grounded, ungrounded, " " + qa_answer(story, "Who did")


def pet_prompts(story):
    """(grounded, ungrounded, answer) for 'Did X have a pet?' when the answer is yes."""
    grounded = re.search(r"(.* went to the \w+)", story.text).group(1) + " with " + possessive(story)
    ungrounded = re.sub(r" \w+ also had an? \w+\.", "", grounded)
    return grounded, ungrounded, " " + qa_answer(story, "Did").split()[-1]


questions = {
    "who did the hero meet?": [friend_prompts(s) for s in test_stories if s.topic == "share"],
    "which pet?": [pet_prompts(s) for s in test_stories if qa_answer(s, "Did") != "no"],
}
lexicon = storyworld.LEXICON
kinds = {"who did the hero meet?": [" " + n for n in lexicon.names["female"] + lexicon.names["male"]],
         "which pet?": [" " + a for a in lexicon.animals]}
grounding = {}
for name, items in questions.items():
    kind_ids = [tokenizer.stoi[w] for w in kinds[name]]
    for i, version in enumerate(("grounded", "ungrounded")):
        correct, sure = [], []
        for item in items:
            p = next_logits(item[i]).softmax(-1)
            correct.append(tokenizer.itos[p.argmax().item()] == item[2])
            sure.append(p[kind_ids].sum().item())
        grounding[name, version] = (np.mean(correct), np.mean(sure))
    chance = 1 / (len(kinds[name]) - 1) if "meet" in name else 1 / len(kinds[name])  # the friend is not the hero
    print(f"{name:<24} ({len(items)} stories, chance {chance:.0%})")
    for version in ("grounded", "ungrounded"):
        acc, sure = grounding[name, version]
        print(f"    {version:<11} accuracy {acc:>5.0%}   P(some {'name' if 'meet' in name else 'animal'}) = {sure:.3f}")
print("\nan ungrounded prompt: …" + questions["which pet?"][0][1][-90:])

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(7, 3.4))
x = np.arange(len(questions))
for j, version in enumerate(("grounded", "ungrounded")):
    ax.bar(x + (j - 0.5) * 0.36, [grounding[q, version][0] for q in questions], width=0.36,
           label=f"{version}: accuracy")
    ax.plot(x + (j - 0.5) * 0.36, [grounding[q, version][1] for q in questions], "k_", ms=28, mew=2,
            label="P(some answer of the right kind)" if j == 0 else None)
ax.set(xticks=x, xticklabels=list(questions), ylim=(0, 1.35), ylabel="accuracy / probability",
       title="Facts in the prompt change the answer, if the model reads them")
ax.legend(fontsize=8, loc="upper center", ncol=3)
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# Three lessons:
#
# - **The model always answers.** Grounded or not, nearly all its probability goes to *some* name or
#   animal; it never hesitates because the prompt does not say. That is hallucination: fluent and unfounded.
# - **Grounding works when the model has learned to use the context.** With the friend's introduction in
#   the prompt the model names the friend every time; without it, it names someone else, right only by
#   chance. Retrieval-augmented generation is this idea at scale: put the relevant facts into the prompt.
# - **Grounding is not enough when it has not.** Which pet the hero has is in the prompt, yet the model is at
#   chance (1 in 6) either way: this small model never learned to copy the pet. Nothing in the output tells a
#   reader which answers are founded. That is why the next section checks answers instead of trusting them.

# %% [markdown] slideshow={"slide_type": "-"}
# **Why models hallucinate.** The experiment shows the usual causes in miniature:
#
# - **the training objective**: pretraining rewards a plausible continuation, and in training text a question
#   is nearly always followed by an answer, seldom by "I don't know". Our model puts over 99% of its probability
#   on *some* name or animal whether or not the prompt contains the fact;
# - **over-generalization**: it learned that "…went to the park with his" is followed by an animal, and applies
#   that pattern to a hero who has no pet;
# - **an under-specified prompt**: when the prompt leaves the answer open, the model fills the gap from its
#   general expectations instead of asking back — the ungrounded friend question gets a name, right only by
#   chance;
# - **gaps in the training data**: what the training text never states, the model cannot recall, only
#   imitate. storyworld never says where the friend lives, so no answer to that is founded.
#
# At scale the same mechanics produce invented facts, made-up citations and quotes attributed to the wrong
# person. **What reduces it** (nothing removes it entirely):
#
# - **clear, specific prompts**: say exactly what is asked, and what to answer when the source does not say.
#   This needs a model that follows instructions; ours only continues stories;
# - **few-shot examples and chain-of-thought prompting**: examples in the prompt show what good answers look
#   like, abstentions included (in-context learning, notebook 07); asking the model to reason step by step
#   before it answers helps on questions that need several steps;
# - **retrieval-augmented generation (RAG)**: find the documents relevant to the question and put them in the
#   prompt. The search usually embeds the documents and the question as vectors (notebook 02) and looks up the
#   nearest ones in a **vector database**; libraries such as LangChain wire retriever, prompt and model
#   together. Our grounded prompts are RAG with a perfect retriever — and show its limit: retrieval helps only
#   if the model uses what it is given, as it did for the friend and not for the pet;
# - **verifiers and fact-checking**: a second model, a search or a knowledge base checks the answer's claims
#   after it is written — the checker of section 6 is a perfect one;
# - **instruction-tuned and aligned models**: fine-tuning on answers that say "the text does not say" when it
#   does not, and preference training that ranks true answers above invented ones (notebooks 07 and 08), teach
#   a model to abstain; chat models (the instruction-tuned versions of GPT-4, Claude or Mistral) are trained
#   this way. Ours never saw such an example;
# - **guardrails**: rules and classifiers around the model that block, flag or reroute answers, e.g. no
#   factual claim without a retrieved source;
# - **tool use**: send the question to something that knows — a search engine, a calculator, a database or an
#   API. An **agent** lets the model decide which tool to call, read the result and check its own work in a
#   loop (AutoGPT was an early example; protocols such as MCP, the Model Context Protocol, standardize how a
#   model connects to tools).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Retrieval-augmented generation, measured
# Our grounded prompts had a perfect retriever: we handed the model the right story. Now it has to be found.
# The **store** is the 71 test stories about sharing; the **question** is section 5's ungrounded prompt, the
# story as a reader remembers it, without the sentence that says whom the hero met, up to where the name comes.
# The pipeline:
#
# 1. embed every story of the store once, and the question, as vectors;
# 2. **retrieve** the story whose vector is closest to the question's (cosine similarity);
# 3. put it in the prompt and let the model answer. Our model only continues stories, so, as in section 5, the
#    prompt is the retrieved story read up to the place where it names the friend.
#
# Two embeddings from earlier notebooks: **TF-IDF** (notebook 02: counts of words, rare words weighted up) and
# the GPT's own hidden states after the last block, **mean-pooled** over the text's tokens.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(11, 2.3))
boxes = [(0.07, 0.5, "question\n(a story without\nthe friend's name)"), (0.27, 0.5, "embed\nTF-IDF or GPT"),
         (0.47, 0.5, "nearest story\n(cosine similarity)"), (0.67, 0.5, "prompt: that story,\nup to the name"),
         (0.86, 0.5, "GPT → answer"), (0.47, 0.08, "store: 71 stories,\nembedded once")]
for x, y, text in boxes:
    ax.text(x, y, text, ha="center", va="center", fontsize=9,
            bbox=dict(boxstyle="round,pad=0.4", fc="#dbe8f5" if y > 0.3 else "#f3e3c3", ec="k"))
for (x0, y0), (x1, y1) in [((0.14, 0.5), (0.2, 0.5)), ((0.34, 0.5), (0.39, 0.5)), ((0.55, 0.5), (0.59, 0.5)),
                           ((0.75, 0.5), (0.8, 0.5)), ((0.47, 0.2), (0.47, 0.35))]:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", lw=1.5))
ax.set(xlim=(0, 0.95), ylim=(-0.1, 0.8), title="Retrieval-augmented generation")
ax.axis("off")
plt.show()

# %% slideshow={"slide_type": "-"}
store = [s for s in test_stories if s.topic == "share"]      # the stories section 5 asked about, in order
rag_questions = questions["who did the hero meet?"]             # (grounded, ungrounded, answer) per story
assert len(store) == len(rag_questions)


def tfidf_vectors(store_texts, query_texts):
    """TF-IDF rows for the store, and for the queries with the store's vocabulary and idf; unit length."""
    counts, vocabulary = embeddings.bag_of_words([embeddings.words(t) for t in store_texts])
    store_vectors, idf = embeddings.tfidf(counts)
    query_counts, _ = embeddings.bag_of_words([embeddings.words(t) for t in query_texts], vocabulary)
    query_vectors = query_counts * idf
    return store_vectors, query_vectors / query_vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def last_hidden(texts):
    """The GPT's last hidden states (after the final LayerNorm) for many texts at once, (B, T, n_embd), and the
    mask of real tokens (B, T). Shorter texts are padded at the end: causal attention keeps that harmless."""
    ids = [encode(t)[0] for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    idx = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True)   # (B, T), padded with token 0
    tr = gpt.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(idx.size(1)))
    for block in tr.h:
        x = block(x)
    return tr.ln_f(x), torch.arange(idx.size(1)) < lengths[:, None]


def gpt_vectors(texts):
    """Mean pooling: each text's hidden states averaged over its real tokens, (B, n_embd)."""
    h, mask = last_hidden(texts)
    return (h * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)


queries = [ungrounded for _, ungrounded, _ in rag_questions]
first_sentences = [s.text.split(". ")[0] + "." for s in store]  # a shorter question: who the story is about
store_gpt = gpt_vectors([s.text for s in store])
similarity = {}
for query_name, texts in (("remembered story", queries), ("first sentence", first_sentences)):
    store_tfidf, query_tfidf = tfidf_vectors([s.text for s in store], texts)
    similarity["TF-IDF", query_name] = embeddings.cosine_similarity(query_tfidf, store_tfidf)   # (questions, store)
    similarity["GPT, mean-pooled", query_name] = embeddings.cosine_similarity(gpt_vectors(texts), store_gpt)
print("a question:  …" + queries[0][-110:])
print("its first sentence: " + first_sentences[0])

# %% [markdown] slideshow={"slide_type": "-"}
# **Recall@k** scores a retriever alone: the share of questions whose right story is among the $k$ stories it
# ranks highest. With $\text{rank}_q$ the number of stories scored above question $q$'s right one,
#
# $$\text{recall@}k = \frac{1}{Q}\sum_{q=1}^{Q} \mathbb{1}[\text{rank}_q < k].$$

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
right = torch.arange(len(store))                                # question i belongs to story i


def ranks(sim, right):
    """For each question, how many stories score higher than its right one (0 = retrieved first)."""
    return (sim > sim.gather(1, right[:, None])).sum(dim=1)


print(f"{'embedding':<18}{'question':<18}{'recall@1':>9}{'recall@5':>9}   (chance: {1 / len(store):.0%}, "
      f"{5 / len(store):.0%})")
recall = {}
for (embedding_name, query_name), sim in similarity.items():
    r = ranks(sim, right)
    recall[embedding_name, query_name] = {k: (r < k).float().mean().item() for k in (1, 5)}
    print(f"{embedding_name:<18}{query_name:<18}{recall[embedding_name, query_name][1]:>9.0%}"
          f"{recall[embedding_name, query_name][5]:>9.0%}")
tfidf_1 = recall["TF-IDF", "remembered story"][1]
gpt_1 = recall["GPT, mean-pooled", "remembered story"][1]
assert tfidf_1 > 0.9 and 0.6 < gpt_1 < 0.9, \
    "TF-IDF retrieves the right story for nearly every question, the GPT's pooled states for about three quarters"
assert all(recall[e, "remembered story"][5] > 0.95 for e in ("TF-IDF", "GPT, mean-pooled")), \
    "in the top 5 both find (nearly) every right story"
assert 0.35 < recall["TF-IDF", "first sentence"][1] < 0.75 and recall["TF-IDF", "first sentence"][5] > 0.9, \
    "from the first sentence alone TF-IDF ranks the right story first about half the time, but nearly always top 5"
assert recall["GPT, mean-pooled", "first sentence"][1] < 0.3, "the GPT's pooled states rarely find it from there"

# %% [markdown] slideshow={"slide_type": "-"}
# Now the answers. For each question the model reads one of: nothing but the question (**none**, section 5's
# ungrounded prompt), the **right** story, the story each retriever ranked first, or a **wrong** story (the
# next one in the store). Besides accuracy we count how often the answer is the friend of the story the model
# read:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def friend_of(story):
    return friend_prompts(story)[2]


documents = {"none": [None] * len(store), "right story": store,
             "retrieved, TF-IDF": [store[i] for i in similarity["TF-IDF", "remembered story"].argmax(dim=1)],
             "retrieved, GPT": [store[i] for i in similarity["GPT, mean-pooled", "remembered story"].argmax(dim=1)],
             "wrong story": store[1:] + store[:1]}
rag = {}
for condition, docs in documents.items():
    prompts = [ungrounded if doc is None else friend_prompts(doc)[0]          # the document, up to the name
               for (_, ungrounded, _), doc in zip(rag_questions, docs)]
    h, mask = last_hidden(prompts)
    last = h[torch.arange(len(prompts)), mask.sum(dim=1) - 1]                 # each prompt's last real token
    answers = [tokenizer.itos[i] for i in gpt.lm_head(last).argmax(dim=-1).tolist()]
    correct = [answer == truth for answer, (_, _, truth) in zip(answers, rag_questions)]
    faithful = [doc is not None and answer == friend_of(doc) for answer, doc in zip(answers, docs)]
    rag[condition] = (np.mean(correct), np.mean(faithful))
print(f"{'the model reads':<20}{'accuracy':>9}{'names its document’s friend':>30}")
for condition, (acc, faithful) in rag.items():
    print(f"{condition:<20}{acc:>9.0%}{'-' if condition == 'none' else f'{faithful:.0%}':>30}")
assert rag["right story"][0] > 0.95, "with the right story the model names the friend (nearly) every time"
assert rag["none"][0] < 0.25 and rag["wrong story"][0] < 0.25, "with no story or a wrong one it is near chance"
assert rag["wrong story"][1] > 0.9, "with a wrong story it names that story's friend: faithful to the wrong source"
assert all(abs(rag[f"retrieved, {e}"][0] - r) < 0.1 for e, r in (("TF-IDF", tfidf_1), ("GPT", gpt_1))), \
    "retrieved-story accuracy follows the retriever's recall@1"

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.bar(list(rag), [acc for acc, _ in rag.values()], color=["C7", "C2", "C0", "C1", "C3"])
ax.axhline(1 / 15, color="k", ls=":", lw=1, label="chance: 1 in 15 names")
ax.set(ylabel="accuracy", ylim=(0, 1.05), title="Who did the hero meet? The answer is as good as the retrieved story")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# - **The answer is as good as the retrieval.** The model names the friend of whatever story it reads, (nearly)
#   every time, so its accuracy follows the retriever's recall@1: nearly all right with TF-IDF, about three
#   quarters with the GPT's pooled states.
# - **A wrong document gives a wrong answer that looks sourced.** With the wrong story the model names that
#   story's friend: faithful to its source, and false. Without a story it is at chance as well, but at least
#   nothing in the prompt seems to back it. Retrieval moves part of the hallucination problem into the search.
# - **A language model's hidden states are not a search engine.** Averaged over a story they mostly say what
#   all storyworld stories share, not which characters this one has. RAG systems use embedding models *trained*
#   to put a question and its passage close together (contrastive training, as in Sentence-BERT or E5), often
#   mixed with a word-matching score such as BM25, a refinement of TF-IDF.
# - **Short questions are ambiguous.** From the first sentence alone TF-IDF ranks the right story first about
#   half the time, but nearly always among its top 5. Systems therefore retrieve several passages and let the
#   model read them all, or rerank them; our 128-token window holds only one story.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.6 — recall@k
# Write `recall_at_k(similarity, right, k)`: `similarity` is a (questions, documents) tensor, `right[q]` the
# index of question `q`'s right document. Return, as a Python float, the share of questions whose right
# document is among the `k` most similar ones.
#
# <details><summary>💡 Hint</summary>
#
# `similarity.topk(k, dim=1).indices` is (questions, k): the k best documents of each row. Compare it with
# `right[:, None]`, take `.any(dim=1)`, then `.float().mean().item()`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def recall_at_k(similarity, right, k):
    # BEGIN SOLUTION
    top = similarity.topk(k, dim=1).indices                          # (questions, k)
    return (top == right[:, None]).any(dim=1).float().mean().item()
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
square = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])           # 2 questions, 3 documents
wide = torch.tensor([[0.1, 0.4, 0.3, 0.2], [0.5, 0.1, 0.2, 0.6]])    # 2 questions, 4 documents
check_function("6.6", recall_at_k, [
    ((square, torch.tensor([0, 1]), 1), 0.5),
    ((square, torch.tensor([0, 1]), 2), 1.0),
    ((wide, torch.tensor([2, 1]), 2), 0.5),
    ((wide, torch.tensor([2, 1]), 3), 0.5),
    ((wide, torch.tensor([2, 1]), 4), 1.0),
    ((wide, torch.tensor([1, 0]), 1), 0.5),
], hint="topk over the documents (dim=1) of each question, largest first; a hit if the right index is among them.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Test-time scaling: more samples, a checker, a vote
#
# Training more costs compute once; **test-time scaling** spends more compute per question instead: sample
# $N$ answers and combine them. (This is the idea behind "reasoning" models such as OpenAI's o1 and o3, which
# spend many more tokens per answer.) Two ways to combine:
#
# - **self-consistency** (Wang et al. 2023): answer with the most frequent of the $N$ answers (majority vote);
# - **best-of-N with a checker**: answer with a sample that passes a check. Here the check is storyworld's
#   grammar: does some story continue the prompt with this answer? It is a perfect checker; real ones
#   (unit tests for code, a math answer checker, a learned reward model) are weaker, but work the same way.
#
# A third, cheap option is to pick the sample the model itself finds most likely. We test all three on the
# pet question (the model at chance), and voting also on the friend question sampled at $T = 2$, where single
# samples are noisy but the model knows the answer.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def accepts(prompt, answer):
    """The checker: can a storyworld story continue `prompt` with `answer` and end the sentence?"""
    return storyworld_verdict(prompt + answer + ".") == "a story can continue this"


N_MAX, REPEATS = 16, 4
Ns = [1, 2, 4, 8, 16]


def scaling_curves(items, temperature, seed=0, checker=True):
    g = torch.Generator().manual_seed(seed)
    methods = ["one sample", "majority vote", "most likely to the model"] + (["checker"] if checker else [])
    hits = {m: np.zeros(len(Ns)) for m in methods}
    trials = 0
    for prompt, _, truth in items:
        logits = next_logits(prompt)
        samples = gen.sample_next(logits.repeat(N_MAX * REPEATS, 1), temperature, generator=g).view(REPEATS, N_MAX)
        verdict = {}
        for row in samples.tolist():
            trials += 1
            answers = [tokenizer.itos[i] for i in row]
            for j, n in enumerate(Ns):
                first = answers[:n]
                vote = Counter(first).most_common(1)[0][0]
                likeliest = max(first, key=lambda a: logits[tokenizer.stoi[a]].item())
                chosen = {"one sample": first[0], "majority vote": vote, "most likely to the model": likeliest}
                if checker:
                    for a in first:
                        if a not in verdict:
                            verdict[a] = accepts(prompt, a)
                    passing = [a for a in first if verdict[a]]
                    chosen["checker"] = passing[0] if passing else vote
                for method, answer in chosen.items():
                    hits[method][j] += answer == truth
    return {m: h / trials for m, h in hits.items()}


pet_curves = scaling_curves(questions["which pet?"], temperature=1.0)
friend_curves = scaling_curves(questions["who did the hero meet?"], temperature=2.0, checker=False)
print(f"{'N':>3}  pet: {'vote':>5} {'likeliest':>9} {'checker':>7} {'1-(5/6)^N':>9}   friend at T=2: {'one':>4} {'vote':>5}")
for j, n in enumerate(Ns):
    print(f"{n:>3}       {pet_curves['majority vote'][j]:>5.2f} {pet_curves['most likely to the model'][j]:>9.2f} "
          f"{pet_curves['checker'][j]:>7.2f} {1 - (5 / 6) ** n:>9.2f}                  "
          f"{friend_curves['one sample'][j]:>4.2f} {friend_curves['majority vote'][j]:>5.2f}")
formula = np.array([1 - (5 / 6) ** n for n in Ns])
assert np.abs(pet_curves["checker"] - formula).max() < 0.1, "best-of-N with the checker follows 1 - (5/6)^N"
assert pet_curves["checker"][-1] > 0.8, "with the checker the pet is right most of the time at N = 16"
assert max(pet_curves["majority vote"][-1], pet_curves["most likely to the model"][-1]) < 0.35, \
    "voting or the likeliest sample does not fix the pet: the model's own guess stays wrong"
assert friend_curves["majority vote"][-1] > 0.9 and friend_curves["majority vote"][-1] > friend_curves["one sample"][-1] + 0.2, \
    "the majority of noisy samples converges to the friend the model knows"

# %% slideshow={"slide_type": "-"}
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
for method, style in (("majority vote", "o-"), ("most likely to the model", "^-"), ("checker", "s-")):
    ax.plot(Ns, pet_curves[method], style, label=method)
ax.plot(Ns, [1 - (5 / 6) ** n for n in Ns], "k:", label="1 − (5/6)^N")
ax.set(xscale="log", xticks=Ns, xticklabels=Ns, xlabel="N samples", ylabel="accuracy", ylim=(0, 1.03),
       title="Which pet? (T = 1; the model is at chance)")
ax.legend(fontsize=8)
for method, style in (("one sample", "o--"), ("majority vote", "o-")):
    ax2.plot(Ns, friend_curves[method], style, label=method)
ax2.set(xscale="log", xticks=Ns, xticklabels=Ns, xlabel="N samples",
        title="Who did the hero meet? (T = 2; noisy samples)")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# - **A checker turns compute into accuracy.** If one sample is right with probability $p$ and the checker
#   recognizes a right answer, best-of-N is right unless all $N$ samples are wrong: $1 - (1-p)^N$. The
#   model knows nothing about the pet, and still gets it right most of the time at $N = 16$.
# - **Voting removes noise, not ignorance.** When the model's most likely answer is right (the friend),
#   the majority of noisy samples converges to it. When it is not (the pet), voting or picking the
#   likeliest sample just agrees with the model's own mistaken guess.

# %% [markdown] slideshow={"slide_type": "-"}
# **Other ways to spend compute at test time.** Best-of-N and voting draw independent answers. Two more ways
# make each answer build on earlier work:
#
# - **reflection, or self-refinement**: the model writes an answer, critiques it ("does the story say so?") and
#   writes a revised one, for one or more rounds (e.g. Self-Refine, Madaan et al. 2023). It helps only as far as
#   the model's critique is better than its first draft — the same limit as a checker's;
# - **long chains of reasoning**: OpenAI's o1 and o3 write a long chain of thought before the answer, in which
#   they try approaches, check them and backtrack, and harder questions get more of it. OpenAI reports that
#   they learned this with reinforcement learning, and that accuracy keeps rising with the tokens spent
#   thinking, as ours rose with $N$.
#
# Do not confuse test-time scaling with efficient inference. Mixed precision, quantization, kernel fusion and
# sparse attention (the table in section 4) make each token *cheaper* and leave the answers (nearly) as they
# were; test-time scaling spends *more* tokens to make the answers *better*. The two work together: cheaper
# tokens make long reasoning and a large $N$ affordable.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6.7 — how many samples?
# With a perfect checker and a single-sample accuracy of $p = 1/6$, how many samples `n_needed` does
# best-of-N need to be right at least 90% of the time? Use the formula, not the simulation.
#
# <details><summary>💡 Hint</summary>
#
# Solve $1 - (5/6)^N \ge 0.9$: $N \ge \ln 0.1 / \ln(5/6)$, rounded up (`math.ceil`).
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
n_needed = math.ceil(math.log(0.1) / math.log(5 / 6))
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("6.7", n_needed, 13, hint="The smallest N with 1 - (5/6)**N >= 0.9.")
check_true("6.7b", lambda: 1 - (5 / 6) ** n_needed >= 0.9 > 1 - (5 / 6) ** (n_needed - 1),
           message_if_false="N should be the smallest number of samples that reaches 90%",
           hint="Try your N and N - 1 in the formula.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - Logits become probabilities through a softmax; a temperature $T$ sharpens ($T<1$) or flattens ($T>1$)
#   them. Greedy, temperature, top-k and top-p sampling differ only in which tokens they allow and how often.
# - storyworld's grammar judged the samples: greedy is deterministic (one story per prompt) and, over a long
#   text, falls into a loop; high temperatures break stories by lifting the tail of unlikely tokens; top-p
#   cuts that tail. A repetition penalty breaks the loop but also punishes the repetition a story needs.
# - A KV cache keeps each layer's keys and values, so each new token costs one token's work. It changed no
#   logit beyond $10^{-5}$ and no token, and its advantage grows with the length. With absolute positions it
#   must be rebuilt once the text outgrows the window; with relative positions a slid cache is close, not exact.
# - Time to first token is the prefill over the prompt; after it, each token costs one decode step.
# - Mixed precision, quantization, fused kernels, local attention and batching make each token cheaper. int8
#   per-channel weights ($s_r = \max|W_{r\cdot}|/127$, error at most half a step) made the model about 3×
#   smaller and bfloat16 2×, each moving the loss by a small fraction of its gap to the entropy floor, as
#   PyTorch's own dynamic quantization did.
# - The model answers fluently about facts its prompt never states. Putting the facts in the prompt fixes
#   this only for questions it has learned to read from context. Retrieval (RAG), verifiers, aligned models,
#   guardrails and tools reduce hallucination; none removes it.
# - RAG: embed the store and the question, put the nearest story in the prompt. The answer is only as good as
#   the retrieval (recall@1): TF-IDF found nearly every right story, the GPT's mean-pooled states about three
#   quarters; with a wrong story the model faithfully answers from it.
# - Test-time scaling: with a checker, accuracy grows as $1-(1-p)^N$; majority voting helps only when the
#   model's most likely answer is right. Self-refinement and long reasoning (o1, o3) spend more tokens too.
#
# **Next:** [07 · Fine-tuning](07_fine_tuning.ipynb) — teach the pretrained model a new task.

# %% slideshow={"slide_type": "-"}
summary()
