"""Notebook 07's build-it exercises 7.1, the classifier's head on the last real token, 7.4, LoRA's forward pass and
merge, 7.6, a few-shot prompt, and 7.7, the chat template's loss mask: each check cell runs as it stands in the
notebook on the notebook's solution (passes, and the training runs then use it), on a blank (not attempted yet;
the notebook goes on with the course's version) and on typical wrong versions (fails, naming the case)."""

import copy

import pytest
import torch
import torch.nn as nn

import notebook_cells
from course_utils.checks import check_function
from course_utils.finetune import (GPTClassifier, chat_example, few_shot_prompt, format_qa_prompt,
                                   format_qa_response)
from course_utils.lora import LoRALinear, apply_lora, lora_parameters, merge_lora
from course_utils.model import GPT, GPTConfig
from course_utils.tokenizers import ChatTokenizer, WordTokenizer

pytestmark = pytest.mark.usefixtures("fresh_check_registry")


def solution_class():
    return notebook_cells.solution("07_fine_tuning", "class MyLoRALinear(nn.Module):", torch=torch, nn=nn)["MyLoRALinear"]


def run_check(capsys, cls) -> tuple[str, dict]:
    return notebook_cells.run_check("07_fine_tuning", capsys, "7.4", torch=torch, nn=nn, copy=copy,
                                    check_function=check_function, LoRALinear=LoRALinear, MyLoRALinear=cls)


def test_solution_passes_and_is_kept(capsys):
    cls = solution_class()
    out, namespace = run_check(capsys, cls)
    assert out.strip() == "✅ Exercise 7.4: correct!"
    assert namespace["MyLoRALinear"] is cls


def with_methods(**methods):
    return type("MyLoRALinear", (solution_class(),), methods)


def test_blank_falls_back_to_the_course_class(capsys):
    out, namespace = run_check(capsys, with_methods(forward=lambda self, x: None, merge=lambda self: None))
    assert "returned None" in out and "Using the course's LoRALinear" in out, out
    assert namespace["MyLoRALinear"] is LoRALinear


def merged_linear(self, *, scaled=True, keep_bias_flag=True, order="BA"):
    delta = self.lora_B @ self.lora_A if order == "BA" else (self.lora_A.T @ self.lora_B.T).T
    merged = nn.Linear(self.base.in_features, self.base.out_features,
                       bias=self.base.bias is not None if keep_bias_flag else True)
    with torch.no_grad():
        merged.weight.copy_(self.base.weight + (self.scaling if scaled else 1.0) * delta)
        if self.base.bias is not None:
            merged.bias.copy_(self.base.bias)
    return merged


def right_forward(self, x):
    return self.base(x) + self.scaling * (x @ self.lora_A.T @ self.lora_B.T)


