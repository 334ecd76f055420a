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
# # 05 · Pretraining a GPT against a known entropy floor
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/05_pretraining.ipynb) · or locally, as the README says
#
# Pretraining is next-token prediction on a lot of unlabeled text: the label of every position is simply the
# token that follows it. In this notebook we write the whole training loop, train the course GPT on storyworld
# on a laptop CPU, and compare its loss with the one number real pretraining never has — the true entropy of
# the text.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. cut a token stream into (context, target) windows and batch them;
# 2. write the learning-rate schedule (warmup, cosine decay) and one training step (zero grad, loss, backward,
#    clip, update), and the loop around them with AdamW, validation and checkpoints;
# 3. read a loss in nats per token and per character, as perplexity, and against the entropy floor;
# 4. recognise overfitting — and why a model can beat the floor on text it memorized;
# 5. turn the same text into masked-LM and span-corruption examples;
# 6. write MinHash, clean a dirty corpus with it (exact and near-duplicates, PII) and measure what the model
#    memorizes;
# 7. estimate training compute with $6ND$ and put our run next to GPT-3 and LLaMA.
#
# **Time:** about 30 minutes; the cells run in about two and a half minutes on a laptop CPU, offline.

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
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from course_utils import data, storyworld
from course_utils import train as course_train
from course_utils.checks import check, check_function, summary
from course_utils.data import (SlidingWindowDataset, exact_duplicates, jaccard, mask_tokens, near_duplicates,
                               scrub_pii, shingle_hash, shingles, span_corrupt)
from course_utils.model import GPT, GPTConfig, load_storyworld_gpt
from course_utils.tokenizers import CharTokenizer, WordTokenizer
from course_utils.train import LiveLossPlot, TrainConfig, evaluate, evaluate_text, get_batch, pick_device, train

torch.manual_seed(0)
torch.set_num_threads(2)
plt.rcParams["figure.dpi"] = 80

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. From text to training windows
#
# The pipeline: **tokenize** the corpus into one long stream of IDs, **cut** it into windows of `block_size`
# tokens, and pair each window $x = (t_1, \dots, t_T)$ with the same window shifted by one,
# $y = (t_2, \dots, t_{T+1})$. One window then holds $T$ training examples at once: predict $t_2$ from $t_1$,
# $t_3$ from $t_1 t_2$, and so on — the causal mask makes each position see only its past.
#
# We use the word-level tokenizer (storyworld has a closed vocabulary; notebook 01 covers subwords).

# %% slideshow={"slide_type": "-"}
train_corpus = storyworld.load_split("train")
val_corpus = storyworld.load_split("validation")
tokenizer = WordTokenizer.train(train_corpus.text)
train_ids = torch.tensor(tokenizer.encode(train_corpus.text))
val_ids = torch.tensor(tokenizer.encode(val_corpus.text))
print(f"vocabulary {tokenizer.vocab_size} tokens; {len(train_ids):,} training and {len(val_ids):,} validation tokens")
print(f"{len(train_corpus.text) / len(train_ids):.2f} characters per token")

windows = SlidingWindowDataset(train_ids, block_size=8, stride=4)
x, y = windows[0]
print(f"\n{len(windows):,} windows of 8 tokens with stride 4; the first one:")
for t in range(4):
    print(f"  {tokenizer.decode(x[:t + 1])!r:>40}  →  {tokenizer.decode(y[t:t + 1])!r}")

# %% [markdown] slideshow={"slide_type": "-"}
# The **stride** sets how far apart windows start. Stride = block size gives disjoint windows; a smaller stride
# gives overlapping, more numerous (but correlated) windows. A `DataLoader` shuffles windows and stacks them
# into batches of shape (B, T).

# %% slideshow={"slide_type": "-"}
for stride in (8, 4, 1):
    print(f"stride {stride}: {len(SlidingWindowDataset(train_ids, 8, stride)):>9,} windows")

loader = torch.utils.data.DataLoader(SlidingWindowDataset(train_ids, 128), batch_size=32, shuffle=True,
                                     generator=torch.Generator().manual_seed(0))
xb, yb = next(iter(loader))
print("batch:", tuple(xb.shape), tuple(yb.shape), "— targets are inputs shifted by one:",
      torch.equal(xb[:, 1:], yb[:, :-1]))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The training loop, written out
