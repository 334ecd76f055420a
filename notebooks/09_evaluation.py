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
# # 09 · Evaluation: from perplexity to human preference
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/09_evaluation.ipynb) · or locally, as the README says
#
# Training minimizes a loss; evaluation asks whether the model is any good. Those are different questions,
# and every number we can compute answers only part of the second one. In this notebook we compute the usual
# numbers ourselves — perplexity, accuracy, F1, ROC-AUC, calibration, BLEU, ROUGE, benchmark accuracy,
# preference ratings — prove each one equal to the library people cite it from, and then break each one on
# purpose. storyworld is the answer key throughout: it knows the entropy floor, the true label of every story,
# and whether a text is one it could have written.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. compute perplexity and bits per character from per-token losses, read them against the entropy floor,
#    and compare models with different tokenizers fairly;
# 2. measure the same model on IID and on shifted (non-IID) data, and say why held-out scores assume IID;
# 3. show how a model that saw the test set looks better, and detect it with n-gram overlap;
# 4. compute accuracy, precision, recall, F1, the ROC curve, AUC and calibration error from scratch, equal to
#    scikit-learn;
# 5. compute BLEU and ROUGE from scratch, equal to sacrebleu and rouge-score, and find where they disagree
#    with meaning;
# 6. measure how much a benchmark score depends on the prompt format;
# 7. turn pairwise A/B judgements into Bradley–Terry and Elo ratings with confidence intervals, and say what
#    each metric measures and what it misses.
#
# **Time:** about 45 minutes to read and run; the cells run in about a minute on a laptop CPU, offline.

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
import math
import random
import re
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F
from matplotlib.colors import TwoSlopeNorm
from rouge_score import rouge_scorer
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression

from course_utils import metrics, storyworld
from course_utils.bpe import course_tokenizer
from course_utils.checks import check, check_function, check_true, summary
from course_utils.generate import generate
from course_utils.model import load_storyworld_gpt
from course_utils.ngram import NGramModel
from course_utils.train import evaluate_text

torch.manual_seed(0)
torch.set_num_threads(2)  # the course's reference machine: a 2-core laptop
plt.rcParams["figure.dpi"] = 80

gpt, tokenizer, record = load_storyworld_gpt()
world = storyworld.StoryWorld(seed=0)
train_corpus = storyworld.load_split("train")
val_corpus = storyworld.load_split("validation")
test_corpus = storyworld.load_split("test")
FLOOR = val_corpus.nats_per_char
T = gpt.config.block_size
NEWLINE = tokenizer.stoi["\n"]
print(f"course GPT: {gpt.num_parameters():,} parameters, word-level tokens, context {T} tokens")
print(f"validation: {len(val_corpus)} stories, entropy floor {FLOOR:.4f} nats/char")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Held-out data and perplexity
#
# The first evaluation of a language model uses **held-out** text: stories it never trained on, written by
# the same process as its training data. Its loss there estimates its loss on *any* new text from that
# process — an assumption we test in section 2.
#
# For tokens $x_1, \dots, x_N$ the model's loss is the mean negative log-likelihood, and **perplexity** is its
# exponential:
#
# $$\mathcal{L} = -\frac{1}{N}\sum_{t=1}^{N} \ln p_\theta(x_t \mid x_{<t}), \qquad
#   \mathrm{PPL} = e^{\mathcal{L}}.$$
#
# Lower is better. A perplexity of $k$ means the model is as unsure as a fair choice among $k$ tokens; a
# uniform guess over the vocabulary $V$ gives $|V|$, a model that is always certain and right gives 1.
#
# We compute the loss of every validation token ourselves — windows of 128 tokens, each predicting its own
# shift by one, as in training — and check the result against the package's `evaluate_text`.

# %% slideshow={"slide_type": "-"}
val_ids = torch.tensor(tokenizer.encode(val_corpus.text))
n_windows = (len(val_ids) - 1) // T
x = val_ids[:n_windows * T].view(n_windows, T)            # consecutive windows of T tokens
y = val_ids[1:n_windows * T + 1].view(n_windows, T)       # the same windows shifted by one: the targets
with torch.no_grad():
    logits = torch.cat([gpt(x[i:i + 64])[0] for i in range(0, n_windows, 64)])   # (windows, T, V)
nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")              # (windows, T) nats
n_chars = len(tokenizer.decode(y.flatten()))               # the characters those targets spell out

nats_per_token = nll.double().mean().item()
nats_per_char = nll.double().sum().item() / n_chars
reference = evaluate_text(gpt, tokenizer, val_corpus.text)
print(f"{nll.numel():,} tokens, {n_chars:,} characters")
print(f"loss {nats_per_token:.4f} nats/token  →  perplexity {math.exp(nats_per_token):.3f} per token")
print(f"     {nats_per_char:.4f} nats/char   →  perplexity {math.exp(nats_per_char):.4f} per character, "
      f"{nats_per_char / math.log(2):.4f} bits/char")
print(f"entropy floor {FLOOR:.4f} nats/char = {val_corpus.bits_per_char:.4f} bits/char: "
      f"the model is {nats_per_char / FLOOR - 1:.1%} above it")
diff = max(abs(nats_per_token - reference["nats_per_token"]), abs(nats_per_char - reference["nats_per_char"]))
print(f"max |ours − evaluate_text| = {diff:.1e}", "✓" if diff < 1e-6 else "✗")
assert diff < 1e-6
assert abs(metrics.perplexity(nll.flatten()) - math.exp(nats_per_token)) < 1e-9

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where the loss comes from: a per-token heat-map
#
# The average hides where the model pays. storyworld can say, for every character, the exact probability the
# perfect model gives it (`next_char_distribution`), so each token's true information is known too. Below,
# one validation story is coloured twice: by the model's surprisal $-\log_2 p_\theta$ of each token, and by
# how much more that is than the perfect model's.

# %% slideshow={"slide_type": "-"}
story = val_corpus.stories[21]
pieces = tokenizer.split(story.text) + ["\n"]                     # the tokens the model predicts
story_ids = torch.tensor(tokenizer.encode("\n" + story.text + "\n"))
model_bits = metrics.token_nlls(gpt, story_ids).numpy() / math.log(2)

char_bits = [-math.log2(world.next_char_distribution(story.text[:i])[c]) for i, c in enumerate(story.text)]
char_bits.append(0.0)                                             # the newline after a story is certain
ends = np.cumsum([len(p) for p in pieces])
true_bits = np.array([sum(char_bits[e - len(p):e]) for p, e in zip(pieces, ends)])
assert abs(true_bits.sum() * math.log(2) + story.log_prob) < 1e-9  # the truth adds up to log p(story)
print(f"model {model_bits.sum():.1f} bits for this story; the perfect model {true_bits.sum():.1f} bits "
      f"(= −log₂ p(story))")
worst = np.argsort(model_bits - true_bits)[::-1][:5]
print("largest excess:", ", ".join(f"{pieces[i].strip()!r} +{model_bits[i] - true_bits[i]:.1f}" for i in worst))


def token_heatmap(ax, pieces, values, title, cmap, norm, width=92):
    """Draw the tokens as text in reading order, each on a patch coloured by its value."""
    fontsize = ax.get_position().width * ax.figure.get_figwidth() * 72 / (width + 2) / 0.6   # 1 char = 1 unit
    x_pos, line = 0, 0
    for piece, value in zip(pieces, values):
        word = piece.strip() or "↵"
        if x_pos + len(piece) > width:
            x_pos, line = 0, line + 1
        x_pos += len(piece) - len(piece.lstrip(" "))
        ax.text(x_pos, -line, word, family="monospace", fontsize=fontsize, va="center",
                bbox=dict(boxstyle="square,pad=0.15", fc=cmap(norm(value)), ec="none"))
        x_pos += len(word)
    ax.set(xlim=(-1, width + 1), ylim=(-line - 0.8, 0.8), title=title)
    ax.set_axis_off()


fig, axes = plt.subplots(2, 1, figsize=(11, 4.6))
fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.01, hspace=0.2)
token_heatmap(axes[0], pieces, model_bits, "model surprisal, bits (white 0 → red 6+)", plt.cm.Reds,
              plt.Normalize(0, 6))
token_heatmap(axes[1], pieces, model_bits - true_bits, "model − perfect model, bits (blue: luckier than the "
              "truth, red: worse)", plt.cm.RdBu_r, TwoSlopeNorm(0, -3, 3))
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# Most tokens are nearly free for both: the grammar fixes them. The loss sits on the **choices** — a name, a
# colour, a place, whether the friend shares — and there even the perfect model pays, because those really are
# random. The excess row shows what is left to learn: at most choices the model pays a little extra, and where
# it is blue its guess happened to favour what the story did — on average, over many stories, it cannot win.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Perplexity depends on the tokenizer: bits per character
#
# A per-token perplexity is a statement about *tokens*. A character-level model predicts ~4 tokens where the
# word-level GPT predicts one, and each of its tokens is easier, so its per-token perplexity is smaller even
# when it is the worse model. The fair unit divides the total loss by the number of characters (or bytes):
#
# $$\text{bits per character} = \frac{\sum_t -\ln p(x_t \mid x_{<t})}{(\#\text{characters}) \cdot \ln 2}
#   = \frac{\mathcal{L}_\text{token}}{\ln 2}\cdot\frac{\#\text{tokens}}{\#\text{characters}}.$$
#
# Our opponent is a character-level 10-gram model (notebook 00's count model with nine characters of context).

