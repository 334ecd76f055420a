"""Student mode: one command turns the course notebooks into exercise handouts without solutions, and the
solved notebooks pass their own checks."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from make_student_notebooks import strip_solution, student_version  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_strip_solution_keeps_the_names_the_checks_need():
    source = "# BEGIN SOLUTION\nrow = counts[3] + k\np, q = row[1], row.sum()\n# END SOLUTION"
    assert strip_solution(source) == "row = ...  # your code here\np = ...  # your code here\nq = ...  # your code here"
    body = "def f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n"
    assert strip_solution(body) == "def f(x):\n    ...  # your code here\n"
    only_return = "def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # END SOLUTION\n"
    assert strip_solution(only_return) == "def f(x):\n    ...  # your code here\n"
    with pytest.raises(ValueError, match="without"):
        strip_solution("# BEGIN SOLUTION\nx = 1\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_has_no_solutions_and_valid_code(path):
    student = student_version(nbformat.read(path, as_version=4))
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            ast.parse("\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!"))))
    placeholders = sum(c.source.count("# your code here") for c in student.cells if c.cell_type == "code")
    assert placeholders >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solved_notebooks_pass_their_own_checks(path):
    outputs = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                      for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
                      for o in c.get("outputs", []) if o["output_type"] == "stream")
    assert outputs.count("✅ Exercise") >= 3
    assert "❌ Exercise" not in outputs


def test_command_writes_the_handouts(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student_notebooks.py"),
                             "--out", str(tmp_path)], capture_output=True, text=True, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in NOTEBOOKS]
    assert result.stdout.count("->") == len(NOTEBOOKS)
