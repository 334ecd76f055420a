"""Notebook 06's checks for exercises 6.2 (top-k and top-p filters), 6.3 (the repetition penalty), 6.4
(attention with a KV cache), 6.5 (per-channel int8) and 6.6 (recall@k) accept the reference answer and reject
the usual mistakes. The check cells are run as they stand in the notebook, with a function swapped in."""

import pytest
import torch
import torch.nn.functional as F

import notebook_cells
from course_utils import checks
from course_utils import generate as gen
from course_utils.model import GPT, CausalSelfAttention, GPTConfig


def passes(exercise: str, name: str, fn) -> bool:
    checks._RESULTS.pop(exercise, None)
    namespace = {"torch": torch, "check_function": checks.check_function, name: fn}
    exec(notebook_cells.check_cell("06_generation", exercise), namespace)
    return checks._RESULTS[exercise]


# -- 6.5: fake_quantize_int8(w, clip) --------------------------------------------------------------------

def per_channel(w, clip=1.0):
    scale = clip * w.abs().amax(dim=1) / 127
    return (w / scale[:, None]).round().clamp(-127, 127) * scale[:, None]


def per_tensor(w, clip=1.0):
    scale = clip * w.abs().max() / 127
    return (w / scale).round().clamp(-127, 127) * scale


def no_clamp(w, clip=1.0):
    scale = clip * w.abs().amax(dim=1) / 127
    return (w / scale[:, None]).round() * scale[:, None]


def truncated(w, clip=1.0):
    scale = clip * w.abs().amax(dim=1) / 127
    return (w / scale[:, None]).clamp(-127, 127).to(torch.int8).float() * scale[:, None]


def clip_ignored(w, clip=1.0):
    return per_channel(w, 1.0)


def test_6_5_accepts_the_reference(capsys):
    assert passes("6.5", "fake_quantize_int8", per_channel)
    assert "✅ Exercise 6.5" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [per_tensor, no_clamp, truncated, clip_ignored])
def test_6_5_rejects_typical_mistakes(capsys, wrong):
    assert not passes("6.5", "fake_quantize_int8", wrong)
    assert "❌ Exercise 6.5" in capsys.readouterr().out


# -- 6.6: recall_at_k(similarity, right, k) --------------------------------------------------------------

def recall_at_k(similarity, right, k):
    return (similarity.topk(k, dim=1).indices == right[:, None]).any(dim=1).float().mean().item()


def smallest_first(similarity, right, k):
    return (similarity.topk(k, dim=1, largest=False).indices == right[:, None]).any(dim=1).float().mean().item()


def only_the_kth(similarity, right, k):
    return (similarity.topk(k, dim=1).indices[:, -1] == right).float().mean().item()


def over_the_wrong_axis(similarity, right, k):
    return recall_at_k(similarity.T, right, k)


def a_tensor(similarity, right, k):
    return (similarity.topk(k, dim=1).indices == right[:, None]).any(dim=1).float().mean()


def test_6_6_accepts_the_reference(capsys):
    assert passes("6.6", "recall_at_k", recall_at_k)
    assert "✅ Exercise 6.6" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [smallest_first, only_the_kth, over_the_wrong_axis, a_tensor])
def test_6_6_rejects_typical_mistakes(capsys, wrong):
    assert not passes("6.6", "recall_at_k", wrong)
    assert "❌ Exercise 6.6" in capsys.readouterr().out


# -- 6.2: top_k_logits(logits, k) and top_p_logits(logits, p) ------------------------------------------------



def run_filters(capsys, top_k, top_p) -> tuple[str, dict]:
    checks._RESULTS.pop("6.2", None)
    return notebook_cells.run_check("06_generation", capsys, "6.2", torch=torch, gen=gen,
                                    check_function=checks.check_function, top_k_logits=top_k, top_p_logits=top_p)


def notebook_filters():
    namespace = notebook_cells.solution("06_generation", "def top_k_logits(", torch=torch)
    return namespace["top_k_logits"], namespace["top_p_logits"]


def exactly_k(logits, k):                   # ties broken: keeps exactly k
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, float("-inf"))


