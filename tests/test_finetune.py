"""Fine-tuning helpers: the prompt template, the vocabulary extension, response-only loss masking, the
classification head, answer scoring, few-shot prompts and the chat format."""

import pytest
import torch
import torch.nn.functional as F

from course_utils import checks, storyworld
from course_utils.checks import check_function
from course_utils.finetune import (CHAT_SPECIALS, END_OF_MESSAGE, IGNORE_INDEX, QA_TEMPLATE, ChatTokenizer,
                                   GPTClassifier, build_example, chat_example, few_shot_prompt, render_chat,
                                   role_token, build_lm_example, collate,
                                   count_parameters, example_from_ids, extend_tokenizer, finetune,
                                   format_qa_prompt, format_qa_response, freeze, generate_responses,
                                   hidden_states, lm_loss, new_pieces, qa_examples, resize_token_embeddings,
                                   accuracy_by_kind, answer_accuracy, answer_correct, plot_accuracy_by_kind,
                                   template_pieces,
                                   train_only_rows)
from course_utils.model import GPT, GPTConfig
from course_utils.tokenizers import WordTokenizer

STORIES = storyworld.StoryWorld(seed=0).generate(6)
OLD = WordTokenizer.train("".join("\n" + s.text for s in STORIES) + "\n")
NEW = extend_tokenizer(OLD, template_pieces(STORIES))


def _model(vocab_size, seed=0, block_size=160):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=16)).eval()


def test_template_splits_into_prompt_and_response():
    story = STORIES[0]
    qa = story.qa[0]
    prompt, response = format_qa_prompt(story.text, qa.question), format_qa_response(qa.answer)
    assert prompt == f"\n{story.text}\nQ: {qa.question}\nA:"
    assert response == f" {qa.answer}\n"
    assert WordTokenizer.split(prompt)[-2:] == ["A", ":"]


def test_the_template_needs_new_tokens_and_the_extension_has_them_all():
    pieces = new_pieces(OLD, template_pieces(STORIES))
    assert {"Q", "A", ":", " Who"} <= set(pieces)
    assert OLD.stoi[OLD.UNK] in OLD.encode("Q: Who is the story about?")
    assert NEW.vocab_size == OLD.vocab_size + len(pieces)
    assert set(OLD.itos) <= set(NEW.itos)
    for text in template_pieces(STORIES):
        assert NEW.stoi[NEW.UNK] not in NEW.encode(text) and NEW.decode(NEW.encode(text)) == text


def test_resized_model_keeps_every_old_logit():
    old = _model(OLD.vocab_size)
    before = {k: v.clone() for k, v in old.state_dict().items()}
    new = resize_token_embeddings(old, OLD, NEW)
    text = "\n" + STORIES[1].text
    old_logits = old(torch.tensor([OLD.encode(text)]))[0]
    new_logits = new(torch.tensor([NEW.encode(text)]))[0]
    perm = torch.tensor([NEW.stoi[t] for t in OLD.itos])
    assert torch.equal(new_logits[..., perm], old_logits)
    assert new.lm_head.weight is new.transformer.wte.weight  # still tied
    assert all(torch.equal(v, old.state_dict()[k]) for k, v in before.items())  # the original is untouched
    added = [NEW.stoi[p] for p in new_pieces(OLD, template_pieces(STORIES))]
    rows = new.transformer.wte.weight[added]
    mean = old.transformer.wte.weight.mean(0)
    assert (rows - mean).abs().max() < 0.2 and rows.std(0).mean() > 0  # near the mean, but distinct
    with pytest.raises(ValueError, match="old vocabulary"):
        resize_token_embeddings(old, NEW, OLD)


