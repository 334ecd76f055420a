"""Every notebook reads like a lesson: objectives, exercises with hints and collapsed solutions, a recap;
it is committed executed, in order, without errors; and its jupytext script is in sync.

Executing the notebooks and comparing their outputs is nbval's job (``pytest --nbval notebooks``), which
the README's test command runs as part of the same suite.
"""

import ast
import json
import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name == "00_next_token_prediction.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure_objectives_exercises_recap(path):
    cells = _cells(path)
    markdown = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    assert re.match(r"# \d\d · ", markdown[0]), "the first cell is the title"
    assert any(m.startswith("## Objectives") for m in markdown[:2]), "objectives belong at the top"
    assert any(m.startswith("## Recap") for m in markdown[-3:]), "a recap belongs at the end"
    exercises = [m for m in markdown if re.search(r"^### Exercise \d+\.\d+", m, re.M)]
    assert len(exercises) >= 3, "at least three exercises"
    for text in exercises:
        assert "<details><summary>💡 Hint</summary>" in text, "every exercise offers a collapsed hint"
    checks = [c for c in code if re.search(r"\bcheck(_function|_true)?\(", c)]
    assert len(checks) >= 3, "exercises are auto-checked"
    solutions = [c for c in cells if "solution" in c.get("metadata", {}).get("tags", [])]
    assert len(solutions) >= 3
    for cell in solutions:
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, "solutions start collapsed"
        assert "# BEGIN SOLUTION" in _source(cell) and "# END SOLUTION" in _source(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_in_order_without_errors(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert None not in counts, "every code cell was executed"
    assert counts == list(range(1, len(code) + 1)), "executed top to bottom in a fresh kernel"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors
    for cell in code:
        assert not re.search(r"/(home|root|tmp|Users|work)/", _source(cell)), "no absolute paths"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_jupytext_pair_in_sync(path):
    script = path.with_suffix(".py")
    assert script.exists(), f"{script.name} (the reviewable jupytext twin) is missing"
    from_script = jupytext.read(script)
    from_notebook = jupytext.read(path)
    pairs = list(zip(from_script.cells, from_notebook.cells))
    assert len(from_script.cells) == len(from_notebook.cells), \
        f"run `jupytext --sync {path.relative_to(path.parent.parent)}`"
    for i, (a, b) in enumerate(pairs):
        assert (a.cell_type, a.source) == (b.cell_type, b.source), \
            f"cell {i} differs: run `jupytext --sync notebooks/{path.name}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_has_slide_metadata(path):
    """Slide mode (jupyterlab-rise): sections are slides, "###" headings sub-slides, solutions skipped.
    `python scripts/add_slide_metadata.py` sets it; this fails when a new or edited cell lacks it."""
    import sys

    sys.path.insert(0, str(path.parent.parent / "scripts"))
    import nbformat
    from add_slide_metadata import slide_type

    nb = nbformat.read(path, as_version=4)
    wrong = [(i, cell.metadata.get("slideshow"), slide_type(cell)) for i, cell in enumerate(nb.cells)
             if cell.metadata.get("slideshow") != {"slide_type": slide_type(cell)}]
    assert not wrong, (f"{path.name}: cells without the expected slide metadata (index, has, expected): "
                       f"{wrong[:5]}; run `python scripts/add_slide_metadata.py`")
    slides = [c for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "slide"]
    assert len(slides) >= 5, f"{path.name}: only {len(slides)} slides"


NBVAL_IGNORE = "# NBVAL_IGNORE_OUTPUT"


def _top_level_asserts(source: str) -> list[ast.Assert]:
    """The assertions a cell runs itself: not those inside a function or class it only defines."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    found, todo = [], list(ast.parse(code).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Assert):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_kept_from_nbval_are_asserted(path):
    """Passes on every machine: a figure that comes from training, sampling or timing moves in its last digits
    on another CPU, so nbval does not compare that cell's output (`# NBVAL_IGNORE_OUTPUT` on its first line).
    In exchange the cell asserts, with a tolerance and a message, the claim the prose makes about the figure.
    No cell is skipped altogether."""
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        source, tags = _source(cell), cell.get("metadata", {}).get("tags", [])
        assert "NBVAL_SKIP" not in source and "nbval-skip" not in tags, \
            f"{path.name} cell {index}: a skipped cell checks nothing"
        ignored = NBVAL_IGNORE in source or "nbval-ignore-output" in tags
        if not ignored:
            continue
        assert source.lstrip().startswith(NBVAL_IGNORE), \
            f"{path.name} cell {index}: {NBVAL_IGNORE} belongs on the cell's first line"
        asserts = _top_level_asserts(source)
        assert asserts, (f"{path.name} cell {index}: its output is kept out of nbval's comparison, so it must "
                         f"assert the claim its figures support (with a tolerance)")
        assert all(a.msg is not None for a in asserts), \
            f"{path.name} cell {index}: each tolerance assertion says the claim it checks (assert ..., \"...\")"