#
# Each step: take a batch, run the forward pass, compute the cross-entropy of the next-token predictions,
# backpropagate, clip the gradient norm, and let the optimizer update the weights. Around it:
#
# - **AdamW**: Adam with *decoupled* weight decay, applied to weight matrices but not to biases and norm gains;
# - **learning-rate schedule**: a short linear **warmup** (Adam's statistics are poor at first), then **cosine
#   decay** to 10% — pretraining uses higher rates than fine-tuning, then anneals;
# - **gradient clipping**: rescale the gradient when its norm exceeds 1, so one bad batch cannot wreck the run;
# - **validation** every few hundred steps on held-out text, to watch for overfitting.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.1 — the learning-rate schedule
# Write `lr_at(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1)`, the rate of step `step` (counted
# from 0). During the warmup, `step < warmup_steps`, it rises linearly: `max_lr * (step + 1) / warmup_steps`, so
# step 0 already moves and the last warmup step reaches `max_lr`. After it, the rate follows half a cosine from
# $\eta_{\max}$ = `max_lr` down to the floor $\eta_{\min}$ = `min_lr_ratio * max_lr`:
#
# $$\eta = \eta_{\min} + (\eta_{\max} - \eta_{\min})\,\tfrac{1}{2}\big(1 + \cos \pi p\big),$$
#
# where $p$ is the share of the decay done: 0 at `step == warmup_steps`, 1 at `total_steps`, and still 1 after
# it (the rate stays at the floor). With `warmup_steps = 0` there is no warmup. The plot and the training loop
# below use your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Two phases, one formula each: a straight line up, then a cosine that starts at its top
#    ($\cos 0 = 1$) and ends at its bottom ($\cos \pi = -1$).
# 2. **The approach.** Return the warmup value when `step < warmup_steps`. Otherwise measure how far into the
#    decay the step is, `step - warmup_steps` out of `total_steps - warmup_steps` steps (at least 1, so that
#    nothing divides by zero), cap that share at 1, and put it in the formula.
# 3. **A skeleton.**
#    ```python
#    if step < warmup_steps:
#        return max_lr * ___ / warmup_steps
#    p = min(1.0, (step - ___) / max(1, ___))
#    min_lr = ___
#    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(___))
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def lr_at(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1):
    """Linear warmup to max_lr, then cosine decay to min_lr_ratio * max_lr at total_steps."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    p = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))   # share of the decay done
    min_lr = min_lr_ratio * max_lr
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
schedule_cases = [(0, 1.0, 10, 100), (4, 3e-3, 10, 100), (10, 1.0, 10, 100), (55, 1.0, 10, 100),
                  (100, 1.0, 10, 100), (250, 1.0, 10, 100), (0, 2.0, 0, 50), (30, 2.0, 0, 50, 0.0)]
if not check_function("5.1", lr_at, [(case, course_train.lr_at(*case)) for case in schedule_cases],
                      hint="the cases are 1 the first warmup step (max_lr / 10); 2 inside the warmup; 3 the first "
                           "step after it (max_lr); 4 halfway down the cosine (0.55 of max_lr with a floor of 0.1); "
                           "5 the last step (the floor); 6 long after it (still the floor); 7 and 8 no warmup at "
                           "all, 8 with a floor of 0. The decay is measured from the end of the warmup."):
    print("Using the course's version, course_utils.train.lr_at, from here on.")
    lr_at = course_train.lr_at

# %% slideshow={"slide_type": "-"}
steps = torch.arange(600)
fig, ax = plt.subplots(figsize=(5.5, 2.8))
ax.plot(steps, [lr_at(int(s), 3e-3, warmup_steps=60, total_steps=600) for s in steps])
ax.set(xlabel="step", ylabel="learning rate", title="Linear warmup, then cosine decay")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.2 — one training step
# Write `train_step(model, optimizer, x, y, max_norm)`: one update of the weights from a batch of windows `x`
# and targets `y`, both $(B, T)$. Clear the gradients left by the previous step, compute the loss
# (`model(x, y)` returns `(logits, loss)`), backpropagate, clip the gradient norm to `max_norm` and let the
# optimizer update the weights. Return the loss as a Python number. The training loop below calls your
# function at every step, and must then match the package's loop step for step.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** `backward()` *adds* to each parameter's `.grad`, so the old gradients must be cleared first;
#    clipping rescales the gradients that the optimizer is about to use, so it comes between the backward pass
#    and the update.
# 2. **The approach.** Forward pass to the loss; `optimizer.zero_grad(set_to_none=True)`; `loss.backward()`;
#    `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)`; `optimizer.step()`; return `loss.item()`.
# 3. **A skeleton.**
#    ```python
#    _, loss = model(x, y)
#    optimizer.___(set_to_none=True)
#    loss.___()
#    torch.nn.utils.clip_grad_norm_(model.parameters(), ___)
#    optimizer.___()
#    return loss.___()
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def train_step(model, optimizer, x, y, max_norm):
    """One optimizer step on the batch (x, y); returns the loss before the update."""
    # BEGIN SOLUTION
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)   # else backward() adds to the last step's gradients
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def after_steps(step_fn, optimizer_name, n_steps, max_norm):
    """(last loss, all parameters) of a tiny GPT, seed 0, after n_steps calls of step_fn on fixed batches."""
    torch.manual_seed(0)
    tiny = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    optimizer = (torch.optim.SGD(tiny.parameters(), lr=0.5) if optimizer_name == "SGD" else
                 torch.optim.AdamW(tiny.parameters(), lr=1e-2, betas=(0.9, 0.95)))
    generator = torch.Generator().manual_seed(0)
    for _ in range(n_steps):
        x, y = get_batch(train_ids, 4, 16, generator)
        loss = step_fn(tiny, optimizer, x, y, max_norm)
        if loss is None:
            return None   # nothing returned: not written yet
    return loss, torch.cat([p.detach().flatten() for p in tiny.parameters()])


step_cases = [("SGD", 1, 1000.0), ("SGD", 1, 0.05), ("SGD", 2, 1000.0), ("AdamW", 3, 1.0)]
if not check_function("5.2", ... if train_step is ... else
                      lambda optimizer_name, n_steps, max_norm: after_steps(train_step, optimizer_name, n_steps,
                                                                            max_norm),
                      [(case, after_steps(course_train.train_step, *case)) for case in step_cases],
                      hint="each case trains a tiny GPT from the same seed with your step and compares its weights "
                           "with the course's: 1 one SGD step (the gradient norm is far below 1000); 2 one SGD "
                           "step where clipping to 0.05 matters; 3 two SGD steps, where a gradient left over from "
                           "step 1 changes step 2; 4 three AdamW steps. The order is loss, zero_grad, backward, "
                           "clip, step; return loss.item()."):
    print("Using the course's version, course_utils.train.train_step, from here on.")
    train_step = course_train.train_step

# %% slideshow={"slide_type": "-"}
def train_by_hand(model, train_ids, steps, batch_size=32, max_lr=3e-3, warmup=10, weight_decay=0.1, seed=0):
    """The loop of course_utils.train.train, spelled out (validation left out for brevity)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=max_lr, betas=(0.9, 0.95))
    T = model.config.block_size
    losses = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, max_lr, warmup, steps)
        starts = torch.randint(len(train_ids) - T, (batch_size,), generator=generator)
        x = torch.stack([train_ids[s:s + T] for s in starts])             # (B, T)
        y = torch.stack([train_ids[s + 1:s + 1 + T] for s in starts])     # (B, T)
        losses.append(train_step(model, optimizer, x, y, max_norm=1.0))   # your step: loss, backward, clip, update
    return losses


small = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=64)
torch.manual_seed(0)
ours = train_by_hand(GPT(small), train_ids, steps=20)
torch.manual_seed(0)
package = train(GPT(small), train_ids, val_ids,
                TrainConfig(max_steps=20, batch_size=32, learning_rate=3e-3, warmup_steps=10, eval_interval=1000),
                progress=False).train_loss
diff = max(abs(a - b) for a, b in zip(ours, package))
print(f"the losses of 20 steps: max |ours − course_utils.train| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")
assert diff < 1e-5

# %% [markdown] slideshow={"slide_type": "-"}
# The two loops agree step for step, so from here on we call the package's `train`, which adds validation, a
# progress bar and a live plot. The device is picked automatically: CUDA, then Apple's MPS, then the CPU.