def test_loss_is_masked_to_the_response():
    story, qa = STORIES[0], STORIES[0].qa[2]
    prompt, response = format_qa_prompt(story.text, qa.question), format_qa_response(qa.answer)
    ex = build_example(NEW, prompt, response)
    n_prompt, n_response = len(NEW.encode(prompt)), len(NEW.encode(response))
    assert len(ex.input_ids) == len(ex.targets) == n_prompt + n_response - 1
    assert (ex.targets[:n_prompt - 1] == IGNORE_INDEX).all()
    assert ex.targets[n_prompt - 1:].tolist() == NEW.encode(response)
    assert ex.n_scored == n_response
    unmasked = build_example(NEW, prompt, response, mask_prompt=False)
    assert unmasked.n_scored == len(unmasked.targets) and torch.equal(unmasked.input_ids, ex.input_ids)

    model = _model(NEW.vocab_size)
    logits, loss = model(ex.input_ids[None], ex.targets[None])
    by_hand = F.cross_entropy(logits[0, n_prompt - 1:], ex.targets[n_prompt - 1:])
    assert abs(loss.item() - by_hand.item()) < 1e-6
    # the prompt's targets do not matter at all: change them, same loss and same gradient
    other = ex.targets.clone()
    other[:n_prompt - 1] = IGNORE_INDEX
    other_loss = model(ex.input_ids[None], other[None])[1]
    assert other_loss.item() == loss.item()
    loss.backward()
    assert model.transformer.wpe.weight.grad[len(ex.input_ids):].abs().max() == 0  # positions never seen


def test_lm_example_scores_every_token():
    ex = build_lm_example(NEW, "\n" + STORIES[0].text + "\n")
    assert ex.n_scored == len(ex.targets) and torch.equal(ex.input_ids[1:], ex.targets[:-1])


def test_collate_pads_without_changing_any_row():
    examples = qa_examples(STORIES[:2], NEW)[:5]
    x, y = collate(examples, pad_id=0)
    assert x.shape == y.shape == (5, max(len(e.input_ids) for e in examples))
    model = _model(NEW.vocab_size)
    batched = model(x)[0]
    for i, e in enumerate(examples):
        alone = model(e.input_ids[None])[0][0]
        assert (batched[i, :len(e.input_ids)] - alone).abs().max() < 1e-5
        assert (y[i, len(e.targets):] == IGNORE_INDEX).all()


def test_hidden_states_chain_and_end_in_the_logits():
    model = _model(NEW.vocab_size)
    idx = torch.tensor([NEW.encode("\n" + STORIES[0].text)])
    full = hidden_states(model, idx)
    lower = hidden_states(model, idx, last=1)
    assert torch.allclose(hidden_states(model, x=lower, first=1), full, atol=1e-6)
    assert torch.allclose(model.lm_head(full), model(idx)[0], atol=1e-5)
    with pytest.raises(ValueError):
        hidden_states(model, idx, first=1)


