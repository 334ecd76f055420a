"""Fine-tuning the course GPT: a classification head, instruction examples with a response-only loss, and a
vocabulary extension for prompt templates.

Notebook 07 builds each of these step by step; this is the finished version notebook 08 reuses.

* **Prompt template.** A question about a story is asked as::

      \\n<story>\\nQ: <question>\\nA: <answer>\\n

  ``format_qa_prompt`` writes everything up to ``A:`` (the *prompt*), ``format_qa_response`` the rest (the
  *response*, which ends with the newline that tells generation to stop).
* **Vocabulary.** The course checkpoint's word-level vocabulary holds only storyworld's words, so ``Q``,
  ``:``, `` Who``, `` colour``, ... would all become ``<unk>``. ``extend_tokenizer`` adds the missing pieces
  and ``resize_token_embeddings`` builds a GPT with one more embedding row per new token: old rows are
  copied (by token string: the word tokenizer sorts its vocabulary, so IDs move), new rows start at the mean
  of the old ones plus a little noise. On old-vocabulary text the logits of old tokens are unchanged.
* **Response-only loss.** ``build_example`` turns (prompt, response) into inputs and next-token targets
  where every target inside the prompt is ``IGNORE_INDEX`` (-100), which ``GPT.forward`` skips: the model is
  taught to answer, not to write stories and questions.
* **Classification.** ``GPTClassifier`` puts a linear head on the hidden state of the last real token.
* **Scoring.** ``answer_correct`` says whether greedy decoding writes each true answer; ``accuracy_by_kind``
  groups such results by what the question asks for (storyworld's ``QA.kind``), ``plot_accuracy_by_kind``
  draws them as grouped bars.
* **Few-shot prompts.** ``few_shot_prompt`` writes solved examples in the Q&A template before the question:
  in-context learning, no weight changes.
* **Chat format.** ``ChatTokenizer`` adds special tokens (``<|system|>``, ``<|user|>``, ``<|assistant|>``,
  ``<|end|>``) that the word pattern would otherwise cut apart; ``render_chat`` writes a conversation as
  ``<|role|>message<|end|>`` per message, and ``chat_example`` scores only the assistant's messages (their
  tokens and the ``<|end|>`` that closes each, which teaches the model to stop and hand the turn back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
import torch.nn as nn

from .data import IGNORE_INDEX
from .generate import generate
from .model import GPT, GPTConfig
from .storyworld import QUESTION_KINDS
from .tokenizers import CHAT_ROLES, CHAT_SPECIALS, END_OF_MESSAGE, ChatTokenizer, WordTokenizer
from .train import batch_nlls

__all__ = ["IGNORE_INDEX", "QA_TEMPLATE", "format_qa_prompt", "format_qa_response", "template_pieces", "new_pieces",
           "extend_tokenizer", "resize_token_embeddings", "Example", "build_example", "example_from_ids",
           "build_lm_example", "qa_examples", "collate", "hidden_states", "GPTClassifier", "freeze",
           "count_parameters", "train_only_rows", "finetune", "answer_correct", "answer_accuracy",
           "accuracy_by_kind", "plot_accuracy_by_kind", "generate_responses", "lm_loss", "few_shot_prompt",
           "CHAT_ROLES", "END_OF_MESSAGE", "role_token", "CHAT_SPECIALS", "ChatTokenizer", "render_chat",
           "chat_example"]

QA_TEMPLATE = "\n{story}\nQ: {question}\nA: {answer}\n"


def format_qa_prompt(story: str, question: str) -> str:
    """Everything the model reads before it answers: the story, the question, and ``A:``."""
    return f"\n{story}\nQ: {question}\nA:"


def format_qa_response(answer: str) -> str:
    """What the model should write: a space, the answer, and a newline that ends it."""
    return f" {answer}\n"


def few_shot_prompt(shots: Sequence[tuple[str, str, str]], story: str, question: str) -> str:
    """A k-shot prompt: each solved example (story, question, answer) in the Q&A template, answer and final
    newline included, then the new story and question up to ``A:``. With no shots it is format_qa_prompt."""
    solved = "".join(format_qa_prompt(s, q) + format_qa_response(a) for s, q, a in shots)
    return solved + format_qa_prompt(story, question)


# --------------------------------------------------------------------------------------------------
# A bigger vocabulary, and a model with a bigger embedding table
# --------------------------------------------------------------------------------------------------

def template_pieces(stories) -> list[str]:
    """Every text the Q&A template can produce for these stories (prompts and responses)."""
    return [format_qa_prompt(s.text, qa.question) + format_qa_response(qa.answer) for s in stories for qa in s.qa]


def new_pieces(tokenizer: WordTokenizer, texts: Iterable[str]) -> list[str]:
    """The pieces of `texts` that `tokenizer` does not know (they would become <unk>), sorted."""
    return sorted({p for text in texts for p in tokenizer.split(text) if p not in tokenizer.stoi})


def extend_tokenizer(tokenizer: WordTokenizer, texts: Iterable[str]) -> WordTokenizer:
    """A word tokenizer that knows the old vocabulary and every piece of `texts`.
    Note: WordTokenizer sorts its vocabulary, so most old tokens get new IDs."""
    return WordTokenizer(list(tokenizer.itos) + new_pieces(tokenizer, texts))


def resize_token_embeddings(model: GPT, old_tokenizer: WordTokenizer, new_tokenizer: WordTokenizer,
                            noise_std: float = 0.02, seed: int = 0) -> GPT:
    """A copy of `model` for `new_tokenizer`'s vocabulary. Every weight is copied; the (tied) token embedding
    gets one row per new token. Old tokens keep their vectors (found by string, as IDs move); each new row is
    the mean of the old rows plus N(0, noise_std²) noise, so new tokens start out average and distinct.
    The model and its weights are left untouched."""
    missing = [t for t in old_tokenizer.itos if t not in new_tokenizer.stoi]
    if missing:
        raise ValueError(f"the new tokenizer must contain the old vocabulary; missing {missing[:5]}")
    if model.config.vocab_size != old_tokenizer.vocab_size:
        raise ValueError(f"the model has {model.config.vocab_size} token rows, the old tokenizer "
                         f"{old_tokenizer.vocab_size} tokens")
    config = GPTConfig(**{**model.config.__dict__, "vocab_size": new_tokenizer.vocab_size})
    new = GPT(config)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    old_wte = state["transformer.wte.weight"]
    g = torch.Generator().manual_seed(seed)
    wte = old_wte.mean(0).repeat(new_tokenizer.vocab_size, 1)
    wte += noise_std * torch.randn(wte.shape, generator=g)
    for token, old_id in old_tokenizer.stoi.items():
        wte[new_tokenizer.stoi[token]] = old_wte[old_id]
    state["transformer.wte.weight"] = wte
    state["lm_head.weight"] = wte  # tied: the same matrix
    new.load_state_dict(state)
    new.train(model.training)
    return new


# --------------------------------------------------------------------------------------------------
# Instruction examples with the loss on the response only
# --------------------------------------------------------------------------------------------------

@dataclass
class Example:
    """One training sequence: input token IDs and next-token targets (IGNORE_INDEX where not scored)."""

    input_ids: torch.Tensor  # (T,)
    targets: torch.Tensor    # (T,)

    @property
    def n_scored(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())


def build_example(tokenizer, prompt: str, response: str, mask_prompt: bool = True) -> Example:
    """Tokens of prompt + response; input = all but the last token, target = all but the first (shifted by
    one). With mask_prompt, every target that is a prompt token is IGNORE_INDEX, so only the response's
    tokens are scored: the first scored target is the response's first token, predicted from the prompt."""
    return example_from_ids(tokenizer.encode(prompt), tokenizer.encode(response), mask_prompt)