# %% [markdown] slideshow={"slide_type": "-"}
# **The knobs of a training run.** Typical values for transformer language models, next to the ones this
# notebook's main run uses (`TrainConfig`; the same loop as above):
#
# | hyperparameter | what it sets | typical values | here |
# |---|---|---|---|
# | epochs | passes over the data | pretraining: ~1 or less; fine-tuning: a few | 200 steps, ~2 epochs |
# | batch size | sequences per step | 8 – 2,048 (big runs: millions of tokens) | 32 windows × 128 tokens |
# | learning rate | peak step size | $10^{-5}$ – $10^{-3}$; higher for pretraining | $3 \times 10^{-3}$ |
# | weight decay | pull of the weights towards zero | 0 – 0.1 | 0.1, matrices only |
# | gradient clipping | largest allowed gradient norm | 0.5 – 1.0 | 1.0 |
# | optimizer | update rule | Adam, AdamW, Adafactor (less memory) | AdamW, $\beta = (0.9, 0.95)$ |
# | schedule | learning rate over time | linear, cosine, constant | warmup, then cosine to 10% |
# | warmup steps | steps to ramp the rate up to its peak | hundreds to thousands | 20 |
#
# An **epoch** is one full pass over the training data. Large pretraining runs have so much text that they
# read most of it **once at most** (GPT-3 got through less than half of its filtered Common Crawl, but read
# Wikipedia about three times), so nearly every batch is new and overfitting is rare; fine-tuning reads a small
# dataset a few times, at a lower learning rate. Our run is the opposite of pretraining at scale:
# $200 \times 32 \times 128 = 819{,}200$ tokens drawn from a 373,091-token training set is about 2.2 epochs,
# and the course checkpoint's 1,200 steps about 13. A tiny model also tolerates a higher learning rate than a
# large one, hence our $3 \times 10^{-3}$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Train the course GPT on storyworld
#
# Same architecture as the checkpoint shipped with the course (4 blocks, 4 heads, 128 dimensions, a context of
# 128 words: 0.8M parameters), trained for 200 steps of 32 windows. Watch the loss fall towards the floor.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
device = pick_device()
config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=4, n_head=4, n_embd=128)
torch.manual_seed(0)
model = GPT(config).to(device)
tokens_per_char = len(train_ids) / len(train_corpus.text)
floor_per_token = val_corpus.nats_per_char / tokens_per_char   # the floor, converted to this tokenizer's units
print(f"{model.num_parameters():,} parameters on {device}")
run = train(model, train_ids, val_ids,
            TrainConfig(max_steps=200, batch_size=32, learning_rate=3e-3, warmup_steps=20, eval_interval=50,
                        eval_windows=64, seed=0),
            on_eval=LiveLossPlot(floor=floor_per_token, title="Pretraining the course GPT"))
model = model.cpu()
assert run.val_loss[-1] < math.log(tokenizer.vocab_size) / 5, "validation loss under a fifth of uniform guessing's"
assert floor_per_token < run.val_loss[-1] < 2.2 * floor_per_token, "after 200 steps it is near, not at, the floor"

# %% [markdown] slideshow={"slide_type": "-"}
# Now the real comparison, in **nats per character** so that any tokenizer could be compared: our 200-step run,
# the course checkpoint (the same recipe for 1,200 steps: `scripts/train_storyworld_gpt.py`), and the floor.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
ours_val = evaluate_text(model, tokenizer, val_corpus.text)
checkpoint, checkpoint_tokenizer, record = load_storyworld_gpt()
ckpt_val = evaluate_text(checkpoint, checkpoint_tokenizer, val_corpus.text)
floor = val_corpus.nats_per_char
print(f"{'model':<28}{'nats/char':>10}{'gap to floor':>14}{'perplexity/token':>18}")
for name, result in (("this run (200 steps)", ours_val), ("checkpoint (1,200 steps)", ckpt_val)):
    print(f"{name:<28}{result['nats_per_char']:>10.4f}{result['nats_per_char'] / floor - 1:>13.0%}"
          f"{math.exp(result['nats_per_token']):>18.3f}")
print(f"{'storyworld floor':<28}{floor:>10.4f}{'0%':>14}{math.exp(floor_per_token):>18.3f}")
gap_ours, gap_checkpoint = ours_val["nats_per_char"] / floor - 1, ckpt_val["nats_per_char"] / floor - 1
assert 0.6 < gap_ours < 1.0, "this run ends roughly 80% above the floor"
assert 0.11 < gap_checkpoint < 0.15, "the shipped checkpoint is about 13% above it"

# %% [markdown] slideshow={"slide_type": "-"}
# Two remarks on the gap. Evaluation cuts the text into 128-token windows, so the first words of each window
# are predicted with little context; no model with a finite window can reach the floor exactly. And the
# remaining gap is knowledge the model has not yet squeezed out of the data — a longer run closes more of it.
#
# **Checkpoints.** Saving the weights (and the config) lets training stop and resume, and lets later notebooks
# reuse a model. Save, reload, and check that nothing changed:

# %% slideshow={"slide_type": "-"}
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "storyworld_gpt_200.pt"
    model.save(path, tokenizer=tokenizer.state_dict(), steps=200)
    reloaded, metadata = GPT.load(path)
reloaded_val = evaluate_text(reloaded, tokenizer, val_corpus.text)
same = reloaded_val["nats_per_char"] == ours_val["nats_per_char"]
print(f"reloaded: the same validation loss to the last bit: {same}; metadata keys {sorted(metadata)}")
assert same

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Perplexity
# **Perplexity** is the exponential of the mean loss, $\text{PPL} = \exp\big(-\tfrac{1}{N}\sum_i \log p(t_i \mid
# t_{<i})\big)$: the number of equally likely choices the model is as unsure as. It depends on the tokenizer —
# per word, per character — which is why we compare in nats per character.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Overfitting: beating the floor on text you memorized
#
# Train a model on only 20 stories and watch both losses. The training loss drops *below* the entropy floor:
# the floor is the best possible loss on *new* text, and the model is no longer predicting — it is reciting.
# The validation loss tells the truth.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
tiny_text = "".join(s.text + "\n" for s in train_corpus.stories[:20])
tiny_ids = torch.tensor(tokenizer.encode(tiny_text))
tiny_floor = -sum(s.log_prob for s in train_corpus.stories[:20]) / len(tiny_text) / tokens_per_char
torch.manual_seed(0)
overfit_model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=64))
overfit = train(overfit_model, tiny_ids, val_ids,           # a high learning rate: memorize fast
                TrainConfig(max_steps=400, batch_size=16, learning_rate=1e-2, warmup_steps=20, eval_interval=25,
                            eval_windows=32), progress=False)
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(overfit.steps, overfit.train_loss, alpha=0.6, label="training loss (20 stories)")
ax.plot(overfit.eval_steps, overfit.val_loss, "o-", label="validation loss (new stories)")
ax.axhline(tiny_floor, color="k", ls="--", label="entropy floor of the 20 stories")
ax.set(xlabel="step", ylabel="nats per token", title="Overfitting a tiny dataset", ylim=(0, 3))
ax.legend()
plt.show()
print(f"final training loss {evaluate(overfit_model, tiny_ids, block_size=64):.3f}, "
      f"validation {overfit.val_loss[-1]:.3f}; floor of the 20 stories {tiny_floor:.3f}, "
      f"of new stories {floor_per_token:.3f} nats/token")
