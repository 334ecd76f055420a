"""Grading with nbgrader: scripts/make_nbgrader_assignment.py turns the course notebooks into nbgrader source
notebooks; nbgrader's student version is the course's handout, and autograde gives a solved notebook full marks,
an untouched one zero and a wrong answer 0 for that exercise only.

Autograding executes the notebook once per submission, so the end-to-end test grades notebook 00 cut after its
last exercise (its first 50 cells, all four of its exercises, about 7 s a run) rather than whole notebooks."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import checks
from course_utils.checks import GRADING_VARIABLE, check, require_passed

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from make_nbgrader_assignment import check_names, main, nbgrader_source  # noqa: E402
from make_student_notebooks import student_version  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GRADED = ROOT / "notebooks" / "00_next_token_prediction.ipynb"


def _roles(nb) -> list[tuple[str, str]]:
    """(grade_id, role) of every nbgrader cell, in order; role is solution, check or tests."""
    roles = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta:
            role = "solution" if meta["solution"] else "tests" if meta["grade"] else "check"
            roles.append((meta["grade_id"], role))
    return roles


# ------------------------------------------------------------------------------------------ grading mode


def test_require_passed_raises_only_while_grading(monkeypatch, fresh_check_registry, capsys):
    check("9.1", 2, 2, hint="two")
    check("9.2", ..., 2, hint="two")
    monkeypatch.delenv(GRADING_VARIABLE, raising=False)
    require_passed("9.1", "9.2", "9.3")  # in class: nothing, whatever the checks said
    monkeypatch.setenv(GRADING_VARIABLE, "1")
    require_passed("9.1")
    with pytest.raises(AssertionError, match="Exercise 9.2 did not pass its check"):
        require_passed("9.1", "9.2")
    with pytest.raises(AssertionError, match="Exercise 9.3 was not checked"):
        require_passed("9.3")
    monkeypatch.setenv(GRADING_VARIABLE, "0")
    require_passed("9.2")
    with pytest.raises(TypeError, match="at least one exercise name"):
        require_passed()
    with pytest.raises(ValueError, match="exercise name"):
        require_passed(" ")


# ------------------------------------------------------------------------------------ the source notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_is_an_answer_a_read_only_check_and_a_tests_cell(path):
    course = nbformat.read(path, as_version=4)
    source = nbgrader_source(course)
    roles = _roles(source)
    ids = [grade_id for grade_id, _ in roles]
    assert len(ids) == len(set(ids)), "grade_ids are unique"
    assert all(grade_id.replace("_", "").isalnum() for grade_id in ids)
    solutions = [c for c in course.cells if c.cell_type == "code" and "# BEGIN SOLUTION" in c.source]
    checked = [c for c in course.cells if c.cell_type == "code" and check_names(c.source)
               and "# BEGIN SOLUTION" not in c.source]
    assert [r for _, r in roles].count("solution") == len(solutions) >= 3
    assert [r for _, r in roles].count("check") == [r for _, r in roles].count("tests") == len(checked) >= 3
    for cell, after in zip(source.cells, source.cells[1:]):  # each check cell is followed by its tests cell
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_check"):
            meta = after.metadata["nbgrader"]
            assert meta["grade"] and meta["locked"] and meta["points"] == 1
            assert after.source.endswith(f"require_passed({', '.join(map(repr, check_names(cell.source)))})"
                                         .replace("'", '"'))
    assert "jupytext" not in source.metadata and "nbgrader" not in course.cells[0].metadata  # the input is kept


def test_grade_ids_come_from_the_exercise_numbers():
    course = nbformat.read(GRADED, as_version=4)
    ids = [grade_id for grade_id, _ in _roles(nbgrader_source(course))]
    assert ids[:3] == ["exercise_0_1_solution", "exercise_0_1_check", "exercise_0_1_tests"]
    assert "exercise_0_4_tests" in ids
    course.cells.insert(2, nbformat.v4.new_code_cell("x = 1"))  # a cell added elsewhere changes no grade_id
    assert [grade_id for grade_id, _ in _roles(nbgrader_source(course))] == ids


def test_stock_nbgrader_finds_the_course_solution_markers():
    """Without the course's configuration nbgrader still recognises `# BEGIN SOLUTION` (it writes its own stub)."""
    from nbgrader.preprocessors import ClearSolutions

    source = nbgrader_source(nbformat.read(GRADED, as_version=4))
    cleared, _ = ClearSolutions().preprocess(source, {})
    assert not any("BEGIN SOLUTION" in c.source for c in cleared.cells)
    assert sum("raise NotImplementedError()" in c.source for c in cleared.cells) == 4


# --------------------------------------------------------------------- generate, then autograde three students


def _nbgrader(course: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop(GRADING_VARIABLE, None)  # the course's nbgrader_config.py must set it by itself
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=300)  # nbgrader runs `alembic` from PATH: this venv's
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def test_nbgrader_releases_the_handout_and_autogrades_solved_full_blank_zero(tmp_path):
    nb = nbformat.read(GRADED, as_version=4)
    last_check = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and check_names(c.source))
    nb.cells = nb.cells[:last_check + 1]
    nbformat.write(nb, tmp_path / GRADED.name)
    course, assignment = tmp_path / "course", GRADED.stem
    assert main(["--course", str(course), str(tmp_path / GRADED.name)]) == 0

    _nbgrader(course, "generate_assignment", assignment)
    release = nbformat.read(course / "release" / assignment / GRADED.name, as_version=4)
    handout = student_version(nb)
    handout_code = [c.source for c in handout.cells if c.cell_type == "code"]
    release_code = [c.source for c in release.cells
                    if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")]
    assert release_code == handout_code, "nbgrader's student version has the handout's code"

    source = nbformat.read(course / "source" / assignment / GRADED.name, as_version=4)
    solved = nbformat.from_dict(release)  # what a student who wrote the course's solutions hands in
    for cell, original in zip(solved.cells, source.cells):
        cell.source = original.source
    wrong = nbformat.from_dict(solved)  # rows not normalised: divided by the column sums
    [cell] = [c for c in wrong.cells if "def bigram_probabilities" in c.source]
    cell.source = cell.source.replace("smoothed.sum(dim=1, keepdim=True)", "smoothed.sum(dim=0, keepdim=True)")
    assert "dim=0" in cell.source
    for student, submission in (("solved", solved), ("blank", release), ("wrong", wrong)):
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(submission, folder / GRADED.name)

    _nbgrader(course, "autograde", assignment)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission(assignment, s).score for s in ("solved", "blank", "wrong")}
        max_score = gradebook.find_assignment(assignment).max_score
        wrong_cells = {g.name: g.score for g in gradebook.find_submission_notebook(GRADED.stem, assignment,
                                                                                   "wrong").grades}
    assert max_score == 4
    assert scores == {"solved": 4, "blank": 0, "wrong": 3}, scores
    # 0.2 is wrong; 0.3, whose cases use 0.2's table, still gets its point: the check fell back to the course's
    assert wrong_cells == {"exercise_0_1_tests": 1, "exercise_0_2_tests": 0, "exercise_0_3_tests": 1,
                           "exercise_0_4_tests": 1}
    graded = (course / "autograded" / "blank" / assignment / GRADED.name).read_text(encoding="utf-8")
    assert "Exercise 0.1 did not pass its check" in graded