def example_from_ids(prompt_ids: Sequence[int], response_ids: Sequence[int], mask_prompt: bool = True) -> Example:
    """``build_example`` for token IDs (e.g. a response the model sampled)."""
    prompt_ids, response_ids = list(prompt_ids), list(response_ids)
    if not prompt_ids or not response_ids:
        raise ValueError("both the prompt and the response need at least one token")
    ids = torch.tensor(prompt_ids + response_ids)
    targets = ids[1:].clone()
    if mask_prompt:
        targets[:len(prompt_ids) - 1] = IGNORE_INDEX
    return Example(ids[:-1], targets)


def build_lm_example(tokenizer, text: str) -> Example:
    """Plain language modeling on `text` (every target scored): pretraining data to mix in."""
    ids = torch.tensor(tokenizer.encode(text))
    return Example(ids[:-1], ids[1:].clone())


def qa_examples(stories, tokenizer, mask_prompt: bool = True) -> list[Example]:
    """One example per (story, question): the Q&A template, loss on the answer only."""
    return [build_example(tokenizer, format_qa_prompt(s.text, qa.question), format_qa_response(qa.answer),
                          mask_prompt) for s in stories for qa in s.qa]


# --------------------------------------------------------------------------------------------------
# Chat: roles, special tokens, and a loss on the assistant's messages only
# --------------------------------------------------------------------------------------------------

