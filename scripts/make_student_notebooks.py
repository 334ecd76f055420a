"""Make the student version of the course: the same notebooks with the exercise solutions taken out.

    python scripts/make_student_notebooks.py                 # writes student/NN_name.ipynb for every notebook
    python scripts/make_student_notebooks.py --out handout notebooks/01_tokenization.ipynb

In the course notebooks each solution sits in a code cell tagged ``solution`` between ``# BEGIN SOLUTION``
and ``# END SOLUTION``. In the student version that region becomes ``name = ...  # your code here`` for every
variable the solution assigns at the top level of the cell (so the check cell below it still runs and says
"not attempted yet"), or a bare ``...`` inside a function body. Outputs are cleared and solution cells are shown, not collapsed.

With nbgrader, scripts/make_nbgrader_assignment.py makes nbgrader's student version out of this same strip_solution.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)")
BANNER = ("> **Student version.** Exercise solutions are removed: replace each `...` with your code and run the "
          "check cell below it. The full course notebooks are in `notebooks/`.")


def strip_solution(source: str) -> str:
    """Replace every BEGIN/END SOLUTION region of a cell's source by placeholders."""
    lines = source.split("\n")
    out: list[str] = []
    region: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            if region is not None:
                raise ValueError("nested '# BEGIN SOLUTION'")
            region = []
            indent = line[: len(line) - len(line.lstrip())]
            continue
        if stripped == END:
            if region is None:
                raise ValueError("'# END SOLUTION' without '# BEGIN SOLUTION'")
            out += _placeholders(region, indent)
            region = None
            continue
        (out if region is None else region).append(line)
    if region is not None:
        raise ValueError("'# BEGIN SOLUTION' without '# END SOLUTION'")
    return "\n".join(out)


def _placeholders(region: list[str], indent: str) -> list[str]:
    if indent:  # inside a function (or loop) body: the student writes all of it, including any return
        return [f"{indent}...  # your code here"]
    names: list[str] = []
    for line in region:
        match = ASSIGNMENT.match(line)
        if match and match.group(1) == indent:
            for name in (n.strip() for n in match.group(2).split(",")):
                if name not in names:
                    names.append(name)
    if not names:
        return ["...  # your code here"]
    return [f"{indent}{name} = ...  # your code here" for name in names]


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in cell.metadata.get("tags", []):
            if BEGIN not in cell.source:
                raise ValueError(f"a cell tagged 'solution' has no '{BEGIN}' region:\n{cell.source[:200]}")
            cell.source = strip_solution(cell.source)
            cell.metadata.get("jupyter", {}).pop("source_hidden", None)
        elif BEGIN in cell.source:
            cell.source = strip_solution(cell.source)
        cell.outputs = []
        cell.execution_count = None
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(BANNER))
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9][0-9]_*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder (default: student/)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb = student_version(nbformat.read(path, as_version=4))
        target = args.out / path.name
        nbformat.write(nb, target)
        print(f"{path.name} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