assert evaluate(overfit_model, tiny_ids, block_size=64) < 0.5 * tiny_floor, "training loss far below its floor"
assert overfit.val_loss[-1] > 4 * floor_per_token, "validation loss far above the floor of new stories"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Other pretraining objectives
#
# GPT-style models learn by **causal language modeling**: predict every next token. Two other objectives use
# the same text differently (notebook 04 showed the architectures):
#
# - **masked LM** (BERT): hide 15% of the tokens (80% become `[MASK]`, 10% a random token, 10% stay) and
#   predict only the hidden ones, seeing both sides;
# - **span corruption** (T5): replace whole spans by sentinels and generate the missing spans.
#
# We train a tiny *bidirectional* course GPT (`causal=False`) on the masked-LM objective for a few seconds and
# look at its predictions on one example, then at its loss on a few hundred masked positions — beside a guess
# from word frequencies alone, which ignores the context.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.3 — BERT's masking
# Write `mask_for_mlm(ids, mask_id, vocab_size, rate=0.15, generator=None)`: for a tensor of token IDs (any
# shape), pick each position independently with probability `rate`; of the picked positions, 80% become
# `mask_id`, 10% a random token from `range(vocab_size)`, 10% stay as they are. Return `(inputs, targets)`:
# `inputs` the corrupted copy (leave `ids` itself unchanged), `targets` the original token at picked
# positions and $-100$ (ignored by the loss) everywhere else. Draw every random number from `generator`, so
# that a seed gives the same masking. Masking is random, so the check measures properties on large batches
# instead of comparing tokens: six named properties on three cases; the training below then masks with yours.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Two independent coin flips per position: *is it picked?* and *what happens to it?* The
#    loss is computed only where the first flip said yes, whatever the second did.
# 2. **The approach.** `torch.rand(ids.shape, generator=generator) < rate` is the picked mask; a second
#    `torch.rand` of the same shape, `roll`, splits the picked ones: `roll < 0.8` → `[MASK]`,
#    `0.8 <= roll < 0.9` → random, the rest unchanged. `torch.where` builds the targets; write into
#    `ids.clone()` with boolean indexing, drawing as many random tokens as there are such positions.
# 3. **A skeleton.**
#    ```python
#    picked = torch.rand(ids.shape, generator=generator) < rate
#    targets = torch.where(picked, ids, torch.full_like(ids, ___))
#    roll = torch.rand(ids.shape, generator=generator)
#    inputs = ids.clone()
#    inputs[picked & (roll < 0.8)] = ___
#    randomized = picked & ___
#    inputs[randomized] = torch.randint(vocab_size, (int(randomized.sum()),), generator=generator)
#    return inputs, targets
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def mask_for_mlm(ids, mask_id, vocab_size, rate=0.15, generator=None):
    # BEGIN SOLUTION
    picked = torch.rand(ids.shape, generator=generator) < rate            # which positions the loss sees
    targets = torch.where(picked, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)                      # what happens to a picked one
    inputs = ids.clone()
    inputs[picked & (roll < 0.8)] = mask_id
    randomized = picked & (roll >= 0.8) & (roll < 0.9)
    inputs[randomized] = torch.randint(vocab_size, (int(randomized.sum()),), generator=generator)
    return inputs, targets
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
mlm_cases = {  # what each case tests: (ids, mask_id, vocab_size, rate)
    "a batch of 200 windows of 100 tokens, rate 0.15": (
        torch.randint(50, (200, 100), generator=torch.Generator().manual_seed(53)), 50, 51, 0.15),
    "one text of 30,000 tokens, rate 0.5": (
        torch.randint(1000, (30_000,), generator=torch.Generator().manual_seed(54)), 1000, 1001, 0.5),
    "rate 0.05, a vocabulary of 5": (
        torch.randint(4, (100, 300), generator=torch.Generator().manual_seed(55)), 4, 5, 0.05),
}


def mlm_properties(masking, case):
    """Whether masking(...) has each property BERT's recipe has, on this case (True for each, when right)."""
    ids, mask_id, vocab_size, rate = mlm_cases[case]
    original = ids.clone()
    result = masking(ids, mask_id, vocab_size, rate, torch.Generator().manual_seed(0))
    if result is None:
        return None
    inputs, targets = result
    again = masking(ids.clone(), mask_id, vocab_size, rate, torch.Generator().manual_seed(0))
    picked = targets != -100
    n = int(picked.sum())
    masked, kept = (inputs == mask_id) & picked, (inputs == ids) & picked
    changed = picked & ~masked & ~kept                     # a random token that differs from the original
    p_same = 1 / vocab_size                                # a random token can come out equal to the original
    holds = {
        "ids left unchanged, shapes kept": torch.equal(ids, original) and inputs.shape == targets.shape == ids.shape,
        "targets: the original token where picked, -100 elsewhere": (targets[picked] == ids[picked]).all(),
        "inputs unchanged where not picked": (inputs[~picked] == ids[~picked]).all(),
        f"about {rate:.0%} of the positions picked": abs(n / ids.numel() - rate) < 0.01 + 3 * (rate / ids.numel()) ** 0.5,
        "of the picked: about 80% [MASK], 10% random, 10% kept": (
            abs(masked.sum() / n - 0.8) < 0.04 and abs(changed.sum() / n - 0.1 * (1 - p_same)) < 0.04
            and abs(kept.sum() / n - 0.1 - 0.1 * p_same) < 0.04),
        "the same seed, the same masking": torch.equal(again[0], inputs) and torch.equal(again[1], targets),
    }
    return {name: bool(value) for name, value in holds.items()}