def role_token(role: str) -> str:
    """The special token that opens a message: 'user' -> '<|user|>'."""
    if role not in CHAT_ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {CHAT_ROLES}")
    return f"<|{role}|>"


def render_chat(messages: Sequence[tuple[str, str]]) -> str:
    """A conversation as text: each (role, content) message as ``<|role|>content<|end|>``. The content is
    written as is (in storyworld, a question or an answer starts with a space, as in the Q&A template)."""
    return "".join(role_token(role) + content + END_OF_MESSAGE for role, content in messages)


def chat_example(tokenizer: ChatTokenizer, messages: Sequence[tuple[str, str]]) -> Example:
    """Tokens of render_chat(messages); input = all but the last, targets = all but the first. A target is
    scored only when it belongs to an assistant's message: its content tokens and its closing <|end|>. The
    role token <|assistant|> is not scored: the template writes it, and generation starts after it."""
    end = tokenizer.stoi[END_OF_MESSAGE]
    ids, scored = [], []
    for role, content in messages:
        body = tokenizer.encode(content) + [end]
        ids += [tokenizer.stoi[role_token(role)]] + body
        scored += [False] + [role == "assistant"] * len(body)
    if not any(scored):
        raise ValueError("a chat example needs at least one assistant message to score")
    ids_t = torch.tensor(ids)
    targets = ids_t[1:].clone()
    targets[~torch.tensor(scored[1:])] = IGNORE_INDEX          # target t is token t + 1
    return Example(ids_t[:-1], targets)


def collate(examples: Sequence[Example], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a batch: inputs with pad_id, targets with IGNORE_INDEX. Attention is causal, so padding
    after a sequence never changes what its real tokens see."""
    T = max(len(e.input_ids) for e in examples)
    x = torch.full((len(examples), T), pad_id, dtype=torch.long)
    y = torch.full((len(examples), T), IGNORE_INDEX, dtype=torch.long)
    for i, e in enumerate(examples):
        x[i, :len(e.input_ids)] = e.input_ids
        y[i, :len(e.targets)] = e.targets
    return x, y


# --------------------------------------------------------------------------------------------------
# A classification head on the GPT
# --------------------------------------------------------------------------------------------------

def hidden_states(model: GPT, idx: torch.Tensor | None = None, first: int = 0, last: int | None = None,
                  x: torch.Tensor | None = None, final_norm: bool = True) -> torch.Tensor:
    """The residual stream (B, T, C). From token IDs (first=0) or from `x`, the stream entering block
    `first`; runs blocks first .. last-1 and, when they reach the top, the final LayerNorm.
    With frozen lower blocks, compute their output once and pass it back in as `x`."""
    n_layer = len(model.transformer.h)
    last = n_layer if last is None else last
    if x is None:
        if first != 0:
            raise ValueError("start from token IDs only at block 0; pass x to start higher")
        x = model.embed(idx)
    x = model.run_blocks(x, first=first, last=last)
    return model.transformer.ln_f(x) if final_norm and last == n_layer else x


class GPTClassifier(nn.Module):
    """A GPT body with a linear head on the hidden state of each sequence's last real token (the only one
    that has seen the whole text under causal attention). The language-model head is not used."""

    def __init__(self, gpt: GPT, n_classes: int, seed: int = 0):
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.n_embd, n_classes)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.head.weight.copy_(0.02 * torch.randn(self.head.weight.shape, generator=g))
            self.head.bias.zero_()

    @staticmethod
    def last_token(h: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """h (B, T, C) -> (B, C): position lengths - 1 of each row (the last position without lengths)."""
        if lengths is None:
            return h[:, -1]
        return h[torch.arange(h.size(0), device=h.device), lengths.to(h.device) - 1]

    def features(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.last_token(hidden_states(self.gpt, idx), lengths)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, n_classes)."""
        return self.head(self.features(idx, lengths))