def test_classifier_reads_the_last_real_token():
    model = _model(NEW.vocab_size)
    clf = GPTClassifier(model, n_classes=3)
    texts = ["\n" + STORIES[0].text, "\n" + STORIES[1].text[:80]]
    ids = [NEW.encode(t) for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    x = torch.zeros(2, int(lengths.max()), dtype=torch.long)
    for i, row in enumerate(ids):
        x[i, :len(row)] = torch.tensor(row)
    logits = clf(x, lengths)
    assert logits.shape == (2, 3)
    alone = clf(torch.tensor([ids[1]]))
    assert torch.allclose(logits[1], alone[0], atol=1e-5)
    freeze(clf.gpt)
    trainable, total = count_parameters(clf)
    assert trainable == 16 * 3 + 3 and total == model.num_parameters() + trainable


def test_train_only_rows_changes_nothing_else():
    model = _model(NEW.vocab_size)
    freeze(model)
    before = model.transformer.wte.weight.detach().clone()
    rows = [NEW.stoi[p] for p in new_pieces(OLD, template_pieces(STORIES))]
    train_only_rows(model.transformer.wte.weight, rows)
    finetune(model, qa_examples(STORIES, NEW), steps=3, batch_size=4, lr=1e-2, warmup_steps=1)
    after = model.transformer.wte.weight.detach()
    others = [i for i in range(NEW.vocab_size) if i not in rows]
    assert torch.equal(after[others], before[others])
    assert (after[rows] - before[rows]).abs().max() > 0


def test_finetune_learns_a_tiny_task_and_scoring_matches_greedy_generation():
    examples = [build_example(NEW, format_qa_prompt(s.text, s.qa[0].question), format_qa_response(s.qa[0].answer))
                for s in STORIES]
    model = _model(NEW.vocab_size)
    pad = NEW.stoi["\n"]
    losses = finetune(model, examples, steps=100, batch_size=6, lr=1e-2, pad_id=pad, warmup_steps=5)
    assert losses[-1] < losses[0] / 10
    assert answer_accuracy(model, examples, pad) >= 0.5  # learned most of the six answers
    assert lm_loss(model, examples, pad) < 0.5

    # one forward pass with argmax == greedy generation, also on a model that gets some wrong
    other = _model(NEW.vocab_size, seed=3)
    mixed = qa_examples(STORIES, NEW)
    for m in (model, other):
        correct = answer_correct(m, mixed, pad)
        prompts = [e.input_ids[:int((e.targets == IGNORE_INDEX).sum()) + 1].tolist() for e in mixed]
        responses = generate_responses(m, prompts, max_new_tokens=6, stop_id=pad)
        expected = [e.targets[e.targets != IGNORE_INDEX].tolist() for e in mixed]
        assert correct.tolist() == [r == t for r, t in zip(responses, expected)]


def test_batched_generation_equals_one_at_a_time():
    model = _model(NEW.vocab_size, seed=1)
    prompts = [NEW.encode(format_qa_prompt(s.text, s.qa[1].question)) for s in STORIES[:4]]
    together = generate_responses(model, prompts, max_new_tokens=5, stop_id=NEW.stoi["\n"])
    for p, r in zip(prompts, together):
        alone = model.generate(torch.tensor([p]), 5, temperature=0)[0, len(p):].tolist()
        stop = alone.index(NEW.stoi["\n"]) + 1 if NEW.stoi["\n"] in alone else len(alone)
        assert r == alone[:stop]
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert generate_responses(model, prompts, 5, 1, temperature=1.0, generator=g1) == \
        generate_responses(model, prompts, 5, 1, temperature=1.0, generator=g2)
    with pytest.raises(ValueError, match="block_size"):
        generate_responses(model, prompts, max_new_tokens=200, stop_id=1)


def test_example_from_ids_needs_both_parts():
    ex = example_from_ids([5, 6, 7], [8, 9])
    assert ex.input_ids.tolist() == [5, 6, 7, 8] and ex.targets.tolist() == [IGNORE_INDEX, IGNORE_INDEX, 8, 9]
    with pytest.raises(ValueError):
        example_from_ids([], [1])


def test_accuracy_by_kind_groups_answers_by_their_storyworld_kind():
    qas = [qa for s in storyworld.StoryWorld(seed=0).generate(40) for qa in s.qa]
    kinds = [qa.kind for qa in qas]
    right = [qa.answer.startswith("the ") for qa in qas]          # only the place answers start with "the"
    by_kind = accuracy_by_kind(kinds, torch.tensor(right))
    assert list(by_kind) == list(storyworld.QUESTION_KINDS)     # storyworld's order, every kind present
    assert by_kind["place"] == 1.0 and all(v == 0.0 for k, v in by_kind.items() if k != "place")
    assert accuracy_by_kind(["pet", "hero", "pet"], [1, 0, 0]) == {"hero": 0.0, "pet": 0.5}
    with pytest.raises(ValueError, match="one kind per answer"):
        accuracy_by_kind(["hero"], [True, False])
    with pytest.raises(ValueError, match="unknown question kinds"):
        accuracy_by_kind(["why"], [True])


def test_plot_accuracy_by_kind_draws_one_bar_per_series_and_kind():
    import matplotlib
    matplotlib.use("Agg")
    ax = plot_accuracy_by_kind({"a": {"hero": 1.0, "pet": 0.5}, "b": {"hero": 0.25}}, chance=0.5, title="t")
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [1.0, 0.5, 0.25, 0.0] and [t.get_text() for t in ax.get_xticklabels()] == ["hero", "pet"]
    with pytest.raises(ValueError, match="series is empty"):
        plot_accuracy_by_kind({})


# -- few-shot prompts and the chat format ------------------------------------------------------------

CHAT = ChatTokenizer(NEW.itos)


def test_few_shot_prompt_is_solved_examples_then_the_question():
    shots = [(s.text, s.qa[3].question, s.qa[3].answer) for s in STORIES[:3]]
    story, question = STORIES[4].text, STORIES[4].qa[3].question
    assert few_shot_prompt([], story, question) == format_qa_prompt(story, question)
    prompt = few_shot_prompt(shots, story, question)
    assert prompt == "".join(QA_TEMPLATE.format(story=s, question=q, answer=a) for s, q, a in shots) \
        + format_qa_prompt(story, question)
    assert prompt.count("\nA: ") == 3 and prompt.endswith("\nA:")


def test_chat_tokenizer_keeps_special_tokens_whole():
    text = "<|user|> Who is the story about?<|end|><|assistant|> " + STORIES[0].qa[0].answer + "<|end|>"
    assert len(WordTokenizer.split("<|user|>")) == 5                # the word pattern alone cuts it apart
    pieces = CHAT.split(text)
    assert pieces[0] == "<|user|>" and pieces[-1] == "<|end|>" and "<|assistant|>" in pieces
    assert "".join(pieces) == text and CHAT.decode(CHAT.encode(text)) == text
    assert CHAT.stoi[CHAT.UNK] not in CHAT.encode(text)
    assert set(CHAT_SPECIALS) <= set(CHAT.itos) and CHAT.vocab_size == NEW.vocab_size + len(CHAT_SPECIALS)
    plain = "\n" + STORIES[1].text
    assert CHAT.split(plain) == NEW.split(plain)                     # no special token: the word pattern
    with pytest.raises(TypeError):
        CHAT.split(None)
    old = _model(NEW.vocab_size)
    new = resize_token_embeddings(old, NEW, CHAT)                    # IDs move: rows are copied by string
    perm = torch.tensor([CHAT.stoi[t] for t in NEW.itos])
    assert torch.equal(new(torch.tensor([CHAT.encode(plain)]))[0][..., perm], old(torch.tensor([NEW.encode(plain)]))[0])
    with pytest.raises(ValueError, match="role"):
        role_token("robot")


def _conversation(story, n_turns, system=True):
    messages = [("system", story.text)] if system else []
    for qa in story.qa[:n_turns]:
        messages += [("user", " " + qa.question), ("assistant", " " + qa.answer)]
    return messages


def test_chat_example_scores_only_the_assistant_messages():
    messages = _conversation(STORIES[0], 3)
    ex = chat_example(CHAT, messages)
    ids = CHAT.encode(render_chat(messages))                         # piece by piece = the whole text
    assert ex.input_ids.tolist() == ids[:-1]
    scored = [CHAT.itos[t] for t in ex.targets.tolist() if t != IGNORE_INDEX]
    replies = [p for _, a in messages[2::2] for p in CHAT.split(a) + [END_OF_MESSAGE]]
    assert scored == replies                                         # each answer and its <|end|>, nothing else
    first = ex.targets.tolist().index(CHAT.stoi[CHAT.split(messages[2][1])[0]])
    assert CHAT.itos[ex.input_ids[first]] == "<|assistant|>"        # predicted from the role token
    model = _model(CHAT.vocab_size)
    logits, loss = model(ex.input_ids[None], ex.targets[None])
    keep = ex.targets != IGNORE_INDEX
    assert abs(loss.item() - F.cross_entropy(logits[0, keep], ex.targets[keep]).item()) < 1e-6
    with pytest.raises(ValueError, match="assistant"):
        chat_example(CHAT, [("user", " Who is the story about?")])


# The notebook's exercises compare a student's function with these references on several cases; the cases
# must reject the typical mistakes.

def _silent_check(monkeypatch, capsys, fn, cases):
    monkeypatch.setattr(checks, "_RESULTS", {})
    result = check_function("7.x", fn, cases, hint="h")
    capsys.readouterr()
    return bool(result)


def test_the_few_shot_exercise_check_rejects_typical_mistakes(monkeypatch, capsys):
    shots = [(s.text[:60], s.qa[1].question, s.qa[1].answer) for s in STORIES[:4]]
    cases = [((shots[:k], STORIES[5].text[:50], STORIES[5].qa[1].question),
              few_shot_prompt(shots[:k], STORIES[5].text[:50], STORIES[5].qa[1].question)) for k in (0, 1, 3)]
    wrong = {
        "no newline after an answer": lambda sh, s, q: "".join(format_qa_prompt(a, b) + " " + c
                                                               for a, b, c in sh) + format_qa_prompt(s, q),
        "shots in reverse order": lambda sh, s, q: few_shot_prompt(sh[::-1], s, q),
        "no newline before each story": lambda sh, s, q: "".join(f"{a}\nQ: {b}\nA: {c}\n" for a, b, c in sh)
        + f"{s}\nQ: {q}\nA:",
        "the question before the shots": lambda sh, s, q: format_qa_prompt(s, q) + "".join(
            format_qa_prompt(a, b) + format_qa_response(c) for a, b, c in sh),
    }
    assert _silent_check(monkeypatch, capsys, few_shot_prompt, cases)
    for name, fn in wrong.items():
        assert not _silent_check(monkeypatch, capsys, fn, cases), name


def test_the_chat_exercise_check_rejects_typical_mistakes(monkeypatch, capsys):
    def reference(messages):
        ex = chat_example(CHAT, messages)
        return ex.input_ids.tolist(), ex.targets.tolist()

    def masked_by(keep, shift=1):
        """A chat example whose target t is scored when keep(role, is_role_token) holds for token t + shift."""
        def fn(messages):
            ids, flags = [], []
            for role, content in messages:
                body = CHAT.encode(content) + [CHAT.stoi[END_OF_MESSAGE]]
                ids += [CHAT.stoi[role_token(role)]] + body
                flags += [keep(role, True)] + [keep(role, False)] * len(body)
            targets = [t if flags[i + shift] else IGNORE_INDEX for i, t in enumerate(ids[1:])]
            return ids[:-1], targets
        return fn

    cases = [((m,), reference(m)) for m in (_conversation(STORIES[0], 1, system=False),
                                             _conversation(STORIES[1], 3),
                                             [("user", " Who is the story about?"), ("assistant", " Sam"),
                                              ("assistant", " Tom")])]
    assert _silent_check(monkeypatch, capsys, masked_by(lambda role, opener: role == "assistant" and not opener),
                         cases)
    wrong = {
        "the user's turns scored too": lambda role, opener: role != "system" and not opener,
        "the role token <|assistant|> scored": lambda role, opener: role == "assistant",
    }
    for name, keep in wrong.items():
        assert not _silent_check(monkeypatch, capsys, masked_by(keep), cases), name
    off_by_one = masked_by(lambda role, opener: role == "assistant" and not opener, shift=0)  # masked by input
    assert not _silent_check(monkeypatch, capsys, off_by_one, cases), "off by one: the mask of the inputs"
    no_end = masked_by(lambda role, opener: role == "assistant" and not opener)

    def without_end(messages):
        inputs, targets = no_end(messages)
        return inputs, [IGNORE_INDEX if t == CHAT.stoi[END_OF_MESSAGE] else t for t in targets]
    assert not _silent_check(monkeypatch, capsys, without_end, cases), "the closing <|end|> not scored"