# %% slideshow={"slide_type": "-"}
chars = sorted(set(train_corpus.text) | set(val_corpus.text))
char_model = NGramModel(n=10, vocab=chars, k=0.01).fit(train_corpus.text)
char_nats = char_model.nll(val_corpus.text)                # per token = per character for this model
rows = [("course GPT (words)", "word", nats_per_token, nats_per_char),
        ("10-gram (characters)", "character", char_nats, char_nats)]
print(f"{'model':<22}{'token':>10}{'nats/token':>12}{'PPL/token':>11}{'bits/char':>11}")
for name, unit, per_token, per_char in rows:
    print(f"{name:<22}{unit:>10}{per_token:>12.3f}{math.exp(per_token):>11.3f}{per_char / math.log(2):>11.3f}")
print(f"{'perfect model':<22}{'':>10}{'':>12}{'':>11}{val_corpus.bits_per_char:>11.3f}")
print("\nBy perplexity per token the 10-gram wins; per character, the GPT is far better.")

# %% [markdown] slideshow={"slide_type": "-"}
# The same holds between any two tokenizers, subword (BPE) ones included: the course BPE of notebook 01 cuts
# the validation text into more, shorter tokens than the word tokenizer. Here is what the *same* loss — the
# entropy floor itself — looks like as a per-token perplexity under each:

# %% slideshow={"slide_type": "-"}
bpe = course_tokenizer()
tokens_per_char = {"character": 1.0, "course BPE": len(bpe.encode(val_corpus.text)) / len(val_corpus.text),
                   "word": len(val_ids) / len(val_corpus.text)}
for name, rate in tokens_per_char.items():
    print(f"{name:>10}: {rate:.3f} tokens per character → the floor is a perplexity of "
          f"{math.exp(FLOOR / rate):.3f} per token")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.1 — compare across tokenizers
# A classmate trained a GPT on the course BPE tokens and reports a validation perplexity of **1.40 per
# token**. Convert it to bits per character (`bpe_bits_per_char`, using `tokens_per_char["course BPE"]`), and
# set `bpe_model_is_better` to whether it beats our word-level GPT (`nats_per_char`).
#
# <details><summary>💡 Hint</summary>
#
# $\ln 1.40$ is the loss in nats per token. Multiply by tokens per character to get nats per character,
# and divide by $\ln 2$ for bits. Lower is better.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
bpe_bits_per_char = math.log(1.40) * tokens_per_char["course BPE"] / math.log(2)
bpe_model_is_better = bpe_bits_per_char < nats_per_char / math.log(2)
# END SOLUTION

# %% slideshow={"slide_type": "-"}
check("9.1a", bpe_bits_per_char, math.log(1.40) * tokens_per_char["course BPE"] / math.log(2), rtol=1e-9,
      hint="ln(1.40) nats per token × tokens per character ÷ ln 2.")
check("9.1b", bpe_model_is_better,
      math.log(1.40) * tokens_per_char["course BPE"] / math.log(2) < nats_per_char / math.log(2),
      hint="Compare bits per character, not perplexities per token.")
print(f"BPE model {math.log(1.40) * tokens_per_char['course BPE'] / math.log(2):.3f} bits/char "  # the reference
      f"vs course GPT {nats_per_char / math.log(2):.3f} bits/char")

# %% [markdown] slideshow={"slide_type": "-"}
# Perplexity has more limits than the tokenizer. It is comparable only on the same text with the same protocol
# (how much context each token gets); it says nothing about whether a story is true, helpful or safe; and a
# model can lower it by having seen the test text (section 3). It is the right number for comparing language
# models during training — and only that.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. IID and non-IID: the same model on shifted data
#
# A held-out score promises something only for text from the training distribution: **IID**, independent and
# identically distributed. Real use drifts — in **time** (new names, new events), **domain** (recipes instead
# of stories) and **author** (another style). storyworld's *shifted* variant changes names, places, objects
# and phrasing but keeps the plots. We score each story on its own, from its first word, under the same model.

# %% slideshow={"slide_type": "-"}
@torch.no_grad()
def story_nlls(model, stories, batch_size=50):
    """Per-token losses of each story on its own (context starts at the newline before it)."""
    seqs = [torch.tensor(tokenizer.encode("\n" + s.text + "\n")) for s in stories]
    out = []
    for i in range(0, len(seqs), batch_size):
        batch = seqs[i:i + batch_size]
        xs = torch.nn.utils.rnn.pad_sequence([s[:-1] for s in batch], batch_first=True)   # padded at the end:
        ys = torch.nn.utils.rnn.pad_sequence([s[1:] for s in batch], batch_first=True,   # causal attention
                                             padding_value=-100)                            # never looks there
        lp = F.cross_entropy(model(xs)[0].transpose(1, 2), ys, reduction="none", ignore_index=-100)
        out += [row[:len(s) - 1] for row, s in zip(lp, batch)]
    return out


def nats_per_char_of(model, stories):
    return sum(l.sum().item() for l in story_nlls(model, stories)) / sum(len(s.text) + 1 for s in stories)


def floor_of(stories):
    return -sum(s.log_prob for s in stories) / sum(len(s.text) + 1 for s in stories)


iid = test_corpus.stories[:200]
shifted = storyworld.load_split("test", 200, variant="shifted").stories
print(shifted[0].text, "\n")
shifted_ids = [torch.tensor(tokenizer.encode(s.text + "\n")) for s in shifted]
shifted_losses = story_nlls(gpt, shifted)
targets, losses = torch.cat(shifted_ids), torch.cat(shifted_losses)
unknown = targets == tokenizer.stoi["<unk>"]
print(f"{'test set':<10}{'model nats/char':>17}{'floor':>8}{'model / floor':>15}")
for name, stories in (("IID", iid), ("shifted", shifted)):
    model_score = nats_per_char_of(gpt, stories)
    print(f"{name:<10}{model_score:>17.3f}{floor_of(stories):>8.3f}{model_score / floor_of(stories):>14.2f}×")
print(f"\nshifted text: {unknown.float().mean():.0%} of the tokens are <unk> (words the tokenizer never saw);")
print(f"mean loss on <unk> targets {losses[unknown].mean():.2f} nats, on known words {losses[~unknown].mean():.2f} "
      f"nats (IID: {torch.cat(story_nlls(gpt, iid)).mean():.2f})")

# %% [markdown] slideshow={"slide_type": "-"}
# On IID stories the model is close to the floor. (Scored story by story, no story loses its beginning to a
# window boundary, so the number is lower than section 1's: perplexities compare only under one protocol.)
# On shifted stories it is many times worse, though a perfect model of the shifted grammar would find them
# *easier* (the floor is lower). It fails on new words, and even the known words cost more, because their
# contexts are full of `<unk>`. The real loss is worse still: `<unk>` lets the model skip saying *which* new
# word comes, a probability it never has to pay for. A benchmark made of the training distribution would have
# told us none of this.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Contamination: a model that saw the test set
#
# Web-scale training data contains copies of many public benchmarks. A model that trained on a test set
# memorizes it, and its score there measures memory, not skill. To see the effect, we take a "benchmark" of 30
# test stories, let it leak into the model's training — a short fine-tune of the last block on exactly those
# stories — and score both models on the benchmark and on 100 fresh stories from the same split.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
benchmark, fresh = test_corpus.stories[:30], test_corpus.stories[200:300]
leaky = copy.deepcopy(gpt)
for p in leaky.parameters():
    p.requires_grad_(False)
trainable = list(leaky.transformer.h[-1].parameters())          # only the last block learns
for p in trainable:
    p.requires_grad_(True)