def freeze(module: nn.Module, frozen: bool = True) -> nn.Module:
    """Stop (or restart) gradients for every parameter of `module`."""
    for p in module.parameters():
        p.requires_grad_(not frozen)
    return module


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters, each shared tensor counted once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def train_only_rows(weight: nn.Parameter, rows: Sequence[int]):
    """Let only some rows of `weight` learn: a gradient hook zeroes the others' gradient. With Adam and no
    weight decay, a zero gradient means no change. Returns the hook handle (call .remove() to undo)."""
    mask = torch.zeros(weight.size(0), *([1] * (weight.dim() - 1)), dtype=weight.dtype, device=weight.device)
    mask[list(rows)] = 1.0
    weight.requires_grad_(True)
    return weight.register_hook(lambda grad: grad * mask)


# --------------------------------------------------------------------------------------------------
# A small fine-tuning loop
# --------------------------------------------------------------------------------------------------

def finetune(model: GPT, examples: Sequence[Example], steps: int, batch_size: int = 16, lr: float = 1e-3,
             pad_id: int = 0, warmup_steps: int = 10, grad_clip: float = 1.0, weight_decay: float = 0.0,
             seed: int = 0, loss_fn: Callable | None = None) -> list[float]:
    """AdamW on the parameters that require gradients, with linear warmup then cosine decay to 10%, random
    batches of `examples`, gradient clipping. Returns the loss of every step.
    loss_fn(model, x, y) defaults to the model's own loss (mean cross-entropy over scored targets)."""
    from .train import lr_at

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    losses = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, lr, warmup_steps, steps)
        batch = torch.randint(len(examples), (batch_size,), generator=g).tolist()
        x, y = collate([examples[i] for i in batch], pad_id)
        x, y = x.to(device), y.to(device)
        loss = loss_fn(model, x, y) if loss_fn is not None else model(x, y)[1]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


def lm_loss(model: GPT, examples: Sequence[Example], pad_id: int = 0, batch_size: int = 64) -> float:
    """Mean cross-entropy per scored token over `examples` (nats per token)."""
    batches = (collate(examples[first:first + batch_size], pad_id) for first in range(0, len(examples), batch_size))
    return batch_nlls(model, batches).double().mean().item()


# --------------------------------------------------------------------------------------------------
# Scoring answers against storyworld's ground truth
# --------------------------------------------------------------------------------------------------

