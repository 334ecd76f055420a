"""Make an nbgrader course folder from the course notebooks, so an instructor can release and autograde them.

    python scripts/make_nbgrader_assignment.py --course grading              # every notebook, one assignment each
    python scripts/make_nbgrader_assignment.py --course grading notebooks/00_next_token_prediction.ipynb
    cd grading
    nbgrader generate_assignment 00_next_token_prediction   # release/...: the student version
    nbgrader autograde 00_next_token_prediction             # grades submitted/<student>/00_next_token_prediction/

It writes ``COURSE/source/<assignment>/<notebook>.ipynb`` (the assignment is the notebook's name unless
``--assignment`` groups them) and ``COURSE/nbgrader_config.py``. In a source notebook:

- each cell holding a ``# BEGIN SOLUTION`` region is an "Autograded answer" cell. nbgrader finds the course's
  markers as they are (its ClearSolutions looks for the text ``BEGIN SOLUTION`` in a line), and the configuration
  makes it write what make_student_notebooks.py writes, ``name = ...  # your code here``, so nbgrader's student
  version is the course's handout and Run All on it still runs to the end;
- each check cell (it calls check, check_function or check_true) is "Read-only": autograde puts the original
  back, so a student's edits cannot change the cases;
- after each check cell comes an "Autograded tests" cell worth 1 point, ``require_passed("0.1")``. It raises
  AssertionError (0 points) when that exercise's check did not pass, but only while grading: the configuration sets
  $LLM_MECHANICS_GRADING for the kernels nbgrader starts. In class it does nothing.

grade_ids come from the exercise's number, so they stay the same when the notebook changes around it:
``exercise_0_1_solution``, ``exercise_0_1_check`` and ``exercise_0_1_tests``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student_notebooks import BEGIN, END, strip_solution  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHECK_CALLS = ("check", "check_function", "check_true")
EXERCISE_HEADING = re.compile(r"^#+ *Exercise (\d+\.\d+)", re.M)
CONFIG_MARK = "# Written by scripts/make_nbgrader_assignment.py"
TESTS_SOURCE = ("# Graded: when your instructor autogrades, this cell fails unless the check above passed. "
                "In class it does nothing.\n"
                "from course_utils.checks import require_passed\n"
                "require_passed({names})")
CELL_TIMEOUT_S = 600  # nbgrader's default of 30 s per cell is shorter than a training cell takes


# ------------------------------------------------------------------------------------------------ source notebooks


def check_names(source: str) -> list[str]:
    """The exercise names a code cell checks: the literal first argument of each check call, in order."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    names = []
    for node in ast.walk(ast.parse(code)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CHECK_CALLS
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and node.args[0].value not in names):
            names.append(node.args[0].value)
    return names


def _metadata(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
              points: int | None = None) -> dict:
    metadata = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
                "solution": solution, "task": False}
    if points is not None:
        metadata["points"] = points
    return metadata


