"""Training: pick a device, cut token streams into (context, next-token) batches, run AdamW with warmup
and cosine decay, and evaluate in nats per token and per character.

Notebook 05 writes this loop out step by step; this is the finished version other notebooks reuse.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .data import IGNORE_INDEX
from .validation import is_int, is_number

__all__ = ["pick_device", "set_seed", "get_batch", "lr_at", "train_step", "TrainConfig", "TrainResult", "train",
           "stream_windows", "batch_nlls", "evaluate", "evaluate_text", "LiveLossPlot"]


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple's MPS, else CPU. `prefer` (or env LLM_MECHANICS_DEVICE) overrides."""
    prefer = prefer or os.environ.get("LLM_MECHANICS_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int) -> torch.Generator:
    """Seed torch's global RNG and return a CPU generator for reproducible batch sampling."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_batch(ids: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a 1-D token stream: x = ids[i : i+T], y = ids[i+1 : i+T+1] (shifted by one)."""
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D token stream, got shape {tuple(ids.shape)}")
    if not is_int(batch_size) or not is_int(block_size) or batch_size < 1 or block_size < 1:
        raise ValueError(f"batch_size and block_size must be ints >= 1, got {batch_size!r} and {block_size!r}")
    if len(ids) < block_size + 1:
        raise ValueError(f"need at least block_size + 1 = {block_size + 1} tokens, got {len(ids)}")
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    x = torch.stack([ids[i:i + block_size] for i in starts])          # (B, T)
    y = torch.stack([ids[i + 1:i + 1 + block_size] for i in starts])  # (B, T)
    return x, y


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.1) -> float:
    """Linear warmup to max_lr, then cosine decay to min_lr_ratio * max_lr at total_steps."""
    if not is_int(total_steps) or total_steps < 1:
        raise ValueError(f"total_steps must be an int >= 1, got {total_steps!r}")
    if not is_int(warmup_steps) or not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be an int in [0, total_steps={total_steps}], got "
                         f"{warmup_steps!r}: a warm-up longer than the schedule never reaches max_lr and "
                         f"never decays")
    if not is_number(min_lr_ratio) or not 0 <= min_lr_ratio <= 1:
        raise ValueError(f"min_lr_ratio must be a share of max_lr in [0, 1], got {min_lr_ratio!r}")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return max_lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               max_norm: float = 1.0) -> float:
    """One optimizer step on a batch (B, T) -> (B, T): clear the old gradients, forward to the loss, backward,
    clip the gradient norm to max_norm, update. Returns the batch's loss before the update."""
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)   # else backward() adds to the previous step's gradients
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()


def stream_windows(ids: torch.Tensor, block_size: int, batch_size: int, max_windows: int | None = None,
                   last_partial: bool = False):
    """(x, y) batches of consecutive, non-overlapping windows of a token stream: window w reads
    ids[w·T : w·T + T] and predicts ids[w·T + 1 : w·T + T + 1] (T = block_size), batch_size windows a batch.
    With last_partial, the tokens after the last full window form one last, shorter window of their own."""
    n_full = (len(ids) - 1) // block_size
    n_windows = n_full if max_windows is None else min(n_full, max_windows)
    for first in range(0, n_windows, batch_size):
        starts = range(first * block_size, min(n_windows, first + batch_size) * block_size, block_size)
        yield (torch.stack([ids[s:s + block_size] for s in starts]),
               torch.stack([ids[s + 1:s + 1 + block_size] for s in starts]))
    rest = n_full * block_size
    if last_partial and rest < len(ids) - 1:
        yield ids[rest:-1][None], ids[rest + 1:][None]