WRONG = {
    "scaled by alpha, not alpha / rank": (
        dict(forward=lambda self, x: self.base(x) + self.scaling * self.lora_A.size(0) * (x @ self.lora_A.T @ self.lora_B.T)),
        "rank 4, alpha 8, a batch of 2 sequences of 3 tokens"),
    "no transposes: x @ A @ B": (dict(forward=lambda self, x: self.base(x) + self.scaling * (x @ self.lora_A @ self.lora_B)),
                                 "rank 4, alpha 8, a batch of 2 sequences of 3 tokens"),
    "the frozen path left out": (dict(forward=lambda self, x: self.scaling * (x @ self.lora_A.T @ self.lora_B.T)),
                                 "rank 4, alpha 8, a batch of 2 sequences of 3 tokens"),
    "merge without scaling": (dict(merge=lambda self: merged_linear(self, scaled=False)),
                              "rank 4, alpha 8, a batch of 2 sequences of 3 tokens"),
    "a random bias where the base has none": (dict(merge=lambda self: merged_linear(self, keep_bias_flag=False)),
                                              "a base layer without bias"),
    "merge returns the frozen layer": (dict(merge=lambda self: self.base),
                                       "rank 4, alpha 8, a batch of 2 sequences of 3 tokens"),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_wrong_versions_fail_naming_the_case(capsys, mistake):
    methods, case = WRONG[mistake]
    out, namespace = run_check(capsys, with_methods(**methods))
    assert "Exercise 7.4: not yet" in out and repr(case) in out, out
    assert namespace["MyLoRALinear"] is LoRALinear


def test_a_right_rewrite_passes(capsys):
    out, _ = run_check(capsys, with_methods(forward=right_forward, merge=lambda self: merged_linear(self)))
    assert out.strip() == "✅ Exercise 7.4: correct!"


def test_apply_lora_trains_and_merges_the_students_adapter():
    # the notebook's LoRA runs pass the student's class to apply_lora; merge_lora and lora_parameters take it
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    ids = torch.randint(0, 20, (2, 8))
    cls = solution_class()
    names = apply_lora(model, rank=2, alpha=4, adapter=cls)
    assert names and all(isinstance(model.get_submodule(n), cls) for n in names)
    assert len(lora_parameters(model)) == 2 * len(names)
    with torch.no_grad():
        for p in lora_parameters(model):
            p.normal_()
        before = model(ids)[0]
        merge_lora(model)
        after = model(ids)[0]
    assert not any(isinstance(m, cls) for m in model.modules())
    assert torch.allclose(before, after, atol=1e-5)


# -- 7.1: classify(h, lengths, head) ----------------------------------------------------------------------------

def solution_classify():
    return notebook_cells.solution("07_fine_tuning", "def classify(", torch=torch)["classify"]


def run_head_check(capsys, fn) -> tuple[str, dict]:
    return notebook_cells.run_check("07_fine_tuning", capsys, "7.1", torch=torch, nn=nn, check_function=check_function,
                                    GPTClassifier=GPTClassifier, classify=fn)


def test_head_solution_passes_and_is_kept(capsys):
    fn = solution_classify()
    out, namespace = run_head_check(capsys, fn)
    assert out.strip() == "✅ Exercise 7.1: correct!"
    assert namespace["classify"] is fn


def test_head_blank_falls_back(capsys):
    out, namespace = run_head_check(capsys, notebook_cells.blank)
    assert "returned None" in out and "Using the course's head" in out, out
    assert namespace["classify"] is namespace["course_classify"]


WRONG_HEADS = {
    "the last position, padding or not": (lambda h, lengths, head: head(h[:, -1]), "3 stories of lengths 6, 2 and 4"),
    "the first token": (lambda h, lengths, head: head(h[:, 0]), "3 stories of lengths 6, 2 and 4"),
    "lengths, not lengths - 1": (lambda h, lengths, head: head(h[:, -1] if lengths is None else
                                                             h[torch.arange(h.size(0)), lengths.clamp(max=h.size(1) - 1)]),
                                 "3 stories of lengths 6, 2 and 4"),
    "every listed position from every row": (lambda h, lengths, head: head(h[:, -1] if lengths is None else h[:, lengths - 1]),
                                             "3 stories of lengths 6, 2 and 4"),
    "the mean over the real tokens": (
        lambda h, lengths, head: head(h.mean(1) if lengths is None else torch.stack(
            [h[b, :n].mean(0) for b, n in enumerate(lengths.tolist())])), "3 stories of lengths 6, 2 and 4"),
    "no head: the hidden state": (lambda h, lengths, head: h[:, -1] if lengths is None else h[torch.arange(h.size(0)), lengths - 1],
                                  "3 stories of lengths 6, 2 and 4"),
}


@pytest.mark.parametrize("mistake", list(WRONG_HEADS))
def test_head_check_rejects_wrong_versions(capsys, mistake):
    fn, case = WRONG_HEADS[mistake]
    out, namespace = run_head_check(capsys, fn)
    assert "Exercise 7.1: not yet" in out and repr(case) in out, out
    assert namespace["classify"] is namespace["course_classify"]


@pytest.mark.parametrize("adapter, says", [
    ("LoRALinear", "adapter must be a class like LoRALinear"),
    (lambda layer, rank, alpha, seed=0: nn.Linear(2, 2), "adapter must build a module with lora_A, lora_B and merge"),
])
def test_apply_lora_names_a_wrong_adapter(adapter, says):
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(TypeError, match=says):
        apply_lora(model, rank=2, adapter=adapter)


# -- 7.6: a few-shot prompt --------------------------------------------------------------------------------

def few_shot_names(**names) -> dict:
    queries = [(f"Lily saw {i} birds.", f"How many birds did Lily see ({i})?", str(i), "count") for i in range(151)]
    drawn = [[(f"Tom had {j} cakes.", "How many cakes?", str(j)) for j in range(4)] for _ in range(151)]
    return dict(queries=queries, drawn=drawn, few_shot_prompt=few_shot_prompt, format_qa_prompt=format_qa_prompt,
                format_qa_response=format_qa_response, check_function=check_function, **names)


def answer_without_its_format(shots, story, question):     # " answer\n" written as the bare answer
    return "".join(format_qa_prompt(s, q) + a for s, q, a in shots) + format_qa_prompt(story, question)


def question_first(shots, story, question):
    return format_qa_prompt(story, question) + "".join(format_qa_prompt(s, q) + format_qa_response(a)
                                                        for s, q, a in shots)


def test_few_shot_solution_passes(capsys):
    names = notebook_cells.solution("07_fine_tuning", "def write_few_shot_prompt(", **few_shot_names())
    out, _ = notebook_cells.run_check("07_fine_tuning", capsys, "7.6", **names)
    assert out.strip() == "✅ Exercise 7.6: correct!", out


def test_few_shot_blank_is_not_attempted(capsys):
    out, _ = notebook_cells.run_check("07_fine_tuning", capsys, "7.6",
                                      **few_shot_names(write_few_shot_prompt=notebook_cells.blank))
    assert "returned None" in out, out


@pytest.mark.parametrize("fn", [answer_without_its_format, question_first])
def test_few_shot_rejects_wrong_versions(capsys, fn):
    out, _ = notebook_cells.run_check("07_fine_tuning", capsys, "7.6", **few_shot_names(write_few_shot_prompt=fn))
    assert f"not yet — on case 2 of 4, {fn.__name__}(" in out, out      # case 1 has no shots: both agree


# -- 7.7: the chat template and its loss mask -----------------------------------------------------------------

CHAT = ChatTokenizer(WordTokenizer.train("Once Who is the story about? Sam Who? Tom Sue Where? Lily park").itos)
CHAT_VAL = [[("user", " Who?"), ("assistant", " Lily")],
            [("system", "Once"), ("user", " Where?"), ("assistant", " park"), ("user", " Who?"), ("assistant", " Tom")]]


def chat_names(**names) -> dict:
    return dict(chat_tokenizer=CHAT, chat_example=chat_example, chat_val_messages=CHAT_VAL,
                check_function=check_function, **names)


def _chat_ids(messages, score):
    ids, scored = [], []
    for role, content in messages:
        body = CHAT.encode(content) + [CHAT.stoi["<|end|>"]]
        ids += [CHAT.stoi[f"<|{role}|>"]] + body
        scored += score(role, len(body))
    return ids, scored


def role_token_scored(messages):          # <|assistant|> scored too: the template writes it, not the model
    ids, scored = _chat_ids(messages, lambda role, n: [role == "assistant"] * (n + 1))
    return ids[:-1], [t if s else -100 for t, s in zip(ids[1:], scored[1:])]


def mask_one_off(messages):               # scored[:-1]: each target masked by its input's flag
    ids, scored = _chat_ids(messages, lambda role, n: [False] + [role == "assistant"] * n)
    return ids[:-1], [t if s else -100 for t, s in zip(ids[1:], scored[:-1])]


def every_reply_scored(messages):         # the user's words scored as well
    ids, scored = _chat_ids(messages, lambda role, n: [False] + [role != "system"] * n)
    return ids[:-1], [t if s else -100 for t, s in zip(ids[1:], scored[1:])]


def test_chat_solution_passes(capsys):
    names = notebook_cells.solution("07_fine_tuning", "def chat_input_targets(", **chat_names())
    out, _ = notebook_cells.run_check("07_fine_tuning", capsys, "7.7", **names)
    assert out.strip() == "✅ Exercise 7.7: correct!", out


def test_chat_blank_is_not_attempted(capsys):
    out, _ = notebook_cells.run_check("07_fine_tuning", capsys, "7.7", **chat_names(chat_input_targets=...))
    assert "not attempted yet" in out, out


@pytest.mark.parametrize("fn", [role_token_scored, mask_one_off, every_reply_scored])
def test_chat_rejects_wrong_versions(capsys, fn):
    out, _ = notebook_cells.run_check("07_fine_tuning", capsys, "7.7", **chat_names(chat_input_targets=fn))
    assert f"not yet — on case 1 of 3, {fn.__name__}(" in out, out
