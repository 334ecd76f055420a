"""Tests for course_utils.checks: the feedback students see when they check an exercise."""

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import check, check_function, check_true, hint, solution, summary

HINT = "think about it"


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test starts with no exercises recorded."""
    monkeypatch.setattr(checks, "_RESULTS", {})


def run(capsys, *args, **kwargs):
    """Call check(...) and return (result, printed line)."""
    result = check(*args, hint=HINT, **kwargs)
    return result, capsys.readouterr().out.strip()


def assert_wrong(result, out, *fragments):
    assert not result
    assert out.startswith("❌ Exercise")
    assert out.endswith(f"Hint: {HINT}")
    for fragment in fragments:
        assert fragment in out, out


# -- correct answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, expected", [
    (3, 3),
    (0.1 + 0.2, 0.3),
    (3.0, 3),
    (np.float32(0.5), 0.5),
    ("hello", "hello"),
    (True, True),
    (np.bool_(False), False),
    (None, None),
    ([1, (2.0, "a")], [1, (2, "a")]),
    ((1, 2), [1, 2]),
    ({"a": [1, 2], "b": {"c": 0.5}}, {"b": {"c": 0.5}, "a": [1, 2]}),
    ({3, 1, 2}, {1, 2, 3}),
    (frozenset({1}), {1}),
    (np.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3)),
    (torch.ones(2, 3) / 3, torch.full((2, 3), 1 / 3)),
    (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, float("nan")])),
    (torch.tensor(2.0, requires_grad=True) * 1, torch.tensor(2.0)),
    (torch.ones(2, dtype=torch.bfloat16), torch.ones(2)),
    (np.array(["a", "b"]), np.array(["a", "b"])),
])
def test_correct_answers(capsys, answer, expected):
    result, out = run(capsys, "1.1", answer, expected)
    assert result
    assert out == "✅ Exercise 1.1: correct!"


# -- wrong answers, one per kind ------------------------------------------------------------------------


@pytest.mark.parametrize("answer, expected, fragments", [
    (2.9, 3, ["expected 3, got 2.9"]),
    (4, 3, ["expected 3, got 4"]),
    (np.float64(0.25), 0.5, ["expected 0.5, got 0.25"]),
    ("3", 3, ["expected a number, got str '3'"]),
    (True, 1, ["expected a number, got bool True"]),
    ("abd", "abc", ["expected 'abc', got 'abd'"]),
    ("abc ", "abc", ["differ only in spaces"]),
    ("ABC", "abc", ["differ only in upper/lower case"]),
    (False, True, ["expected True, got False"]),
    (1, True, ["expected a bool (True/False), got int 1"]),
    (0, None, ["expected None, got 0"]),
    ([1, 2], [1, 2, 3], ["expected 3 items, got 2"]),
    ([1, [2, 3]], [1, [2, 4]], ["at [1][1]: expected 4, got 3"]),
    ([1, None], [1, 2], ["at [1]: expected a number, got None"]),
    ({"a": 1, "b": 2}, {"a": 1, "c": 2}, ["missing keys ['c']", "unexpected keys ['b']"]),
    ({"a": 1}, {"a": 2}, ["at ['a']: expected 2, got 1"]),
    ([1, 2], {"a": 1}, ["expected a dict, got list"]),
    ({1, 2, 5}, {1, 2, 3}, ["missing [3]", "unexpected [5]"]),
    ([1, 2, 3], {1, 2, 3}, ["expected a set, got list", "use set(...)"]),
    (np.array([1, 2, 4]), np.array([1, 2, 3]), ["1 of 3 values differ", "max abs difference 1 at index 2"]),
    (np.array([1.0, 2.0]), torch.tensor([1.0, 2.0]), ["expected a torch.Tensor, got array([1., 2.])",
                                                      "torch.from_numpy"]),
    ([1.0, 2.0], torch.tensor([1.0, 2.0]), ["expected a torch.Tensor, got list", "torch.tensor(...)"]),
    (torch.tensor([1.0]), np.array([1.0]), ["expected a numpy array", ".numpy()"]),
    (torch.zeros(3, 4), [[0.0] * 4] * 3,
     ["expected a list, got a torch.Tensor of shape (3, 4)", ".tolist()"]),
    (torch.tensor(2.0), 2.0, ["expected a number, got tensor(2.)", ".item()"]),
])
def test_wrong_answers(capsys, answer, expected, fragments):
    result, out = run(capsys, "1.2", answer, expected)
    assert_wrong(result, out, "Exercise 1.2: not yet — ", *fragments)


def test_wrong_answer_line_format(capsys):
    result, out = run(capsys, "2.1", 4, 5)
    assert out == f"❌ Exercise 2.1: not yet — expected 5, got 4. Hint: {HINT}"


def test_shape_mismatch_is_reported_before_values(capsys):
    result, out = run(capsys, "3.1", torch.zeros(4, 3), torch.zeros(3, 4))
    assert_wrong(result, out, "expected shape (3, 4), got (4, 3)")
    result, out = run(capsys, "3.1", np.zeros(3), np.zeros((3, 1)))
    assert_wrong(result, out, "expected shape (3, 1), got (3,)")


def test_tensor_values_report_count_and_max_difference(capsys):
    expected = torch.arange(12.0).reshape(3, 4)
    answer = expected.clone()
    answer[1, 2] += 0.5
    answer[0, 0] += 0.1
    result, out = run(capsys, "3.2", answer, expected)
    assert_wrong(result, out, "2 of 12 values differ", "max abs difference 0.5 at index (1, 2)",
                 "expected 6, got 6.5")


def test_nan_where_a_number_is_expected_is_wrong(capsys):
    result, out = run(capsys, "3.3", torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    assert_wrong(result, out, "1 of 2 values differ", "max abs difference inf")


def test_tolerance(capsys):
    assert run(capsys, "4.1", 1.00005, 1.0)[0]  # within default rtol=1e-4
    assert not run(capsys, "4.1", 1.001, 1.0)[0]
    assert run(capsys, "4.1", 1.001, 1.0, rtol=1e-2)[0]
    assert run(capsys, "4.1", 1e-7, 0.0)[0]  # atol matters near zero
    assert not run(capsys, "4.1", 1e-7, 0.0, atol=0.0)[0]
    assert run(capsys, "4.1", torch.tensor([1.00005]), torch.tensor([1.0]))[0]
    assert run(capsys, "4.1", torch.tensor([1.01]), torch.tensor([1.0]), rtol=0.1)[0]
    assert run(capsys, "4.1", float("inf"), float("inf"))[0]


# -- not attempted ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [..., None])
def test_not_attempted(capsys, answer):
    result, out = run(capsys, "5.1", answer, 42)
    assert not result
    assert out == f"❌ Exercise 5.1: not attempted yet — replace the `...` with your answer. Hint: {HINT}"


def test_ellipsis_is_not_attempted_even_when_none_is_expected(capsys):
    result, out = run(capsys, "5.2", ..., None)
    assert not result and "not attempted yet" in out


def test_uncomparable_answer_does_not_raise(capsys):
    class Weird:
        def __eq__(self, other):
            raise RuntimeError("no comparing me")

    result, out = run(capsys, "5.3", Weird(), Weird())
    assert_wrong(result, out, "could not compare", "RuntimeError: no comparing me")


# -- check_function --------------------------------------------------------------------------------


def add(a, b):
    return a + b


def test_check_function_correct(capsys):
    assert check_function("6.1", add, [((1, 2), 3), ((2.5, 0.5), 3.0)], hint=HINT)
    assert capsys.readouterr().out.strip() == "✅ Exercise 6.1: correct!"


def test_check_function_single_argument_cases(capsys):
    assert check_function("6.2", len, [("abc", 3), ([1, 2], 2)], hint=HINT)


def test_check_function_reports_first_failing_case(capsys):
    def wrong_add(a, b):
        return a + b if a else 0

    result = check_function("6.3", wrong_add, [((1, 2), 3), ((0, 5), 5), ((0, 1), 1)], hint=HINT)
    assert_wrong(result, capsys.readouterr().out.strip(),
                 "on case 2 of 3, wrong_add(0, 5): expected 5, got 0")


def test_check_function_reports_student_exception(capsys):
    def divide(a, b):
        return a / b

    result = check_function("6.4", divide, [((4, 2), 2), ((1, 0), 0)], hint=HINT)
    assert_wrong(result, capsys.readouterr().out.strip(),
                 "your function raised ZeroDivisionError: division by zero on case 2 of 2, divide(1, 0)")


def test_check_function_missing_return(capsys):
    def unfinished(x):
        ...

    result = check_function("6.5", unfinished, [(1, 2)], hint=HINT)
    assert_wrong(result, capsys.readouterr().out.strip(), "returned None", "forget a `return`")


def test_check_function_with_tensors(capsys):
    cases = [((torch.zeros(3), 0), torch.full((3,), 1 / 3))]
    assert check_function("6.6", torch.softmax, cases, hint=HINT)
    capsys.readouterr()
    cases = [((torch.zeros(3), 0), torch.full((3,), 0.3))]
    result = check_function("6.6", torch.softmax, cases, hint=HINT)
    assert_wrong(result, capsys.readouterr().out.strip(),
                 "softmax(tensor([0., 0., 0.]), 0)", "3 of 3 values differ")


def test_check_function_not_attempted(capsys):
    assert not check_function("6.8", ..., [(1, 1)], hint=HINT)
    assert "not attempted yet" in capsys.readouterr().out


# -- check_true ------------------------------------------------------------------------------------


def test_check_true(capsys):
    assert check_true("7.1", 2 > 1, message_if_false="2 should be bigger", hint=HINT)
    assert capsys.readouterr().out.strip() == "✅ Exercise 7.1: correct!"
    assert not check_true("7.1", 1 > 2, message_if_false="1 is not bigger than 2.", hint=HINT)
    assert capsys.readouterr().out.strip() == \
        f"❌ Exercise 7.1: not yet — 1 is not bigger than 2. Hint: {HINT}"


def test_check_true_with_callable_catches_errors(capsys):
    assert check_true("7.2", lambda: torch.ones(3).sum() == 3, message_if_false="no", hint=HINT)
    capsys.readouterr()
    result = check_true("7.2", lambda: torch.zeros(3) > 0, message_if_false="no", hint=HINT)
    assert_wrong(result, capsys.readouterr().out.strip(), "the check raised RuntimeError")
    assert not check_true("7.3", ..., message_if_false="no", hint=HINT)
    assert "not attempted yet" in capsys.readouterr().out


# -- summary ---------------------------------------------------------------------------------------


def test_summary_counts_last_result_per_exercise(capsys):
    summary()
    assert "No exercises checked yet" in capsys.readouterr().out

    check("1.1", 1, 1, hint=HINT)
    check("1.2", 1, 2, hint=HINT)
    check("1.3", ..., 2, hint=HINT)
    check("1.2", 2, 2, hint=HINT)  # fixed on the second try: the last result wins
    check_true("1.4", True, message_if_false="no", hint=HINT)
    check_function("1.5", add, [((1, 1), 2)], hint=HINT)
    capsys.readouterr()
    summary()
    out = capsys.readouterr().out
    assert "passed this session: 4 of 5" in out
    assert "Not yet: 1.3" in out

    check("1.3", 2, 2, hint=HINT)
    capsys.readouterr()
    summary()
    out = capsys.readouterr().out
    assert "5 of 5" in out and "All done" in out


# -- hint() and solution() --------------------------------------------------------------------------


def test_hint_html_is_collapsed_and_escaped():
    block = hint("Use `x < 3` & not <b>bold</b>")
    html = block._repr_html_()
    assert html.startswith("<details><summary>💡 Hint</summary>")
    assert html.endswith("</details>")
    assert "<code>x &lt; 3</code>" in html
    assert "&amp; not &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>" not in html


def test_solution_renders_code_in_pre_and_plain_text_fallback():
    block = solution("""
        def f(x):
            return x < 2
    """)
    html = block._repr_html_()
    assert "<summary>🔑 Solution</summary>" in html
    assert "<pre><code>def f(x):\n    return x &lt; 2</code></pre>" in html
    assert repr(block) == "🔑 Solution:\n    def f(x):\n        return x < 2"
    assert str(block) == repr(block)


def test_hint_as_code_and_plain_text():
    assert "<pre><code>" in hint("x.sum(dim=-1)", code=True)._repr_html_()
    assert repr(hint("Look at <vocab>")) == "💡 Hint:\n    Look at <vocab>"


# -- misuse raises clear errors ---------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(name=""), ValueError, "exercise name"),
    (dict(name="   "), ValueError, "exercise name"),
    (dict(name=1.1), TypeError, "exercise name"),
    (dict(hint=""), ValueError, "hint must be a non-empty string"),
    (dict(hint=None), TypeError, "hint must be a non-empty string"),
    (dict(rtol=-1e-3), ValueError, "rtol must be a finite number >= 0"),
    (dict(atol=-1.0), ValueError, "atol must be a finite number >= 0"),
    (dict(atol=float("nan")), ValueError, "atol"),
    (dict(rtol="0.1"), TypeError, "rtol must be a number"),
])
def test_check_bad_arguments(kwargs, error, message):
    args = dict(name="1.1", hint=HINT) | kwargs
    with pytest.raises(error, match=message):
        check(args.pop("name"), 1, 1, **args)


def test_hint_is_required():
    with pytest.raises(TypeError, match="hint"):
        check("1.1", 1, 1)  # noqa: the missing keyword is the point


def test_check_function_bad_arguments():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_function("1.1", 42, [(1, 1)], hint=HINT)
    with pytest.raises(ValueError, match="at least one"):
        check_function("1.1", add, [], hint=HINT)
    with pytest.raises(ValueError, match="case 2 is"):
        check_function("1.1", add, [((1, 1), 2), (1, 2, 3)], hint=HINT)
    with pytest.raises(TypeError, match="cases must be a list"):
        check_function("1.1", add, 5, hint=HINT)
    with pytest.raises(ValueError, match="hint"):
        check_function("1.1", add, [((1, 1), 2)], hint="")


def test_check_true_bad_arguments():
    with pytest.raises(ValueError, match="message_if_false"):
        check_true("1.1", True, message_if_false="", hint=HINT)
    with pytest.raises(ValueError, match="exercise name"):
        check_true("", True, message_if_false="no", hint=HINT)


def test_hint_and_solution_need_text():
    with pytest.raises(ValueError, match="text"):
        hint("  ")
    with pytest.raises(TypeError, match="text"):
        solution(None)


def test_misuse_records_nothing():
    with pytest.raises(ValueError):
        check("1.1", 1, 1, hint="")
    assert checks._RESULTS == {}


def test_result_is_truthy_and_silent_in_jupyter(capsys):
    ok = checks.check("9.1", 2, 2, hint="h")
    bad = checks.check("9.2", 2, 3, hint="h")
    assert ok and not bad and ok == True and bad == False  # noqa: E712
    assert repr(ok) == "True" and ok._ipython_display_() is None