@torch.no_grad()
def batch_nlls(model: torch.nn.Module, batches) -> torch.Tensor:
    """The negative log-likelihood (nats) of every scored target of every (x, y) batch, in order, as one flat
    tensor on the CPU; targets equal to IGNORE_INDEX (prompt tokens, padding) are left out. The model runs
    in eval mode (no dropout) and is put back in the mode it was in. Every loss the course evaluates, over
    a token stream (evaluate, metrics.token_nlls) or over padded examples (finetune.lm_loss), is this."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for x, y in batches:
        logits, _ = model(x.to(device))
        y = y.to(device)
        nll = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=IGNORE_INDEX, reduction="none")
        out.append(nll[y != IGNORE_INDEX].cpu())
    model.train(was_training)
    if not out:
        raise ValueError("no batches to evaluate")
    return torch.cat(out)


def evaluate(model: torch.nn.Module, ids: torch.Tensor, block_size: int | None = None,
             batch_size: int = 32, max_windows: int | None = None) -> float:
    """Mean cross-entropy (nats per token) over consecutive, non-overlapping windows of `ids`.
    Deterministic: the same model and stream always give the same number."""
    block_size = block_size or model.config.block_size
    if len(ids) < block_size + 1:
        raise ValueError(f"need at least block_size + 1 = {block_size + 1} tokens to evaluate, got {len(ids)}")
    return batch_nlls(model, stream_windows(ids, block_size, batch_size, max_windows)).double().mean().item()


@dataclass
class TrainConfig:
    max_steps: int = 500
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_windows: int = 64
    seed: int = 0


@dataclass
class TrainResult:
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train(model: torch.nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, config: TrainConfig,
          progress: bool = True, on_eval=None, rank: int = 0, world_size: int = 1) -> TrainResult:
    """AdamW with warmup + cosine schedule and gradient clipping; evaluates every eval_interval steps and
    then calls on_eval(result) if given (e.g. a LiveLossPlot).

    Data parallel: with `model` wrapped in DistributedDataParallel, each of `world_size` processes passes its
    `rank`. Every process draws the same global batch of batch_size * world_size windows and trains on its own
    slice; DDP averages the gradients, so the run equals one process training on the whole global batch."""
    from tqdm.auto import tqdm

    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    core = getattr(model, "module", model)  # DistributedDataParallel keeps the model in .module
    generator = set_seed(config.seed)
    device = next(model.parameters()).device
    decay = [p for p in model.parameters() if p.dim() >= 2]      # matrices get weight decay,
    no_decay = [p for p in model.parameters() if p.dim() < 2]    # biases and norm gains do not
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=config.learning_rate, betas=(0.9, 0.95))
    result = TrainResult()
    start = time.perf_counter()
    model.train()
    # One redraw a second at most: in Jupyter each redraw is three messages to the front end, and a runner that
    # reads them only after the cell ends (nbval) drops those beyond ZeroMQ's queue, the cell's end among them.
    bar = tqdm(range(config.max_steps), disable=not progress or rank != 0, desc="training", mininterval=1.0)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config.learning_rate, config.warmup_steps, config.max_steps)
        x, y = get_batch(train_ids, config.batch_size * world_size, core.config.block_size, generator)
        x, y = x[rank::world_size], y[rank::world_size]                  # this process's share
        loss = train_step(model, optimizer, x.to(device), y.to(device), config.grad_clip)
        result.steps.append(step)
        result.train_loss.append(loss)
        if (step + 1) % config.eval_interval == 0 or step + 1 == config.max_steps:
            val = evaluate(core, val_ids, max_windows=config.eval_windows)
            result.eval_steps.append(step + 1)
            result.val_loss.append(val)
            bar.set_postfix(train=f"{loss:.3f}", val=f"{val:.3f}")
            if on_eval is not None:
                on_eval(result)
            model.train()
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


@torch.no_grad()
def evaluate_text(model: torch.nn.Module, tokenizer, text: str, batch_size: int = 32) -> dict:
    """Loss on a text in nats per token and nats per character, so models with different tokenizers (and
    storyworld's entropy floor, which is per character) can be compared."""
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    block_size = model.config.block_size
    n_windows = (len(ids) - 1) // block_size
    nats_per_token = evaluate(model, ids, block_size, batch_size)
    n_tokens = n_windows * block_size
    n_chars = len(tokenizer.decode(ids[1:n_tokens + 1]))   # the characters whose tokens were predicted
    return {"nats_per_token": nats_per_token, "nats_per_char": nats_per_token * n_tokens / n_chars,
            "tokens": n_tokens, "chars": n_chars}


class LiveLossPlot:
    """A loss plot that redraws in place while training runs (pass it as train(..., on_eval=plot)).
    Headless runs keep only the final picture."""

    def __init__(self, floor: float | None = None, floor_label: str = "entropy floor", title: str = "training"):
        self.floor, self.floor_label, self.title = floor, floor_label, title
        self.handle = None

    def figure(self, result: TrainResult):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.4))
        ax.plot(result.steps, result.train_loss, alpha=0.5, label="train (batches)")
        ax.plot(result.eval_steps, result.val_loss, "o-", label="validation")
        if self.floor is not None:
            ax.axhline(self.floor, color="k", ls="--", label=self.floor_label)
        ax.set(xlabel="step", ylabel="loss (nats per token)", title=self.title)
        ax.legend()
        plt.close(fig)
        return fig

    def __call__(self, result: TrainResult) -> None:
        from IPython.display import display

        fig = self.figure(result)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