leak_ids = torch.tensor(tokenizer.encode("".join("\n" + s.text for s in benchmark) + "\n"))
n_leak = (len(leak_ids) - 1) // T
xb, yb = leak_ids[:n_leak * T].view(n_leak, T), leak_ids[1:n_leak * T + 1].view(n_leak, T)
optimizer = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.0)
leaky.train()
for step in range(10):
    _, loss = leaky(xb, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
leaky.eval()

print(f"{'':<24}{'benchmark':>11}{'fresh stories':>15}   (nats/char)")
leak_scores = {}
for name, model in (("course GPT", gpt), ("saw the benchmark", leaky)):
    leak_scores[name] = nats_per_char_of(model, benchmark), nats_per_char_of(model, fresh)
    print(f"{name:<24}{leak_scores[name][0]:>11.4f}{leak_scores[name][1]:>15.4f}")
print(f"{'entropy floor':<24}{floor_of(benchmark):>11.4f}{floor_of(fresh):>15.4f}")
assert leak_scores["saw the benchmark"][0] < floor_of(benchmark) < leak_scores["course GPT"][0], \
    "on the benchmark the leaky model beats the original and even the entropy floor"
assert leak_scores["saw the benchmark"][1] > leak_scores["course GPT"][1], "on fresh stories the leaky model is worse"

# %% [markdown] slideshow={"slide_type": "-"}
# On the benchmark the leaky model looks better than the original — better, in fact, than the entropy floor,
# which no honest model can beat on new text. On fresh stories it is *worse*: the fine-tune traded skill for
# memory. Only the fresh stories tell the truth, and in real life there is no floor to warn us.
#
# **Detecting it from the data.** GPT-3's authors flagged a test example as contaminated when its $n$-grams
# (they used $n = 13$ words) appeared in the training data. Here the training data is the train split plus
# the leaked benchmark. For each of the 400 test stories we compute the fraction of its word $n$-grams found
# in that data:

# %% slideshow={"slide_type": "-"}
training_data = [s.text for s in train_corpus.stories] + [s.text for s in benchmark]
leaked = np.array([i < 30 for i in range(len(test_corpus))])
test_texts = [s.text for s in test_corpus.stories]
overlap = {n: metrics.ngram_overlap(test_texts, training_data, n=n) for n in (13, 30)}

fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
for ax, (n, values) in zip(axes, overlap.items()):
    bins = np.linspace(0, 1, 21)
    ax.hist(values[~leaked], bins=bins, label="clean test stories", color="C0")
    ax.hist(values[leaked], bins=bins, label="leaked stories", color="C3")
    ax.axvline(0.5, color="k", ls="--", lw=1)
    ax.set(title=f"{n}-gram overlap with the training data", xlabel=f"fraction of the story's {n}-grams seen",
           ylabel="stories", yscale="log")
axes[0].legend()
plt.show()
for n, values in overlap.items():
    flagged = values >= 0.5
    print(f"n = {n}: flags {flagged[leaked].sum()} of 30 leaked and {flagged[~leaked].sum()} of 370 clean stories")

# %% [markdown] slideshow={"slide_type": "-"}
# With $n = 13$ the detector cries wolf: storyworld is formulaic, so clean stories share long phrases with the
# training data ("a little girl named Lily. She lived in a small house near the"). Real text has its
# formulas too (licences, boilerplate, famous quotes). With $n = 30$ only true copies remain. Pick $n$ by
# looking at clean data first. And an $n$-gram check misses paraphrased or translated leaks entirely.
#
# **Detecting it from the model.** When the training data is secret, look at the losses: a memorized text
# is *too* likely. storyworld gives each story's true information $-\ln p(\text{story})$, so we can count the
# stories on which a model beats the truth. (Without an answer key, one compares against a reference model
# instead.)

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def beats_truth(model, stories):
    model_nats = torch.stack([l.sum() for l in story_nlls(model, stories)])
    return model_nats < torch.tensor([-s.log_prob for s in stories], dtype=torch.float32)


beat_shares = {}
for name, model in (("course GPT", gpt), ("saw the benchmark", leaky)):
    beat_shares[name] = (beats_truth(model, benchmark).float().mean().item(),
                         beats_truth(model, fresh).float().mean().item())
    print(f"{name:<20} beats the truth on {beat_shares[name][0]:.0%} of benchmark "
          f"stories and {beat_shares[name][1]:.0%} of fresh ones")
assert beat_shares["saw the benchmark"][0] > 0.5 > 0.1 > beat_shares["saw the benchmark"][1], \
    "the leaky model beats the truth on most benchmark stories and almost no fresh one"
assert max(beat_shares["course GPT"]) < 0.4, "the honest model beats the truth only by luck, on a minority"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Classification metrics, from scratch
#
# Many evaluations are classification: is this review positive, is this answer correct, is this text toxic.
# Our task: **predict whether a story ends happily from its first 75 tokens** — often before the turning point
# (does the friend share? is the ball found?), so the task is genuinely uncertain. storyworld's `ending` label
# is the truth.
#
# The classifier is a **linear probe**: the pretrained GPT's hidden states, averaged over the tokens, then
# logistic regression. We run the GPT's submodules ourselves to get the hidden states. (Notebook 07 fine-tunes
# the whole GPT as a classifier; a probe is the cheap version.)

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
K = 75                                                     # every story has at least 75 tokens


@torch.no_grad()
def features(stories):
    """Mean final hidden state of the first K tokens of each story: (n, n_embd)."""
    idx = torch.tensor([tokenizer.encode("\n" + s.text)[:K] for s in stories])      # (n, K)
    tr = gpt.transformer
    h = tr.wte(idx) + tr.wpe(torch.arange(K))                                        # (n, K, C)
    for block in tr.h:
        h = block(h)
    return tr.ln_f(h).mean(dim=1)                                                    # (n, C)


def labels(stories):
    return torch.tensor([s.ending == "happy" for s in stories], dtype=torch.float32)


probe_train = storyworld.load_split("train", 300).stories
calibration_set = val_corpus.stories[:100]
probe_test = test_corpus.stories[100:400]
X_train, X_cal, X_test = features(probe_train), features(calibration_set), features(probe_test)
mu, sd = X_train.mean(0), X_train.std(0)

torch.manual_seed(0)
probe = torch.nn.Linear(gpt.config.n_embd, 1)
probe_optimizer = torch.optim.Adam(probe.parameters(), lr=0.05)
y_train = labels(probe_train)
for step in range(500):
    probe_loss = F.binary_cross_entropy_with_logits(probe((X_train - mu) / sd).squeeze(1), y_train)
    probe_optimizer.zero_grad()
    probe_loss.backward()
    probe_optimizer.step()
with torch.no_grad():
    logit_cal = probe((X_cal - mu) / sd).squeeze(1)
    logit_test = probe((X_test - mu) / sd).squeeze(1)
y_true = labels(probe_test).long().numpy()                 # 1 = happy
p_happy = torch.sigmoid(logit_test).double().numpy()
y_pred = (p_happy >= 0.5).astype(int)
print(f"probe training loss after 500 steps: {probe_loss.item():.3f}")
assert probe_loss.item() < 0.3, "the probe fits its 300 training stories closely"

# %% slideshow={"slide_type": "-"}
print(f"test: {y_true.mean():.0%} of the {len(y_true)} stories are happy (storyworld's labels)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Accuracy, precision, recall, F1 and the confusion matrix
#
# With "happy" as the positive class, every prediction is a true or false positive or negative:
#
# $$\text{accuracy} = \frac{TP + TN}{N}, \quad \text{precision} = \frac{TP}{TP + FP}, \quad
#   \text{recall} = \frac{TP}{TP + FN}, \quad F_1 = \frac{2\,PR}{P + R} = \frac{2\,TP}{2\,TP + FP + FN}.$$
#
# Precision asks "when it says happy, is it right?", recall "of the happy stories, how many did it find?".
# F1, their harmonic mean, is high only when both are.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
tp = int(((y_pred == 1) & (y_true == 1)).sum())
fp = int(((y_pred == 1) & (y_true == 0)).sum())
fn = int(((y_pred == 0) & (y_true == 1)).sum())
tn = int(((y_pred == 0) & (y_true == 0)).sum())
confusion = np.array([[tn, fp], [fn, tp]])                 # rows: truth (sad, happy); columns: prediction
ours = [(tp + tn) / len(y_true), tp / (tp + fp), tp / (tp + fn), 2 * tp / (2 * tp + fp + fn)]
sklearn_values = [skm.accuracy_score(y_true, y_pred), skm.precision_score(y_true, y_pred),
                  skm.recall_score(y_true, y_pred), skm.f1_score(y_true, y_pred)]
package = [metrics.accuracy(y_true, y_pred), *metrics.precision_recall_f1(y_true, y_pred)]
for name, value in zip(("accuracy", "precision", "recall", "F1"), ours):
    print(f"{name:>10} {value:.3f}")
diff = max(np.abs(np.subtract(ours, sklearn_values)).max(), np.abs(np.subtract(ours, package)).max(),
           np.abs(confusion - skm.confusion_matrix(y_true, y_pred)).max())
print(f"max |ours − scikit-learn| and |ours − course_utils.metrics| = {diff:.1e}", "✓" if diff == 0 else "✗")
print(f"macro-F1 of the probe {metrics.macro_f1(y_true, y_pred):.3f}")
assert diff == 0, "our metrics equal scikit-learn's and the package's"
assert ours[0] > y_true.mean() + 0.1, "the probe is well above the always-happy baseline's accuracy"
assert metrics.macro_f1(y_true, y_pred) > 0.7, "the probe does well on both classes"

# %% slideshow={"slide_type": "-"}
always_happy = np.ones_like(y_true)
print(f"baseline 'always happy': accuracy {metrics.accuracy(y_true, always_happy):.3f}, "
      f"F1(happy) {metrics.precision_recall_f1(y_true, always_happy)[2]:.3f}, "
      f"F1(sad) {metrics.precision_recall_f1(y_true, always_happy, positive=0)[2]:.3f}, "
      f"macro-F1 {metrics.macro_f1(y_true, always_happy):.3f}")

# %% [markdown] slideshow={"slide_type": "-"}
# With 64% happy stories, a classifier that never thinks at all gets 64% accuracy and a fine-looking F1 for the
# happy class. Its F1 for the sad class is 0, and **macro-F1** — the mean of the per-class F1s — exposes it.
# Always ask for the baseline and for per-class numbers.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.2 — F1 from counts
# Write `f1_from_counts(tp, fp, fn)` returning the F1 score, and 0.0 when there is no positive in either the
# predictions or the truth (`tp + fp + fn == 0`).
#
# <details><summary>💡 Hint</summary>
#
# $F_1 = 2\,TP / (2\,TP + FP + FN)$: the harmonic mean of precision and recall, written with counts.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def f1_from_counts(tp, fp, fn):
    # BEGIN SOLUTION
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("9.2", f1_from_counts, [
    ((tp, fp, fn), skm.f1_score(y_true, y_pred)),
    ((0, 0, 0), 0.0),
    ((0, 5, 3), 0.0),
    ((10, 0, 0), 1.0),
    ((3, 1, 2), 2 * 0.75 * 0.6 / 1.35),
], hint="Precision = tp / (tp + fp), recall = tp / (tp + fn); F1 = 2tp / (2tp + fp + fn).")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The ROC curve and AUC
#
# Accuracy depends on the threshold 0.5. The **ROC curve** shows every threshold at once: sort the stories by
# score; lowering the threshold past each one adds a true positive (up) or a false positive (right). The
# **AUC**, the area under it, is the probability that a random happy story scores higher than a random sad
# one (ties count half): 0.5 is guessing, 1 is a perfect ranking. It ignores the threshold and the class
# balance — and whether the probabilities mean anything.
#
# $$\mathrm{AUC} = \frac{1}{|P|\,|N|}\sum_{i \in P}\sum_{j \in N}\Big(\mathbb{1}[s_i > s_j] +
#   \tfrac{1}{2}\,\mathbb{1}[s_i = s_j]\Big),$$
#
# with $P$ the positive (happy) examples, $N$ the negative ones and $s$ the scores.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.3 — ROC-AUC, ties included
# Write `roc_auc(y_true, scores)`: `y_true` is an array of 0/1 labels (1 = positive), `scores` an array of
# the same length; return the AUC as a Python float, with tied scores counting half. With only one class the
# AUC is undefined: raise a `ValueError`. The ROC cell below and the contamination detector after it use your
# function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The AUC is a share of pairs: of all (positive, negative) pairs, the fraction in which the
#    positive scores higher, a tie counting as half a win.
# 2. **The approach.** Split the scores by label, compare every positive with every negative at once by
#    broadcasting (a $(|P|, |N|)$ table of `>` and of `==`), and average. Check first that both labels occur.
# 3. **A skeleton.**
#    ```python
#    y_true, scores = np.asarray(y_true), np.asarray(scores)
#    pos, neg = scores[y_true == 1], scores[y_true == ___]
#    if len(pos) == 0 or len(neg) == 0:
#        raise ValueError("...")
#    wins = (pos[:, None] ___ neg[None, :]).mean()
#    ties = (pos[:, None] ___ neg[None, :]).mean()
#    return float(wins + ___ * ties)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def roc_auc(y_true, scores):
    """(n,) 0/1 labels and (n,) scores -> P(a positive scores above a negative), ties counting half."""
    # BEGIN SOLUTION
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    pos, neg = scores[y_true == 1], scores[y_true == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("the AUC needs both positive and negative examples")
    wins = (pos[:, None] > neg[None, :]).mean()          # (|P|, |N|) pairs at once
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(wins + 0.5 * ties)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def error_of(fn, *args):
    """The name of the exception fn(*args) raises, or None if it returns."""
    try:
        fn(*args)
    except Exception as exc:
        return type(exc).__name__
    return None


case_rng = np.random.default_rng(0)
auc_cases = [
    (np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])),              # a perfect ranking
    (np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])),              # inverted
    (np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])),              # all tied
    (np.array([0, 1, 1, 0, 1]), np.array([0.3, 0.3, 0.7, 0.1, 0.7])),      # some ties across the classes
    (case_rng.integers(0, 2, 40), case_rng.integers(0, 5, 40) / 4),        # random, many ties
    (y_true, p_happy),                                                     # the probe
]
auc_passed = check_function("9.3a", roc_auc, [(case, metrics.roc_auc(*case)) for case in auc_cases],
                            hint="the cases are 1 a perfect ranking (1.0); 2 inverted (0.0); 3 every score tied "
                                 "(0.5); 4 ties between a positive and a negative; 5 random scores with many ties; "
                                 "6 the probe. Compare every (positive, negative) pair, count a tie as half.")
