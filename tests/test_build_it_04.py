"""Notebook 04's build-it exercises: LayerNorm (4.1), the FFN (4.2), the block's forward (4.3), the GPT's forward
(4.4) and cross-attention (4.8). Each check cell runs on the notebook's solution (passes), on a blank (not
attempted yet, and the notebook goes on with the course's module) and on typical wrong versions (fails, naming
the case)."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import notebook_cells
from course_utils import model as course_model
from course_utils.attention import MultiHeadAttention
from course_utils.checks import check_function
from course_utils.model import CausalSelfAttention, GPTConfig

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def run_check_cell(capsys, exercise: str, fn) -> str:
    """Run the notebook's check cell for `exercise` with `fn` as the student's answer; return what it printed."""
    cell = notebook_cells.check_cell("04_transformer_block", exercise)
    exec(cell, dict(torch=torch, nn=nn, check_function=check_function, cross_attention=fn))
    return capsys.readouterr().out


def heads(t, n_heads):  # (B, T, C) -> (B, nh, T, hs)
    B, T, C = t.shape
    return t.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def merge(t):  # (B, nh, T, hs) -> (B, T, C)
    B, nh, T, hs = t.shape
    return t.transpose(1, 2).reshape(B, T, nh * hs)


def with_course_attention(x, memory, W_q, W_k, W_v, W_o, n_heads):
    """The package's multi-head attention, its keys and values read from `memory` (its `context`)."""
    attention = MultiHeadAttention(x.size(-1), n_heads, bias=False)
    with torch.no_grad():
        for proj, w in zip((attention.q_proj, attention.k_proj, attention.v_proj, attention.out_proj),
                           (W_q, W_k, W_v, W_o)):
            proj.weight.copy_(w)
        return attention(x, context=memory)


def written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, *, causal=False, kv_from=None, scale=True):
    source = memory if kv_from is None else kv_from
    q, k, v = (heads(t @ W.T, n_heads) for t, W in ((x, W_q), (source, W_k), (source, W_v)))
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.size(-1))
    if causal:
        scores = scores.masked_fill(~torch.ones(scores.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
    return merge(scores.softmax(-1) @ v) @ W_o.T


def causal(x, memory, W_q, W_k, W_v, W_o, n_heads):          # a decoder's mask where none belongs
    return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, causal=True)


def keys_from_the_decoder(x, memory, W_q, W_k, W_v, W_o, n_heads):   # self-attention, not cross-attention
    return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, kv_from=x)


def unscaled(x, memory, W_q, W_k, W_v, W_o, n_heads):
    return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, scale=False)


def one_head(x, memory, W_q, W_k, W_v, W_o, n_heads):          # forgets to split into heads
    return written_out(x, memory, W_q, W_k, W_v, W_o, 1)