def all_hold(case):
    return {name: True for name in mlm_properties(mask_tokens, case)}


if not check_function("5.3", lambda case: mlm_properties(mask_for_mlm, case),
                      [((case,), all_hold(case)) for case in mlm_cases],
                      hint="each property is named; the one that fails is shown as False. Two random draws per "
                           "position, both from the generator: picked (< rate), then < 0.8 / < 0.9 / the rest."):
    print("Using the course's masking, course_utils.data.mask_tokens, from here on.")
    mask_for_mlm = mask_tokens

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
mask_tokenizer = WordTokenizer(tokenizer.itos + ["[MASK]"])
mask_id = mask_tokenizer.stoi["[MASK]"]
mlm_ids = torch.tensor(mask_tokenizer.encode(train_corpus.text[:300_000]))
torch.manual_seed(0)
encoder = GPT(GPTConfig(vocab_size=mask_tokenizer.vocab_size, block_size=48, n_layer=2, n_head=2, n_embd=64,
                        causal=False))
optimizer = torch.optim.AdamW(encoder.parameters(), lr=3e-3)
g = torch.Generator().manual_seed(0)
for step in range(200):
    starts = torch.randint(len(mlm_ids) - 48, (32,), generator=g)
    clean = torch.stack([mlm_ids[s:s + 48] for s in starts])
    inputs, targets = mask_for_mlm(clean, mask_id, mask_tokenizer.vocab_size, generator=g)   # your masking
    _, loss = encoder(inputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
encoder.eval()

example = torch.tensor([mask_tokenizer.encode(val_corpus.stories[0].text)[:48]])
inputs, targets = mask_for_mlm(example, mask_id, mask_tokenizer.vocab_size, rate=0.2,
                               generator=torch.Generator().manual_seed(4))
with torch.no_grad():
    logits, loss = encoder(inputs, targets)
print("input :", mask_tokenizer.decode(inputs[0]))
hidden = (targets[0] != -100).nonzero().flatten().tolist()
for position in hidden:
    guess = mask_tokenizer.itos[logits[0, position].argmax()]
    print(f"  position {position:>2}: true {mask_tokenizer.itos[targets[0, position]]!r:<10} predicted {guess!r}")
print(f"masked-LM loss on these {len(hidden)} positions: {loss.item():.3f} nats "
      f"(uniform guessing: {math.log(mask_tokenizer.vocab_size):.3f})")
with torch.no_grad():   # the claim, on many more masked positions than the five shown
    held_out = torch.tensor(mask_tokenizer.encode(val_corpus.text[:20_000]))[:48 * 60].view(60, 48)
    val_inputs, val_targets = mask_for_mlm(held_out, mask_id, mask_tokenizer.vocab_size,
                                           generator=torch.Generator().manual_seed(5))
    mlm_val_loss = encoder(val_inputs, val_targets)[1].item()
word_counts = torch.bincount(mlm_ids, minlength=mask_tokenizer.vocab_size).float() + 1
unigram_loss = -(word_counts / word_counts.sum()).log()[val_targets[val_targets != -100]].mean().item()
print(f"on {int((val_targets != -100).sum())} masked positions of 60 validation windows: {mlm_val_loss:.2f} nats; "
      f"guessing from word frequencies alone: {unigram_loss:.2f}")
assert mlm_val_loss < unigram_loss - 0.3, "it already uses the words on both sides, not just word frequencies"

# %% slideshow={"slide_type": "-"}
words = val_corpus.stories[0].text.split()[:16]
corrupted, target = span_corrupt(words, [(3, 5), (9, 12)])
print("span corruption input :", " ".join(corrupted))
print("span corruption target:", " ".join(target))
print(f"the target is {len(target)} tokens for {len(words)} words of text: a short, dense objective")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Data quality: duplicates and personal data
#
# Everything a pretrained model knows comes from its data, so its makers mix text from several kinds of source,
# each bringing something the others lack:
#
# | source | example | what it contributes |
# |---|---|---|
# | web crawls | Common Crawl (billions of pages since 2008) | volume and breadth; mostly noise until filtered |
# | books | BooksCorpus (~11,000 free self-published books) | long, coherent text that spans many pages |
# | encyclopedias | Wikipedia dumps, in many languages | carefully edited facts in a clean style |
# | code | public GitHub repositories | programming languages; strict structure, step-by-step logic |
# | science | arXiv papers, PubMed abstracts and articles | technical vocabulary, mathematics, medicine |
# | curated mixtures | The Pile (EleutherAI: 825 GiB, 22 sources) | a documented blend of these, for open models |
#
# How big, in numbers the makers publish: Common Crawl adds a few billion pages every month (hundreds of TB of
# raw text per crawl); BooksCorpus holds about a billion words; English Wikipedia about 4 billion words in some
# 6 million articles; BigCode's The Stack collects about 6 TB of permissively licensed source code in over 300
# languages. And how a real model mixed them — GPT-3's training tokens (Brown et al. 2020, Table 2.2): filtered
# Common Crawl 410B tokens (60% of each batch), WebText2 19B (22%), two book corpora 12B and 55B (8% each),
# Wikipedia 3B (3%). The small, clean sources are drawn *more often* than their size alone would give: GPT-3 saw
# Wikipedia about three times and the crawl less than once.

# %% [markdown] slideshow={"slide_type": "-"}
# A good pretraining set has **scale** (frontier models now read trillions of tokens: Meta reports 2T for
# LLaMA 2 and 22–40T for LLaMA 4), **diversity** (many domains, registers and languages, so the model meets
# every kind of text it will be asked about) and **quality** (fluent, well-formed text with little spam or
# boilerplate). More data generalizes better, but only up to a point: text repeated many times, or padded
# with junk, adds little, and quality filtering throws most of a crawl away. GPT-3's authors, for instance,
# filtered about 45 TB of compressed Common Crawl text down to 570 GB. (The "45 TB of text" sometimes quoted
# for GPT-4 is an unofficial estimate; OpenAI has not disclosed GPT-4's training data.)

# %% [markdown] slideshow={"slide_type": "-"}
# Whatever is skewed in the data turns straight into behaviour. **Imbalance**: web text is mostly English, so
# English gets most of the model's capacity while minority languages, with few tokens, are handled worse.
# **Bias**: stereotypes in the text are statistics like any other, and the model learns them.
# **Duplication**: whatever was copied most gets the most weight. **Contamination**: benchmark questions that
# leaked into the crawl make test scores overstate what the model can do (notebook 09, §3).
#
# Web-scale corpora are noisy: the same page appears thousands of times, near-copies differ by a date or a
# name, and text contains e-mail addresses and phone numbers. Duplication makes a model **memorize**; PII in
# the data can come back out of the model. We build a dirty copy of storyworld and clean it.

# %% slideshow={"slide_type": "-"}
clean_stories = [s.text for s in train_corpus.stories[:600]]
secret = "Call Lily at 555-0142 or write to lily@example.com."
g = torch.Generator().manual_seed(0)
dirty = list(clean_stories)
leaky = train_corpus.stories[700].text + " " + secret                              # a page with personal data
dirty += [leaky] * 40                                                             # ... copied 40 times
for i in range(30):                                                               # 30 near-duplicates
    words = clean_stories[i].split()
    j = int(torch.randint(len(words), (1,), generator=g))
    dirty.append(" ".join(words[:j] + ["very"] + words[j:]))
order = torch.randperm(len(dirty), generator=g).tolist()
dirty = [dirty[i] for i in order]
print(f"dirty corpus: {len(dirty)} documents")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.4 — MinHash
# Two documents are near-duplicates when their sets of shingles (`shingles(text)`: the word 5-grams) overlap
# a lot, measured by the **Jaccard similarity** $J(A, B) = |A \cap B| / |A \cup B|$. Comparing the sets of
# every pair is too slow for a crawl, so each set is summarized by a short **MinHash signature**: for each of
# `num_perm` hash functions, the smallest hash over the set. Here hash function number `seed` is
# `shingle_hash(shingle, seed)`, for seeds `0, 1, ..., num_perm - 1`. Two sets have the same minimum under a
# random hash function with probability exactly $J(A, B)$, so the share of positions where two signatures agree
# estimates it. Write `minhash_signature(shingle_set, num_perm)` (a list of `num_perm` integers) and
# `estimate_jaccard(signature_a, signature_b)`. The curation below finds the near-duplicates with your two
# functions.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** A hash function puts the shingles in a random order; the smallest is a random shingle of the
#    set. Two sets share that smallest shingle exactly when it lies in both: with probability $J$.
# 2. **The approach.** One entry per seed: the minimum of `shingle_hash(s, seed)` over the shingles `s`. For
#    the estimate, count the positions where the two signatures are equal and divide by their length; do not
#    turn the signatures into sets.
# 3. **A skeleton.**
#    ```python
#    return [min(shingle_hash(___, seed) for s in shingle_set) for seed in ___]
#    ...
#    return sum(___ for a, b in zip(signature_a, signature_b)) / ___
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def minhash_signature(shingle_set, num_perm):
    """For each of num_perm hash functions, the smallest hash over the set."""
    # BEGIN SOLUTION
    return [min(shingle_hash(s, seed) for s in shingle_set) for seed in range(num_perm)]
    # END SOLUTION


def estimate_jaccard(signature_a, signature_b):
    """The share of positions where two MinHash signatures agree."""
    # BEGIN SOLUTION
    return sum(a == b for a, b in zip(signature_a, signature_b)) / len(signature_a)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
story_words = clean_stories[0].split()
near_copy = " ".join(story_words[:6] + ["very"] + story_words[6:])          # one word added
signature_cases = [({"once upon a time there"}, 4), (shingles(clean_stories[0]), 16), (shingles(clean_stories[1]), 1)]
story_signature = data.minhash_signature(shingles(clean_stories[0]), 64)
copy_signature = data.minhash_signature(shingles(near_copy), 64)
estimate_cases = [(story_signature, story_signature), ([1, 2, 3, 4], [1, 2, 0, 0]), ([5, 5, 5], [5, 5, 6]),
                  ([7, 8], [9, 10]), (story_signature, copy_signature)]
if not check_function("5.4a", minhash_signature,
                      [(case, data.minhash_signature(*case)) for case in signature_cases],
                      hint="the cases are 1 a set of one shingle with 4 hash functions; 2 a story's shingles with "
                           "16; 3 another story's with 1. Entry number seed is the minimum over the set of "
                           "shingle_hash(s, seed), for seed in range(num_perm).", rtol=0, atol=0):
    print("Using the course's version, course_utils.data.minhash_signature, from here on.")
    minhash_signature = data.minhash_signature
if not check_function("5.4b", estimate_jaccard,
                      [(case, data.estimate_jaccard(*case)) for case in estimate_cases],
                      hint="the cases are 1 a signature with itself (1.0); 2 and 3 signatures that agree at 2 of "
                           "4 and 2 of 3 positions; 4 none; 5 a story and its copy with one word added. Compare "
                           "position by position: sets of hash values lose the positions and the repeats."):
    print("Using the course's version, course_utils.data.estimate_jaccard, from here on.")
    estimate_jaccard = data.estimate_jaccard

# %% slideshow={"slide_type": "-"}
exact = exact_duplicates(dirty)
deduped = [t for i, t in enumerate(dirty) if i not in set(exact)]
near = near_duplicates(deduped, threshold=0.7, signature=minhash_signature, estimate=estimate_jaccard)  # yours
near_drop = {j for _, j, _ in near}
candidates = deduped                                             # before the near-duplicates go
deduped = [t for i, t in enumerate(candidates) if i not in near_drop]
scrubbed, counts = zip(*(scrub_pii(t) for t in deduped))
print(f"exact duplicates removed: {len(exact)}")
print(f"near-duplicate pairs found by MinHash: {len(near)}; documents removed: {len(near_drop)}")
print(f"PII replaced: {sum(c['EMAIL'] for c in counts)} e-mail, {sum(c['PHONE'] for c in counts)} phone")
print(f"clean corpus: {len(scrubbed)} documents")
print("example:", [t for t in scrubbed if "<PHONE>" in t][0][-60:])
i, j, estimate = near[0]
print(f"the first near-duplicate pair: your MinHash estimate {estimate:.2f}, true Jaccard of their shingles "
      f"{jaccard(shingles(candidates[i]), shingles(candidates[j])):.2f} (64 hash functions: about ±0.06)")

# %% [markdown] slideshow={"slide_type": "-"}
# Does cleaning change what a model memorizes? Train the same small character-level model on the dirty and on
# the clean corpus, then prompt both with `Call Lily at ` and let them complete it greedily.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def train_char_model(documents, steps=1000, seed=0):
    text = "\n".join(documents) + "\n"
    char_tokenizer = CharTokenizer.train(text + secret + "<>EMAILPHONE")
    ids = torch.tensor(char_tokenizer.encode(text))
    torch.manual_seed(seed)
    char_model = GPT(GPTConfig(vocab_size=char_tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2,
                               n_embd=64))
    train(char_model, ids, ids[:5000], TrainConfig(max_steps=steps, batch_size=32, learning_rate=3e-3,
                                                   warmup_steps=20, eval_interval=steps), progress=False)
    return char_model, char_tokenizer


def complete(char_model, char_tokenizer, prompt, n=14):
    idx = torch.tensor([char_tokenizer.encode(prompt)])
    return char_tokenizer.decode(char_model.generate(idx, n, temperature=0)[0, len(prompt):])


def secret_log_prob(char_model, char_tokenizer, prompt="Call Lily at ", answer="555-0142"):
    ids = torch.tensor([char_tokenizer.encode(prompt + answer)])
    with torch.no_grad():
        logp = char_model(ids)[0][0, :-1].log_softmax(-1)
    targets = ids[0, 1:]
    return logp[torch.arange(len(targets)), targets][-len(answer):].sum().item()


memorized = {}
for name, documents in (("dirty", dirty), ("clean", list(scrubbed))):
    char_model, char_tokenizer = train_char_model(documents)
    completion, log_p = complete(char_model, char_tokenizer, "Call Lily at "), secret_log_prob(char_model, char_tokenizer)
    memorized[name] = completion, log_p
    print(f"{name}: 'Call Lily at ' → {completion!r:<20} log p(555-0142) = {log_p:7.2f}")
assert memorized["dirty"][0].startswith("555-0142"), "the model trained on the dirty corpus recites the number"
assert "555" not in memorized["clean"][0], "the model trained on the clean corpus does not"
assert memorized["dirty"][1] > -5 and memorized["clean"][1] < -25, "likely for one model, all but impossible for the other"

# %% [markdown] slideshow={"slide_type": "-"}
# The model trained on the dirty corpus recites the phone number; after deduplication and scrubbing the number
# is simply not in the data, and the model cannot produce it. Real pipelines (LLaMA's, for instance) also filter
# low-quality pages, identify languages and rebalance domains so that no language or topic dominates.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Compute: what pretraining costs
#
# A forward and backward pass costs about $6$ floating-point operations per parameter per token, so training a
# model of $N$ parameters on $D$ tokens takes
#
# $$C \approx 6 N D \ \text{FLOPs}.$$
#
# That arithmetic runs on **accelerators**: chips built for large matrix multiplications. Most models train on
# GPUs (NVIDIA's V100, A100, H100 below); Google trains its own models on **TPUs** (tensor processing units),
# chips it designed for exactly this workload and rents out in its cloud — PaLM (540B parameters, 2022) trained
# on 6,144 TPU v4 chips, each with a peak of about 275 TFLOP/s in bf16. Either way the bill is counted the same
# way: FLOPs needed ÷ useful FLOPs per second per chip = chip-hours.

# %% slideshow={"slide_type": "-"}
N_ours = model.num_parameters()
D_ours = 200 * 32 * 128
runs = {
    "this notebook": (N_ours, D_ours),
    "course checkpoint": (record["parameters"], record["steps"] * 32 * 128),
    "GPT-3": (175e9, 300e9),
    "LLaMA 2 70B": (70e9, 2e12),
}
for name, (n, d) in runs.items():
    print(f"{name:<18} N = {n:9.3g}  D = {d:9.3g}  6ND = {6 * n * d:9.3g} FLOPs")
gpt3 = 6 * 175e9 * 300e9
v100 = 125e12 * 0.25     # GPT-3 was trained on V100s: 125 TFLOP/s fp16 peak, at a realistic 25% utilization
print(f"\nGPT-3 on one V100: {gpt3 / v100 / 3600 / 24 / 365:.0f} years = {gpt3 / v100 / 3600 / 1e6:.1f}M GPU-hours; "
      f"on 1,000 V100s: {gpt3 / v100 / 1000 / 3600 / 24:.0f} days")
print(f"our run on the same V100: {6 * N_ours * D_ours / v100 * 1000:.1f} ms")

# %% [markdown] slideshow={"slide_type": "-"}
# | model | parameters | tokens | GPU hours | cost estimate |
# |---|---|---|---|---|
# | LLaMA 2 70B | 70B | 2T | ~1.7M (A100) | ~\$3–4M |
# | GPT-3 | 175B | ~300B | ~3M (V100) | ~\$5–10M+ |
# | LLaMA 4 (MoE) | ~400B total | 22–40T | 7.4M+ (H100) | ~\$15M+ |
#
# The GPU-hours of GPT-3 are the estimate printed above: OpenAI trained it in 2020 on a cluster of NVIDIA
# V100s (the A100 came out that same year), and has not published the hours. Meta reports LLaMA 2 70B's
# 1.7M A100-hours itself. Our model trains in a minute on a laptop because it is $2 \times 10^5$ times
# smaller and reads $4 \times 10^5$ times fewer tokens.

# %% [markdown] slideshow={"slide_type": "-"}
# **Case study: LLaMA 4.** Meta released two LLaMA 4 models in 2025, **Scout** and **Maverick**. Both are
# mixtures of experts (notebook 04, §8): Meta reports 17B *active* parameters per token for each, out of about
# 109B (Scout) and 400B (Maverick) in total — the "~400B" of the table is Maverick. What Meta reports:
#
# - **data**: about 40T training tokens for Scout and 22T for Maverick, text in some 200 languages, from public,
#   licensed and Meta-platform sources, filtered by deduplication, language identification and quality filters
#   — the steps of §6 at scale;
# - **compute**: about 7.38M H100 GPU-hours for pretraining both, training in **FP8** precision (8-bit floats,
#   half the bits of bf16) so that each GPU-hour does more arithmetic;
# - **natively multimodal, with early fusion**: images, cut into patches and encoded as tokens, enter the same
#   transformer as text tokens from the start of pretraining, instead of being grafted onto a finished text
#   model;
# - **long context**: Meta reports a window of up to 10M tokens for Scout;
# - **post-training** (notebooks 07 and 08): a light supervised fine-tuning pass, then online reinforcement
#   learning, then a light DPO pass.
#
# Check it with $6ND$. In a mixture of experts each token only passes through the active parameters, so take
# $N = 17 \times 10^9$: Scout needs $6 \times 17 \times 10^9 \times 40 \times 10^{12} \approx 4.1 \times 10^{24}$
# FLOPs and Maverick $\approx 2.2 \times 10^{24}$, together about 7.5 times the LLaMA 2 70B run printed above.
# Spread over 7.38M GPU-hours, that is about $2.4 \times 10^{14}$ useful FLOPs per second per GPU — eight times
# the V100 rate we assumed for GPT-3, and about an eighth of the H100's FP8 peak (about $2 \times 10^{15}$). And at 1,300–2,400 tokens per active
# parameter, both are trained far past the ~20 that gives the lowest loss for a fixed compute budget (see
# below), so that the finished models are cheap to run.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A small scaling experiment
# Bigger models reach lower loss for the same number of tokens — the starting point of scaling laws. Train three
# widths for the same 120 steps:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
sizes = [32, 64, 128]
scaling = []
for width in sizes:
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=width))
    r = train(m, train_ids, val_ids, TrainConfig(max_steps=120, batch_size=32, learning_rate=3e-3,
                                                  warmup_steps=10, eval_interval=120, eval_windows=32),
              progress=False)
    scaling.append((m.num_parameters(), r.val_loss[-1]))
    print(f"width {width:>3}: {m.num_parameters():>8,} parameters → validation loss {r.val_loss[-1]:.3f} nats/token")
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogx([n for n, _ in scaling], [l for _, l in scaling], "o-")
ax.set(xlabel="parameters", ylabel="validation loss after 120 steps", title="Bigger models learn faster")
plt.show()
losses = [loss for _, loss in scaling]
assert losses[0] > 1.3 * losses[1] and losses[1] > 1.2 * losses[2], "each wider model ends clearly lower after the same 120 steps"