one_class_passed = check_true("9.3b", lambda: error_of(roc_auc, np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9]))
                              == "ValueError",
                              message_if_false="with one class only (three positives) there is no pair to "
                                               "compare: raise a ValueError, as course_utils.metrics.roc_auc does",
                              hint="check that both labels occur before comparing pairs.")
if not (auc_passed and one_class_passed):
    print("Using the course's version, course_utils.metrics.roc_auc, from here on.")
    roc_auc = metrics.roc_auc

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
order = np.argsort(-p_happy, kind="mergesort")
sorted_scores, sorted_truth = p_happy[order], y_true[order]
last_of_each = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(order) - 1]   # tied scores move together
tps = np.r_[0, np.cumsum(sorted_truth)[last_of_each]]
fps = np.r_[0, (last_of_each + 1) - tps[1:]]
tpr, fpr = tps / tps[-1], fps / fps[-1]                   # the curve: one point per distinct score
auc = roc_auc(y_true, p_happy)                            # your function

sk_fpr, sk_tpr, _ = skm.roc_curve(y_true, p_happy, drop_intermediate=False)
diff = max(abs(auc - skm.roc_auc_score(y_true, p_happy)), np.abs(fpr - sk_fpr).max(), np.abs(tpr - sk_tpr).max())
print(f"AUC {auc:.4f}: a happy story scores higher than a sad one in {auc:.1%} of the pairs")
print(f"max |ours − scikit-learn| (curve and area) = {diff:.1e}", "✓" if diff < 1e-12 else "✗")
assert diff < 1e-12, "our ROC curve and AUC equal scikit-learn's"
assert auc > 0.8, "the probe ranks happy stories above sad ones far more often than chance"

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
axes[0].plot(fpr, tpr, label=f"probe, AUC {auc:.3f}")
axes[0].plot([0, 1], [0, 1], "k--", lw=1, label="guessing, AUC 0.5")
at_half = np.searchsorted(-sorted_scores[last_of_each], -0.5, side="right")
axes[0].plot(fpr[at_half], tpr[at_half], "o", color="C3", label="threshold 0.5")
axes[0].set(xlabel="false positive rate FP / (FP + TN)", ylabel="true positive rate (recall)", title="ROC curve")
axes[0].legend(loc="lower right")
axes[1].imshow(confusion, cmap="Blues")
for (i, j), count in np.ndenumerate(confusion):
    axes[1].text(j, i, count, ha="center", va="center", fontsize=14, color="k" if count < 100 else "w")
axes[1].set(xticks=[0, 1], xticklabels=["sad", "happy"], yticks=[0, 1], yticklabels=["sad", "happy"],
            xlabel="predicted", ylabel="true", title="confusion matrix at 0.5")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# scikit-learn adds up the area under this curve as trapezoids, and it equals your count of pairs: two views of
# one number.
#
# **The AUC of a contamination detector.** Section 3's model-side detector is a classifier too. Score each
# story by how much the leaky model beats the truth, `score = true nats − model nats`, on the 30 benchmark
# stories (label 1, leaked) and the 100 fresh ones (label 0), and rank them with your `roc_auc`:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
detector_stories = benchmark + fresh
detector_labels = np.array([1] * len(benchmark) + [0] * len(fresh))
detector_scores = np.array([-s.log_prob - l.sum().item()                # true nats − model nats, per story
                            for s, l in zip(detector_stories, story_nlls(leaky, detector_stories))])
detector_auc = roc_auc(detector_labels, detector_scores)
print(f"membership detector AUC {detector_auc:.3f}")
assert detector_auc > 0.85, "leaked stories almost always look more memorized than fresh ones"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Calibration: do the probabilities mean what they say?
#
# A model that says "80% happy" should be right 80% of the time it says so. A **reliability diagram** bins the
# predictions by probability and plots, per bin, the fraction that really is happy against the mean predicted
# probability; a calibrated model lies on the diagonal. The **expected calibration error** summarizes it:
#
# $$\mathrm{ECE} = \sum_{b} \frac{n_b}{N}\,\big|\,\text{fraction positive}_b - \text{mean probability}_b\,\big|,$$
#
# over the bins $b$ that hold any of the $N$ predictions, $n_b$ of them in bin $b$. With $B$ equal bins, bin $b$
# holds the probabilities in $\big(\frac{b}{B}, \frac{b+1}{B}\big]$, and the first bin holds 0 as well
# (scikit-learn's convention).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.4 — expected calibration error
# Write `ece(y, p, n_bins=10)`: `y` holds 0/1 labels, `p` the predicted probabilities of label 1 (both numpy
# arrays); return the ECE above as a Python float. Every calibration number below, before and after temperature
# scaling and on shifted stories, comes from your function.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Group the predictions by how confident they are; in each group compare what was predicted
#    (the mean probability) with what happened (the fraction of 1s); average the gaps, each weighted by the
#    size of its group.
# 2. **The approach.** Find each prediction's bin with `np.searchsorted` on the inner bin edges
#    (`np.linspace(0, 1, n_bins + 1)[1:-1]`), which puts a value equal to an edge in the lower bin. Skip the
#    empty bins; weight by the number of predictions in the bin over $N$, not by $1/B$.
# 3. **A skeleton.**
#    ```python
#    bin_of = np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p)
#    total = 0.0
#    for b in range(n_bins):
#        inside = bin_of == b
#        if inside.any():
#            total += inside.___() / len(p) * abs(y[inside].mean() - p[inside].___())
#    return float(total)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def ece(y, p, n_bins=10):
    """(n,) 0/1 labels and (n,) probabilities of 1 -> expected calibration error over n_bins equal bins."""
    # BEGIN SOLUTION
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    bin_of = np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p)   # bin b holds (b/B, (b+1)/B]
    total = 0.0
    for b in range(n_bins):
        inside = bin_of == b
        if inside.any():                                               # empty bins count for nothing
            total += inside.sum() / len(p) * abs(y[inside].mean() - p[inside].mean())
    return float(total)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