def one_too_many(logits, k):
    kth = torch.topk(logits, min(k + 1, logits.size(-1)), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def drops_the_crossing_token(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    drop = sorted_logits.softmax(-1).cumsum(-1) >= p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def mask_not_scattered_back(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    probs = sorted_logits.softmax(-1)
    return logits.masked_fill(probs.cumsum(-1) - probs >= p, float("-inf"))


def sorted_ascending(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, stable=True)
    probs = sorted_logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def test_6_2_accepts_the_notebooks_solution(capsys):
    top_k, top_p = notebook_filters()
    out, namespace = run_filters(capsys, top_k, top_p)
    assert out.strip() == "✅ Exercise 6.2: correct!"
    assert namespace["top_k_logits"] is top_k and namespace["top_p_logits"] is top_p


@pytest.mark.parametrize("top_k, says", [(..., "raised TypeError"), (notebook_cells.blank, "returned None")])
def test_6_2_blank_falls_back_to_the_course_filters(capsys, top_k, says):
    out, namespace = run_filters(capsys, top_k, notebook_cells.blank)
    assert "Exercise 6.2: not yet" in out and says in out and "Using the course's filters" in out, out
    assert namespace["top_k_logits"] is gen.top_k_filter and namespace["top_p_logits"] is gen.top_p_filter


@pytest.mark.parametrize("wrong_k, wrong_p, case", [
    (exactly_k, None, "top-k, ties at the k-th: kept"),
    (one_too_many, None, "top-k, k = 3, one row"),
    (None, drops_the_crossing_token, "top-p, p = 0.5, one row"),
    (None, mask_not_scattered_back, "top-p, p = 0.5, one row"),
    (None, sorted_ascending, "top-p, p = 0.5, one row"),
])
def test_6_2_rejects_typical_mistakes(capsys, wrong_k, wrong_p, case):
    top_k, top_p = notebook_filters()
    out, namespace = run_filters(capsys, wrong_k or top_k, wrong_p or top_p)
    assert "Exercise 6.2: not yet" in out and repr(case) in out, out
    assert namespace["top_k_logits"] is gen.top_k_filter


# -- 6.4: attention_with_cache(attn, x, past) ---------------------------------------------------------------




def run_cached_attention(capsys, fn) -> tuple[str, dict]:
    checks._RESULTS.pop("6.4", None)
    return notebook_cells.run_check("06_generation", capsys, "6.4", torch=torch, F=F, gen=gen,
                                    check_function=checks.check_function, CausalSelfAttention=CausalSelfAttention,
                                    GPTConfig=GPTConfig, attention_with_cache=fn)


def notebook_attention_with_cache():
    return notebook_cells.solution("06_generation", "def attention_with_cache(", torch=torch, F=F)["attention_with_cache"]


def cached(attn, x, past, *, offset=True, cat_dim=2, keep_new_only=False, mask=True):
    B, T, C = x.shape
    q, k, v = attn.c_attn(x).split(C, dim=2)
    q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k, v))
    new = (k, v)
    if past is not None:
        k, v = torch.cat((past[0], k), dim=cat_dim), torch.cat((past[1], v), dim=cat_dim)
    P = k.size(2) - T
    causal = torch.ones(T, P + T, dtype=torch.bool).tril(diagonal=P if offset else 0)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal if mask else None)
    return attn.c_proj(y.transpose(1, 2).reshape(B, T, C)), new if keep_new_only else (k, v)


def test_6_4_accepts_the_notebooks_solution_and_keeps_it(capsys):
    step = notebook_attention_with_cache()
    out, namespace = run_cached_attention(capsys, step)
    assert out.strip() == "✅ Exercise 6.4: correct!"
    assert namespace["attention_with_cache"] is step


