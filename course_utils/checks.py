"""Auto-checked exercises with friendly feedback and hints.

Every exercise in the course follows the same three-cell pattern. First, a code cell the student
fills in::

    # Exercise 1.1: how many distinct tokens does the vocabulary have?
    answer = ...  # your code here

Then a check, which prints one line of feedback and never raises on a wrong answer::

    check("1.1", answer, len(tokenizer.vocab), hint="Look at `tokenizer.vocab` - it is a dict.")

which prints one of::

    ✅ Exercise 1.1: correct!
    ❌ Exercise 1.1: not yet — expected 27, got 26. Hint: Look at `tokenizer.vocab` - it is a dict.
    ❌ Exercise 1.1: not attempted yet — replace the `...` with your answer. Hint: Look at ...

Finally, the solution sits in a collapsed markdown cell, so it is there for the stuck but not in
everyone's face::

    <details><summary>🔑 Solution</summary>

    ```python
    answer = len(tokenizer.vocab)
    ```
    </details>

(``hint(text)`` and ``solution(text)`` build the same collapsed block from a code cell.)

What is compared, and how:

- numbers (int, float, numpy scalars) within ``|got - expected| <= atol + rtol * |expected|``;
- strings, bools and ``None`` exactly;
- lists/tuples (either one), dicts and sets element by element, saying *where* they differ;
- numpy arrays and torch tensors: shape first, then values within the same tolerance, reporting
  how many values differ and the largest absolute difference. Dtypes are not compared.

Other functions: ``check_function`` runs a student's function on a few cases, ``check_true`` checks
a property, and ``summary()`` prints how many exercises passed in this session. For grading tools,
``require_passed("1.1")`` raises ``AssertionError`` unless exercise 1.1's latest check passed, but only while
grading ($LLM_MECHANICS_GRADING set, as scripts/make_nbgrader_assignment.py's nbgrader configuration does); in
class it does nothing, so a check never stops Run All.

``check`` returns a ``Result`` that is truthy when the answer is right (``assert check(...)`` works) and
that Jupyter does not echo, so a check as the last line of a cell shows only its one line of feedback.
"""

from __future__ import annotations

import html
import math
import numbers
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["check", "check_function", "check_true", "summary", "require_passed", "hint", "solution", "Reveal",
           "Result"]

# name -> passed?  One entry per exercise; the latest check of an exercise wins.
_RESULTS: dict[str, bool] = {}

_NOT_ATTEMPTED = "not attempted yet — replace the `...` with your answer"

# Set (to anything but "", "0", "false" or "no") while a grading tool runs the notebook: require_passed raises.
GRADING_VARIABLE = "LLM_MECHANICS_GRADING"


# --------------------------------------------------------------------------------------------------
# The public checks
# --------------------------------------------------------------------------------------------------


def check(name: str, answer: Any, expected: Any, *, hint: str,
          rtol: float = 1e-4, atol: float = 1e-6) -> "Result":
    """Compare a student's ``answer`` with ``expected``; print one line of feedback.

    Returns True when they match. A wrong answer never raises: it prints what differs and the hint.
    An ``answer`` of ``...`` (or ``None`` when something else is expected) counts as not attempted.
    Raises ``TypeError``/``ValueError`` only when the check itself is misused (empty name or hint,
    negative tolerance).
    """
    _validate(name, hint, rtol, atol)
    if _is_unattempted(answer, expected):
        return _report(name, False, _NOT_ATTEMPTED, hint)
    try:
        problem = _difference(answer, expected, rtol, atol)
    except Exception as exc:  # a strange object that cannot be compared is still just "not yet"
        problem = f"could not compare your answer with the expected one ({_exc_text(exc)})"
    return _report(name, problem is None, problem, hint)


def check_function(name: str, fn: Callable, cases: Iterable[tuple[Any, Any]], *, hint: str,
                   rtol: float = 1e-4, atol: float = 1e-6) -> "Result":
    """Call the student's ``fn`` on each ``(args, expected)`` case and check the results.

    ``args`` is a tuple of positional arguments (anything else is passed as the single argument),
    e.g. ``cases=[((2, 3), 5), ((0, 0), 0)]`` for ``add(a, b)``. Reports the first failing case
    with its input, expected and actual result. Exceptions raised by the student's function are
    caught and reported, never propagated.
    """
    _validate(name, hint, rtol, atol)
    if fn is ... or fn is None:
        return _report(name, False, _NOT_ATTEMPTED, hint)
    if not callable(fn):
        raise TypeError(f"check_function(): fn must be a function, got {_type_name(fn)}")
    cases = _validate_cases(cases)

    for number, (args, expected) in enumerate(cases, start=1):
        args = args if isinstance(args, tuple) else (args,)
        where = f"case {number} of {len(cases)}, {_call_text(fn, args)}"  # before fn can mutate args
        try:
            result = fn(*args)
        except Exception as exc:
            return _report(name, False, f"your function raised {_exc_text(exc)} on {where}", hint)
        if result is None and expected is not None:
            problem = "it returned None — did you forget a `return` (or leave a `...`)?"
        else:
            try:
                problem = _difference(result, expected, rtol, atol)
            except Exception as exc:
                problem = f"its result could not be compared ({_exc_text(exc)})"
        if problem is not None:
            return _report(name, False, f"on {where}: {problem}", hint)
    return _report(name, True, None, hint)