case_rng = np.random.default_rng(1)
random_p = case_rng.random(50)
ece_cases = [
    (np.array([1, 0, 0, 0]), np.array([0.25, 0.25, 0.25, 0.25]), 10),         # calibrated: ECE 0
    (np.array([0, 0, 0]), np.array([0.95, 0.95, 0.95]), 10),                  # sure and always wrong
    (np.array([1, 1, 1, 1, 0, 1]), np.array([0.0, 0.05, 0.5, 0.55, 0.9, 1.0]), 10),   # edges, empty bins
    (np.array([1, 1, 0, 1, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.2, 0.3, 0.6, 0.7, 0.8, 0.85]), 4),
    ((case_rng.random(50) < random_p).astype(int), random_p, 5),              # random, 5 bins
    (y_true, p_happy, 10),                                                    # the probe
]
if not check_function("9.4", ece, [(case, metrics.expected_calibration_error(*case)) for case in ece_cases],
                      hint="the cases are 1 four predictions of 0.25, one of them right (ECE 0); 2 sure and "
                           "always wrong (0.95); 3 probabilities 0, 0.5 and 1 on the bin edges and most bins "
                           "empty; 4 four bins of unequal size; 5 random, 5 bins; 6 the probe. Weight each bin "
                           "by its share of the predictions and skip the empty ones."):
    print("Using the course's version, course_utils.metrics.expected_calibration_error, from here on.")
    ece = metrics.expected_calibration_error

# %% [markdown] slideshow={"slide_type": "-"}
# Our probe trained 500 steps with no regularization on 300 stories: it became too sure of itself. The
# standard repair is **temperature scaling**: divide the logits by one number $\tau$, chosen to minimize the
# loss on a held-out calibration set (100 validation stories). It changes no prediction's side of 0.5, only
# its confidence.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
log_tau = torch.zeros(1, requires_grad=True)
tau_optimizer = torch.optim.LBFGS([log_tau], lr=0.1, max_iter=100)


def calibration_loss():
    tau_optimizer.zero_grad()
    loss = F.binary_cross_entropy_with_logits(logit_cal / log_tau.exp(), labels(calibration_set))
    loss.backward()
    return loss


tau_optimizer.step(calibration_loss)
tau = log_tau.exp().item()
p_scaled = torch.sigmoid(logit_test / tau).double().numpy()

frac, conf, _ = metrics.calibration_curve(y_true, p_happy)
sk_frac, sk_conf = calibration_curve(y_true, p_happy, n_bins=10)
diff = max(np.abs(frac - sk_frac).max(), np.abs(conf - sk_conf).max(),
           abs(ece(y_true, p_happy) - metrics.expected_calibration_error(y_true, p_happy)))
print(f"max |bins − scikit-learn calibration_curve, your ECE − course_utils| = {diff:.1e}",
      "✓" if diff < 1e-12 else "✗")
assert diff < 1e-12, "the package's reliability bins equal scikit-learn's, and the ECE the package's"
print(f"temperature τ = {tau:.2f}: ECE {ece(y_true, p_happy):.3f} → {ece(y_true, p_scaled):.3f}; "
      f"accuracy {metrics.accuracy(y_true, p_happy >= 0.5):.3f} → {metrics.accuracy(y_true, p_scaled >= 0.5):.3f}")
assert tau > 1.5, "the probe is overconfident: the best temperature is well above 1"
assert ece(y_true, p_scaled) < ece(y_true, p_happy), "temperature scaling lowers the calibration error"
assert np.array_equal(p_happy >= 0.5, p_scaled >= 0.5), "temperature scaling changes no prediction"

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
for ax, (name, p) in zip(axes, (("probe", p_happy), (f"probe / τ (τ = {tau:.2f})", p_scaled))):
    frac, conf, count = metrics.calibration_curve(y_true, p)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.scatter(conf, frac, s=count * 2, alpha=0.7, label="bins (area ∝ stories)")
    ax.plot(conf, frac, "-", alpha=0.5)
    ax.set(xlabel="mean predicted P(happy)", title=f"{name}: ECE {ece(y_true, p):.3f}", xlim=(0, 1), ylim=(0, 1))