def no_output_projection(x, memory, W_q, W_k, W_v, W_o, n_heads):
    return merge(heads(x @ W_q.T, n_heads) @ heads(memory @ W_k.T, n_heads).transpose(-2, -1)
                 .div(math.sqrt(x.size(-1) // n_heads)).softmax(-1) @ heads(memory @ W_v.T, n_heads))


def blank(*args):  # a handout's function before the student writes it: its body is `...`
    ...


@pytest.mark.parametrize("fn", [with_course_attention, written_out])
def test_cross_attention_check_passes_correct_versions(capsys, fn):
    assert run_check_cell(capsys, "4.8", fn).strip() == "✅ Exercise 4.8: correct!"


@pytest.mark.parametrize("fn, says", [(..., "not attempted yet"), (blank, "returned None")])
def test_cross_attention_check_blank(capsys, fn, says):
    assert says in run_check_cell(capsys, "4.8", fn)


@pytest.mark.parametrize("fn, case", [(causal, 1), (keys_from_the_decoder, 1), (unscaled, 1), (one_head, 1),
                                      (no_output_projection, 1)])
def test_cross_attention_check_rejects_wrong_versions(capsys, fn, case):
    out = run_check_cell(capsys, "4.8", fn)
    assert f"not yet — on case {case} of 4, {fn.__name__}(" in out, out


def test_equal_lengths_case_still_catches_a_causal_mask(capsys):
    """With T_dec == T_enc a causal mask has the right shape everywhere; the values must still give it away."""
    def causal_only_when_square(x, memory, W_q, W_k, W_v, W_o, n_heads):
        square = x.size(1) == memory.size(1)
        return written_out(x, memory, W_q, W_k, W_v, W_o, n_heads, causal=square)
    out = run_check_cell(capsys, "4.8", causal_only_when_square)
    assert "not yet — on case 2 of 4" in out, out


def test_the_notebooks_solution_passes(capsys):
    cells = notebook_cells.notebook_cells("04_transformer_block")
    [solution] = [c for c in cells if "def cross_attention(" in c]
    namespace = dict(torch=torch, math=math)
    exec(solution, namespace)
    assert run_check_cell(capsys, "4.8", namespace["cross_attention"]).strip() == "✅ Exercise 4.8: correct!"


# -- 4.1 to 4.4: LayerNorm, the FFN, the block, the GPT ------------------------------------------------------

BUILD_IT = {"4.1": "LayerNorm", "4.2": "MLP", "4.3": "Block", "4.4": "GPT"}
CELLS = notebook_cells.notebook_cells("04_transformer_block")


def notebook_namespace() -> dict:
    """What the notebook has defined before its first build-it check: imports and with_course_weights."""
    namespace = dict(math=math, torch=torch, nn=nn, F=F, replace=replace, course_model=course_model,
                     check_function=check_function, GPTConfig=GPTConfig, CausalSelfAttention=CausalSelfAttention)
    [helper] = [c for c in CELLS if "def with_course_weights(" in c]
    exec(helper, namespace)
    return namespace


def solution(name: str, namespace: dict):
    """The notebook's own class `name` (its solution cell), built on what `namespace` holds."""
    [cell] = [c for c in CELLS if f"class {name}(nn.Module):" in c and "# BEGIN SOLUTION" in c]
    exec(cell, namespace)
    return namespace[name]


def run_build_it(capsys, exercise: str, student_class) -> tuple[str, dict]:
    """Run the check cells from 4.1 up to `exercise`, the earlier ones with the course's modules and this one
    with `student_class`; return what this one printed and the namespace after it."""
    namespace = notebook_namespace()
    for earlier, name in BUILD_IT.items():
        namespace[name] = student_class if earlier == exercise else getattr(course_model, name)
        exec(notebook_cells.check_cell("04_transformer_block", earlier), namespace)
        if earlier == exercise:
            return capsys.readouterr().out, namespace
        capsys.readouterr()
    raise KeyError(exercise)


def course_modules() -> dict:
    namespace = notebook_namespace()
    namespace.update({name: getattr(course_model, name) for name in BUILD_IT.values()})
    return namespace


def with_blank_forward(cls):
    """The handout's class: its given parts, and a forward that is still `...`."""
    return type(cls.__name__, (cls,), {"forward": lambda self, *args, **kwargs: None})


@pytest.mark.parametrize("exercise", list(BUILD_IT))
def test_build_it_solution_passes_and_is_kept(capsys, exercise):
    name = BUILD_IT[exercise]
    yours = solution(name, course_modules())
    out, namespace = run_build_it(capsys, exercise, yours)
    assert out.strip() == f"✅ Exercise {exercise}: correct!", out
    assert namespace[name] is yours        # the rest of the notebook uses the student's class


@pytest.mark.parametrize("exercise", list(BUILD_IT))
def test_build_it_blank_falls_back_to_the_course_module(capsys, exercise):
    name = BUILD_IT[exercise]
    out, namespace = run_build_it(capsys, exercise, with_blank_forward(solution(name, course_modules())))
    assert "returned None" in out and f"Using the course's {name}, course_utils.model.{name}" in out, out
    assert namespace[name] is getattr(course_model, name)


def test_blank_mlp_init_falls_back(capsys):
    class MLP(nn.Module):           # __init__ not written: no parameters at all
        def __init__(self, config):
            super().__init__()

        def forward(self, x):
            ...
    out, namespace = run_build_it(capsys, "4.2", MLP)
    assert "Exercise 4.2: not yet" in out and namespace["MLP"] is course_model.MLP


# Wrong LayerNorms: each is the notebook's solution with one typical mistake in forward.

def layer_norm(forward):
    return type("LayerNorm", (solution("LayerNorm", course_modules()),), {"forward": forward})


def unbiased_variance(self, x):
    y = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + self.eps) * self.weight
    return y if self.bias is None else y + self.bias


def eps_outside_the_root(self, x):
    y = (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False).sqrt() + self.eps) * self.weight
    return y if self.bias is None else y + self.bias


def no_scale_and_shift(self, x):
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + self.eps)