@torch.no_grad()
def answer_correct(model: GPT, examples: Sequence[Example], pad_id: int = 0, batch_size: int = 64) -> torch.Tensor:
    """For each example, whether greedy decoding would write exactly its response (and stop): the argmax
    at every scored position is the target. One forward pass per batch instead of a generation loop; the
    two agree because greedy decoding only ever follows its own argmax."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for first in range(0, len(examples), batch_size):
        x, y = collate(examples[first:first + batch_size], pad_id)
        logits, _ = model(x.to(device))
        scored = y != IGNORE_INDEX
        right = (logits.argmax(-1).cpu() == y) | ~scored
        out.append(right.all(dim=1))
    return torch.cat(out)


def answer_accuracy(model: GPT, examples: Sequence[Example], pad_id: int = 0) -> float:
    """Fraction of examples whose response greedy decoding reproduces exactly."""
    return answer_correct(model, examples, pad_id).float().mean().item()


def accuracy_by_kind(kinds: Sequence[str], correct) -> dict[str, float]:
    """The fraction correct per question kind: kinds[i] is what question i asks for (storyworld's QA.kind or
    Preference.kind), correct[i] whether it was answered right (bools, 0/1, or a tensor of them). Kinds come
    in storyworld's order (QUESTION_KINDS), each one that occurs."""
    correct = correct.tolist() if isinstance(correct, torch.Tensor) else list(correct)
    kinds = list(kinds)
    if len(kinds) != len(correct):
        raise ValueError(f"one kind per answer expected: {len(kinds)} kinds, {len(correct)} answers")
    unknown = sorted(set(kinds) - set(QUESTION_KINDS))
    if unknown:
        raise ValueError(f"unknown question kinds {unknown}; expected storyworld's {QUESTION_KINDS}")
    return {kind: sum(ok for k, ok in zip(kinds, correct) if k == kind) / kinds.count(kind)
            for kind in QUESTION_KINDS if kind in kinds}


def plot_accuracy_by_kind(series: dict[str, dict[str, float]], ax=None, title: str = "",
                          ylabel: str = "accuracy", chance: float | None = None, colors: Sequence | None = None):
    """Grouped bars: one group per question kind, one bar per entry of `series` (label -> accuracy_by_kind's
    dict), with a dotted line at `chance` if given. Draws on `ax` (a new figure without one); returns ax."""
    import matplotlib.pyplot as plt

    if not series:
        raise ValueError("series is empty: give at least one {label: accuracy_by_kind(...)}")
    if ax is None:
        ax = plt.subplots(figsize=(8, 3.2))[1]
    kinds = [k for k in QUESTION_KINDS if any(k in accuracy for accuracy in series.values())]
    width = 0.8 / len(series)
    for i, (label, accuracy) in enumerate(series.items()):
        offset = (i - (len(series) - 1) / 2) * width
        ax.bar([j + offset for j in range(len(kinds))], [accuracy.get(k, 0.0) for k in kinds], width=width,
               label=label, color=None if colors is None else colors[i])
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":")
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set(ylabel=ylabel, ylim=(0, 1.05), xlabel="what the question asks for", title=title)
    if len(series) > 1:
        ax.legend()
    return ax


@torch.no_grad()
def generate_responses(model: GPT, prompts: Sequence[Sequence[int]], max_new_tokens: int, stop_id: int,
                       temperature: float = 0.0, generator: torch.Generator | None = None) -> list[list[int]]:
    """Continue many prompts at once; each response stops after `stop_id` (which it keeps) or after
    max_new_tokens. Prompts of equal length form one batch for generate.generate, which runs with a KV cache
    (notebook 06): the prompt is processed once, then one token per step. temperature 0 is greedy."""
    model.eval()
    device = next(model.parameters()).device
    longest = max(len(p) for p in prompts)
    if longest + max_new_tokens > model.config.block_size:
        raise ValueError(f"prompt + {max_new_tokens} new tokens exceed block_size={model.config.block_size}")
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(i)
    out: list[list[int]] = [[] for _ in prompts]
    for length in sorted(groups):
        rows = groups[length]
        idx = torch.tensor([list(prompts[i]) for i in rows], device=device)
        new = generate(model, idx, max_new_tokens, temperature, generator=generator, stop_token=stop_id)
        for i, tokens in zip(rows, new[:, length:].tolist()):
            out[i] = tokens[:tokens.index(stop_id) + 1] if stop_id in tokens else tokens
    return out