def check_true(name: str, condition: Any, *, message_if_false: str, hint: str) -> "Result":
    """Check a property, e.g. ``check_true("2.4", probs.sum() > 0.99, message_if_false=..., hint=...)``.

    ``condition`` may also be a function of no arguments (``lambda: ...``); it is then called here,
    so that an error in the student's code is reported instead of raised.
    """
    _validate(name, hint)
    _require_text(message_if_false, "message_if_false")
    if condition is ... or condition is None:
        return _report(name, False, _NOT_ATTEMPTED, hint)
    try:
        passed = bool(condition() if callable(condition) else condition)
    except Exception as exc:
        return _report(name, False, f"the check raised {_exc_text(exc)}", hint)
    return _report(name, passed, message_if_false, hint)


def summary() -> None:
    """Print how many exercises passed in this session (useful as a notebook's last cell)."""
    if not _RESULTS:
        print("No exercises checked yet in this session.")
        return
    todo = [name for name, passed in _RESULTS.items() if not passed]
    passed = len(_RESULTS) - len(todo)
    print(f"📋 Exercises passed this session: {passed} of {len(_RESULTS)}.")
    print(f"   Not yet: {', '.join(todo)}" if todo else "   All done — well done!")


def grading() -> bool:
    """Whether a grading tool is running this notebook ($LLM_MECHANICS_GRADING is set)."""
    return os.environ.get(GRADING_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def require_passed(*names: str) -> None:
    """While grading, raise ``AssertionError`` unless every named exercise passed its latest check.

    An nbgrader "autograded tests" cell gives its points when it runs without an error, so this line after a
    check cell gives 0 points to an exercise that failed, was not attempted, or was never checked (its check cell
    crashed first). In class (``grading()`` is False) it does nothing: the check has printed its feedback, and
    the cells after it go on with the course's version.
    """
    if not names:
        raise TypeError("require_passed() needs at least one exercise name, e.g. require_passed('1.1')")
    for name in names:
        _require_text(name, "the exercise name (e.g. '1.1')")
    if not grading():
        return
    for name in names:
        if name not in _RESULTS:
            raise AssertionError(f"Exercise {name} was not checked: its check cell did not run, or it raised "
                                 "before checking it.")
        if not _RESULTS[name]:
            raise AssertionError(f"Exercise {name} did not pass its check (the ❌ line above says why).")


# --------------------------------------------------------------------------------------------------
# Collapsed hints and solutions
# --------------------------------------------------------------------------------------------------


class Reveal:
    """A collapsed ``<details>`` block in a notebook; the plain text anywhere else."""

    def __init__(self, label: str, text: str, *, code: bool):
        _require_text(text, "text")
        self.label = label
        self.text = textwrap.dedent(text).strip("\n")
        self.code = code

    def _repr_html_(self) -> str:
        body = html.escape(self.text)
        if self.code:
            body = f"<pre><code>{body}</code></pre>"
        else:  # prose: keep line breaks, show `inline code` as code
            body = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", body)
            body = f'<div style="white-space: pre-wrap">{body}</div>'
        return f"<details><summary>{html.escape(self.label)}</summary>{body}</details>"

    def __repr__(self) -> str:
        return f"{self.label}:\n{textwrap.indent(self.text, '    ')}"

    __str__ = __repr__


def hint(text: str, *, code: bool = False) -> Reveal:
    """A collapsed "💡 Hint" block. The text is prose (`inline code` allowed) unless ``code``."""
    return Reveal("💡 Hint", text, code=code)


def solution(text: str, *, code: bool = True) -> Reveal:
    """A collapsed "🔑 Solution" block, shown as code unless ``code=False``."""
    return Reveal("🔑 Solution", text, code=code)


# --------------------------------------------------------------------------------------------------
# Comparing values: _difference returns None when they match, else a sentence saying what differs
# --------------------------------------------------------------------------------------------------


def _difference(got: Any, expected: Any, rtol: float, atol: float, path: str = "") -> str | None:
    """What differs between ``got`` and ``expected`` (None if nothing); ``path`` locates nesting."""
    at = f"at {path}: " if path else ""
    if expected is None:
        return None if got is None else f"{at}expected None, got {_show(got)}"
    if not _same_kind(got, expected):
        return at + _type_mismatch(got, expected)

    if _is_array(expected):
        return _array_difference(got, expected, rtol, atol, at)
    if isinstance(expected, (bool, np.bool_)):
        return None if bool(got) == bool(expected) else f"{at}expected {expected}, got {got}"
    if _is_number(expected):
        if _close(got, expected, rtol, atol):
            return None
        return f"{at}expected {_show(expected)}, got {_show(got)}"
    if isinstance(expected, str):
        return None if got == expected else at + _string_difference(got, expected)
    if isinstance(expected, (set, frozenset)):
        missing, extra = expected - got, got - expected
        if not missing and not extra:
            return None
        parts = ([f"missing {_show_items(missing)}"] if missing else []) + \
                ([f"unexpected {_show_items(extra)}"] if extra else [])
        return at + ", ".join(parts)
    if isinstance(expected, Mapping):
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            parts = ([f"missing keys {_show_items(missing)}"] if missing else []) + \
                    ([f"unexpected keys {_show_items(extra)}"] if extra else [])
            return at + ", ".join(parts)
        for key in expected:
            problem = _difference(got[key], expected[key], rtol, atol, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, (list, tuple)):
        if len(got) != len(expected):
            return f"{at}expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _difference(g, e, rtol, atol, f"{path}[{i}]")
            if problem:
                return problem
        return None
    # Anything else: trust its ==.
    return None if bool(got == expected) else f"{at}expected {_show(expected)}, got {_show(got)}"


def _array_difference(got, expected, rtol, atol, at) -> str | None:
    """Shape first, then values within tolerance, for numpy arrays and torch tensors."""
    if tuple(got.shape) != tuple(expected.shape):
        return f"{at}expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    g, e = _to_numpy(got), _to_numpy(expected)
    if g.dtype.kind not in "biuf" or e.dtype.kind not in "biuf":  # e.g. arrays of strings
        return None if np.array_equal(g, e) else f"{at}the values differ"
    g, e = g.astype(np.float64), e.astype(np.float64)
    wrong = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if not wrong.any():
        return None
    with np.errstate(invalid="ignore"):                # inf - inf (a -inf logit where one was expected) is NaN
        gap = np.where(wrong, np.nan_to_num(np.abs(g - e), nan=np.inf), 0.0)
    index = np.unravel_index(int(np.argmax(gap)), gap.shape)
    index_text = int(index[0]) if gap.ndim == 1 else tuple(int(i) for i in index)
    where = f" at index {index_text}" if gap.ndim else ""
    return (f"{at}{int(wrong.sum())} of {wrong.size} values differ; max abs difference "
            f"{gap[index]:.3g}{where} (expected {e[index]:.6g}, got {g[index]:.6g})")


def _string_difference(got: str, expected: str) -> str:
    message = f"expected {_show(expected)}, got {_show(got)}"
    if got.strip() == expected.strip():
        return message + " (they differ only in spaces/newlines at the ends)"
    if got.lower() == expected.lower():
        return message + " (they differ only in upper/lower case)"
    return message


def _same_kind(got, expected) -> bool:
    """Whether ``got`` is the kind of thing ``expected`` is, before comparing values."""
    if _is_tensor(expected) or _is_tensor(got):
        return _is_tensor(expected) and _is_tensor(got)
    if isinstance(expected, np.ndarray):
        return isinstance(got, np.ndarray)
    if isinstance(expected, (bool, np.bool_)):
        return isinstance(got, (bool, np.bool_))
    if _is_number(expected):
        return _is_number(got)
    for kind in (str, (set, frozenset), Mapping, (list, tuple)):
        if isinstance(expected, kind):
            return isinstance(got, kind)
    return True  # unknown types: let == decide


# Conversion tips for the most common mix-ups: (expected kind, got kind) -> what to try.
_TIPS = {
    ("number", "torch.Tensor"): "use .item() to get a Python number",
    ("number", "numpy array"): "use .item() to get a Python number",
    ("list", "torch.Tensor"): "use .tolist()",
    ("list", "numpy array"): "use .tolist()",
    ("torch.Tensor", "numpy array"): "use torch.from_numpy(...)",
    ("torch.Tensor", "list"): "use torch.tensor(...)",
    ("numpy array", "torch.Tensor"): "use .numpy()",
    ("numpy array", "list"): "use np.array(...)",
    ("set", "list"): "use set(...)",
}


def _type_mismatch(got, expected) -> str:
    want, have = _kind(expected), _kind(got)
    tip = _TIPS.get((want, have))
    described = _show(got) if _is_array(got) or got is None else f"{_type_name(got)} {_show(got)}"
    return f"expected a {want}, got {described}" + (f" ({tip})" if tip else "")


def _kind(x) -> str:
    if _is_tensor(x):
        return "torch.Tensor"
    if isinstance(x, np.ndarray):
        return "numpy array"
    if _is_number(x):
        return "number"
    if isinstance(x, (bool, np.bool_)):
        return "bool (True/False)"
    return _type_name(x)


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


class Result:
    """The outcome of a check: truthy when passed. Displays nothing in Jupyter, because the check has
    already printed its feedback (a bare ``True`` under it would only add noise)."""

    __slots__ = ("passed",)

    def __init__(self, passed: bool):
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other) -> bool:
        return self.passed == bool(other) if isinstance(other, (bool, Result)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return repr(self.passed)

    def _ipython_display_(self) -> None:
        pass


def _report(name: str, passed: bool, problem: str | None, hint: str) -> Result:
    """Record the result and print the one line of feedback."""
    _RESULTS[name] = passed
    if passed:
        print(f"✅ Exercise {name}: correct!")
        return Result(True)
    status = "" if problem == _NOT_ATTEMPTED else "not yet — "
    stop = "" if problem.endswith((".", "?", "!")) else "."
    print(f"❌ Exercise {name}: {status}{problem}{stop} Hint: {hint}")
    return Result(False)


def _validate(name, hint, rtol: float = 0.0, atol: float = 0.0) -> None:
    _require_text(name, "the exercise name (e.g. '1.1')")
    _require_text(hint, "hint")
    for label, tol in (("rtol", rtol), ("atol", atol)):
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
            raise TypeError(f"{label} must be a number, got {_type_name(tol)}")
        if not (tol >= 0 and math.isfinite(tol)):
            raise ValueError(f"{label} must be a finite number >= 0, got {tol}")


def _require_text(value, what: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a non-empty string, got {_type_name(value)}")
    if not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def _validate_cases(cases) -> list[tuple[Any, Any]]:
    if isinstance(cases, (str, bytes)) or not isinstance(cases, Iterable):
        raise TypeError(f"cases must be a list of (args, expected) pairs, got {_type_name(cases)}")
    cases = list(cases)
    if not cases:
        raise ValueError("cases must contain at least one (args, expected) pair")
    for number, case in enumerate(cases, start=1):
        if not isinstance(case, (tuple, list)) or len(case) != 2:
            raise ValueError(f"each case must be an (args, expected) pair; case {number} is {case!r}")
    return [tuple(case) for case in cases]


def _is_unattempted(answer, expected) -> bool:
    return answer is ... or (answer is None and expected is not None)


def _is_tensor(x) -> bool:
    torch = sys.modules.get("torch")  # if torch was never imported, x cannot be a tensor
    return torch is not None and isinstance(x, torch.Tensor)


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or _is_tensor(x)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _close(got, expected, rtol, atol) -> bool:
    got, expected = float(got), float(expected)
    if got == expected or (math.isnan(got) and math.isnan(expected)):
        return True
    return abs(got - expected) <= atol + rtol * abs(expected)


def _to_numpy(x) -> np.ndarray:
    if _is_tensor(x):
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.double()  # numpy has no bfloat16
        return x.numpy()
    return np.asarray(x)


def _type_name(x) -> str:
    return type(x).__name__


def _show(x, limit: int = 80) -> str:
    """A short, readable description of a value for feedback messages."""
    if _is_array(x):
        if x.ndim == 0 or (x.ndim == 1 and len(x) <= 6):  # small: show the values themselves
            return " ".join(repr(x).split())
        return f"a {_kind(x)} of shape {tuple(x.shape)}"
    if isinstance(x, np.generic):
        x = x.item()  # np.float64(0.5) -> 0.5
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show_items(items) -> str:
    return _show(sorted(items, key=repr))


def _call_text(fn, args) -> str:
    name = getattr(fn, "__name__", "fn")
    # a string argument is usually a case named by what it tests: show the whole name
    return f"{name}({', '.join(_show(a, 80 if isinstance(a, str) else 40) for a in args)})"


def _exc_text(exc: Exception) -> str:
    return f"{_type_name(exc)}: {exc}" if str(exc) else _type_name(exc)
