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


# --- an untouched handout runs top to bottom -------------------------------------------------------------
# In a handout every solution region is `...`, so an answer is Ellipsis (or a function returning None) until
# the student fills it in. Only a check may take the answer (it then says "not attempted yet"); every other
# later statement must get what it needs from the course's own code.

CHECK_CALLS = {"check", "check_function", "check_true"}
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
          ast.GeneratorExp, ast.ClassDef)
# Reads that are safe in an untouched handout, with the reason.
ALLOWED = {
    ("07_fine_tuning", "zero_shot_ending"): "scores the student's own function: an unsolved one scores 0%",
}


def _code(cell) -> str:
    """The cell's source with IPython magics and shell lines blanked (line numbers kept)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.split("\n"))


def _solution_lines(source: str) -> set[int]:
    """1-based line numbers inside BEGIN/END SOLUTION regions (markers included)."""
    lines, inside = set(), False
    for number, line in enumerate(source.split("\n"), 1):
        if line.strip() == "# BEGIN SOLUTION":
            inside = True
        if inside:
            lines.add(number)
        if line.strip() == "# END SOLUTION":
            inside = False
    return lines


def _bound(node: ast.AST) -> set[str]:
    """Module-level names a statement (or assignment target) binds, not the locals of functions it defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, (ast.Store, ast.Del)) else set()
    if isinstance(node, SCOPES):
        return set()
    return set().union(*map(_bound, ast.iter_child_nodes(node)))


def _is_check(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CHECK_CALLS


def _loads(node: ast.AST) -> set[str]:
    """Global names an expression reads, now or when the functions it defines run; a check's answer excepted."""
    if _is_check(node):
        return set().union(*(_check_argument_loads(a) for a in [*node.args, *(k.value for k in node.keywords)]))
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, SCOPES):  # minus its parameters and locals
        local = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= {n.arg for n in ast.walk(node) if isinstance(n, ast.arg)}
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local
    return set().union(*map(_loads, ast.iter_child_nodes(node)))


def _check_argument_loads(arg: ast.AST) -> set[str]:
    if isinstance(arg, ast.Name | ast.Lambda):  # the answer itself, or a condition that check_true calls safely
        return set()
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name):  # the student's function returns None
        return set().union(*(_loads(a) for a in [*arg.args, *(k.value for k in arg.keywords)]))
    if isinstance(arg, ast.IfExp) and any(isinstance(n, ast.Constant) and n.value is Ellipsis
                                          for n in ast.walk(arg.test)):  # `... if <unsolved> else ...`
        return set()
    return _loads(arg)


def _unbound_reads(body: list[ast.stmt], bound: set[str]) -> list[tuple[ast.stmt, set[str]]]:
    """(statement, names it reads that the cell has not bound before), in execution order; updates `bound`."""
    found = []
    for stmt in body:
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            found.append((stmt, _loads(stmt.iter) - bound))
            bound |= _bound(stmt.target)
            found += _unbound_reads(stmt.body + stmt.orelse, bound)
        elif isinstance(stmt, (ast.If, ast.While)):
            found.append((stmt, _loads(stmt.test) - bound))
            found += _unbound_reads(stmt.body + stmt.orelse, bound)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                found.append((stmt, _loads(item.context_expr) - bound))
                bound |= _bound(item.optional_vars) if item.optional_vars else set()
            found += _unbound_reads(stmt.body, bound)
        elif isinstance(stmt, ast.Try):
            found += _unbound_reads(stmt.body, bound)
            for handler in stmt.handlers:
                bound |= {handler.name} if handler.name else set()
                found += _unbound_reads(handler.body, bound)
            found += _unbound_reads(stmt.orelse + stmt.finalbody, bound)
        else:
            found.append((stmt, _loads(stmt) - bound))
            bound |= _bound(stmt)
    return found


def _uses_of_unsolved_answers(path: Path) -> list[str]:
    import re

    nb = nbformat.read(path, as_version=4)
    answers: dict[str, tuple[str, int]] = {}  # name -> (exercise, cell index of its solution)
    exercise, problems = "?", []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = re.findall(r"^#+ *(Exercise \d+\.\d+)", cell.source, re.M)
            exercise = found[-1] if found else exercise
            continue
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        source = _code(cell)
        region = _solution_lines(source)
        first = cell.source.strip().split("\n")[0][:60]
        for stmt in ast.parse(source).body:
            if region & set(range(stmt.lineno, stmt.end_lineno + 1)):
                answers.update({name: (exercise, index) for name in _bound(stmt)})
                continue
            for inner, names in _unbound_reads([stmt], set()):
                for name in sorted(names & answers.keys()):
                    if (path.stem, name) in ALLOWED:
                        continue
                    owner, where = answers[name]
                    problems.append(f"{path.name}: cell {index} ({first!r}), line {inner.lineno}, reads `{name}`, "
                                    f"the answer to {owner} (solution in cell {where}): `...` in an untouched "
                                    "handout")
            for name in _bound(stmt):
                answers.pop(name, None)
    return problems


def test_reading_an_answer_is_detected(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("### Exercise 9.9 — a test"),
        nbformat.v4.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n"
                                  "# BEGIN SOLUTION\ny = f(2)\n# END SOLUTION"),
        nbformat.v4.new_code_cell("check('9.9a', y, 2)\ncheck('9.9b', f(1), 1)\ncheck_function('9.9c', f, [])\n"
                                  "check_true('9.9d', ... if y is ... else y > 1, hint='')\n"
                                  "check_true('9.9e', lambda: y > 1, hint='')\n"
                                  "check_true('9.9f', y > 1, hint='')\n"  # crashes on `...`
                                  "check('9.9g', len(y), 1)\n"            # so does this
                                  "print(y)"),                             # and this
        nbformat.v4.new_code_cell("def h():\n    return f(1)\nprint(y)"),
        nbformat.v4.new_code_cell("z = 1\nprint(z)\n[y for y in range(3)]\ndef g(y):\n    return y\n"
                                  "with open(z) as y:\n    print(y)"),
        nbformat.v4.new_code_cell("for y in range(2):\n    print(y)"),
        nbformat.v4.new_code_cell("print(y)"),  # a cell above, not a solution, set y again
    ])
    path = tmp_path / "99_t.ipynb"
    nbformat.write(nb, path)
    problems = _uses_of_unsolved_answers(path)
    assert [(p.split("line ")[1].split(",")[0], p.split("`")[1]) for p in problems] == \
        [("6", "y"), ("7", "y"), ("8", "y"), ("1", "f"), ("3", "y")], problems
    assert all("99_t.ipynb: cell " in p and "Exercise 9.9" in p for p in problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_untouched_handout_runs_all_cells(path):
    """Only a check may take an exercise's answer: anything else would crash Run All on a handout."""
    problems = _uses_of_unsolved_answers(path)
    assert not problems, "\n".join(problems)