axes[0].set_ylabel("fraction really happy")
axes[0].legend(loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# **Robustness.** The probe was trained on standard stories. On shifted stories — new names and places, so
# many `<unk>` tokens — the same probe, unchanged:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
shifted_probe = shifted[:100]
p_shifted = torch.sigmoid(probe((features(shifted_probe) - mu) / sd).squeeze(1) / tau).detach().double().numpy()
y_shifted = labels(shifted_probe).long().numpy()
print(f"IID test: accuracy {metrics.accuracy(y_true, p_scaled >= 0.5):.2f}, "
      f"AUC {roc_auc(y_true, p_scaled):.2f}, ECE {ece(y_true, p_scaled):.2f}")
print(f"shifted:  accuracy {metrics.accuracy(y_shifted, p_shifted >= 0.5):.2f}, "
      f"AUC {roc_auc(y_shifted, p_shifted):.2f}, ECE {ece(y_shifted, p_shifted):.2f}   "
      f"(always happy: accuracy {y_shifted.mean():.2f})")
assert metrics.accuracy(y_shifted, p_shifted >= 0.5) < y_shifted.mean(), \
    "on shifted stories the probe falls below the always-happy baseline"
assert roc_auc(y_shifted, p_shifted) < 0.7, "its ranking is close to chance"
assert ece(y_shifted, p_shifted) > 3 * ece(y_true, p_scaled), "its probabilities are confidently wrong"

# %% [markdown] slideshow={"slide_type": "-"}
# Accuracy falls below the always-happy baseline, the ranking is close to chance, and the
# probabilities are confidently wrong: calibration measured on IID data does not carry over to shifted data.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Generation metrics: BLEU, ROUGE, METEOR
#
# For generated text there is rarely one right answer. Translation and summarization benchmarks compare the
# output with one or more human **references** by counting shared $n$-grams. Our generation task: the GPT
# reads a story without its last sentence and writes the ending (greedy decoding); the story's real last
# sentence is the reference.

# %% slideshow={"slide_type": "-"}
def split_ending(text):
    cut = text.rindex(" In the end,")
    return text[:cut], text[cut:]


gen_stories = test_corpus.stories[340:400]
prompts, references = zip(*(split_ending(s.text) for s in gen_stories))
endings = []
for prompt in prompts:
    ids = torch.tensor([tokenizer.encode("\n" + prompt)])
    out = generate(gpt, ids, max_new_tokens=12, temperature=0, stop_token=NEWLINE)
    endings.append(tokenizer.decode(out[0, ids.size(1):]).split("\n")[0])
for prompt, ending, ref in list(zip(prompts, endings, references))[:3]:
    print(f"…{prompt[-70:]}\n   model:    {ending}\n   reference:{ref}\n")

# %% [markdown] slideshow={"slide_type": "-"}
# **BLEU** (Papineni et al., 2002) is precision-based. For $n = 1..4$, the modified precision $p_n$ is the
# fraction of the output's $n$-grams that appear in the reference, each counted at most as often as the
# reference has it ("clipped", so "the the the" gets no credit for repeating). Counts are added over the whole
# corpus before dividing. Short outputs would have high precision, so a **brevity penalty** applies when the
# outputs' total length $c$ is below the references' $r$:
#
# $$\mathrm{BLEU} = \mathrm{BP}\cdot\exp\Big(\tfrac{1}{4}\sum_{n=1}^{4}\ln p_n\Big), \qquad
#   \mathrm{BP} = \min\big(1,\; e^{\,1 - r/c}\big).$$
#
# sacrebleu fixes the details that made papers' BLEU scores incomparable: its tokenization (`13a`, which splits
# punctuation off words) and smoothing when some $p_n = 0$. We reuse its tokenizer from `course_utils.metrics`;
# you write the rest.

# %% slideshow={"slide_type": "-"}
def ngrams(tokens, n):
    """Counter of the n-grams (tuples of n tokens) of a token list."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


print(metrics.tokenize_13a("In the end, Lily was happy."), ngrams(["the", "the", "cat"], 1))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.5 — corpus BLEU
# Write `corpus_bleu(hypotheses, references)`: two lists of strings, one reference per hypothesis; return
# BLEU in percent (0 to 100) as a Python float, from the formula above, with $n = 1..4$, tokens from
# `metrics.tokenize_13a` and the `ngrams` helper. Do not smooth: if some $p_n$ is 0, BLEU is 0. The cell after
# this one scores the model's endings with your function and compares it with sacrebleu.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** BLEU is a precision of $n$-grams, clipped so that repeating a word that the reference has
#    once earns it once, added up over the corpus before dividing, with a penalty for a total output shorter
#    than the total reference.
# 2. **The approach.** Keep four match counts, four totals and the two lengths $c$ and $r$. For each pair,
#    tokenize both, add their lengths, and for each $n$ add $\min(\text{count in the output}, \text{count in the
#    reference})$ over the output's $n$-grams to the matches and the number of the output's $n$-grams to the
#    totals. Then $p_n$ = matches / totals, the geometric mean of the four, and the brevity penalty.
# 3. **A skeleton.**
#    ```python
#    matches, totals, c, r = [0] * 4, [0] * 4, 0, 0
#    for hyp, ref in zip(hypotheses, references):
#        hyp, ref = metrics.tokenize_13a(hyp), metrics.tokenize_13a(ref)
#        c, r = c + len(hyp), r + len(ref)
#        for n in range(1, 5):
#            hyp_counts, ref_counts = ngrams(hyp, n), ngrams(ref, n)
#            matches[n - 1] += sum(min(k, ___) for g, k in hyp_counts.items())
#            totals[n - 1] += ___
#    if min(matches) == 0:
#        return 0.0
#    brevity = min(1.0, math.exp(___))
#    return 100 * brevity * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / ___)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def corpus_bleu(hypotheses, references):
    """Lists of output and reference strings -> corpus BLEU in percent (4-grams, 13a tokens, no smoothing)."""
    # BEGIN SOLUTION
    matches, totals, c, r = [0] * 4, [0] * 4, 0, 0
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = metrics.tokenize_13a(hyp), metrics.tokenize_13a(ref)
        c, r = c + len(hyp), r + len(ref)
        for n in range(1, 5):
            hyp_counts, ref_counts = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(k, ref_counts[g]) for g, k in hyp_counts.items())   # clipped
            totals[n - 1] += sum(hyp_counts.values())
    if min(matches) == 0:                                     # a zero precision: the geometric mean is 0
        return 0.0
    brevity = min(1.0, math.exp(1 - r / c))
    return 100 * brevity * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / 4)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
bleu_cases = [
    (["the cat sat on the mat ."], ["the cat sat on the mat ."]),                     # a perfect match
    (["a big red dog ran away"], ["the cat sat on the mat ."]),                       # no overlap
    (["the cat sat on the"], ["the cat sat on the mat ."]),                           # a shorter output
    (["the cat the cat sat on the mat"], ["the cat sat on the mat"]),                 # repeats to clip
    (["In the end, Lily was happy.", "Tom was sad and lonely in the park by the big tree."],   # two sentences
     ["In the end, Lily was glad.", "Tom was sad in the park by the tree."]),
    (list(endings), list(references)),                                                # the model's endings
]
if not check_function("9.5", corpus_bleu,
                      [(case, metrics.bleu(*case, smooth="none").score) for case in bleu_cases],
                      hint="the cases are 1 a perfect match (100); 2 no shared word (0); 3 an output shorter than "
                           "its reference (brevity penalty e^(1 − 7/5)); 4 'the cat' repeated, which clipping "
                           "counts once; 5 two sentences, counts added before dividing (not a mean of sentence "
                           "scores); 6 the model's endings. Clip by the reference's count, add up over the corpus, "
                           "BP = min(1, e^(1 − r/c))."):
    print("Using the course's version, course_utils.metrics.bleu, from here on.")

    def corpus_bleu(hypotheses, references):
        return metrics.bleu(hypotheses, references, smooth="none").score

# %% slideshow={"slide_type": "-"}
ours = corpus_bleu(endings, references)                  # your function
theirs = sacrebleu.corpus_bleu(endings, [list(references)]).score
diff = max(abs(ours - theirs), abs(ours - metrics.bleu(endings, references).score))
print(f"BLEU {ours:.2f}   (p1..p4 = {', '.join(f'{p / 100:.3f}' for p in metrics.bleu(endings, references).precisions)})")
print(f"max |ours − sacrebleu| = {diff:.1e}", "✓" if diff < 1e-9 else "✗")
assert diff < 1e-9, "your BLEU equals sacrebleu's (no p_n is 0 here, so its smoothing does not enter)"

# %% [markdown] slideshow={"slide_type": "-"}
# **ROUGE** (Lin, 2004) comes from summarization and leans on recall: how much of the reference the output
# covers. ROUGE-N counts shared $n$-grams; **ROUGE-L** uses the longest common subsequence (same order, gaps
# allowed), so it rewards the right order without demanding adjacency. Each gives a precision (over the
# output's length), a recall (over the reference's) and their F-measure. rouge-score lowercases and keeps only
# letters and digits.

# %% slideshow={"slide_type": "-"}
def lcs_length(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, wa in enumerate(a):
        for j, wb in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if wa == wb else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def f_measure(overlap, n_output, n_reference):
    p, r = overlap / max(n_output, 1), overlap / max(n_reference, 1)
    return 2 * p * r / (p + r) if p + r else 0.0


def our_rouge(reference, output):
    ref, out = re.findall(r"[a-z0-9]+", reference.lower()), re.findall(r"[a-z0-9]+", output.lower())
    scores = {}
    for n in (1, 2):
        ref_counts, out_counts = ngrams(ref, n), ngrams(out, n)
        overlap = sum(min(k, out_counts[g]) for g, k in ref_counts.items())
        scores[f"rouge{n}"] = f_measure(overlap, sum(out_counts.values()), sum(ref_counts.values()))
    scores["rougeL"] = f_measure(lcs_length(ref, out), len(out), len(ref)) if ref and out else 0.0
    return scores


scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
diff = 0.0
for ref, out in zip(references, endings):
    ours, theirs, package = our_rouge(ref, out), scorer.score(ref, out), metrics.rouge(ref, out)
    for k in ours:
        diff = max(diff, abs(ours[k] - theirs[k].fmeasure), abs(ours[k] - package[k].fmeasure))
mean_rouge = {k: np.mean([our_rouge(r, o)[k] for r, o in zip(references, endings)])
              for k in ("rouge1", "rouge2", "rougeL")}
print("mean ROUGE F:", ", ".join(f"{k} {v:.3f}" for k, v in mean_rouge.items()))
print(f"max |ours − rouge-score| = {diff:.1e}", "✓" if diff < 1e-12 else "✗")
assert diff < 1e-12

# %% [markdown] slideshow={"slide_type": "-"}
# **METEOR** (Banerjee & Lavie, 2005) was built to fix BLEU's blindness to wording. It aligns the output's
# words to the reference's — exact matches first, then matches after stemming, then **synonyms** from
# WordNet — and combines unigram precision $P$ and recall $R$ into $F = \frac{10PR}{R + 9P}$ (recall-heavy),
# times a penalty $1 - 0.5\,(\text{chunks}/\text{matches})^3$ for matches scattered in many pieces. It needs a
# synonym dictionary for each language. Here is a simplified version (exact matches, then synonyms; no stems)
# whose synonyms are storyworld's two groups of feelings, which its stories use interchangeably for an ending
# (happy = proud = glad, sad = angry = lonely):

# %% slideshow={"slide_type": "-"}
SYNONYM_GROUP = {w: 0 for w in ("happy", "proud", "glad")} | {w: 1 for w in ("sad", "angry", "lonely")}


def meteor_lite(reference, output):
    ref, out = metrics.rouge_tokenize(reference), metrics.rouge_tokenize(output)
    aligned = {}                                           # output position → reference position
    for same in (lambda a, b: a == b, lambda a, b: SYNONYM_GROUP.get(a, -1) == SYNONYM_GROUP.get(b, -2)):
        for i, word in enumerate(out):
            free = [j for j, r in enumerate(ref) if j not in aligned.values() and same(word, r)]
            if i not in aligned and free:
                aligned[i] = free[0]
    m = len(aligned)
    if m == 0:
        return 0.0
    precision, recall = m / len(out), m / len(ref)
    pairs = sorted(aligned.items())
    chunks = 1 + sum(1 for (i, j), (k, l) in zip(pairs, pairs[1:]) if not (k == i + 1 and l == j + 1))
    return 10 * precision * recall / (recall + 9 * precision) * (1 - 0.5 * (chunks / m) ** 3)


meteor_model = np.mean([meteor_lite(r, e) for r, e in zip(references, endings)])
print(f"mean METEOR-lite of the model's endings: {meteor_model:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where overlap metrics disagree with meaning
#
# Three sets of endings for the same 60 stories: the model's, a **paraphrase** of each reference (same
# meaning, other words) and a **contradiction** (the reference with the feeling flipped to the other side).
# Meaning is known here: the ending is right if its feeling matches the story's label. storyworld can also say
# whether the whole story, with this ending, is one it could have written.

# %% slideshow={"slide_type": "-"}
HAPPY, SAD = ("happy", "proud", "glad"), ("sad", "angry", "lonely")


def paraphrase(ending):
    who, feeling = re.fullmatch(r" In the end, (\w+) was (\w+)\.", ending).groups()
    return f" {who[0].upper() + who[1:]} felt {feeling} when it was all over."


def contradiction(ending):
    who, feeling = re.fullmatch(r" In the end, (\w+) was (\w+)\.", ending).groups()
    other = SAD if feeling in HAPPY else HAPPY
    return f" In the end, {who} was {other[(HAPPY + SAD).index(feeling) % 3]}."


def feeling_of(ending):
    words = metrics.rouge_tokenize(ending)
    return "happy" if any(w in HAPPY for w in words) else "sad" if any(w in SAD for w in words) else None


candidates = {"model": endings, "paraphrase": [paraphrase(r) for r in references],
              "contradiction": [contradiction(r) for r in references]}
print(f"reference:     {references[0]}\nparaphrase:   {candidates['paraphrase'][0]}\n"
      f"contradiction: {candidates['contradiction'][0]}\n")
print(f"{'endings':<14}{'BLEU':>7}{'ROUGE-L':>9}{'METEOR-lite':>13}{'meaning right':>15}{'storyworld can write':>22}")
for name, outputs in candidates.items():
    bleu_score = metrics.bleu(list(outputs), list(references)).score
    rouge_l = np.mean([metrics.rouge_l(r, o).fmeasure for r, o in zip(references, outputs)])
    meteor = np.mean([meteor_lite(r, o) for r, o in zip(references, outputs)])
    right = np.mean([feeling_of(o) == s.ending for o, s in zip(outputs, gen_stories)])
    writable = np.mean([world.log_prob(p + o) > -math.inf for p, o in zip(prompts, outputs)])
    print(f"{name:<14}{bleu_score:>7.1f}{rouge_l:>9.3f}{meteor:>13.3f}{right:>15.0%}{writable:>22.0%}")

# %% [markdown] slideshow={"slide_type": "-"}
# The contradiction keeps almost every word and gets the meaning wrong in every story; BLEU and ROUGE score it
# far above the paraphrase, which is right every time. METEOR ranks the paraphrase higher than BLEU does, but
# still below the contradiction: one flipped word is a small change in overlap. The model's own endings are all
# right in meaning, yet score about the same as the contradiction on BLEU and ROUGE, because a synonym in place of
# the reference's word ("sad" for "angry") costs $n$-grams; METEOR's synonyms give that credit back.
# Overlap metrics measure closeness to a reference, not correctness; they work best averaged over many outputs
# with several references, and as a check on systems, not on single answers.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Benchmarks and prompt sensitivity
#
# Benchmark suites such as **GLUE** and **SuperGLUE** bundle many fixed tasks (entailment, question
# answering, coreference, sentiment) and report one average; newer ones (MMLU and others) are mostly
# multiple-choice questions scored by accuracy. The score belongs to the model *and* the way it was asked.
#
# Our multiple-choice task: in a story where someone asks to share the hero's toy, **who asked?** Four options
# (the friend's name and three other names), scored by which option the model finds most likely next. The
# same 80 questions, asked in four formats:

# %% slideshow={"slide_type": "-"}
share_stories = [s for s in test_corpus.stories if s.topic == "share"][:80]
rng = random.Random(0)
FORMATS = ["inside the story", "after the story, same words", "after the story, as a question",
           "after the story, short"]
correct = {f: [] for f in FORMATS}
greedy_correct = {f: [] for f in FORMATS}
with torch.no_grad():
    for s in share_stories:
        hero, friend = s.qa[0].answer, s.qa[3].answer
        gender = "female" if friend in storyworld.LEXICON.names["female"] else "male"
        options = [friend] + rng.sample([n for n in storyworld.LEXICON.names[gender] if n not in (hero, friend)], 3)
        asked = s.text.index('?" asked') + len('?" asked')
        request = s.text[s.text.index('"Can I'):asked]                        # '"Can I play with your kite?" asked'
        toy = re.search(r"your (\w+)\?", request).group(1)
        prompts_by_format = {
            FORMATS[0]: s.text[:asked],
            FORMATS[1]: s.text + " " + request,
            FORMATS[2]: s.text + f"\nQuestion: Who asked to play with the {toy}?\nAnswer:",
            FORMATS[3]: s.text + f" The {toy} was wanted by",
        }
        for name, prompt in prompts_by_format.items():
            ids = tokenizer.encode("\n" + prompt)[-T:]
            next_logp = gpt(torch.tensor([ids]))[0][0, -1].log_softmax(-1)
            option_scores = [next_logp[tokenizer.stoi[" " + o]].item() for o in options]
            correct[name].append(int(np.argmax(option_scores) == 0))
            greedy_correct[name].append(int(next_logp.argmax().item() == tokenizer.stoi[" " + friend]))

example = share_stories[0]
print("the question, inside the story:\n  …" + example.text[:example.text.index('?" asked') + 8][-90:] + " ___")
print(f"\n{'format':<34}{'accuracy (rank 4 options)':>27}{'95% CI':>14}{'exact match (generate)':>24}")
for name in FORMATS:
    low, high = metrics.bootstrap_ci(correct[name], np.mean, n_resamples=1000, seed=0)
    interval = f"{low:.0%}–{high:.0%}"
    print(f"{name:<34}{np.mean(correct[name]):>27.0%}{interval:>14}{np.mean(greedy_correct[name]):>24.0%}")

# %% [markdown] slideshow={"slide_type": "-"}
# The model knows the answer: asked in the words of its training data, at the place a story asks it, it is
# right every time. Asked after the story ends, it falls to between chance (25%) and a coin flip, because in
# its training data a new story follows and new stories have new characters; and the question format is mostly
# `<unk>` to a word-level tokenizer. The scoring protocol matters too: ranking four given options is easier
# than requiring the generated word to be the answer. Large models are less brittle than this one, but papers
# still report swings of several points from the wording, the order of the options and the number of examples
# in the prompt. Report the format with the score, and prefer averages over several phrasings.
#
# Benchmarks also test **robustness** (the same question paraphrased or with a typo), and **stress tests** push
# past the comfortable range: inputs longer than the context window, adversarial prompts, rare words. Each of
# this notebook's failures — shifted data, leaked data, a reworded question — is such a test.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Human evaluation: A/B tests, Bradley–Terry and Elo
#
# For open-ended output the final judge is people. Raters score outputs for **quality, coherence, factual
# accuracy and helpfulness**, or — more reliably — see two outputs side by side and pick the better one (an
# **A/B test**). Chatbot leaderboards collect such pairwise votes and turn them into ratings.
#
# Our systems: storyworld itself and the course GPT sampling at four temperatures, 200 stories each. Our
# "raters" are simulated, with a known rule: a rater prefers a story storyworld can write over one it cannot,
# flips a coin when both or neither are, and 20% of the time just clicks at random.
#
# The share of grammatical stories is itself measured on samples: with 200 stories it is known to within about
# ±7 points (two standard errors). At $T = 1$ it agrees with notebook 00's 500 samples; notebook 06 samples the
# same model in the same way on a few dozen stories, so its share differs from this one by a few points of
# chance.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
NOISE = 0.2
N_STORIES = 200
system_names = ["storyworld", "GPT T=0.7", "GPT T=1.0", "GPT T=1.3", "GPT T=1.6"]
samples = {"storyworld": [s.text for s in val_corpus.stories[100:100 + N_STORIES]]}
for name in system_names[1:]:
    start = torch.full((N_STORIES, 1), NEWLINE)
    out = generate(gpt, start, max_new_tokens=120, temperature=float(name.split("=")[1]),
                   generator=torch.Generator().manual_seed(0), stop_token=NEWLINE)
    samples[name] = [tokenizer.decode(row[1:]).split("\n")[0] for row in out]
grammatical = {name: np.array([world.log_prob(text) > -math.inf for text in texts]) for name, texts in samples.items()}
print(f"a sample at T=1.6: {samples['GPT T=1.6'][0][:150]}…\n")

judge = np.random.default_rng(0)
judgements = []                                            # (winner, loser) pairs of system indices
for _ in range(600):
    a, b = judge.choice(len(system_names), size=2, replace=False)
    ok_a = grammatical[system_names[a]][judge.integers(N_STORIES)]   # a random story of each system
    ok_b = grammatical[system_names[b]][judge.integers(N_STORIES)]
    if judge.random() < NOISE or ok_a == ok_b:
        a_wins = judge.random() < 0.5                                # a coin flip
    else:
        a_wins = ok_a                                                # the grammatical story wins
    judgements.append((a, b) if a_wins else (b, a))
judgements = np.array(judgements)
wins = np.bincount(judgements[:, 0], minlength=5)
games = np.bincount(judgements.ravel(), minlength=5)
for k, name in enumerate(system_names):
    print(f"{name:<12} grammatical {grammatical[name].mean():>4.0%}   won {wins[k]:>3} of {games[k]} comparisons")
shares = [grammatical[name].mean() for name in system_names]
assert shares[0] == 1 and min(shares[1], shares[2]) > shares[3] > shares[4], \
    "above T = 1, the hotter the sampling, the fewer grammatical stories"
assert abs(shares[1] - shares[2]) < 0.1, "T = 0.7 and T = 1.0 are within a few points of each other"
assert 0.5 < grammatical["GPT T=1.0"].mean() < 0.75, "at T = 1 around 60% of the GPT's stories are grammatical"

# %% [markdown] slideshow={"slide_type": "-"}
# An **A/B test** of two systems is a win rate with a confidence interval. Is T=0.7 better than T=1.0?

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
head_to_head = np.array([w == 1 for w, l in judgements if {w, l} == {1, 2}], dtype=float)
low, high = metrics.bootstrap_ci(head_to_head, np.mean, n_resamples=1000, seed=0)
print(f"T=0.7 beat T=1.0 in {head_to_head.mean():.0%} of {len(head_to_head)} direct comparisons "
      f"(95% CI {low:.0%}–{high:.0%})")
assert low < 0.5 < high, "with this many votes the two cannot be told apart"

# %% [markdown] slideshow={"slide_type": "-"}
# The interval includes 50%: with this many votes we cannot tell them apart. Detecting a small difference
# takes many judgements — roughly $n \approx 1/\text{(margin)}^2$, so a 55/45 preference needs about 400.
#
# **Bradley–Terry** uses every comparison at once. Each system gets a strength $\theta_i$ and
#
# $$P(i \text{ beats } j) = \sigma(\theta_i - \theta_j) = \frac{1}{1 + e^{-(\theta_i - \theta_j)}}.$$
#
# The maximum-likelihood strengths are a logistic regression on the comparisons. A classic way to fit them is
# the minorization–maximization update (Hunter, 2004), $\;p_i \leftarrow W_i \big/ \sum_{j} \frac{n_{ij}}{p_i + p_j}$
# with $p_i = e^{\theta_i}$, $W_i$ the wins of $i$ and $n_{ij}$ the games between $i$ and $j$. **Elo** ratings
# express the same strengths on a scale where 400 points mean 10:1 odds.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def bradley_terry_mm(pairs, n_items, steps=2000):
    wins = np.bincount(pairs[:, 0], minlength=n_items)
    games = np.zeros((n_items, n_items))
    np.add.at(games, (pairs[:, 0], pairs[:, 1]), 1)
    games = games + games.T                                # n_ij: games between i and j
    p = np.ones(n_items)
    for _ in range(steps):
        p = wins / (games / (p[:, None] + p[None, :])).sum(axis=1)
        p = p / np.exp(np.log(p).mean())                   # only ratios matter: fix the geometric mean at 1
    return np.log(p)


theta = bradley_terry_mm(judgements, 5)
design = np.zeros((len(judgements), 5))                    # one row per comparison: +1 winner, −1 loser
design[np.arange(len(judgements)), judgements[:, 0]] = 1
design[np.arange(len(judgements)), judgements[:, 1]] = -1
flip = np.arange(len(judgements)) % 2 == 1                 # show half the rows from the loser's side
design[flip] *= -1
logistic = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-10, max_iter=10_000).fit(design, ~flip)
diff = max(np.abs(theta - metrics.bradley_terry(judgements, 5)).max(),
           np.abs(theta - (logistic.coef_[0] - logistic.coef_[0].mean())).max())
print(f"max |ours − course_utils.metrics, scikit-learn logistic regression| = {diff:.1e}",
      "✓" if diff < 1e-5 else "✗")
assert diff < 1e-5, "our MM fit equals the package's Bradley–Terry and scikit-learn's logistic regression"

low, high = metrics.bootstrap_ci(judgements, lambda d: metrics.bradley_terry(d, 5), n_resamples=200, seed=0)
elo_orders = np.array([metrics.elo(judgements[np.random.default_rng(seed).permutation(len(judgements))], 5)
                       for seed in range(20)])
print(f"\n{'system':<12}{'grammatical':>12}{'Bradley–Terry (Elo scale)':>27}{'95% CI':>14}"
      f"{'online Elo, 20 orders':>24}")
for k, name in enumerate(system_names):
    lo_k, hi_k = metrics.to_elo_scale([low[k], high[k]])
    print(f"{name:<12}{grammatical[name].mean():>12.0%}{metrics.to_elo_scale(theta[k]):>27.0f}"
          f"{f'{lo_k:.0f}–{hi_k:.0f}':>14}{f'{elo_orders[:, k].min():.0f}–{elo_orders[:, k].max():.0f}':>24}")

fig, ax = plt.subplots(figsize=(9, 3.6))
centre = metrics.to_elo_scale(theta)
errors = np.array([centre - metrics.to_elo_scale(low), metrics.to_elo_scale(high) - centre])
ax.errorbar(range(5), centre, yerr=errors, fmt="o", capsize=5, label="Bradley–Terry, 95% bootstrap CI")
ax.plot(range(5), elo_orders.T, ".", color="C1", alpha=0.3)
ax.plot([], [], ".", color="C1", label="online Elo, 20 orders of the same votes")
ax.set(xticks=range(5), xticklabels=[f"{n}\n{grammatical[n].mean():.0%} grammatical" for n in system_names],
       ylabel="rating (Elo scale)", title="Ratings from 600 simulated A/B judgements")
ax.legend(fontsize=8)
plt.show()
assert theta[0] > max(theta[1], theta[2]) and min(theta[1], theta[2]) > theta[3] > theta[4], \
    "Bradley–Terry recovers the order wherever the grammatical shares differ clearly"
assert low[1] < high[2] and low[2] < high[1], "the intervals of T = 0.7 and T = 1.0 overlap"
assert (elo_orders.max(axis=0) - elo_orders.min(axis=0)).min() > 30, \
    "online Elo gives each system a different rating for each order of the same votes"

# %% [markdown] slideshow={"slide_type": "-"}
# Bradley–Terry recovers the true order wherever the votes can resolve it: storyworld first, T = 1.3 and T = 1.6
# last. T = 0.7 and T = 1.0, whose grammatical shares are within a few points of each other, come out close
# together with overlapping intervals, in an order that 600 noisy votes cannot settle: the intervals say which
# differences the votes support. Online Elo, updated one vote at a time, gives a different answer for each
# order of the *same* votes; that is why leaderboards fit Bradley–Terry to all the votes instead. Real human
# evaluation has problems our simulation leaves out: raters disagree, prefer longer and more confident
# answers, and cannot check facts they do not know.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9.6 — what a rating difference means
# Using the fitted strengths `theta`, compute the probability that GPT at T=0.7 (`theta[1]`) beats GPT at
# T=1.3 (`theta[3]`) in a single comparison (`p_07_beats_13`), and the same probability from the Elo-scale
# ratings `R = metrics.to_elo_scale(theta)` with Elo's formula $1/(1 + 10^{(R_j - R_i)/400})$
# (`p_elo`). They should agree.
#
# <details><summary>💡 Hint</summary>
#
# `1 / (1 + math.exp(-(theta[1] - theta[3])))`; and `R = metrics.to_elo_scale(theta)`, then
# `1 / (1 + 10 ** ((R[3] - R[1]) / 400))`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
p_07_beats_13 = 1 / (1 + math.exp(-(theta[1] - theta[3])))
R = metrics.to_elo_scale(theta)
p_elo = 1 / (1 + 10 ** ((R[3] - R[1]) / 400))
# END SOLUTION

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
check("9.6a", p_07_beats_13, metrics.win_probability(theta[1], theta[3]), rtol=1e-9,
      hint="σ(θ₁ − θ₃) = 1 / (1 + exp(−(θ₁ − θ₃))).")
check("9.6b", p_elo, metrics.win_probability(theta[1], theta[3]), rtol=1e-9,
      hint="The Elo scale is 1000 + 400/ln 10 · θ, so 10^(ΔR/400) = e^(Δθ).")
print(f"P(T=0.7 beats T=1.3) = {metrics.win_probability(theta[1], theta[3]):.2f}")  # the reference value
assert 0.5 < metrics.win_probability(theta[1], theta[3]) < 0.9, "T=0.7 beats T=1.3 more often than not"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. What each metric measures, and what it misses
#
# | metric | measures | misses |
# |---|---|---|
# | perplexity, bits/char | how well the model predicts held-out text of the training distribution | usefulness, truth, safety; depends on tokenizer and protocol; fooled by leaked test text |
# | accuracy | fraction of right answers on a fixed task | class imbalance (compare with the baseline), confidence, the prompt format it was asked in |
# | precision, recall, F1 | errors on one class, in both directions | true negatives; F1 fixes one trade-off between the two |
# | ROC-AUC | ranking quality over every threshold | calibration, the threshold you will deploy, class balance |
# | ECE, reliability diagram | whether probabilities match frequencies | accuracy: always saying "64% happy" is perfectly calibrated here |
# | BLEU, ROUGE | $n$-gram overlap with references | meaning (a flipped word), valid alternatives (synonyms, rewording) |
# | METEOR | overlap with synonyms and stems, recall-weighted | meaning beyond word matches; needs language resources |
# | benchmark suites (GLUE, SuperGLUE, MMLU) | many fixed tasks, one average | contamination, prompt sensitivity, saturation, real use |
# | human A/B, Bradley–Terry, Elo | what people prefer, with uncertainty | rater bias (length, confidence), facts raters cannot check, cost |
#
# High benchmark scores do not mean reliable behaviour in the real world: every score above assumed that
# the test data is like the real data, that it never leaked, and that the question was asked the way the
# model expects. Check those assumptions before trusting the number.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - Perplexity is $e^{\text{mean NLL}}$; compare models with different tokenizers in bits per character, on the
#   same text and protocol. storyworld's floor shows how far a model is from perfect, token by token.
# - Held-out scores assume IID data. On shifted data the same model was many times worse than on IID data.
# - A model that saw the test set scored better than the entropy floor there and worse on fresh data;
#   $n$-gram overlap finds verbatim leaks if $n$ is chosen on clean data, and too-low losses betray memorization.
# - Accuracy, precision, recall, F1, ROC-AUC, the confusion matrix and ECE, written from their definitions,
#   equal scikit-learn's (you wrote the AUC with its ties and the ECE, and the notebook used yours); a majority
#   baseline and macro-F1 keep accuracy honest; temperature scaling fixes overconfidence.
# - BLEU (yours: clipped, summed over the corpus, with the brevity penalty) and ROUGE, equal to sacrebleu and
#   rouge-score, rate a one-word contradiction above a correct paraphrase; METEOR's synonyms help only a little.
# - One model scored 100% or near chance on the same questions depending on the prompt format.
# - Pairwise judgements become Bradley–Terry strengths (a logistic regression) with bootstrap intervals; online
#   Elo depends on the order of the votes.
#
# **Next:** [10 · Capstone](10_capstone.ipynb) — the whole pipeline on real text, and a project of your own. Then
# go back to [00 · Next-token prediction](00_next_token_prediction.ipynb) and look at the bigram models' numbers
# again: you can now say what each one tells you and what it does not.

# %% slideshow={"slide_type": "-"}
summary()