# %% [markdown] slideshow={"slide_type": "-"}
# This experiment holds the tokens fixed. Bigger is not always better, though: at a fixed compute budget
# $C \approx 6ND$, every extra parameter means fewer tokens, and a smaller model trained longer can win.
# Hoffmann et al. (2022) found that the loss-optimal split grows $N$ and $D$ together, at roughly **20 tokens
# per parameter**: their Chinchilla (70B parameters, 1.4T tokens) beat Gopher (280B, 300B tokens) on about the
# same compute. By that rule GPT-3 (under 2 tokens per parameter) was undertrained; LLaMA 2 70B (~29) and LLaMA 4
# go well past 20 on purpose, because a smaller model is cheaper to run for every user afterwards.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5.5 — estimate a training run
# You train a 7-billion-parameter model on 1 trillion tokens on GPUs that each deliver $1.2 \times 10^{14}$
# useful FLOPs per second. Store the total compute in `flops` and the number of GPU-hours in `gpu_hours`.
#
# <details><summary>💡 Hint</summary>
#
# `flops = 6 * N * D`; divide by the per-GPU rate to get GPU-seconds, then by 3600.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
flops = 6 * 7e9 * 1e12
gpu_hours = flops / 1.2e14 / 3600
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("5.5a", flops, 4.2e22, hint="6 × 7e9 × 1e12.")
check("5.5b", gpu_hours, 4.2e22 / 1.2e14 / 3600, hint="FLOPs ÷ FLOPs per second ÷ 3600 seconds per hour.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Optional: the same loop on a public-domain book
#
# With a network connection, `course_utils.download` fetches Shakespeare's collected plays (1.1 MB, the text of
# nanoGPT's character-level recipe), checks its SHA-256, and caches it. Set `TRAIN_ON_BOOK = True` to train a
# character-level course GPT on it with the same `train` function.

# %% slideshow={"slide_type": "-"}
TRAIN_ON_BOOK = False
BOOK_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
BOOK_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

if not TRAIN_ON_BOOK:
    print("Skipping the book (set TRAIN_ON_BOOK = True; needs a network connection the first time).")
else:
    from course_utils.download import download

    path = download(BOOK_URL, BOOK_SHA256, filename="tinyshakespeare.txt")
    if path is not None:
        book = path.read_text(encoding="utf-8")
        book_tokenizer = CharTokenizer.train(book)
        book_ids = torch.tensor(book_tokenizer.encode(book))
        split = int(0.9 * len(book_ids))
        torch.manual_seed(0)
        book_model = GPT(GPTConfig(vocab_size=book_tokenizer.vocab_size, block_size=64, n_layer=4, n_head=4,
                                   n_embd=128))
        train(book_model, book_ids[:split], book_ids[split:],
              TrainConfig(max_steps=1000, batch_size=32, learning_rate=2e-3, warmup_steps=50, eval_interval=200),
              on_eval=LiveLossPlot(title="Character-level Shakespeare"))
        start = torch.tensor([book_tokenizer.encode("\n")])
        print(book_tokenizer.decode(book_model.generate(start, 300, temperature=0.8)[0]))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - Pretraining = next-token prediction on unlabeled text; a window of $T$ tokens gives $T$ examples, with the
#   targets shifted by one.
# - The loop: batch → forward → cross-entropy → backward → clip → AdamW step, under warmup + cosine decay, with
#   periodic validation and checkpoints. You wrote the schedule and the step; the loop built on them equals the
#   package's step for step.
# - storyworld tells us the floor, so the gap is a number: roughly 80% above it after our 200 steps, about 13% for the
#   shipped checkpoint (1,200 steps). Perplexity is $e^{\text{loss}}$.
# - A model can beat the floor only on text it memorized; validation loss exposes it.
# - Masked LM and span corruption reuse the same text with other targets.
# - MinHash turns a set of shingles into a short signature whose agreement estimates Jaccard similarity; your
#   version found the near-duplicates. Deduplication and PII scrubbing change what a model can regurgitate.
# - Training compute is about $6ND$: GPT-3 needed ~$3 \times 10^{23}$ FLOPs, our run ~$4 \times 10^{12}$.
#
# **Next:** [06 · Generation](06_generation.ipynb) — turning next-token probabilities into text.

# %% slideshow={"slide_type": "-"}
summary()
