"""Notebook 05's build-it exercises: each check cell, run on the course's version (passes), on a blank (not
attempted yet) and on typical wrong versions (fails, naming the case), and the course's versions themselves."""

import math
from types import SimpleNamespace

import pytest
import torch

import notebook_cells
from course_utils import data, storyworld
from course_utils import train as course_train
from course_utils.checks import check_function
from course_utils.data import shingle_hash, shingles
from course_utils.model import GPT, GPTConfig
from course_utils.train import get_batch

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, namespace: dict) -> str:
    return notebook_cells.run_check_cell("05_pretraining", capsys, exercise, namespace)


blank = notebook_cells.blank


# -- 5.1: lr_at -------------------------------------------------------------------------------------------


def no_floor(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1):   # decays to 0
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    p = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return max_lr * 0.5 * (1 + math.cos(math.pi * p))


def from_step_zero(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1):   # decay not shifted by the warmup
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    p = min(1.0, step / total_steps)
    return max_lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def no_cap(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1):   # the cosine rises again after the end
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    p = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return max_lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def warmup_from_zero(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1):   # step 0 gets rate 0
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    return course_train.lr_at(step, max_lr, warmup_steps, total_steps, min_lr_ratio)


def divides_by_warmup(step, max_lr, warmup_steps, total_steps, min_lr_ratio=0.1):
    rise = min(1.0, (step + 1) / warmup_steps)   # ZeroDivisionError without warmup
    return max_lr * rise if step < warmup_steps else course_train.lr_at(step, max_lr, warmup_steps, total_steps,
                                                                         min_lr_ratio)


def schedule_namespace(fn) -> dict:
    return dict(course_train=course_train, check_function=check_function, lr_at=fn)


def test_schedule_check_passes_the_course_version(capsys):
    assert run_check_cell(capsys, "5.1", schedule_namespace(course_train.lr_at)).strip() == \
        "✅ Exercise 5.1: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_schedule_check_blank_falls_back(capsys, fn, says):
    namespace = schedule_namespace(fn)
    out = run_check_cell(capsys, "5.1", namespace)
    assert says in out and "Using the course's version" in out
    assert namespace["lr_at"] is course_train.lr_at


@pytest.mark.parametrize("fn, case, says", [
    (no_floor, 4, "expected 0.55"), (from_step_zero, 3, "expected 1"), (no_cap, 6, "expected 0.1"),
    (warmup_from_zero, 1, "expected 0.1, got 0"), (divides_by_warmup, 7, "ZeroDivisionError"),
])
def test_schedule_check_rejects_wrong_versions(capsys, fn, case, says):
    namespace = schedule_namespace(fn)
    out = run_check_cell(capsys, "5.1", namespace)
    assert f"on case {case} of 8, {fn.__name__}(" in out and says in out, out
    assert namespace["lr_at"] is course_train.lr_at


# -- 5.2: one training step ---------------------------------------------------------------------------------


def no_zero_grad(model, optimizer, x, y, max_norm):
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()