def test_6_4_reference_is_the_layer_on_all_tokens_at_once(capsys):
    # the course's cached step, chunk by chunk, equals the layer on the whole text: the check's answer key is right
    _, namespace = run_cached_attention(capsys, notebook_attention_with_cache())
    for case, (n_head, x, chunks) in namespace["cache_cases"].items():
        torch.manual_seed(0)
        attn = CausalSelfAttention(GPTConfig(n_embd=x.size(-1), n_head=n_head)).eval()
        outputs, keys, values = namespace["cached_run"](namespace["course_attention_with_cache"], case)
        with torch.no_grad():
            assert torch.allclose(outputs, attn(x), atol=1e-6), case
        assert keys.shape == values.shape == (x.size(0), n_head, x.size(1), x.size(-1) // n_head)


def test_6_4_blank_falls_back_to_the_course_step(capsys):
    out, namespace = run_cached_attention(capsys, notebook_cells.blank)
    assert "Exercise 6.4: not yet" in out and "Using the course GPT's own cached attention" in out, out
    assert namespace["attention_with_cache"] is namespace["course_attention_with_cache"]


@pytest.mark.parametrize("options, case", [
    (dict(offset=False), "a prompt of 4, then 3 steps of one token"),      # the new token sees only key 0
    (dict(mask=False), "no past: the prompt on its own, 5 tokens"),         # the prompt sees its future
    (dict(keep_new_only=True), "a prompt of 4, then 3 steps of one token"),  # the cache forgets the past
    (dict(cat_dim=1), "a prompt of 4, then 3 steps of one token"),          # appended as extra heads
])
def test_6_4_rejects_typical_mistakes(capsys, options, case):
    out, namespace = run_cached_attention(capsys, lambda attn, x, past: cached(attn, x, past, **options))
    assert "Exercise 6.4: not yet" in out and repr(case) in out, out


def test_6_4_accepts_no_mask_for_single_steps(capsys):
    # a mask offset for single steps only (no mask when T == 1) is right: the model does exactly that
    def single_steps_unmasked(attn, x, past):
        return cached(attn, x, past, mask=x.size(1) > 1)
    out, _ = run_cached_attention(capsys, single_steps_unmasked)
    assert out.strip() == "✅ Exercise 6.4: correct!"


# -- 6.3: penalize_repetition(logits, previous, theta) -------------------------------------------------------

def run_penalty(capsys, fn) -> tuple[str, dict]:
    checks._RESULTS.pop("6.3", None)
    return notebook_cells.run_check("06_generation", capsys, "6.3", torch=torch, gen=gen,
                                    check_function=checks.check_function, penalize_repetition=fn)


def notebook_penalty():
    return notebook_cells.solution("06_generation", "def penalize_repetition(", torch=torch)["penalize_repetition"]


def always_divides(logits, previous, theta):        # a negative logit divided by theta goes *up*
    return logits.scatter(1, previous, torch.gather(logits, 1, previous) / theta)


def once_per_occurrence(logits, previous, theta):   # a token seen three times is penalized three times
    out = logits.clone()
    for row in range(previous.size(0)):
        for token in previous[row].tolist():
            z = out[row, token]
            out[row, token] = z / theta if z > 0 else z * theta
    return out


def every_row_sees_all_texts(logits, previous, theta):
    seen = torch.zeros_like(logits, dtype=torch.bool)
    seen[:, previous.flatten()] = True
    return torch.where(seen, torch.where(logits > 0, logits / theta, logits * theta), logits)


def test_6_3_accepts_the_notebooks_solution_and_keeps_it(capsys):
    penalty = notebook_penalty()
    out, namespace = run_penalty(capsys, penalty)
    assert out.strip() == "✅ Exercise 6.3: correct!"
    assert namespace["penalize_repetition"] is penalty


def test_6_3_blank_falls_back_to_the_course_penalty(capsys):
    out, namespace = run_penalty(capsys, notebook_cells.blank)
    assert "returned None" in out and "Using the course's penalty" in out, out
    assert namespace["penalize_repetition"] is gen.apply_repetition_penalty


@pytest.mark.parametrize("wrong, case", [
    (always_divides, "one text, positive and negative logits"),
    (once_per_occurrence, "a token seen three times: penalized once"),
    (every_row_sees_all_texts, "2 texts, each with its own history"),
])
def test_6_3_rejects_typical_mistakes(capsys, wrong, case):
    out, namespace = run_penalty(capsys, wrong)
    assert "Exercise 6.3: not yet" in out and repr(case) in out, out
    assert namespace["penalize_repetition"] is gen.apply_repetition_penalty


def test_6_3_the_students_penalty_drives_generate():
    # the notebook decodes with the student's penalty as a logits_processor: the same tokens as the built-in one
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    prompt = torch.zeros(2, 1, dtype=torch.long)
    penalty = notebook_penalty()
    ours = gen.generate(model, prompt, 20, 0, logits_processor=lambda logits, text: penalty(logits, text, 1.3))
    assert torch.equal(ours, gen.generate(model, prompt, 20, 0, repetition_penalty=1.3))
