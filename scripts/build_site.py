"""Build the course website from the committed, executed notebooks: one command, offline.

    python scripts/build_site.py            # -> website/_build/html/index.html
    python scripts/build_site.py --out DIR  # somewhere else

Every notebook becomes a page with its math, plots and saved outputs; the README is the landing page (with the
syllabus map, the notebook table); the instructor guide and the Binder/JupyterHub and benchmark notes are pages
too, so the links between them keep working. Nothing is executed (the notebooks are committed executed), and
nothing is fetched: MathJax comes from the `django-static-mathjax` package (MathJax 3, no Django needed) and is
served from the site's own _static/ folder. Needs the site packages of requirements-dev.txt
(website/requirements.txt); torch is not needed.

The pages are laid out in a staging folder (website/_build/src by default) and built there by Sphinx with
website/conf.py; Sphinx warnings fail the build. Publish website/_build/html as it is (GitHub Pages: see the
README and .github/workflows/pages.yml).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEBSITE = ROOT / "website"
DEFAULT_OUT = WEBSITE / "_build" / "html"

# Markdown pages besides the notebooks: (file in the repository, page in the site). The README is the landing
# page; the others are what the README and the instructor guide link to.
PAGES = [
    ("README.md", "index.md"),
    ("notebooks/README.md", "notebooks/README.md"),
    ("binder/README.md", "binder/README.md"),
    ("benchmarks/README.md", "benchmarks/README.md"),
]
# MathJax 3's combined TeX + MathML → HTML component, and what it loads on demand: TeX extensions (autoload),
# the CHTML fonts, the context menu and its accessibility tools.
MATHJAX_FILES = ["tex-mml-chtml.js", "input", "output/chtml", "output/chtml.js", "a11y", "ui", "sre"]


def mathjax_source() -> Path:
    try:
        import mathjax  # the django-static-mathjax package: MathJax's files, nothing else
    except ImportError:
        sys.exit("build_site: MathJax is missing: pip install -r requirements-dev.txt (django-static-mathjax)")
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        sys.exit(f"build_site: no tex-mml-chtml.js in {es5}; reinstall django-static-mathjax")
    return es5


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def landing_page(readme: str) -> str:
    """The README with its syllabus map (the "## Notebooks" section) moved up to follow the introduction, and a
    table of contents for the sidebar appended (hidden: the notebook table is the page's own map)."""
    intro, *sections = re.split(r"(?m)^(?=## )", readme)
    syllabus = [s for s in sections if s.startswith("## Notebooks\n")]
    readme = intro + "".join(syllabus + [s for s in sections if s not in syllabus])
    course = "\n".join(f"notebooks/{nb.stem}" for nb in notebooks())
    return (readme.rstrip() + "\n\n"
            "```{toctree}\n:hidden:\n:caption: Notebooks\n\n" + course + "\n```\n\n"
            "```{toctree}\n:hidden:\n:caption: Teaching\n\n"
            "notebooks/README\nbinder/README\nbenchmarks/README\n```\n")


def relink(text: str, page: str) -> str:
    """The README is index.md on the site: point links to it there."""
    depth = page.count("/")
    readme = "../" * depth + "README.md"
    return re.sub(r"\]\(" + re.escape(readme) + r"(#[^)]*)?\)",
                  lambda m: "](" + "../" * depth + "index.md" + (m.group(1) or "") + ")", text)


def notebook_page(path: Path) -> bytes:
    """The notebook as the site shows it: a cell collapsed in the notebook (the exercises' solutions) is
    collapsed on its page too, behind a "Show code cell source" toggle."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        metadata = cell.setdefault("metadata", {})
        if metadata.get("jupyter", {}).get("source_hidden"):
            tags = metadata.setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
    return json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8")


def write_if_changed(path: Path, data: bytes) -> None:
    """Unchanged files keep their time stamps, so Sphinx rebuilds only the pages that changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def stage(src: Path) -> None:
    wanted: dict[Path, bytes] = {}
    for repo_path, page in PAGES:
        text = (ROOT / repo_path).read_text(encoding="utf-8")
        if page == "index.md":
            text = landing_page(text)
        wanted[src / page] = relink(text, page).encode("utf-8")
    for nb in notebooks():
        wanted[src / "notebooks" / nb.name] = notebook_page(nb)
    wanted[src / "conf.py"] = (WEBSITE / "conf.py").read_bytes()
    # Pages removed from the repository leave the site too.
    if src.is_dir():
        for old in src.rglob("*"):
            if old.is_file() and old not in wanted and "_static" not in old.relative_to(src).parts:
                old.unlink()
    for path, data in wanted.items():
        write_if_changed(path, data)

    es5 = mathjax_source()
    target = src / "_static" / "mathjax"
    if not (target / "tex-mml-chtml.js").is_file() or \
            (target / "tex-mml-chtml.js").read_bytes() != (es5 / "tex-mml-chtml.js").read_bytes():
        shutil.rmtree(target, ignore_errors=True)
        for name in MATHJAX_FILES:
            source = es5 / name
            if source.is_dir():
                shutil.copytree(source, target / name)
            else:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
        shutil.copy2(es5.parent / "LICENSE", target / "LICENSE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the HTML goes (default: %(default)s)")
    parser.add_argument("--src", type=Path, default=None,
                        help="staging folder for the pages (default: src/ beside --out's folder)")
    parser.add_argument("--fresh", action="store_true", help="rebuild every page, not only the changed ones")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    src = (args.src or out.parent / "src").resolve()
    doctrees = out.parent / "doctrees"
    if args.fresh:
        shutil.rmtree(doctrees, ignore_errors=True)

    start = time.perf_counter()
    stage(src)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-d", str(doctrees),
               str(src), str(out)]
    result = subprocess.run(command, cwd=src)
    if result.returncode:
        print(f"build_site: Sphinx failed (exit {result.returncode}); see the warnings above", file=sys.stderr)
        return result.returncode
    pages = len(list(out.rglob("*.html")))
    print(f"build_site: {pages} pages in {out} ({time.perf_counter() - start:.1f} s); open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
