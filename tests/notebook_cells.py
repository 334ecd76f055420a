"""Running a notebook's exercise cells in a test, as the build-it tests do: the check cell exactly as it stands
in the notebook's jupytext twin, with the student's function (the course's version, a blank, a wrong one)
swapped in. Used by tests/test_build_it_*.py, tests/test_exercises_03.py and tests/test_generation_exercises.py."""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_cells(name: str) -> list[str]:
    """The cells of notebooks/<name>.py, split at its `# %%` markers."""
    return re.split(r"^# %%.*$", (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8"), flags=re.M)


def check_cell(name: str, exercise: str) -> str:
    """The one code cell of notebook `name` that checks `exercise` (it calls check_function("N.M", ...))."""
    [cell] = [c for c in notebook_cells(name) if f'check_function("{exercise}"' in c]
    return cell


def run_check_cell(name: str, capsys, exercise: str, namespace: dict) -> str:
    """Run notebook `name`'s check cell for `exercise` in `namespace`; return what it printed."""
    exec(check_cell(name, exercise), namespace)
    return capsys.readouterr().out


def run_check(name: str, capsys, exercise: str, **namespace) -> tuple[str, dict]:
    """Run notebook `name`'s check cell for `exercise` with these names defined (the student's answer among
    them); return what it printed and the namespace after it (which answer the notebook goes on with)."""
    return run_check_cell(name, capsys, exercise, namespace), namespace


def solution(name: str, defines: str, **namespace) -> dict:
    """Run notebook `name`'s solution cell that contains `defines` (e.g. "def attention(") in these names;
    return the namespace, which then holds what the cell defines."""
    [cell] = [c for c in notebook_cells(name) if defines in c and "# BEGIN SOLUTION" in c]
    exec(cell, namespace)
    return namespace


def blank(*args):  # what a handout's function is before the student writes it: its body is `...`
    ...