def over_the_batch(self, x):       # BatchNorm's axis
    y = (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + self.eps) * self.weight
    return y if self.bias is None else y + self.bias


def always_adds_the_bias(self, x):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


@pytest.mark.parametrize("forward, case, says", [
    (unbiased_variance, "a batch: 2 sequences of 5 tokens", "differ"),
    (eps_outside_the_root, "eps 0.1, features of variance 0.04", "differ"),
    (no_scale_and_shift, "a batch: 2 sequences of 5 tokens", "differ"),
    (over_the_batch, "a batch: 2 sequences of 5 tokens", "differ"),
    (always_adds_the_bias, "no bias (bias=False)", "TypeError"),
])
def test_layer_norm_check_rejects_wrong_versions(capsys, forward, case, says):
    out, namespace = run_build_it(capsys, "4.1", layer_norm(forward))
    assert "Exercise 4.1: not yet" in out and repr(case) in out and says in out, out
    assert namespace["LayerNorm"] is course_model.LayerNorm


# Wrong FFNs

class ReluMLP(course_model.MLP):
    def __init__(self, config):
        super().__init__(config)
        self.act = nn.ReLU()


class ExactGeluMLP(course_model.MLP):          # GELU without GPT-2's tanh approximation
    def __init__(self, config):
        super().__init__(config)
        self.act = nn.GELU()


class FourTimesWideMLP(course_model.MLP):      # 4 * n_embd where the config says d_ff
    def __init__(self, config):
        super().__init__(replace(config, d_ff=4 * config.n_embd))


class AlwaysBiasedMLP(course_model.MLP):
    def __init__(self, config):
        super().__init__(replace(config, bias=True))


class RenamedMLP(nn.Module):                   # not GPT-2's names: GPT-2's weights could not load
    def __init__(self, config):
        super().__init__()
        self.fc1 = nn.Linear(config.n_embd, config.d_ff, bias=config.bias)
        self.fc2 = nn.Linear(config.d_ff, config.n_embd, bias=config.bias)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


@pytest.mark.parametrize("cls, case, says", [
    (ReluMLP, "a batch: 2 sequences of 5 tokens", "differ"),
    (ExactGeluMLP, "a batch: 2 sequences of 5 tokens", "differ"),
    (FourTimesWideMLP, "d_ff 20, not 4 × n_embd", "size mismatch"),
    (AlwaysBiasedMLP, "no biases (bias=False)", "its parameters are named"),
    (RenamedMLP, "a batch: 2 sequences of 5 tokens", "c_fc.weight"),
])
def test_mlp_check_rejects_wrong_versions(capsys, cls, case, says):
    out, namespace = run_build_it(capsys, "4.2", cls)
    assert "Exercise 4.2: not yet" in out and repr(case) in out and says in out, out
    assert namespace["MLP"] is course_model.MLP


# Wrong blocks

def block(forward):
    return type("Block", (solution("Block", course_modules()),), {"forward": forward})


def post_norm_always(self, x):
    x = self.ln_1(x + self.attn(x))
    return self.ln_2(x + self.mlp(x))


def pre_norm_always(self, x):
    x = x + self.attn(self.ln_1(x))
    return x + self.mlp(self.ln_2(x))


def normalizes_the_stream(self, x):            # x = LN(x), then x + f(x): the stream itself is normalized
    if not self.prenorm:
        return post_norm_always(self, x)
    x = self.ln_1(x)
    x = x + self.attn(x)
    x = self.ln_2(x)
    return x + self.mlp(x)


def parallel_sublayers(self, x):               # the FFN reads the block's input, not the attention's sum
    if not self.prenorm:
        return post_norm_always(self, x)
    return x + self.attn(self.ln_1(x)) + self.mlp(self.ln_2(x))


def one_norm_for_both(self, x):
    if not self.prenorm:
        return post_norm_always(self, x)
    x = x + self.attn(self.ln_1(x))
    return x + self.mlp(self.ln_1(x))


