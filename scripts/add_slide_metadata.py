"""Give every notebook cell slide metadata, so the course presents as slides with jupyterlab-rise.

    python scripts/add_slide_metadata.py        # all notebooks, in place (outputs are kept)

The rule follows the notebooks' structure: the title and each "## " section start a new slide, each "### "
heading (exercises, sub-topics) a sub-slide (down in RISE), solution cells are skipped in the show, and every
other cell continues the current slide. The jupytext twin (.py) is rewritten from the notebook so the pair stays
in sync.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def slide_type(cell) -> str:
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    if "solution" in cell.metadata.get("tags", []):
        return "skip"
    return "-"


def add_slide_metadata(path: Path) -> bool:
    """Set slideshow metadata on every cell; return True if the notebook changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        wanted = {"slide_type": slide_type(cell)}
        if cell.metadata.get("slideshow") != wanted:
            cell.metadata["slideshow"] = wanted
            changed = True
    if changed:
        nbformat.write(nb, path)
        subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--to", "py:percent", str(path)], check=True)
    return changed


def main() -> int:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(f"{path.name}: {'updated' if add_slide_metadata(path) else 'already has slide metadata'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
