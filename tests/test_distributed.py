"""Data-parallel pretraining: two CPU processes under torchrun (gloo) train exactly the model that one
process trains on the same global batch."""

import subprocess
import sys

import pytest
import torch

from course_utils.model import GPT

ARGS = ["-m", "course_utils.distributed", "--tiny", "--steps", "6", "--stories", "60"]


def _run(cmd, tmp_path):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_two_gloo_processes_equal_one_process_with_the_global_batch(tmp_path):
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *ARGS,
          "--batch-size", "4", "--out", str(tmp_path / "ddp.pt")], tmp_path)
    _run([sys.executable, *ARGS, "--batch-size", "8", "--out", str(tmp_path / "single.pt")], tmp_path)
    ddp, meta = GPT.load(tmp_path / "ddp.pt")
    single, _ = GPT.load(tmp_path / "single.pt")
    assert meta["world_size"] == 2
    worst = max((a - b).abs().max().item() for a, b in zip(ddp.state_dict().values(), single.state_dict().values()))
    assert worst < 1e-5
    untrained = GPT(ddp.config)
    assert any(not torch.equal(a, b) for a, b in zip(ddp.state_dict().values(), untrained.state_dict().values()))


def test_rank_must_fit_world_size():
    from course_utils.train import TrainConfig, train
    from course_utils.model import GPTConfig

    model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4))
    with pytest.raises(ValueError, match="rank"):
        train(model, torch.arange(5).repeat(10), torch.arange(5).repeat(10), TrainConfig(max_steps=1), rank=2,
              world_size=2)
