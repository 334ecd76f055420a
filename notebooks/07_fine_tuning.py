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
# # 07 · Fine-tuning: heads, instructions and LoRA
#
# [Open in Colab](https://colab.research.google.com/github/OWNER/llm-mechanics/blob/main/notebooks/07_fine_tuning.ipynb) · or locally, as the README says
#
# Pretraining left us a GPT that continues storyworld stories. It cannot tell you what a story is about or
# answer a question: nobody asked it to. **Fine-tuning** is supervised learning on labeled examples, started
# from the pretrained weights instead of random ones. The model keeps what pretraining taught it and learns a
# task from a few hundred examples, in seconds. storyworld knows every label and every answer, so each number
# below is scored against ground truth.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Objectives
# By the end of this notebook you can:
# 1. follow the fine-tuning steps: prepare the data, preprocess it, prepare the model, look at its initial
#    predictions, train, evaluate, predict;
# 2. put a classification head on a pretrained GPT and compare training the head alone, the last blocks, and
#    the whole model;
# 3. write instruction (SFT) examples with a prompt template and a loss on the response only, and extend a
#    closed vocabulary for the template;
# 4. measure catastrophic forgetting, and limit it by mixing in pretraining data or with LoRA;
# 5. build LoRA from scratch, count its parameters, merge it into the weights, and sweep its rank;
# 6. write few-shot prompts, measure accuracy against the number of solved examples, and say why in-context
#    learning needs scale;
# 7. write a chat template with roles and special tokens, mask the loss to the assistant's turns, and score a
#    multi-turn conversation turn by turn;
# 8. say how fine-tuning differs from pretraining in data, learning rate and compute.
#
# **Time:** about 40 minutes to read; the cells run in about two minutes on a laptop CPU, offline.

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
import html
import random
import re
import time
from collections import Counter, defaultdict

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import HTML, display

from course_utils import diagrams, storyworld
from course_utils.checks import check, check_function, check_true, summary
from course_utils.finetune import (CHAT_SPECIALS, END_OF_MESSAGE, IGNORE_INDEX, ChatTokenizer, GPTClassifier,
                                   accuracy_by_kind, answer_correct, build_example, build_lm_example, chat_example, collate,
                                   count_parameters, extend_tokenizer, few_shot_prompt, finetune, format_qa_prompt,
                                   format_qa_response, freeze, generate_responses, hidden_states, lm_loss,
                                   new_pieces, qa_examples, render_chat, resize_token_embeddings,
                                   plot_accuracy_by_kind, role_token, template_pieces, train_only_rows)
from course_utils.lora import LoRALinear, apply_lora, merge_lora, trainable_fraction, trainable_parameters
from course_utils.model import load_storyworld_gpt

torch.manual_seed(0)
torch.set_num_threads(2)
plt.rcParams["figure.dpi"] = 80

base, tokenizer, record = load_storyworld_gpt()
freeze(base)  # the pretrained model itself never changes: every experiment trains a copy
print(f"pretrained course GPT: {base.num_parameters():,} parameters, {tokenizer.vocab_size} tokens, "
      f"trained {record['steps']:,} steps on storyworld")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Pre-training vs fine-tuning
#
# | | pre-training | fine-tuning |
# |---|---|---|
# | data | lots of unlabeled text | a few hundred to a few thousand labeled examples |
# | objective | next token, everywhere | the task: a label, or the response to a prompt |
# | learning rate | high (ours: $3\times10^{-3}$), warmup + decay | lower on pretrained weights ($3\times10^{-4}$ to $10^{-3}$); new parameters (a head, adapters) may take more |
# | compute | the big bill (notebook 05: $6ND$) | a tiny fraction of it |
# | result | general knowledge of the text | a specialist, that may forget some of the general |
#
# How much data? For **one task**, a few hundred to about a thousand good examples are often enough (the topic
# classifier below learns from 300 stories). **Multi-task instruction tuning** must cover many kinds of
# instruction at once and uses tens of thousands of examples or more. In both, quality counts more than
# quantity: a small, clean, varied set beats a large noisy one (the LIMA paper, Zhou et al. 2023, tuned a 65B
# LLaMA on 1,000 carefully chosen examples).
#
# Every fine-tuning run below follows the same steps: **(1)** load and prepare the dataset, **(2)** preprocess
# it into token IDs and targets, **(3)** prepare the model (a new head, frozen layers, adapters),
# **(4)** look at its initial predictions, **(5)** train, **(6)** evaluate on held-out data, **(7)** predict.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Classification: a head on the GPT
#
# **(1) Data.** Every storyworld story has a topic label: `share` (a friend asks to play), `lost` (the wind
# takes the toy) or `food` (the friend has a snack). We train on 300 stories and evaluate on 200 held-out
# validation stories.

# %% slideshow={"slide_type": "-"}
TOPICS = ["share", "lost", "food"]
cls_train = storyworld.load_split("train", 300).stories
cls_val = storyworld.load_split("validation", 200).stories
print(Counter(s.topic for s in cls_train), "\n")
print(f"[{cls_train[0].topic}] {cls_train[0].text}")

# %% [markdown] slideshow={"slide_type": "-"}
# **(2) Preprocess.** Tokenize each story (after a newline, as in pretraining), pad the batch on the right,
# and remember each story's length.
#
# **(3) Model.** A GPT predicts the next token from the hidden state at each position. Under causal attention
# only the **last** position has seen the whole story, so a classifier reads that hidden state,
# $h_T \in \mathbb{R}^{128}$, and maps it to one score per class with a new linear layer:
# $\text{logits} = W h_T + b$, $W \in \mathbb{R}^{3 \times 128}$. The language-model head is not used.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.1 — the head on the last real token
# Write `classify(h, lengths, head)`: `h` is the GPT's final hidden states `(B, T, C)` of a right-padded batch,
# `lengths` the number of real tokens of each sequence `(B,)` (or `None` when no sequence is padded), `head`
# an `nn.Linear(C, n_classes)`. Return the class logits `(B, n_classes)`, read from each sequence's **last
# real** token. The check compares yours with the course's `GPTClassifier` (its `last_token` and a head with
# the same weights) on six cases; the three training runs below then classify with yours.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** Under causal attention only the last real token has seen the whole story; the positions
#    after it hold padding, which the story never attended to.
# 2. **The approach.** Sequence $b$'s last real token sits at position `lengths[b] - 1`. Pick one position
#    per row with two index tensors, `h[rows, positions]`, where `rows = torch.arange(B)`: that gives `(B, C)`.
#    (`h[:, lengths - 1]` would take every listed position from every row.) Then apply `head`.
# 3. **A skeleton.**
#    ```python
#    if lengths is None:
#        last = h[:, ___]
#    else:
#        last = h[torch.arange(h.size(0)), ___]              # (B, C)
#    return head(___)
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def classify(h, lengths, head):
    # BEGIN SOLUTION
    if lengths is None:
        return head(h[:, -1])                                  # every sequence is full: the last position
    return head(h[torch.arange(h.size(0)), lengths - 1])       # (B, n_classes): each row's last real token
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
head_generator = torch.Generator().manual_seed(71)
head_cases = {  # what each case tests: (hidden states, lengths, n_classes)
    "3 stories of lengths 6, 2 and 4": (torch.randn(3, 6, 8, generator=head_generator), torch.tensor([6, 2, 4]), 3),
    "no padding: lengths None": (torch.randn(2, 5, 8, generator=head_generator), None, 3),
    "every story full length": (torch.randn(2, 5, 8, generator=head_generator), torch.tensor([5, 5]), 3),
    "one story of one token": (torch.randn(1, 1, 8, generator=head_generator), torch.tensor([1]), 2),
    "5 stories, 10 classes": (torch.randn(5, 7, 16, generator=head_generator), torch.tensor([3, 7, 1, 6, 2]), 10),
    "2 stories, one class score": (torch.randn(2, 4, 8, generator=head_generator), torch.tensor([2, 3]), 1),
}


def head_logits(classify_function, case):
    h, lengths, n_classes = head_cases[case]
    torch.manual_seed(0)
    head = nn.Linear(h.size(-1), n_classes)                    # random weights and bias, the same for both
    with torch.no_grad():
        return classify_function(h, lengths, head)


def course_classify(h, lengths, head):
    """The course's: GPTClassifier.last_token picks each row's last real token, then the head."""
    return head(GPTClassifier.last_token(h, lengths))


if not check_function("7.1", lambda case: head_logits(classify, case),
                      [((case,), head_logits(course_classify, case)) for case in head_cases],
                      hint="each case is named by what it tests. Row b's last real token is at lengths[b] - 1: "
                           "index with h[torch.arange(B), lengths - 1], or h[:, -1] when lengths is None."):
    print("Using the course's head, GPTClassifier.last_token then the linear head, from here on.")
    classify = course_classify

# %% slideshow={"slide_type": "-"}
def encode_stories(stories):
    ids = [tokenizer.encode("\n" + s.text) for s in stories]
    lengths = torch.tensor([len(i) for i in ids])
    x = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)  # padding after a story is never seen
    for row, i in enumerate(ids):
        x[row, :len(i)] = torch.tensor(i)
    return x, lengths, torch.tensor([TOPICS.index(s.topic) for s in stories])


x_train, len_train, y_train = encode_stories(cls_train)
x_val, len_val, y_val = encode_stories(cls_val)
print(f"train {tuple(x_train.shape)}, validation {tuple(x_val.shape)}; lengths {int(len_val.min())}–{int(len_val.max())}")