def nbgrader_source(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The course notebook as an nbgrader source notebook (see the module docstring); the input is not changed."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("jupytext", None)  # an nbgrader source is not paired with the course's .py twin
    cells, used, exercise = [], set(), None

    def unique(grade_id: str) -> str:
        candidate, n = grade_id, 1
        while candidate in used:
            n += 1
            candidate = f"{grade_id}_{n}"
        used.add(candidate)
        return candidate

    for index, cell in enumerate(nb.cells):
        cells.append(cell)
        if cell.cell_type == "markdown":
            found = EXERCISE_HEADING.findall(cell.source)
            exercise = found[-1] if found else exercise
            continue
        if cell.cell_type != "code":
            continue
        names = check_names(cell.source)
        number = exercise or (names[0] if names else f"cell{index}")
        stem = "exercise_" + re.sub(r"\W", "_", number)
        if BEGIN in cell.source:
            cell.metadata["nbgrader"] = _metadata(unique(f"{stem}_solution"), solution=True)
        elif names:
            cell.metadata["nbgrader"] = _metadata(unique(f"{stem}_check"), locked=True)
            tests = nbformat.v4.new_code_cell(TESTS_SOURCE.format(names=", ".join(f'"{n}"' for n in names)))
            tests.metadata["nbgrader"] = _metadata(unique(f"{stem}_tests"), grade=True, locked=True, points=1)
            cells.append(tests)
    nb.cells = cells
    return nb


# ------------------------------------------------------------------------------------- what nbgrader_config.py runs


def configure(c) -> None:
    """Configure nbgrader for the course: called by the nbgrader_config.py this script writes."""
    try:
        from nbgrader.converters import GenerateAssignment
        from nbgrader.preprocessors import ClearSolutions
    except ImportError as exc:  # grading needs nbgrader; writing the source notebooks does not
        raise ImportError("nbgrader is not installed: `pip install nbgrader==0.9.6` (it is in "
                          "requirements-dev.txt)") from exc

    class CourseClearSolutions(ClearSolutions):
        """nbgrader's ClearSolutions with the course's placeholders: make_student_notebooks.strip_solution."""

        def _replace_solution_region(self, cell, language):
            if cell.cell_type != "code" or BEGIN not in cell.source:
                return super()._replace_solution_region(cell, language)
            cell.source = strip_solution(cell.source)
            cell.metadata.get("jupyter", {}).pop("source_hidden", None)  # the course hides its solutions
            return True

    # The kernels nbgrader starts (autograde, validate) inherit the environment: require_passed raises there.
    from course_utils.checks import GRADING_VARIABLE
    os.environ[GRADING_VARIABLE] = "1"
    c.ClearSolutions.begin_solution_delimeter = BEGIN
    c.ClearSolutions.end_solution_delimeter = END
    c.ClearSolutions.code_stub = {"python": "...  # your code here"}  # a solution cell with no marked region
    default = GenerateAssignment.class_traits()["preprocessors"].default()
    c.GenerateAssignment.preprocessors = [CourseClearSolutions if p is ClearSolutions else p for p in default]
    c.Execute.timeout = CELL_TIMEOUT_S


def config_text() -> str:
    scripts = str(Path(__file__).resolve().parent)
    return (f"{CONFIG_MARK}: nbgrader's settings for LLM Mechanics.\n"
            "# Add your own below (c.CourseDirectory.course_id, c.Exchange.root, ...).\n"
            "import sys\n\n"
            f"sys.path.insert(0, {scripts!r})\n"
            "from make_nbgrader_assignment import configure  # noqa: E402\n\n"
            "c = get_config()  # noqa: F821 (nbgrader defines it)\n"
            "configure(c)\n")


# ------------------------------------------------------------------------------------------------------ command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9][0-9]_*.ipynb")
    parser.add_argument("--course", type=Path, required=True, help="the nbgrader course folder to write into")
    parser.add_argument("--assignment", help="put every notebook into this one assignment (default: one each, "
                                             "named after the notebook)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    if args.assignment is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", args.assignment):
        print(f"--assignment must be letters, digits, '_', '.' or '-', got {args.assignment!r}", file=sys.stderr)
        return 2
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"expected a notebook (.ipynb) file, got {path}", file=sys.stderr)
            return 2
    args.course.mkdir(parents=True, exist_ok=True)
    config = args.course / "nbgrader_config.py"
    if not config.exists() or config.read_text(encoding="utf-8").startswith(CONFIG_MARK):
        config.write_text(config_text(), encoding="utf-8")
        print(f"wrote {config}")
    else:
        print(f"kept {config}: this script did not write it (it must call configure(c) from this script)")
    for path in paths:
        folder = args.course / "source" / (args.assignment or path.stem)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbgrader_source(nbformat.read(path, as_version=4)), folder / path.name)
        print(f"{path.name} -> {folder / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