@pytest.mark.parametrize("forward, case", [
    (post_norm_always, "pre-norm, 2 sequences of 5 tokens"),
    (pre_norm_always, "post-norm, 2 sequences of 5 tokens"),
    (normalizes_the_stream, "pre-norm, 2 sequences of 5 tokens"),
    (parallel_sublayers, "pre-norm, 2 sequences of 5 tokens"),
    (one_norm_for_both, "pre-norm, 2 sequences of 5 tokens"),
])
def test_block_check_rejects_wrong_versions(capsys, forward, case):
    out, namespace = run_build_it(capsys, "4.3", block(forward))
    assert "Exercise 4.3: not yet" in out and repr(case) in out and "differ" in out, out
    assert namespace["Block"] is course_model.Block


# Wrong GPTs

def gpt(forward):
    return type("GPT", (solution("GPT", course_modules()),), {"forward": forward})


def loss_of(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)


def stream(self, idx, positions=True, token_positions=False):
    tr = self.transformer
    x = tr.wte(idx)
    if positions:
        x = x + tr.wpe(idx if token_positions else torch.arange(idx.size(1)))
    for b in tr.h:
        x = b(x)
    return x


def no_positions(self, idx, targets=None):
    logits = self.lm_head(self.transformer.ln_f(stream(self, idx, positions=False)))
    return logits, None if targets is None else loss_of(logits, targets)


def token_ids_as_positions(self, idx, targets=None):
    logits = self.lm_head(self.transformer.ln_f(stream(self, idx, token_positions=True)))
    return logits, None if targets is None else loss_of(logits, targets)


def no_final_norm(self, idx, targets=None):
    logits = self.lm_head(stream(self, idx))
    return logits, None if targets is None else loss_of(logits, targets)


def shifts_the_targets_again(self, idx, targets=None):
    logits = self.lm_head(self.transformer.ln_f(stream(self, idx)))
    return logits, None if targets is None else loss_of(logits[:, :-1], targets[:, 1:])


def scores_the_skipped_positions(self, idx, targets=None):
    logits = self.lm_head(self.transformer.ln_f(stream(self, idx)))
    if targets is None:
        return logits, None
    return logits, loss_of(logits, targets.clamp(min=0))


def returns_only_the_loss(self, idx, targets=None):
    logits = self.lm_head(self.transformer.ln_f(stream(self, idx)))
    return (logits, None) if targets is None else loss_of(logits, targets)


@pytest.mark.parametrize("forward, case, says", [
    (no_positions, "no targets: (logits, None)", "differ"),
    (token_ids_as_positions, "no targets: (logits, None)", "IndexError"),
    (no_final_norm, "no targets: (logits, None)", "differ"),
    (shifts_the_targets_again, "with targets: (logits, loss)", "at [1]"),
    (scores_the_skipped_positions, "targets -100 at 3 positions", "at [1]"),
    (returns_only_the_loss, "with targets: (logits, loss)", "expected a tuple"),
])
def test_gpt_check_rejects_wrong_versions(capsys, forward, case, says):
    out, namespace = run_build_it(capsys, "4.4", gpt(forward))
    assert "Exercise 4.4: not yet" in out and repr(case) in out and says in out, out
    assert namespace["GPT"] is course_model.GPT


def test_the_notebooks_gpt_is_the_course_gpt():
    """Built from the notebook's own LayerNorm, MLP and Block, the notebook's GPT has the course GPT's weights
    from the same seed and the same logits and loss on a random text, and generates with generate()."""
    namespace = course_modules()
    for name in BUILD_IT.values():
        namespace[name] = solution(name, namespace)
    config = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16)
    torch.manual_seed(3)
    yours = namespace["GPT"](config).eval()
    torch.manual_seed(3)
    course = course_model.GPT(config).eval()
    assert yours.state_dict().keys() == course.state_dict().keys()
    assert all(torch.equal(yours.state_dict()[k], v) for k, v in course.state_dict().items())
    idx = torch.randint(50, (2, 16), generator=torch.Generator().manual_seed(0))
    (logits, loss), (course_logits, course_loss) = yours(idx, idx), course(idx, idx)
    torch.testing.assert_close(logits, course_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss, course_loss, rtol=1e-5, atol=1e-5)
    from course_utils.generate import generate
    out = generate(yours, idx[:1, :4], 6, temperature=0, use_cache=False)
    assert out.shape == (1, 10) and torch.equal(out[:, :4], idx[:1, :4])
