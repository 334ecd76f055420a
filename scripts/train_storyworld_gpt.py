"""Train the course's small GPT on storyworld and save the checkpoint that ships in course_utils.

    python scripts/train_storyworld_gpt.py            # about 3 minutes on 2 CPU cores

Writes course_utils/checkpoints/storyworld_gpt.pt (weights, config, tokenizer) and storyworld_gpt.json
(what was measured: validation loss in nats per token and per character, the entropy floor, time).
Notebooks load it with ``course_utils.model.load_storyworld_gpt()``; notebook 05 explains every step.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_utils import storyworld
from course_utils.model import CHECKPOINT_DIR, GPT, GPTConfig
from course_utils.tokenizers import WordTokenizer
from course_utils.train import TrainConfig, evaluate_text, pick_device, set_seed, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--out", default=str(CHECKPOINT_DIR / "storyworld_gpt"))
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)   # before training, not after minutes of it

    torch.set_num_threads(min(2, torch.get_num_threads()))  # the course's reference machine: 2 cores
    set_seed(0)
    train_corpus = storyworld.load_split("train")
    val_corpus = storyworld.load_split("validation")
    tokenizer = WordTokenizer.train(train_corpus.text)
    train_ids = torch.tensor(tokenizer.encode(train_corpus.text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(val_corpus.text), dtype=torch.long)

    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=4, n_head=4, n_embd=128,
                       dropout=0.0)
    device = pick_device()
    model = GPT(config).to(device)
    print(f"{model.num_parameters():,} parameters on {device}; {len(train_ids):,} training tokens")
    start = time.time()
    result = train(model, train_ids, val_ids,
                   TrainConfig(max_steps=args.steps, batch_size=32, learning_rate=3e-3, warmup_steps=100,
                               eval_interval=250, seed=0))
    model = model.cpu().eval()
    val = evaluate_text(model, tokenizer, val_corpus.text)
    record = {
        "config": config.__dict__,
        "parameters": model.num_parameters(),
        "tokenizer": "word-level, storyworld train split",
        "steps": args.steps,
        "train_seconds": round(time.time() - start, 1),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, device {device}",
        "torch": torch.__version__,
        "val_nats_per_token": val["nats_per_token"],
        "val_nats_per_char": val["nats_per_char"],
        "val_tokens": val["tokens"],
        "floor_nats_per_char": val_corpus.nats_per_char,
        "history": {"eval_steps": result.eval_steps, "val_loss": result.val_loss,
                    "train_loss_every_50": result.train_loss[::50]},
    }
    model.save(args.out + ".pt", tokenizer=tokenizer.state_dict())
    with open(args.out + ".json", "w") as f:
        json.dump(record, f, indent=1)
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
