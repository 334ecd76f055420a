"""Pretrain the course GPT on several GPUs (or CPU processes) with DistributedDataParallel.

    python -m course_utils.distributed --steps 1200                        # one process
    torchrun --standalone --nproc_per_node 4 -m course_utils.distributed   # four GPUs, one process each

torchrun starts one process per device and tells each its RANK, LOCAL_RANK and WORLD_SIZE. Every process
holds a full copy of the model; each trains on its own slice of the global batch, and DDP averages the
gradients during backward, so all copies stay identical. NCCL is used between GPUs, gloo between CPU
processes (how the tests check it). The training loop is ``course_utils.train.train``.
"""

from __future__ import annotations

import argparse
import json
import os

import torch
import torch.distributed as dist

from . import storyworld
from .model import GPT, GPTConfig
from .tokenizers import WordTokenizer
from .train import TrainConfig, evaluate_text, train

__all__ = ["main"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Pretrain the course GPT on storyworld, data-parallel.")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=32, help="windows per process per step")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--stories", type=int, default=None, help="training stories (default: the whole split)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer, 32-dim model (for tests)")
    parser.add_argument("--out", default=None, help="save the checkpoint here (rank 0)")
    args = parser.parse_args(argv)

    rank = int(os.environ.get("RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if world_size > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    torch.set_num_threads(1 if world_size > 1 else torch.get_num_threads())  # processes share the CPU

    train_corpus = storyworld.load_split("train", args.stories)
    val_corpus = storyworld.load_split("validation", 100 if args.tiny else None)
    tokenizer = WordTokenizer.train(train_corpus.text)
    train_ids = torch.tensor(tokenizer.encode(train_corpus.text))
    val_ids = torch.tensor(tokenizer.encode(val_corpus.text))
    size = dict(n_layer=2, n_head=2, n_embd=32, block_size=32) if args.tiny else \
        dict(n_layer=4, n_head=4, n_embd=128, block_size=128)
    torch.manual_seed(0)  # the same initial weights in every process
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, dropout=0.0, **size)).to(device)
    if world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda"
                                                          else None)
    result = train(model, train_ids, val_ids,
                   TrainConfig(max_steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                               warmup_steps=max(1, args.steps // 12), eval_interval=max(1, args.steps // 4)),
                   progress=rank == 0, rank=rank, world_size=world_size)
    core = getattr(model, "module", model).cpu()
    summary = {"world_size": world_size, "steps": args.steps, "global_batch": args.batch_size * world_size,
               "val_loss": result.val_loss, "seconds": round(result.seconds, 1)}
    if rank == 0:
        summary["val_nats_per_char"] = evaluate_text(core, tokenizer, val_corpus.text)["nats_per_char"]
        if args.out:
            core.save(args.out, tokenizer=tokenizer.state_dict(), world_size=world_size)
        print(json.dumps(summary))
    if world_size > 1:
        dist.destroy_process_group()
    return summary


if __name__ == "__main__":
    main()
