"""The repository keeps its promises: two README commands, CI runs the README's test command, and the
students' install (requirements.txt) holds everything the notebooks import, the tests' (requirements-dev.txt)
the rest."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).parent.parent
COURSE_REQUIREMENTS = ROOT / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"


def _readme_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quick_start, re.S)


def test_quick_start_has_exactly_two_commands_one_opens_lab_one_runs_tests():
    commands = _readme_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands), "each is one command line"
    lab, tests = commands
    assert "jupyter lab notebooks/00_next_token_prediction.ipynb" in lab
    assert "pytest" in tests
    # Each installs everything it needs itself: the course for the lab, the course and the test tools for tests.
    assert "pip install -r requirements.txt -e ." in lab, "the lab command installs the course's requirements"
    assert "pip install -r requirements-dev.txt -e ." in tests, "the test command installs the dev requirements"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def _requirement_lines(path: Path) -> list[str]:
    return [line.split(" #", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _pins(path: Path) -> dict[str, str]:
    """name -> version of every pin in a requirements file and the files it includes with -r."""
    pins = {}
    for line in _requirement_lines(path):
        if line.startswith("-r "):
            included = _pins(path.parent / line[3:].strip())
            assert not set(included) & set(pins), f"{path.name}: pinned twice: {set(included) & set(pins)}"
            pins.update(included)
            continue
        assert "==" in line and not line.startswith("-"), f"{path.name}: not an exact pin: {line!r}"
        requirement = Requirement(line)
        name = _normalize(requirement.name)
        assert name not in pins, f"{path.name}: {name} pinned twice"
        pins[name] = str(requirement.specifier).removeprefix("==")
    return pins


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_requirements_pin_everything_and_torch_exactly():
    lines = _requirement_lines(COURSE_REQUIREMENTS)
    assert all("==" in l for l in lines), "every requirement is pinned"
    assert "torch==2.13.0" in lines
    assert not [l for l in lines if l.startswith("-")], "the course's requirements include no other file"


def test_dev_requirements_are_the_course_plus_test_tools():
    lines = _requirement_lines(DEV_REQUIREMENTS)
    assert "-r requirements.txt" in lines, "requirements-dev.txt starts from the course's requirements"
    course, dev = _pins(COURSE_REQUIREMENTS), _pins(DEV_REQUIREMENTS)  # _pins fails on anything pinned twice
    assert course.items() <= dev.items()
    assert "torch" not in set(dev) - set(course), "torch is pinned once, in requirements.txt"
    # What only the tests need stays out of the students' install.
    for tool in ("pytest", "pytest-xdist", "nbval", "playwright", "jupytext", "sphinx"):
        assert tool in dev and tool not in course, f"{tool} belongs in requirements-dev.txt only"


# ----------------------------------------------------------------------- what the notebooks import is installed

def _imports(path: Path) -> dict[str, bool]:
    """Top-level module -> True if some import of it is unconditional (not inside a try that catches
    ImportError: an optional extra the code does without)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    optional_nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                handler.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                                            for n in ast.walk(handler.type))
                for handler in node.handlers):
            optional_nodes.update(id(n) for statement in node.body for n in ast.walk(statement))
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            found[top] = found.get(top, False) or id(node) not in optional_nodes
    return found


def _course_code() -> list[Path]:
    """What a student or instructor runs with the course's install: the notebooks, the package, and the
    scripts the README offers them (not the website's build)."""
    files = sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "course_utils").rglob("*.py"))
    return files + [p for p in sorted((ROOT / "scripts").glob("*.py")) if p.name != "build_site.py"]