def clip_after_step(model, optimizer, x, y, max_norm):
    _, loss = model(x, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    return loss.item()


def clip_values(model, optimizer, x, y, max_norm):   # clips each entry, not the norm
    _, loss = model(x, y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()


def returns_tensor(model, optimizer, x, y, max_norm):
    _, loss = model(x, y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss


def step_namespace(fn) -> dict:
    ids = torch.randint(40, (3000,), generator=torch.Generator().manual_seed(0))
    return dict(torch=torch, GPT=GPT, GPTConfig=GPTConfig, get_batch=get_batch, course_train=course_train,
                check_function=check_function, tokenizer=SimpleNamespace(vocab_size=40), train_ids=ids,
                train_step=fn)


def test_step_check_passes_the_course_version(capsys):
    assert run_check_cell(capsys, "5.2", step_namespace(course_train.train_step)).strip() == \
        "✅ Exercise 5.2: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_step_check_blank_falls_back(capsys, fn, says):
    namespace = step_namespace(fn)
    out = run_check_cell(capsys, "5.2", namespace)
    assert says in out and "Using the course's version" in out
    assert namespace["train_step"] is course_train.train_step


@pytest.mark.parametrize("fn, case, says", [
    (no_zero_grad, 3, "at [1]"), (clip_after_step, 2, "at [1]"), (clip_values, 2, "at [1]"),
    (returns_tensor, 1, "use .item()"),
])
def test_step_check_rejects_wrong_versions(capsys, fn, case, says):
    namespace = step_namespace(fn)
    out = run_check_cell(capsys, "5.2", namespace)
    assert f"on case {case} of 4, <lambda>(" in out and says in out, out
    assert namespace["train_step"] is course_train.train_step


def test_train_step_is_the_loop_of_train():
    """course_utils.train.train is its train_step under lr_at: the same losses as stepping by hand."""
    ids = torch.randint(30, (2000,), generator=torch.Generator().manual_seed(1))
    config = GPTConfig(vocab_size=30, block_size=8, n_layer=1, n_head=2, n_embd=16)
    torch.manual_seed(0)
    result = course_train.train(GPT(config), ids, ids, course_train.TrainConfig(max_steps=3, batch_size=4,
                                warmup_steps=1, eval_interval=10), progress=False)
    torch.manual_seed(0)
    model = GPT(config)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                  lr=3e-3, betas=(0.9, 0.95))
    generator = course_train.set_seed(0)
    losses = []
    for step in range(3):
        for group in optimizer.param_groups:
            group["lr"] = course_train.lr_at(step, 3e-3, 1, 3)
        x, y = get_batch(ids, 4, 8, generator)
        losses.append(course_train.train_step(model, optimizer, x, y, 1.0))
    assert losses == result.train_loss


# -- 5.4: MinHash ---------------------------------------------------------------------------------------------


def minhash_namespace(**functions) -> dict:
    world = storyworld.StoryWorld(seed=0)
    return dict(data=data, shingles=shingles, shingle_hash=shingle_hash, check_function=check_function,
                clean_stories=[world.story(i).text for i in range(2)], **functions)


def max_not_min(shingle_set, num_perm):
    return [max(shingle_hash(s, seed) for s in shingle_set) for seed in range(num_perm)]


def one_hash_function(shingle_set, num_perm):   # the same seed everywhere: num_perm copies of one number
    return [min(shingle_hash(s, 0) for s in shingle_set)] * num_perm


def smallest_hashes(shingle_set, num_perm):   # the num_perm smallest hashes of one function (a "bottom-k")
    return sorted(shingle_hash(s, 0) for s in shingle_set)[:num_perm]


def jaccard_of_sets(signature_a, signature_b):
    a, b = set(signature_a), set(signature_b)
    return len(a & b) / len(a | b)


def out_of_64(signature_a, signature_b):
    return sum(a == b for a, b in zip(signature_a, signature_b)) / 64


def count_not_share(signature_a, signature_b):
    return sum(a == b for a, b in zip(signature_a, signature_b))


def test_minhash_checks_pass_the_course_version(capsys):
    namespace = minhash_namespace(minhash_signature=data.minhash_signature, estimate_jaccard=data.estimate_jaccard)
    assert run_check_cell(capsys, "5.4a", namespace).strip().splitlines() == \
        ["✅ Exercise 5.4a: correct!", "✅ Exercise 5.4b: correct!"]


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_minhash_checks_blank_fall_back(capsys, fn, says):
    namespace = minhash_namespace(minhash_signature=fn, estimate_jaccard=fn)
    out = run_check_cell(capsys, "5.4a", namespace)
    assert out.count(says) == 2 and out.count("Using the course's version") == 2
    assert namespace["minhash_signature"] is data.minhash_signature
    assert namespace["estimate_jaccard"] is data.estimate_jaccard


@pytest.mark.parametrize("fn, case", [(max_not_min, 2), (one_hash_function, 1), (smallest_hashes, 1)])
def test_signature_check_rejects_wrong_versions(capsys, fn, case):
    namespace = minhash_namespace(minhash_signature=fn, estimate_jaccard=data.estimate_jaccard)
    out = run_check_cell(capsys, "5.4a", namespace)
    assert f"Exercise 5.4a: not yet — on case {case} of 3, {fn.__name__}(" in out, out
    assert "✅ Exercise 5.4b: correct!" in out


@pytest.mark.parametrize("fn, case, says", [
    (jaccard_of_sets, 2, "expected 0.5, got 0.4"), (out_of_64, 2, "expected 0.5, got 0.03125"),
    (count_not_share, 1, "expected 1.0, got 64"),
])
def test_estimate_check_rejects_wrong_versions(capsys, fn, case, says):
    namespace = minhash_namespace(minhash_signature=data.minhash_signature, estimate_jaccard=fn)
    out = run_check_cell(capsys, "5.4a", namespace)
    assert f"Exercise 5.4b: not yet — on case {case} of 5, {fn.__name__}(" in out and says in out, out


def test_minhash_estimates_jaccard():
    a = shingles(" ".join(f"w{i}" for i in range(60)))
    b = shingles(" ".join(f"w{i}" for i in range(20, 80)))
    true = len(a & b) / len(a | b)
    estimate = data.estimate_jaccard(data.minhash_signature(a, 256), data.minhash_signature(b, 256))
    assert abs(estimate - true) < 4 * math.sqrt(true * (1 - true) / 256)
    with pytest.raises(ValueError, match="one length"):
        data.estimate_jaccard([1, 2], [1])


# -- 5.3: BERT's masking ---------------------------------------------------------------------------------------

def run_masking(capsys, fn) -> tuple[str, dict]:
    return notebook_cells.run_check("05_pretraining", capsys, "5.3", torch=torch, check_function=check_function,
                                    mask_tokens=data.mask_tokens, mask_for_mlm=fn)


def notebook_masking():
    return notebook_cells.solution("05_pretraining", "def mask_for_mlm(", torch=torch)["mask_for_mlm"]


def test_masking_solution_passes_and_is_kept(capsys):
    fn = notebook_masking()
    out, namespace = run_masking(capsys, fn)
    assert out.strip() == "✅ Exercise 5.3: correct!"
    assert namespace["mask_for_mlm"] is fn


def test_masking_blank_falls_back(capsys):
    out, namespace = run_masking(capsys, blank)
    assert "returned None" in out and "Using the course's masking" in out, out
    assert namespace["mask_for_mlm"] is data.mask_tokens


def every_picked_masked(ids, mask_id, vocab_size, rate=0.15, generator=None):     # no 10% random, no 10% kept
    picked = torch.rand(ids.shape, generator=generator) < rate
    return ids.masked_fill(picked, mask_id), torch.where(picked, ids, torch.full_like(ids, -100))


def targets_everywhere(ids, mask_id, vocab_size, rate=0.15, generator=None):      # the loss on every token
    inputs, _ = data.mask_tokens(ids, mask_id, vocab_size, rate, generator)
    return inputs, ids.clone()


def in_place(ids, mask_id, vocab_size, rate=0.15, generator=None):                # corrupts the caller's ids
    inputs, targets = data.mask_tokens(ids, mask_id, vocab_size, rate, generator)
    ids.copy_(inputs)
    return ids, targets


def global_random(ids, mask_id, vocab_size, rate=0.15, generator=None):           # ignores the generator
    return data.mask_tokens(ids, mask_id, vocab_size, rate, None)


def fixed_rate(ids, mask_id, vocab_size, rate=0.15, generator=None):              # always BERT's 15%
    return data.mask_tokens(ids, mask_id, vocab_size, 0.15, generator)


@pytest.mark.parametrize("fn, case, prop", [
    (every_picked_masked, "a batch of 200 windows of 100 tokens, rate 0.15", "of the picked: about 80% [MASK]"),
    (targets_everywhere, "a batch of 200 windows of 100 tokens, rate 0.15", "about 15% of the positions picked"),
    (in_place, "a batch of 200 windows of 100 tokens, rate 0.15", "ids left unchanged"),
    (global_random, "a batch of 200 windows of 100 tokens, rate 0.15", "the same seed, the same masking"),
    (fixed_rate, "one text of 30,000 tokens, rate 0.5", "about 50% of the positions picked"),
])
def test_masking_check_rejects_wrong_versions(capsys, fn, case, prop):
    out, namespace = run_masking(capsys, fn)
    assert "Exercise 5.3: not yet" in out and repr(case) in out and prop in out, out
    assert namespace["mask_for_mlm"] is data.mask_tokens