classifier = GPTClassifier(copy.deepcopy(base), n_classes=len(TOPICS))
with torch.no_grad():
    before = classifier(x_val, len_val).argmax(-1)
print(f"(4) initial predictions, random head: accuracy {(before == y_val).float().mean():.1%} "
      f"(chance {1 / len(TOPICS):.1%}); predicted classes {Counter(TOPICS[i] for i in before.tolist())}")

# %% [markdown] slideshow={"slide_type": "-"}
# **(5) Train — three ways.** How much of the pretrained model should learn?
#
# - **frozen body**: only the head (387 parameters) learns; the GPT is a fixed feature extractor;
# - **last blocks**: the top 2 of 4 blocks, the final LayerNorm and the head;
# - **full fine-tuning**: everything.
#
# The new head gets a high learning rate ($10^{-2}$), pretrained weights a low one ($3\times10^{-4}$).
# Frozen layers need no gradient, so we run them **once** over the data and cache their output: training the
# top of a model is cheap. Each run gets the same 60 steps of 16 stories.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def train_classifier(first_trainable, steps=60, seed=0):
    """Train blocks first_trainable.. (and the head) of a copy of the pretrained GPT on the topic labels."""
    torch.manual_seed(seed)
    model = GPTClassifier(copy.deepcopy(base), n_classes=len(TOPICS), seed=seed)
    gpt, n_layer = model.gpt, base.config.n_layer
    freeze(gpt, frozen=first_trainable > 0)
    for block in gpt.transformer.h[first_trainable:]:
        freeze(block, frozen=False)
    freeze(gpt.transformer.ln_f, frozen=first_trainable == n_layer)
    start = time.perf_counter()
    with torch.no_grad():   # the frozen lower blocks, run once
        low_train = hidden_states(gpt, x_train, last=first_trainable, final_norm=False) if first_trainable else None
        low_val = hidden_states(gpt, x_val, last=first_trainable, final_norm=False) if first_trainable else None

    def logits(rows, x, lengths, low):
        h = hidden_states(gpt, x=low[rows], first=first_trainable) if low is not None else hidden_states(gpt, x[rows])
        return classify(h, lengths[rows], model.head)            # your head on the last real token

    optimizer = torch.optim.AdamW([{"params": [p for p in gpt.parameters() if p.requires_grad], "lr": 3e-4},
                                   {"params": model.head.parameters(), "lr": 1e-2}], weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        rows = torch.randint(len(cls_train), (16,), generator=g)
        loss = F.cross_entropy(logits(rows, x_train, len_train, low_train), y_train[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = (logits(torch.arange(len(cls_val)), x_val, len_val, low_val).argmax(-1) == y_val).float().mean()
    return dict(accuracy=accuracy.item(), trainable=count_parameters(model)[0], losses=losses,
                seconds=time.perf_counter() - start, model=model)


regimes = {"frozen body (head only)": 4, "last 2 blocks + head": 2, "full fine-tuning": 0}
cls_results = {name: train_classifier(first) for name, first in regimes.items()}
print(f"{'(6) evaluate':<26}{'trainable params':>17}{'val accuracy':>14}   time")
for name, r in cls_results.items():
    print(f"{name:<26}{r['trainable']:>17,}{r['accuracy']:>14.1%}   {r['seconds']:.1f}s")
accuracy = {name: r["accuracy"] for name, r in cls_results.items()}
assert 0.5 < accuracy["frozen body (head only)"] < 0.95, "the head alone learns the topic, but not well, in 60 steps"
assert min(accuracy["last 2 blocks + head"], accuracy["full fine-tuning"]) > 0.97, "unfrozen top blocks learn it"

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for name, r in cls_results.items():
    axes[0].plot(r["losses"], label=name, alpha=0.8)
axes[0].set(xlabel="step", ylabel="cross-entropy", title="Training loss (batches of 16)", yscale="log")
axes[0].legend()
names = list(cls_results)
axes[1].barh(names, [cls_results[n]["accuracy"] for n in names], color=["C0", "C1", "C2"])
axes[1].axvline(1 / 3, color="gray", ls=":", label="chance")
axes[1].set(xlim=(0, 1), xlabel="validation accuracy", title="Topic accuracy after 60 steps")
axes[1].legend(loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# The last hidden state of the frozen model was trained for one thing: predicting the token after the
# story's final full stop. The topic is in there, but not laid out for a linear head; 60 steps of the head alone
# do not find it well. Let the top blocks learn and they route the topic to the last position within a few
# steps. With its features cached, the frozen-body head can afford many more steps:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
long_frozen = train_classifier(4, steps=1000)
print(f"head only, 1,000 steps: {long_frozen['accuracy']:.1%} in {long_frozen['seconds']:.1f}s — "
      f"still only {long_frozen['trainable']} parameters trained")
assert long_frozen["accuracy"] > 0.9, "with its features cached, the head alone gets above 90% in 1,000 steps"

# %% [markdown] slideshow={"slide_type": "-"}
# **(7) Predict** with the fully fine-tuned classifier, on stories it has never seen:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
topic_model = cls_results["full fine-tuning"]["model"].eval()
with torch.no_grad():
    probs = topic_model(x_val[:4], len_val[:4]).softmax(-1)
for s, p in zip(cls_val[:4], probs):
    print(f"true {s.topic:<6} predicted {TOPICS[p.argmax()]:<6} ({p.max():.1%})  …{s.text[210:290]}…")
assert [TOPICS[i] for i in probs.argmax(-1)] == [s.topic for s in cls_val[:4]], "all four predicted right"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.2 — zero-shot, without any head
# Some labels need no fine-tuning at all. The ending of a story (happy or sad) is written in its last word,
# which the pretrained language model has learned to predict. Write `zero_shot_ending(story)` that cuts the
# story just before its final emotion word (keep the text up to and including the last `" was"`), runs the
# pretrained `base` model on `"\n" + cut`, and returns `"happy"` if the happy emotion words
# (`storyworld.LEXICON.happy_emotions`) get more total next-token probability than the sad ones, else `"sad"`.
#
# <details><summary>💡 Hint</summary>
#
# `cut = story.text[:story.text.rfind(" was") + 4]`; the probabilities are
# `base(torch.tensor([tokenizer.encode("\n" + cut)]))[0][0, -1].softmax(-1)`; the token of a word `w` is
# `tokenizer.stoi[" " + w]`.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def zero_shot_ending(story):
    # BEGIN SOLUTION
    cut = story.text[:story.text.rfind(" was") + 4]
    with torch.no_grad():
        probs = base(torch.tensor([tokenizer.encode("\n" + cut)]))[0][0, -1].softmax(-1)
    happy = sum(probs[tokenizer.stoi[" " + w]] for w in storyworld.LEXICON.happy_emotions)
    sad = sum(probs[tokenizer.stoi[" " + w]] for w in storyworld.LEXICON.sad_emotions)
    return "happy" if happy > sad else "sad"
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("7.2", zero_shot_ending, [((s,), s.ending) for s in cls_val[:12]],
               hint="Compare the summed probabilities of ' happy', ' proud', ' glad' with ' sad', ' angry', ' lonely'.")
zero_shot = sum(zero_shot_ending(s) == s.ending for s in cls_val) / len(cls_val)
print(f"zero-shot ending accuracy on {len(cls_val)} validation stories: {zero_shot:.1%} "
      f"(majority class: {max(Counter(s.ending for s in cls_val).values()) / len(cls_val):.1%})")

# %% [markdown] slideshow={"slide_type": "-"}
# Zero-shot works when the label is something the language model already predicts. The topic is not a next
# token anywhere, so it needed a head — and a few hundred examples were enough.

# %% [markdown] slideshow={"slide_type": "-"}
# **In-context learning.** Between zero-shot and fine-tuning lies a third option: put a few solved examples in
# the prompt (**few-shot** prompting) and let the model continue the pattern — `<story 1> Topic: share`,
# `<story 2> Topic: lost`, `<story 3> Topic: food`, then the new story and `Topic:`. No weight changes: the model
# picks the task up inside one forward pass and forgets it with the prompt. That is its appeal; it has two costs:
#
# - **context**: every example takes up room in the context window, and is paid for again with every request.
#   Our stories are 75 to 108 tokens long (printed above) and the window holds 128: not even one example fits
#   beside the story to be labeled;
# - **scale**: learning a task from examples in the prompt is an ability that grows with model size. The GPT-3
#   paper (Brown et al. 2020) found the gap between zero-shot and few-shot accuracy widening from its smallest
#   models to the 175B one. Models of our size gain little from it.
#
# For a small model the answer is to train on the examples instead: fine-tuning, the rest of this notebook.
# Section 6 measures in-context learning anyway, on questions short enough for four examples to fit.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Instruction fine-tuning (SFT)
#
# Now teach the model to **answer questions** about a story: instruction → response. Each story comes with
# question/answer pairs (who, what colour, where, whom they met, how they felt, a pet, the friend's food): seven
# small tasks in one training set, a miniature of **multi-task instruction tuning**. The prompt template:
#
# ```
# \n<story>\nQ: <question>\nA: <answer>\n
# ```
#
# The **prompt** is everything up to `A:`; the **response** is ` <answer>\n`, and its final newline teaches
# the model to stop.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.1 A closed vocabulary meets a template
# Our tokenizer is word-level and knows only storyworld's 175 tokens. What does it make of a question?

# %% slideshow={"slide_type": "-"}
hero = cls_val[0].qa[0].answer
for question in ("Who is the story about?", f"Who did {hero} meet?", f"Where did {hero} go?"):
    pieces = tokenizer.split(f"\nQ: {question}\nA:")
    print(f"{question:<28} → {[p if p in tokenizer.stoi else '<unk>' for p in pieces]}")
qa_train = storyworld.load_split("train", 400).stories
qa_val = storyworld.load_split("validation", 100).stories
missing = new_pieces(tokenizer, template_pieces(qa_train))
print(f"\n{len(missing)} pieces of the template are not in the vocabulary: {missing}")

# %% [markdown] slideshow={"slide_type": "-"}
# `Who did Lucy meet?` and `Where did Lucy go?` become the same token sequence: no model could tell them apart.
# Rephrasing with known words is impossible (there is no `Who`, no `Q`, no `:`), so we **extend the
# vocabulary**:
#
# 1. a new tokenizer with the old tokens plus these 20. The word tokenizer sorts its vocabulary, so most old
#    tokens get *new IDs*: weights must be copied by token string, not by row number;
# 2. a new GPT with 195 embedding rows (the output layer is the same, tied matrix). Every other weight is
#    copied. Each new row starts at the **mean** of the old rows plus a little noise: an average token, so the
#    model does not suddenly predict it, and distinct rows, so `Who` and `Where` can learn to differ;
# 3. check that nothing the model knew has changed.
#
# The shipped checkpoint stays untouched: this happens on a copy (`course_utils.finetune.resize_token_embeddings`).

# %% slideshow={"slide_type": "-"}
sft_tokenizer = extend_tokenizer(tokenizer, template_pieces(qa_train))
extended = resize_token_embeddings(base, tokenizer, sft_tokenizer)
text = "\n" + qa_val[0].text
with torch.no_grad():
    old_logits = base(torch.tensor([tokenizer.encode(text)]))[0]
    new_logits = extended(torch.tensor([sft_tokenizer.encode(text)]))[0]
old_rows = torch.tensor([sft_tokenizer.stoi[t] for t in tokenizer.itos])  # where each old token went
diff = (new_logits[..., old_rows] - old_logits).abs().max().item()
print(f"vocabulary {tokenizer.vocab_size} → {sft_tokenizer.vocab_size}; ' Lily' was ID {tokenizer.stoi[' Lily']}, "
      f"is ID {sft_tokenizer.stoi[' Lily']}")
print(f"max |old-token logits, extended − original| = {diff:.1e}", "✓" if diff == 0 else "✗")
assert diff == 0
unknown = sum(sft_tokenizer.encode(t).count(0) for t in template_pieces(qa_val))
print(f"<unk> tokens left in the validation prompts and answers: {unknown}")
assert unknown == 0

# %% [markdown] slideshow={"slide_type": "-"}
# The old logits are bit-for-bit the same; only the softmax now also spreads a sliver of probability over the 20
# new tokens. We will measure that sliver with the language-model loss in section 4.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.2 The loss on the response only
# An SFT example is the usual (input, next-token target) pair — with every target inside the prompt set to
# $-100$, which `cross_entropy` (and `GPT.forward`) skips. The model should learn to **answer**, not to write
# stories and questions; and the story's hundred tokens would otherwise swamp the answer's three. The loss is
#
# $$\mathcal{L} = -\frac{1}{|R|} \sum_{t \in R} \log p_\theta(x_{t+1} \mid x_{\le t}),$$
#
# with $R$ the positions whose next token belongs to the response.

# %% slideshow={"slide_type": "-"}
qa = qa_val[0].qa[2]
prompt, response = format_qa_prompt(qa_val[0].text, qa.question), format_qa_response(qa.answer)
example = build_example(sft_tokenizer, prompt, response)
n_prompt = len(sft_tokenizer.encode(prompt))
print(f"{'position':>8}  {'input':<10} {'target':<10} scored")
for t in range(n_prompt - 4, len(example.input_ids)):
    target = example.targets[t].item()
    shown = "-100" if target == IGNORE_INDEX else repr(sft_tokenizer.itos[target])
    print(f"{t:>8}  {sft_tokenizer.itos[example.input_ids[t]]!r:<10} {shown:<10} {'✓' if target != IGNORE_INDEX else ''}")
print(f"{example.n_scored} of {len(example.targets)} targets are scored")

# %% [markdown] slideshow={"slide_type": "-"}
# **Proof.** The model's loss on the masked example equals a cross-entropy computed by hand over the response
# positions alone, and the prompt positions receive exactly zero gradient: nothing in this loss pushes the
# model to predict the story or the question.

# %% slideshow={"slide_type": "-"}
x, y = example.input_ids[None], example.targets[None]
logits = extended(x)[0].detach().requires_grad_(True)          # (1, T, V), a leaf so we can read its gradient
masked_loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=IGNORE_INDEX)
masked_loss.backward()
by_hand = F.cross_entropy(logits[0, n_prompt - 1:].detach(), example.targets[n_prompt - 1:])
with torch.no_grad():
    model_loss = extended(x, y)[1]
    unmasked = build_example(sft_tokenizer, prompt, response, mask_prompt=False)
    full_loss = extended(unmasked.input_ids[None], unmasked.targets[None])[1]
diff = max(abs(masked_loss.item() - by_hand.item()), abs(model_loss.item() - by_hand.item()))
prompt_grad = logits.grad[0, :n_prompt - 1].abs().max().item()
print(f"masked loss {model_loss.item():.2f}, by hand over the {example.n_scored} response tokens {by_hand.item():.2f}: "
      f"max |masked − by hand| = {diff:.1e}", "✓" if diff < 1e-5 else "✗")   # float32 rounding near 11: ~1e-6
print(f"largest gradient on a prompt position's logits: {prompt_grad:.1e}", "✓" if prompt_grad == 0 else "✗")
print(f"unmasked loss (every token, story included): {full_loss.item():.2f}")
assert diff < 1e-5 and prompt_grad == 0 and example.n_scored == len(sft_tokenizer.encode(response))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.3 — mask the prompt
# Write `mask_prompt(prompt_ids, response_ids)` that returns `(inputs, targets)` as lists: the inputs are all
# tokens but the last, the targets all tokens but the first, and every target that belongs to the prompt
# replaced by `-100`.
#
# <details><summary>💡 Hint</summary>
#
# `ids = prompt_ids + response_ids`; `targets = ids[1:]`; the first `len(prompt_ids) - 1` targets are prompt
# tokens.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def mask_prompt(prompt_ids, response_ids):
    # BEGIN SOLUTION
    ids = list(prompt_ids) + list(response_ids)
    targets = ids[1:]
    targets[:len(prompt_ids) - 1] = [-100] * (len(prompt_ids) - 1)
    return ids[:-1], targets
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("7.3", mask_prompt, [
    (([5, 6, 7], [8, 9]), ([5, 6, 7, 8], [-100, -100, 8, 9])),
    (([1], [2]), ([1], [2])),
    ((sft_tokenizer.encode(prompt), sft_tokenizer.encode(response)),
     (example.input_ids.tolist(), example.targets.tolist())),
], hint="Shift by one first, then overwrite the first len(prompt_ids) - 1 targets with -100.")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.3 Train and evaluate
# **Data:** 400 training stories give 2,527 (prompt, response) examples; 100 validation stories give 632.
# **Initial predictions:** the extended pretrained model, asked a question, simply continues the story.

# %% slideshow={"slide_type": "-"}
sft_train = qa_examples(qa_train, sft_tokenizer)
sft_val = qa_examples(qa_val, sft_tokenizer)
PAD = sft_tokenizer.stoi["\n"]
question_type = [qa.kind for s in qa_val for qa in s.qa]  # what each asks for: 'hero', 'colour', ...
demo = qa_val[1]
demo_prompts = [sft_tokenizer.encode(format_qa_prompt(demo.text, qa.question)) for qa in demo.qa]


def show_answers(model, title):
    answers = generate_responses(model, demo_prompts, max_new_tokens=8, stop_id=PAD)
    print(title)
    for qa, ids in zip(demo.qa, answers):
        said = sft_tokenizer.decode(ids).strip()
        print(f"  {qa.question:<36} {said!r:<24} {'✓' if said == qa.answer else '✗ (true: ' + qa.answer + ')'}")


print(demo.text, "\n")
show_answers(extended, "before fine-tuning:")

# %% [markdown] slideshow={"slide_type": "-"}
# **Scoring.** An answer is right when greedy decoding writes exactly the true answer and then stops. That
# needs no generation loop: greedy decoding writes the true answer iff, with the true answer fed in
# (*teacher forcing*), the argmax at every response position is the next true token. One forward pass scores
# all 632 questions (`answer_correct`); we check the shortcut against real generation on a few of them later.
#
# **Train:** full fine-tuning, 100 steps of 16 examples, learning rate $10^{-3}$ with warmup and cosine decay.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
before_correct = answer_correct(extended, sft_val, PAD)
full_model = copy.deepcopy(extended)
freeze(full_model, frozen=False)
start = time.perf_counter()
full_losses = finetune(full_model, sft_train, steps=100, batch_size=16, lr=1e-3, pad_id=PAD)
print(f"100 steps in {time.perf_counter() - start:.1f}s; loss {full_losses[0]:.2f} → {sum(full_losses[-10:]) / 10:.2f}")
read = 100 * 16 * sum(len(e.input_ids) for e in sft_train) / len(sft_train)
scored = 100 * 16 * sum(e.n_scored for e in sft_train) / len(sft_train)
pretraining = record["steps"] * 32 * 128          # the checkpoint: batches of 32 windows of 128 tokens
print(f"compute: SFT read ~{read:,.0f} tokens ({read / pretraining:.1%} of the checkpoint's {pretraining:,} "
      f"pretraining tokens) and learned from ~{scored:,.0f} of them")
full_correct = answer_correct(full_model, sft_val, PAD)
print(f"answer accuracy on held-out stories: before {before_correct.float().mean():.1%}, "
      f"after {full_correct.float().mean():.1%}")
assert before_correct.sum() == 0, "before fine-tuning the model answers nothing: it continues the story"
assert 0.3 < full_correct.float().mean() < 0.6, "after 100 steps it answers somewhat under half of the questions"

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
prompts_check = [e.input_ids[:int((e.targets == IGNORE_INDEX).sum()) + 1].tolist() for e in sft_val[:48]]
generated = generate_responses(full_model, prompts_check, max_new_tokens=8, stop_id=PAD)
truth = [e.targets[e.targets != IGNORE_INDEX].tolist() for e in sft_val[:48]]
agree = sum((g == t) == bool(c) for g, t, c in zip(generated, truth, full_correct[:48]))
print(f"one-pass scoring agrees with greedy generation on {agree} of 48 questions", "✓" if agree == 48 else "✗")
assert agree == 48, "one forward pass scores exactly what greedy generation writes"
show_answers(full_model, "\nafter fine-tuning:")

# %% [markdown] slideshow={"slide_type": "-"}
# Per question type, next to the best **guess** that ignores the story (the most common training answer for that
# type):

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
train_answers = defaultdict(Counter)
for s in qa_train:
    for qa in s.qa:
        train_answers[qa.kind][qa.answer] += 1
guess = {kind: answers.most_common(1)[0][0] for kind, answers in train_answers.items()}
val_answers = [qa.answer for s in qa_val for qa in s.qa]
guess_acc = accuracy_by_kind(question_type, [a == guess[k] for k, a in zip(question_type, val_answers)])
after_by_type = accuracy_by_kind(question_type, full_correct)
ax = plot_accuracy_by_kind({"after SFT": after_by_type, "best story-blind guess": guess_acc}, colors=["C0", "gray"],
                           title="SFT answer accuracy by question type (held-out stories)")
ax.figure.tight_layout()
plt.show()
for k in after_by_type:
    print(f"{k:<8} after SFT {after_by_type[k]:6.1%}   story-blind guess {guess[k]!r:<12} {guess_acc[k]:6.1%}")
details = ["colour", "place", "feeling", "pet", "food"]
assert min(after_by_type["hero"], after_by_type["friend"]) > 0.9, "who the hero is and whom they met: nearly always"
assert all(after_by_type[k] < 0.5 for k in details), "a detail mentioned once: mostly wrong"
assert all(after_by_type[k] < guess_acc[k] + 0.2 for k in details), "at most a little better than a story-blind guess"
assert after_by_type["pet"] < guess_acc["pet"], "on the pet question worse than the guess"

# %% [markdown] slideshow={"slide_type": "-"}
# The picture is honest and typical. In 100 steps the model learned the **format** (every answer is a name,
# a colour, a place, ... followed by a stop) and the questions whose answer it already tracked during
# pretraining: who the hero is and whom they met, nearly always right. Where the answer is a detail mentioned
# once (the toy's colour, the place, the exact emotion, the pet, the food) it answers in the right category but
# is mostly wrong: at best some points above a guess that ignores the story (the place, the feeling), level with
# it or below elsewhere — on the pet question far below, because it mostly invents a pet. (Each type has about
# 100 held-out questions, so a difference of a few points is noise.)
# A fluent, confident, wrong answer: a **hallucination**. Copying a detail out of the context is a
# skill this small model did not need during pretraining, and fine-tuning learns new skills slowly; it mostly
# surfaces the ones pretraining built. Notebook 08 uses preference pairs against exactly these
# hallucinations.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Catastrophic forgetting
#
# Fine-tuning changes weights that pretraining set, and nothing in the SFT loss asks the model to keep writing
# stories. Measure the language-model loss on 100 held-out stories before and after, and let each model write
# one:

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
lm_val = [build_lm_example(sft_tokenizer, "\n" + s.text + "\n") for s in qa_val]
lm_before = lm_loss(extended, lm_val, PAD)
lm_full = lm_loss(full_model, lm_val, PAD)
print(f"language-model loss on held-out stories (nats/token): pretrained {lm_before:.3f}, after SFT {lm_full:.3f}")
start_ids = torch.tensor([[PAD]])
written = {}
for name, model in (("pretrained", extended), ("after SFT", full_model)):
    written[name] = sft_tokenizer.decode(model.generate(start_ids, 45, temperature=0)[0, 1:])
    print(f"\n{name}: {written[name]!r}")
assert lm_full > 3 * lm_before, "the language-model loss several times higher after SFT"
assert written["after SFT"].count("\n") > written["pretrained"].count("\n") + 2, "it now ends lines after a word"

# %% [markdown] slideshow={"slide_type": "-"}
# That is **catastrophic forgetting**: 100 steps on questions wrecked story writing. The answers end with a
# newline right after a name or a word, and the model now does that inside stories too. The remedies
# from the lecture:
#
# 1. do not fine-tune when you do not need to (section 2's zero-shot ending needed nothing);
# 2. fine-tune on several tasks at once — here, **mix pretraining data back in**: 100 plain stories (loss on
#    every token) among the 2,527 Q&A examples;
# 3. **parameter-efficient fine-tuning** (PEFT): freeze the model and train a few new parameters (section 5).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
lm_mix_examples = [build_lm_example(sft_tokenizer, "\n" + s.text + "\n")
                   for s in storyworld.load_split("train", 500).stories[400:]]
mixed_model = copy.deepcopy(extended)
freeze(mixed_model, frozen=False)
finetune(mixed_model, sft_train + lm_mix_examples, steps=100, batch_size=16, lr=1e-3, pad_id=PAD)
mixed_correct = answer_correct(mixed_model, sft_val, PAD)
lm_mixed = lm_loss(mixed_model, lm_val, PAD)
print(f"SFT + 4% pretraining data: answer accuracy {mixed_correct.float().mean():.1%} "
      f"(plain SFT {full_correct.float().mean():.1%}); LM loss {lm_mixed:.3f} (plain SFT {lm_full:.3f}, "
      f"pretrained {lm_before:.3f})")
print(f"\nit still writes: {sft_tokenizer.decode(mixed_model.generate(start_ids, 45, temperature=0)[0, 1:])!r}")
assert abs(mixed_correct.float().mean() - full_correct.float().mean()) < 0.05, "answers as good as plain SFT's"
assert lm_mixed < 1.3 * lm_before, "story writing survives: LM loss close to the pretrained model's"

# %% [markdown] slideshow={"slide_type": "-"}
# Four percent of the examples — but each story scores about 100 tokens against an answer's 3, so the plain
# stories carry more than half of the loss. The answers are as good as before and story writing survives.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. LoRA from scratch
#
# **PEFT** freezes the pretrained weights and trains a few new parameters. **LoRA** (low-rank adaptation)
# does it for each linear layer $y = W x$, $W \in \mathbb{R}^{d_\text{out} \times d_\text{in}}$: it adds two thin
# matrices and trains only them,
#
# $$y = W x + \frac{\alpha}{r} B A x, \qquad A \in \mathbb{R}^{r \times d_\text{in}},\;
# B \in \mathbb{R}^{d_\text{out} \times r},\; r \ll d_\text{in}, d_\text{out}.$$
#
# $B$ starts at zero, so training starts from exactly the pretrained model; $A$ starts random. The update
# $\Delta W = \frac{\alpha}{r} B A$ has rank at most $r$ and costs $r(d_\text{in} + d_\text{out})$ parameters
# instead of $d_\text{in} d_\text{out}$. After training it can be **merged**: $W' = W + \Delta W$ is one
# ordinary matrix, so inference costs nothing extra.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The bypass
# Drawn for the layer this notebook adapts first: the first block's `c_attn`, which maps the 128 numbers of
# a position to its query, key and value (384), with $r = 4$. The input goes both ways; only the right-hand
# path trains.

# %% slideshow={"slide_type": "-"}
qkv = extended.transformer.h[0].attn.c_attn
diagrams.lora_bypass(d_in=qkv.in_features, d_out=qkv.out_features, rank=4)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.4 — LoRA's forward pass and its merge
# `MyLoRALinear` below wraps a frozen `nn.Linear` (`self.base`, weight $W$ and maybe a bias) and holds
# `lora_A` $(r \times d_\text{in})$, `lora_B` $(d_\text{out} \times r)$ and `scaling` $= \alpha / r$. Write
#
# - `forward(x)`: $W x + b + \frac{\alpha}{r} B A x$ for `x` of shape `(..., d_in)` (one vector, a batch, a
#   batch of sequences), without ever forming the $d_\text{out} \times d_\text{in}$ matrix $BA$;
# - `merge()`: a new plain `nn.Linear` with weight $W + \frac{\alpha}{r} B A$ and the base's bias (or none,
#   when the base has none), which computes the same function.
#
# The check gives yours and the course's `course_utils.lora.LoRALinear` the same random $A$ and $B$ (a
# trained $B$ is not zero) and compares outputs, merged outputs and merged parameters on five cases. Every
# LoRA run below (the fine-tuning, the merge and the rank sweep) then trains *your* adapters.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The frozen path and the low-rank path are added. The low-rank path squeezes $x$ to $r$
#    numbers with $A$ and expands them with $B$; merging folds that path into the weight once.
# 2. **The approach.** `nn.Linear` computes $x W^\top + b$, so the low-rank path on a row vector is
#    `x @ A.T @ B.T` (cost $r(d_\text{in} + d_\text{out})$ per token). In `merge`, build
#    `nn.Linear(d_in, d_out, bias=...)` and `copy_` into its parameters under `torch.no_grad()`: $B A$ is
#    $(d_\text{out} \times d_\text{in})$, the shape of $W$.
# 3. **A skeleton.**
#    ```python
#    def forward(self, x):
#        return self.base(x) + self.scaling * (x @ ___ @ ___)
#
#    def merge(self):
#        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=___)
#        with torch.no_grad():
#            merged.weight.copy_(self.base.weight + ___)
#            if self.base.bias is not None:
#                merged.bias.copy_(___)
#        return merged
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
class MyLoRALinear(nn.Module):
    def __init__(self, base_layer, rank, alpha=None, seed=0):
        super().__init__()
        self.base = base_layer
        for p in self.base.parameters():
            p.requires_grad_(False)                                   # W and b stay frozen
        self.scaling = (rank if alpha is None else alpha) / rank
        bound = 1 / base_layer.in_features ** 0.5
        g = torch.Generator().manual_seed(seed)
        self.lora_A = nn.Parameter(torch.rand(rank, base_layer.in_features, generator=g) * 2 * bound - bound)
        self.lora_B = nn.Parameter(torch.zeros(base_layer.out_features, rank))   # zero: start at the base model

    def forward(self, x):
        # BEGIN SOLUTION
        return self.base(x) + self.scaling * (x @ self.lora_A.T @ self.lora_B.T)   # (..., d_out)
        # END SOLUTION

    def merge(self):
        # BEGIN SOLUTION
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
        # END SOLUTION


# %% slideshow={"slide_type": "-"}
lora_generator = torch.Generator().manual_seed(73)
lora_cases = {  # what each case tests: (base layer, rank, alpha, input)
    "rank 4, alpha 8, a batch of 2 sequences of 3 tokens": (nn.Linear(6, 5), 4, 8.0,
                                                           torch.randn(2, 3, 6, generator=lora_generator)),
    "rank 1, alpha 1, one vector": (nn.Linear(6, 5), 1, 1.0, torch.randn(6, generator=lora_generator)),
    "rank 2, alpha 16, 4 rows": (nn.Linear(8, 3), 2, 16.0, torch.randn(4, 8, generator=lora_generator)),
    "a base layer without bias": (nn.Linear(8, 3, bias=False), 2, 4.0, torch.randn(4, 8, generator=lora_generator)),
    "alpha None: scaling 1, rank 3": (nn.Linear(5, 7), 3, None, torch.randn(2, 5, generator=lora_generator)),
}


def lora_outputs(adapter_class, case):
    """The adapter's output, its merged layer's output, and the merged weight and bias, with the same random
    A and B for every adapter class."""
    base, rank, alpha, x = lora_cases[case]
    adapter = adapter_class(copy.deepcopy(base), rank, alpha)
    generator = torch.Generator().manual_seed(74)
    with torch.no_grad():
        adapter.lora_A.copy_(torch.randn(adapter.lora_A.shape, generator=generator))
        adapter.lora_B.copy_(torch.randn(adapter.lora_B.shape, generator=generator))
        y = adapter(x)
        merged = None if y is None else adapter.merge()
        if merged is None:
            return None
        return y, merged(x), merged.weight, merged.bias


if not check_function("7.4", lambda case: lora_outputs(MyLoRALinear, case),
                      [((case,), lora_outputs(LoRALinear, case)) for case in lora_cases],
                      hint="each case is named by what it tests. forward: base(x) + scaling · x Aᵀ Bᵀ; merge: an "
                           "nn.Linear with W + scaling · B A and the base's bias, or bias=False without one."):
    print("Using the course's LoRALinear, course_utils.lora.LoRALinear, from here on.")
    MyLoRALinear = LoRALinear

# %% [markdown] slideshow={"slide_type": "-"}
# On the GPT's own attention layer, against the course's adapter:

# %% slideshow={"slide_type": "-"}
layer = extended.transformer.h[0].attn.c_attn                       # 128 → 384: q, k and v at once
ours, package = MyLoRALinear(layer, rank=4, alpha=8, seed=1), LoRALinear(layer, rank=4, alpha=8, seed=1)
with torch.no_grad():                                                  # pretend training moved B
    ours.lora_B.normal_(generator=torch.Generator().manual_seed(2))
    package.lora_B.copy_(ours.lora_B)
h = torch.randn(2, 10, 128, generator=torch.Generator().manual_seed(3))
d_package = (ours(h) - package(h)).abs().max().item()
d_merge = (ours.merge()(h) - ours(h)).abs().max().item()
print(f"max |yours − course_utils.lora.LoRALinear| = {'< 1e-6 ✓' if d_package < 1e-6 else f'{d_package:.1e} ✗'}")
print(f"max |merged layer − LoRA layer|           = {'< 1e-5 ✓' if d_merge < 1e-5 else f'{d_merge:.1e} ✗'}")
assert d_package < 1e-6 and d_merge < 1e-5
print(f"this layer: {layer.weight.numel():,} weights; rank-4 LoRA trains {4 * (128 + 384):,}")

# %% [markdown] slideshow={"slide_type": "-"}
# `apply_lora` wraps the four linear layers of every block (attention's q/k/v projection and output, the MLP's
# two layers) and freezes everything else. The 20 new token embeddings must still learn (they carry no
# knowledge yet), so their rows — and only theirs — stay trainable (`train_only_rows`: a gradient hook zeroes
# the other rows' gradients).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
def lora_sft(rank, steps=100, lr=3e-3):
    model = copy.deepcopy(extended)
    apply_lora(model, rank=rank, alpha=2 * rank, adapter=MyLoRALinear)   # your adapters
    lora_only, total = trainable_parameters(model)
    fraction = trainable_fraction(model)
    train_only_rows(model.transformer.wte.weight, [sft_tokenizer.stoi[p] for p in missing])
    start = time.perf_counter()
    losses = finetune(model, sft_train, steps=steps, batch_size=16, lr=lr, pad_id=PAD)
    return dict(model=model, lora=lora_only, fraction=fraction, losses=losses, seconds=time.perf_counter() - start,
                accuracy=answer_correct(model, sft_val, PAD).float().mean().item(), lm=lm_loss(model, lm_val, PAD))


lora4 = lora_sft(rank=4)
new_rows = len(missing) * extended.config.n_embd
print(f"rank 4: LoRA matrices {lora4['lora']:,} parameters = {lora4['fraction']:.2%} of the model, "
      f"plus {new_rows:,} for the 20 new embedding rows")
print(f"answer accuracy {lora4['accuracy']:.1%} (full SFT {full_correct.float().mean():.1%}); "
      f"LM loss {lora4['lm']:.3f} (full SFT {lm_full:.3f}, pretrained {lm_before:.3f})")
assert abs(lora4["accuracy"] - full_correct.float().mean()) < 0.06, "rank 4 answers about as well as full SFT"
assert lm_before < lora4["lm"] < lm_full, "and forgets less"

# %% [markdown] slideshow={"slide_type": "-"}
# **Merge and prove.** Fold every trained adapter into its weight matrix: the model is an ordinary GPT again,
# with the original parameter count, and gives the same outputs.

# %% slideshow={"slide_type": "-"}
lora_model = lora4["model"]
x_check, _ = collate(sft_val[:32], PAD)
with torch.no_grad():
    with_adapters = lora_model(x_check)[0]
    merge_lora(lora_model)
    merged_out = lora_model(x_check)[0]
diff = (merged_out - with_adapters).abs().max().item()
print(f"parameters after merging: {lora_model.num_parameters():,} (the extended GPT has {extended.num_parameters():,})")
print(f"max |merged − with adapters| over 32 sequences = {diff:.1e}", "✓" if diff < 1e-4 else "✗")
assert diff < 1e-4 and lora_model.num_parameters() == extended.num_parameters()
assert torch.equal(answer_correct(lora_model, sft_val, PAD).float().mean(), torch.tensor(lora4["accuracy"]))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.5 — count LoRA's parameters
# A rank-$r$ adapter on a linear layer $d_\text{in} \to d_\text{out}$ adds $r(d_\text{in} + d_\text{out})$
# parameters. Each course GPT block has four targets: $128 \to 384$, $128 \to 128$, $128 \to 512$ and
# $512 \to 128$. How many LoRA parameters does rank 16 add to the 4-block model? Store it in
# `lora16_params`.
#
# <details><summary>💡 Hint</summary>
#
# Per block: $16 \times \big((128+384) + (128+128) + (128+512) + (512+128)\big)$; then times 4 blocks.
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
# BEGIN SOLUTION
lora16_params = 4 * 16 * ((128 + 384) + (128 + 128) + (128 + 512) + (512 + 128))
# END SOLUTION

# %% slideshow={"slide_type": "-"}
probe = copy.deepcopy(extended)
apply_lora(probe, rank=16)
check("7.5", lora16_params, trainable_parameters(probe)[0],
      hint="Add r × (d_in + d_out) over the four layers of a block, then multiply by the number of blocks.")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The rank sweep
# How small can $r$ be? Train ranks 1 and 16 as well, same steps, and put every run of this notebook on one
# chart: what it learned (answer accuracy) against what it forgot (language-model loss).

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
sweep = {1: lora_sft(rank=1), 4: lora4, 16: lora_sft(rank=16)}
print(f"{'rank':>5}{'LoRA params':>13}{'fraction':>10}{'answer acc':>12}{'LM loss':>9}")
for rank, r in sweep.items():
    print(f"{rank:>5}{r['lora']:>13,}{r['fraction']:>10.2%}{r['accuracy']:>12.1%}{r['lm']:>9.3f}")

runs = {"pretrained": (before_correct.float().mean().item(), lm_before),
        "full SFT": (full_correct.float().mean().item(), lm_full),
        "full SFT + pretraining mix": (mixed_correct.float().mean().item(), lm_mixed),
        **{f"LoRA r={rank}": (r["accuracy"], r["lm"]) for rank, r in sweep.items()}}
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for i, (name, (acc, lm)) in enumerate(runs.items()):
    ax.scatter(acc, lm, s=60, color=f"C{i}", label=name)
ax.set(xlabel="answer accuracy (held-out)", ylabel="LM loss on held-out stories", yscale="log",
       title="Learned vs forgotten")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
lora_accuracy = [r["accuracy"] for r in sweep.values()]
assert max(lora_accuracy) - min(lora_accuracy) < 0.08, "every rank reaches about the same answer accuracy"
assert sweep[1]["lm"] < sweep[4]["lm"] < sweep[16]["lm"] < lm_full, "the higher the rank, the more it forgets"
assert lm_mixed < sweep[1]["lm"], "the pretraining mix stays closest to the pretrained model"

# %% [markdown] slideshow={"slide_type": "-"}
# Reading the chart:
#
# - full SFT reaches its accuracy and forgets the most;
# - every LoRA rank reaches about the same answer accuracy (within a few points) and forgets less; rank 1 —
#   8,192 parameters, under 1% of the model — is enough here, because the update this task needs is small:
#   LoRA's premise;
# - a higher rank (with the same $\alpha / r$) lets the adapter move the model further: clearly more
#   forgetting, and at most a few points more accuracy — within the noise of 632 questions;
# - mixing in pretraining data keeps the model closest to where it started, at full fine-tuning's accuracy.

# %% [markdown] slideshow={"slide_type": "-"}
# **Why LoRA fits on one GPU.** Training keeps, for every *trained* parameter, a gradient and the optimizer's
# state: AdamW stores two running averages per parameter (of the gradient and of its square). In the usual
# mixed-precision setup that comes to about 16 bytes per trained parameter — a 16-bit weight and gradient, a
# 32-bit master copy of the weight and the two 32-bit averages — plus the activations. Full fine-tuning of a
# 7-billion-parameter model thus needs about $7 \times 10^9 \times 16$ bytes $\approx 112$ GB, more than one
# 80 GB GPU holds. With LoRA the frozen weights need only their 16-bit copy, 14 GB, and no gradients or optimizer
# state; the adapters, typically well under 1% of the parameters, add tens to hundreds of megabytes. (QLoRA
# goes further and stores the frozen weights in 4 bits.)
#
# **A recipe for a small team.** Pretraining is out of reach (notebook 05's bill), and seldom needed:
#
# 1. start from an open-weights model (Mistral, LLaMA, Phi, ...) that your hardware can run; tools such as
#    Ollama download quantized versions of these models and run them locally, a quick way to try them;
# 2. curate the data: a few hundred to a few thousand clean examples of exactly your task (instruction →
#    response, in the format you will use), checked by hand — this is where the effort pays most;
# 3. train a LoRA adapter on them; evaluate on held-out examples *and* on what the model must not forget
#    (section 4); merge the adapter or serve it beside the base model.

# %% [markdown] slideshow={"slide_type": "-"}
# **How low is the rank of a trained update?** The rank-1 run's first attention adapter, merged by your
# `merge()`: what training added to the frozen weight, $W' - W = \frac{\alpha}{r} B A$, is a
# $384 \times 128$ matrix of rank 1, however long it trained.

# %% slideshow={"slide_type": "-"}
adapter = sweep[1]["model"].transformer.h[0].attn.c_attn
update = (adapter.merge().weight - adapter.base.weight).detach()                 # (384, 128)
update_rank = torch.linalg.matrix_rank(update).item()
print(f"W' − W: shape {tuple(update.shape)}, rank {update_rank}, "
      f"{update.numel():,} numbers made of {adapter.lora_A.numel() + adapter.lora_B.numel():,} trained ones")
assert update_rank == 1

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Few-shot in-context learning, measured
#
# Section 2 set in-context learning aside because a whole story fills most of the 128-token window. Shrink the
# story instead. For three kinds of question — the toy's colour, the friend's name and the final feeling — the
# answer stands in **one sentence** of the story, and that sentence is enough context. The task format is
# section 3's Q&A template around that one sentence: about 25 tokens per solved example, so four examples and
# the question fit in the window (a **$k$-shot prompt**):
#
# ```
# \n<sentence 1>\nQ: <question 1>\nA: <answer 1>\n ... \n<sentence k>\nQ: <question k>\nA: <answer k>\n
# \n<sentence>\nQ: <question>\nA:
# ```
#
# The solved examples come from training stories and ask the same kind of question; the questions come from the
# 100 held-out stories.

# %% slideshow={"slide_type": "-"}
SHOT_KINDS = ("colour", "friend", "feeling")
SHOTS = (0, 1, 2, 4)


def answer_sentence(story, answer):
    """The first sentence of the story that contains the answer: 'She had a white drum.' for 'white'."""
    return next(s.strip() for s in re.findall(r"[^.!?]+[.!?]", story.text) if f" {answer}" in s)


def one_sentence_questions(stories):
    """(sentence, question, answer, kind) for the colour, friend and feeling questions of each story."""
    return [(answer_sentence(s, qa.answer), qa.question, qa.answer, qa.kind)
            for s in stories for qa in s.qa if qa.kind in SHOT_KINDS]


solved_pool = defaultdict(list)                      # kind -> solved examples from training stories
for sentence, question, answer, kind in one_sentence_questions(qa_train):
    solved_pool[kind].append((sentence, question, answer))
queries = one_sentence_questions(qa_val)
rng = random.Random(0)
drawn = [rng.sample(solved_pool[kind], max(SHOTS)) for *_, kind in queries]  # k shots = the first k drawn
print(f"{len(queries)} held-out questions {dict(Counter(kind for *_, kind in queries))}; "
      f"{sum(map(len, solved_pool.values()))} solved examples to draw from\n")
print(few_shot_prompt(drawn[0][:2], *queries[0][:2]))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.6 — a few-shot prompt
# Write `write_few_shot_prompt(shots, story, question)`: `shots` is a list of solved examples
# `(story, question, answer)`; return each of them in the Q&A template, answer and its newline included, then
# `story` and `question` up to `A:`. With no shots it is `format_qa_prompt(story, question)`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** A few-shot prompt is solved examples in exactly the format of the question that follows,
#    so the model can copy the pattern: each example is a whole prompt plus its answer.
# 2. **The approach.** `format_qa_prompt(s, q)` writes a story and question up to `A:`;
#    `format_qa_response(a)` writes an answer with its newline. Join the examples, then add the new question.
# 3. **A skeleton.**
#    ```python
#    solved = "".join(format_qa_prompt(___, ___) + format_qa_response(___) for s, q, a in shots)
#    return solved + ___
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def write_few_shot_prompt(shots, story, question):
    # BEGIN SOLUTION
    solved = "".join(format_qa_prompt(s, q) + format_qa_response(a) for s, q, a in shots)
    return solved + format_qa_prompt(story, question)
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
check_function("7.6", write_few_shot_prompt,
               [((drawn[i][:k], *queries[i][:2]), few_shot_prompt(drawn[i][:k], *queries[i][:2]))
                for i, k in ((0, 0), (1, 1), (2, 4), (150, 2))],
               hint="Each solved example ends with its answer's newline; the new question ends with 'A:'.")

# %% [markdown] slideshow={"slide_type": "-"}
# **Measure.** The same held-out questions with 0, 1, 2 and 4 solved examples, scored exactly as in section 3
# (`answer_correct`: greedy decoding writes the true answer and stops), for two models:
#
# - the **pretrained** model (with the extended vocabulary, no fine-tuning): in-context learning proper;
# - the **SFT** model of section 3, fine-tuned on whole stories with one question each and never shown an
#   example before a question.
#
# Exact answers are a hard bar for a model that has never seen `Q:`. A softer one: at the answer's first
# position, how much probability goes to the right **kind** of word (any colour, any name, any feeling)?

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
LEX = storyworld.LEXICON
kind_words = {"colour": LEX.colours, "friend": LEX.names["female"] + LEX.names["male"],
              "feeling": LEX.happy_emotions + LEX.sad_emotions}
kind_ids = {kind: [sft_tokenizer.stoi[" " + w] for w in words] for kind, words in kind_words.items()}
start = time.perf_counter()
fs_examples = {k: [build_example(sft_tokenizer, few_shot_prompt(d[:k], sentence, question), format_qa_response(answer))
                   for (sentence, question, answer, _), d in zip(queries, drawn)] for k in SHOTS}


@torch.no_grad()
def right_kind_probability(model, examples):
    """Mean probability, at each answer's first position, of the words of the answer's kind."""
    x, y = collate(examples, PAD)
    probs = model(x)[0].softmax(-1)
    first = [int((e.targets == IGNORE_INDEX).sum()) for e in examples]
    return sum(probs[i, t, kind_ids[kind]].sum().item() for i, (t, (*_, kind)) in enumerate(zip(first, queries))) / len(examples)


few_shot = {name: {k: answer_correct(model, fs_examples[k], PAD).float().mean().item() for k in SHOTS}
            for name, model in (("pretrained", extended), ("SFT", full_model))}
kind_mass = {k: right_kind_probability(extended, fs_examples[k]) for k in SHOTS}
print(f"longest prompt: {max(len(e.input_ids) for e in fs_examples[4])} tokens; "
      f"{2 * len(SHOTS) * len(queries)} prompts scored in {time.perf_counter() - start:.1f}s\n")
print(f"{'shots':>5}{'pretrained':>12}{'P(right kind)':>15}{'SFT':>8}")
for k in SHOTS:
    print(f"{k:>5}{few_shot['pretrained'][k]:>12.1%}{kind_mass[k]:>15.3f}{few_shot['SFT'][k]:>8.1%}")
sft_whole = sum(after_by_type[k] for k in SHOT_KINDS) / len(SHOT_KINDS)
guess_whole = sum(guess_acc[k] for k in SHOT_KINDS) / len(SHOT_KINDS)
print(f"\nSFT on whole stories, same three kinds (section 3): {sft_whole:.1%}; story-blind guess {guess_whole:.1%}")
assert max(few_shot["pretrained"].values()) < 0.02, "the pretrained model answers none, with or without examples"
assert max(kind_mass.values()) < 0.01, "and gives under 1% to the right kind of word at any number of shots"
assert few_shot["SFT"][0] < 0.08, "the SFT model, trained on whole stories, fails on one sentence without examples"
assert few_shot["SFT"][4] > few_shot["SFT"][0] + 0.04, "examples in the prompt help it a little"
assert max(few_shot["SFT"].values()) < sft_whole - 0.2, "still far below its accuracy on whole stories"

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].plot(SHOTS, [few_shot["pretrained"][k] for k in SHOTS], "o-", label="pretrained, k shots")
axes[0].plot(SHOTS, [few_shot["SFT"][k] for k in SHOTS], "o-", label="SFT, k shots")
axes[0].axhline(sft_whole, color="C1", ls="--", label="SFT on whole stories (section 3)")
axes[0].axhline(guess_whole, color="gray", ls=":", label="story-blind guess")
axes[0].set(xlabel="solved examples in the prompt (k)", ylabel="exact-answer accuracy", xticks=SHOTS,
            ylim=(-0.03, 1.03), title="Held-out one-sentence questions")
axes[0].legend(fontsize=8)
axes[1].plot(SHOTS, [kind_mass[k] for k in SHOTS], "o-", color="C0")
axes[1].set(xlabel="solved examples in the prompt (k)", ylabel="probability", yscale="log", xticks=SHOTS,
            title="Pretrained: P(a word of the right kind) as the answer")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# **Reading it.** The pretrained model answers none of the 300 questions, with or without examples, and even
# with four in front of it gives under 1% of its probability to the right kind of word: `Q`, `:` and `A` are
# the untrained average rows of section 3.1, and it carries on writing a story. The SFT model knows the
# template but learned to answer after a whole story; after one sentence it answers almost nothing. Two or four
# solved examples help it somewhat, and it stays far below what it reaches on whole stories. For a model this
# small, training on the right inputs beats showing examples in the prompt.
#
# **Why scale matters.** Continuing a pattern shown in the prompt is itself a skill the model must have picked
# up in pretraining: spot that the text repeats a structure (sentence, question, answer), find in the new input
# the part that plays the answer's role, copy it. The GPT-3 paper (Brown et al. 2020) measured this on dozens of
# tasks with eight model sizes from 125 million to 175 billion parameters: zero-shot accuracy grew slowly with
# size, few-shot accuracy much faster, so the gain the examples bring widened with the model, and the smallest
# models gained little. Two reasons usually given: a large model trained on a huge, varied corpus has met
# countless repeated patterns inside one document (lists, tables, FAQ pages, dialogues) and has the capacity
# for general copy-and-match circuits (the *induction heads* Olsson et al. 2022 watched form during
# training); ours has 832,128 parameters, about 200,000 times fewer than GPT-3, and storyworld never puts two
# questions, or two stories, in one document.
# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Chat format and multi-turn dialogue
#
# An assistant is a model fine-tuned to read and write **conversations**. A conversation is still one token
# sequence, written in a fixed **chat template**: each message opens with a token that names its **role** and
# closes with an end-of-message token. Ours:
#
# ```
# <|system|>Once upon a time, ...<|end|><|user|> Who did Lucy meet?<|end|><|assistant|> Jack<|end|><|user|> ...
# ```
#
# - **system**: the setting the whole conversation rests on (here, the story); **user**: the questions;
#   **assistant**: the model's replies;
# - the role and end markers are **special tokens**: each one token of its own, not built from word pieces, so
#   a story or a question cannot look like a role marker — provided text from users may not contain them:
#   production tokenizers encode user text with special tokens disabled (tiktoken refuses them by default), or
#   a user could type `<|assistant|>` and write the model's part;
# - `<|end|>` after an assistant reply is how the model says "your turn": generation stops there, as the SFT
#   answer's newline did.
#
# Real templates have the same parts: ChatML writes `<|im_start|>user\n...<|im_end|>`, Llama 3
# `<|start_header_id|>user<|end_header_id|>\n\n...<|eot_id|>`; a model's tokenizer ships its template, and
# a model answers well only in the template it was tuned on.
#
# **Special tokens in a word tokenizer.** The word pattern cuts `<|user|>` into five pieces. A tokenizer
# with special tokens matches them first, whole, and splits only the text between them
# (`course_utils.finetune.ChatTokenizer`; tiktoken does the same for the special tokens it is allowed to
# encode). The model gets four new embedding rows, started at the mean as in section 3.1.

# %% slideshow={"slide_type": "-"}
chat_tokenizer = ChatTokenizer(sft_tokenizer.itos)        # section 3's vocabulary + 4 special tokens
CHAT_PAD = chat_tokenizer.stoi["\n"]
print("word pattern:", sft_tokenizer.split("<|user|> Who"), "\nwith specials:", chat_tokenizer.split("<|user|> Who"))
print(f"vocabulary {sft_tokenizer.vocab_size} → {chat_tokenizer.vocab_size}: "
      + ", ".join(f"{t} = ID {chat_tokenizer.stoi[t]}" for t in CHAT_SPECIALS))


def story_chat(story, qas):
    """A conversation about one story: the story as the system message, then one user/assistant turn per
    question. A question and an answer start with a space, as in section 3's template."""
    messages = [("system", story.text)]
    for qa in qas:
        messages += [("user", " " + qa.question), ("assistant", " " + qa.answer)]
    return messages


def conversations(stories, max_turns=3, seed=0, full_only=False):
    """Each story's questions in a random order, as many turns as fit the 128-token window (at most max_turns);
    with full_only, only the conversations where all max_turns fit."""
    rng = random.Random(seed)
    out = []
    for story in stories:
        qas = rng.sample(story.qa, len(story.qa))
        n = max_turns
        while n and len(chat_example(chat_tokenizer, story_chat(story, qas[:n])).input_ids) > base.config.block_size:
            n -= 1
        if n == max_turns or (n > 0 and not full_only):
            out.append(story_chat(story, qas[:n]))
    return out


chat_train = [chat_example(chat_tokenizer, m) for seed in (0, 1) for m in conversations(qa_train, seed=seed)]
chat_stories = storyworld.load_split("validation", 200).stories
chat_val_messages = conversations(chat_stories, full_only=True)
chat_val = [chat_example(chat_tokenizer, m) for m in chat_val_messages]
print(f"\ntraining: {len(chat_train)} conversations of 1–3 turns from the 400 training stories; "
      f"held out: three turns fit beside {len(chat_val)} of {len(chat_stories)} validation stories")

# %% [markdown] slideshow={"slide_type": "-"}
# **The loss on the assistant's turns only.** As in section 3.2, every target outside what the model must
# write is $-100$: the story, the questions and the role tokens are context. What is scored is each reply and
# its closing `<|end|>` — predicted from the token before it, so the first scored target is a reply's first
# token, predicted at `<|assistant|>`. In green, the tokens the loss scores:

# %% slideshow={"slide_type": "-"}
def mask_html(tokenizer, example):
    """The example's tokens in boxes: scored targets on green, special tokens in grey."""
    ids = example.input_ids.tolist() + example.targets[-1:].tolist()
    scored = [False] + (example.targets != IGNORE_INDEX).tolist()      # token t + 1 is target t
    boxes = []
    for token, is_scored in zip(ids, scored):
        piece = tokenizer.itos[token]
        style = "background:#a8e0a0;" if is_scored else "color:#888;" if piece in CHAT_SPECIALS else ""
        boxes.append(f'<span style="{style}border:1px solid #ccc;padding:0 2px;white-space:pre">'
                     f'{html.escape(piece)}</span>')
    return '<div style="font-family:monospace;line-height:2">' + "".join(boxes) + "</div>"


demo_chat = chat_val[0]
display(HTML(mask_html(chat_tokenizer, demo_chat)))
replies = [m for m in chat_val_messages[0] if m[0] == "assistant"]
n_reply = sum(len(chat_tokenizer.encode(content)) + 1 for _, content in replies)
print(f"{demo_chat.n_scored} of {len(demo_chat.targets)} targets are scored: the {len(replies)} replies and their <|end|>")
assert demo_chat.n_scored == n_reply

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7.7 — the chat template and its loss mask
# Write `chat_input_targets(messages)` for a list of `(role, content)` messages: the tokens are, message by
# message, the role token (`chat_tokenizer.stoi["<|user|>"]`, ...), the content's tokens and the `<|end|>`
# token. Return `(inputs, targets)` as lists: inputs all tokens but the last, targets all but the first, and
# every target that is not part of an assistant message (its content or its `<|end|>`) replaced by `-100`.
#
# <details><summary>💡 Hint</summary>
#
# 1. **The idea.** The model is taught to write the assistant's replies only: every other token is context,
#    read but never a target.
# 2. **The approach.** Build two lists side by side: the token IDs, and for each token whether it is scored
#    (`False` for every role token, `role == "assistant"` for the content and the `<|end|>`). Target $t$ is
#    token $t+1$, so it keeps its value when token $t+1$ is scored: use `scored[1:]`.
# 3. **A skeleton.**
#    ```python
#    ids, scored = [], []
#    for role, content in messages:
#        body = chat_tokenizer.encode(content) + [___]
#        ids += [chat_tokenizer.stoi[f"<|{role}|>"]] + body
#        scored += [False] + [___] * len(body)
#    targets = [t if s else -100 for t, s in zip(___, ___)]
#    return ___, targets
#    ```
# </details>

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def chat_input_targets(messages):
    # BEGIN SOLUTION
    ids, scored = [], []
    for role, content in messages:
        body = chat_tokenizer.encode(content) + [chat_tokenizer.stoi["<|end|>"]]
        ids += [chat_tokenizer.stoi[f"<|{role}|>"]] + body
        scored += [False] + [role == "assistant"] * len(body)
    targets = [t if s else -100 for t, s in zip(ids[1:], scored[1:])]
    return ids[:-1], targets
    # END SOLUTION


# %% slideshow={"slide_type": "-"}
def _reference(messages):
    example = chat_example(chat_tokenizer, messages)
    return example.input_ids.tolist(), example.targets.tolist()


check_function("7.7", chat_input_targets, [((m,), _reference(m)) for m in (
    [("user", " Who is the story about?"), ("assistant", " Sam")],
    chat_val_messages[1],
    [("system", "Once"), ("user", " Who?"), ("assistant", " Tom"), ("assistant", " Sue"), ("user", " Where?")],
)], hint="Score an assistant's content and its <|end|>, never a role token or a user's words; "
         "target t is token t + 1.")

# %% [markdown] slideshow={"slide_type": "-"}
# **Train.** Start from the SFT model of section 3 (it already answers in the Q&A format), add the four
# special tokens, and fine-tune briefly on the conversations: 40 steps of 16. Then score each turn of the
# held-out conversations with the true earlier answers in the history (teacher forcing, as `answer_correct`
# does): a turn is right when greedy decoding writes its reply exactly and closes it with `<|end|>`.
# The questions come in a random order, so turn 1, 2 and 3 ask the same mix of questions.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
@torch.no_grad()
def turn_correct(model, examples, pad_id):
    """(conversations, turns) booleans: does greedy decoding write each assistant reply exactly, given the
    true history? A turn is a run of consecutive scored targets."""
    x, y = collate(examples, pad_id)
    right = ((model(x)[0].argmax(-1) == y) | (y == IGNORE_INDEX)).tolist()
    out = []
    for row, example in zip(right, examples):
        scored, turns = (example.targets != IGNORE_INDEX).tolist(), []
        for t, is_scored in enumerate(scored):
            if is_scored and (t == 0 or not scored[t - 1]):
                turns.append(True)                           # a reply starts
            if is_scored:
                turns[-1] &= row[t]
        out.append(turns)
    return torch.tensor(out)


start = time.perf_counter()
chat_model = resize_token_embeddings(full_model, sft_tokenizer, chat_tokenizer)
freeze(chat_model, frozen=False)
before_turns = turn_correct(chat_model, chat_val, CHAT_PAD).float().mean(0)
chat_losses = finetune(chat_model, chat_train, steps=40, batch_size=16, lr=1e-3, pad_id=CHAT_PAD)
chat_turns = turn_correct(chat_model, chat_val, CHAT_PAD).float().mean(0)
chat_seconds = time.perf_counter() - start
single = [build_example(sft_tokenizer, format_qa_prompt(messages[0][1], question.strip()),
                        format_qa_response(answer.strip()))
          for messages in chat_val_messages for (_, question), (_, answer) in zip(messages[1::2], messages[2::2])]
alone = answer_correct(full_model, single, PAD).view(len(chat_val), 3).float().mean(0)
print(f"40 steps in {chat_seconds:.1f}s; loss {chat_losses[0]:.2f} → {sum(chat_losses[-5:]) / 5:.2f}\n")
print(f"{'':<44}{'turn 1':>8}{'turn 2':>8}{'turn 3':>8}")
print(f"{'SFT model in the chat template, untrained':<44}" + "".join(f"{a:>8.1%}" for a in before_turns))
print(f"{'chat model (40 steps from SFT)':<44}" + "".join(f"{a:>8.1%}" for a in chat_turns))
print(f"{'SFT model, each question alone, Q&A template':<44}" + "".join(f"{a:>8.1%}" for a in alone))
assert before_turns.max() == 0, "untrained on the template, the SFT model answers no turn"
assert abs(chat_turns.mean() - alone.mean()) < 0.12, "after 40 steps, about as good as SFT asked one question at a time"
assert chat_turns.min() > 0.3 and chat_turns.max() - chat_turns.min() < 0.2, "later turns about as good as the first"

# %% [markdown] slideshow={"slide_type": "-"}
# **Reading it.** Before training, the SFT model answers no turn: `<|assistant|>` is a new, average token and
# nothing tells it an answer comes next. Forty steps, a few seconds, teach the template: the chat model answers
# roughly half of the questions, about as well as the SFT model asked each question alone in its own template,
# and later turns about as well as the first — the earlier questions and answers in the history neither help
# nor confuse it (each turn counts 108 questions, so a few points either way are noise). What the chat format
# adds is structure: roles the model tells apart, replies it closes, several questions about one story in one
# window. The window is also its limit here: three turns fit beside only about half of the stories.

# %% [markdown] slideshow={"slide_type": "-"}
# **A conversation.** Now with the model's own replies in the history, as in use: each turn appends the
# user's question and `<|assistant|>`, and the model writes until it closes its reply with `<|end|>`.

# %% slideshow={"slide_type": "-"}
# NBVAL_IGNORE_OUTPUT
END_ID = chat_tokenizer.stoi[END_OF_MESSAGE]


def converse(model, story, questions):
    """Ask the questions one after another; each reply is generated and stays in the history.
    Returns the messages and, per reply, whether the model closed it with <|end|>."""
    messages, closed = [("system", story)], []
    for question in questions:
        messages.append(("user", " " + question))
        prompt = chat_tokenizer.encode(render_chat(messages) + role_token("assistant"))
        room = min(6, model.config.block_size - len(prompt))     # the window is 128 tokens
        if room < 1:
            break
        reply = generate_responses(model, [prompt], max_new_tokens=room, stop_id=END_ID)[0]
        closed.append(reply[-1] == END_ID)
        messages.append(("assistant", chat_tokenizer.decode(reply).removesuffix(END_OF_MESSAGE)))
    return messages, closed


talk = chat_val_messages[3]
said, closed = converse(chat_model, talk[0][1], [content.strip() for role, content in talk if role == "user"])
print(talk[0][1], "\n")
for (role, content), (_, truth) in zip(said[1:], talk[1:]):
    mark = "" if role == "user" else "✓" if content == truth else f"✗ (true:{truth})"
    print(f"{role:>9}:{content} {mark}")
assert len(closed) == 3 and all(closed), "the chat model closes every reply with <|end|>: it hands the turn back"

# %% [markdown] slideshow={"slide_type": "-"}
# Every reply is well formed and closed. Whether it is right follows section 3's pattern: the hero and the
# friend nearly always, details often hallucinated.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
# - Fine-tuning is supervised learning from pretrained weights: a few hundred labeled examples, a lower
#   learning rate, seconds of compute. The steps: prepare data, preprocess, prepare the model, initial
#   predictions, train, evaluate, predict.
# - **Classification:** a linear head on the last token's hidden state. Head alone: 387 parameters and cheap
#   (frozen layers run once); unfreezing the top blocks learned the topic in 60 steps. Labels the LM already
#   predicts (the ending) need no fine-tuning at all: zero-shot works.
# - **Instruction SFT:** a prompt template, new tokens for it (copied weights, mean-initialized rows, old logits
#   proven unchanged), and a loss masked to the response. The model learned the format and the questions
#   pretraining prepared it for; on details it hallucinates plausible answers.
# - **Catastrophic forgetting:** plain SFT broke story writing. Mixing in 4% pretraining data kept it almost
#   intact; LoRA limited the damage, the more the lower its rank.
# - **LoRA:** $W + \frac{\alpha}{r} BA$ with $B = 0$ at the start; a few percent of the parameters (rank 1:
#   under 1%) matched full fine-tuning here; merged weights give the same outputs. Only the adapters need
#   gradients and AdamW state, which is why LoRA fine-tunes a 7B model on one GPU.
# - **Few-shot prompting:** solved examples before the question, no weight changes. On one-sentence questions
#   (four examples fit in the window) our pretrained model answered none at any number of shots, and the SFT
#   model gained only a little from them: in-context learning grows with scale (GPT-3), and a model this small
#   learns a task from training, not from its prompt.
# - **Chat:** `<|role|>message<|end|>` with special tokens matched before the word pattern; the loss on the
#   assistant's replies and their `<|end|>` only. Forty steps from the SFT model taught the template; three
#   questions about one story in one conversation, each turn about as accurate as one question asked alone.
#
# **Next:** [08 · Alignment](08_alignment.ipynb) — reward models, DPO and PPO against hallucinated answers.

# %% slideshow={"slide_type": "-"}
summary()