def _installed_closure(pins: dict[str, str]) -> set[str]:
    """The distributions that installing these pins brings (following the installed packages' requirements)."""
    seen, todo = set(), list(pins)
    while todo:
        name = _normalize(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_course_install_provides_every_module_the_notebooks_import():
    """Every module that the notebooks, course_utils and the instructor scripts import comes with
    requirements.txt (directly or as a dependency of a pin), so a student's install runs every notebook. An
    import the code guards with `except ImportError` is optional and may come from requirements-dev.txt only."""
    distributions = importlib.metadata.packages_distributions()
    course = _installed_closure(_pins(COURSE_REQUIREMENTS))
    dev = _installed_closure(_pins(DEV_REQUIREMENTS))
    missing, not_installed = [], []
    for path in _course_code():
        for module, required in _imports(path).items():
            if module in sys.stdlib_module_names or module == "course_utils" or module == "__future__":
                continue
            if (ROOT / "scripts" / f"{module}.py").is_file():
                continue  # one script importing another
            providers = {_normalize(d) for d in distributions.get(module, [])}
            if not providers:
                not_installed.append(f"{module} ({path.relative_to(ROOT)})")
            elif not providers & (course if required else dev):
                where = "requirements.txt" if required else "requirements-dev.txt"
                missing.append(f"{module} ({path.relative_to(ROOT)}): {sorted(providers)} not in {where}")
    assert not not_installed, f"imported but not installed here: {not_installed}"
    assert not missing, "\n".join(missing)


def test_readme_has_binder_badge_opening_the_first_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "mybinder.org/badge_logo.svg" in readme
    assert "urlpath=lab/tree/notebooks/00_next_token_prediction.ipynb" in readme


def test_ci_runs_the_notebooks_again_on_another_cpu_code_path():
    """The notebooks pass on every machine: CI re-runs them on torch's non-vectorized kernels, whose last digits
    differ the way another CPU's do."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    readme_command = ci.index(_readme_commands()[1])
    second = [i for i, line in enumerate(ci)
              if line.startswith("ATEN_CPU_CAPABILITY=default ") and "pytest notebooks" in line]
    assert second and second[0] > readme_command



def test_the_package_docstring_names_every_module():
    """course_utils/__init__.py is the package's table of contents: a new module gets its line there."""
    import course_utils

    modules = sorted(p.stem for p in (ROOT / "course_utils").glob("*.py") if not p.stem.startswith("_"))
    modules += ["widgets"]
    missing = [m for m in modules if f"``{m}``" not in course_utils.__doc__]
    assert not missing, f"course_utils/__init__.py does not list {missing}"


# ----------------------------------------------------------------------------------------------------- Colab

def _repository() -> str:
    """owner/name of the course on GitHub, as the README's Binder badge names it (every link says the same)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/", readme).group(1)


def _notebook_cells(path: Path) -> list[dict]:
    import json

    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _colab_lines(path: Path) -> str:
    """The first code cell's opening lines, up to its first blank line: what runs before any other import."""
    first_code = next(c for c in _notebook_cells(path) if c["cell_type"] == "code")
    return "".join(first_code["source"]).split("\n\n")[0]


COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", COURSE_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_in_colab_from_the_readme_and_from_itself(notebook):
    link = f"https://colab.research.google.com/github/{_repository()}/blob/main/notebooks/{notebook.name}"
    first_markdown = "".join(next(c for c in _notebook_cells(notebook) if c["cell_type"] == "markdown")["source"])
    assert f"[Open in Colab]({link})" in first_markdown, f"{notebook.name}'s first cell has no Colab link to itself"
    rows = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| [") and f"(notebooks/{notebook.name})" in line]
    assert len(rows) == 1 and f"]({link})" in rows[0], f"the README's row for {notebook.name} has no Colab link"


def test_every_notebook_starts_with_the_same_colab_lines():
    lines = {notebook.name: _colab_lines(notebook) for notebook in COURSE_NOTEBOOKS}
    first = lines[COURSE_NOTEBOOKS[0].name]
    assert 'if "google.colab" in sys.modules:' in first
    assert f"git+https://github.com/{_repository()}" in first, "Colab installs the repository the README names"
    different = [name for name, text in lines.items() if text != first]
    assert not different, f"these notebooks start with other Colab lines than {COURSE_NOTEBOOKS[0].name}: {different}"


def test_the_colab_lines_install_the_course_on_colab_only(monkeypatch):
    """Run the lines as a notebook would, with pip replaced by a recorder: outside Colab nothing happens; with a
    stand-in for Colab's module, pip installs the course with the notebooks' extras and custom widgets are on."""
    import subprocess
    import types

    source = _colab_lines(COURSE_NOTEBOOKS[0])
    calls, widget_managers = [], []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "colab-lines", "exec"), {})
    assert calls == [], "outside Colab the lines install nothing"

    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: widget_managers.append(True))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    exec(compile(source, "colab-lines", "exec"), {})
    course = f"llm-mechanics[notebooks] @ git+https://github.com/{_repository()}"
    assert calls == [(([sys.executable, "-m", "pip", "install", "-q", course],), {"check": True})], calls
    assert widget_managers == [True], "on Colab the lines switch on custom widgets (anywidget needs them)"


def test_the_colab_install_provides_every_module_the_notebooks_import():
    """On Colab the course is the package with its `notebooks` extra: that covers every module the notebooks and
    course_utils import unconditionally (Colab brings Jupyter and widgets' front end itself)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [Requirement(r).name for r in project["dependencies"] + project["optional-dependencies"]["notebooks"]]
    installed = _installed_closure(dict.fromkeys(names, ""))
    distributions = importlib.metadata.packages_distributions()
    files = sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "course_utils").rglob("*.py"))
    missing = []
    for path in files:
        for module, required in _imports(path).items():
            if not required or module in sys.stdlib_module_names or module in ("course_utils", "__future__"):
                continue
            providers = {_normalize(d) for d in distributions.get(module, [])}
            if not providers & installed:
                missing.append(f"{module} ({path.relative_to(ROOT)}): {sorted(providers)}")
    assert not missing, "not installed by llm-mechanics[notebooks]:\n" + "\n".join(missing)
