"""The repository keeps its promises: two README commands, CI runs the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


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
    for command in commands:
        assert "pip install -r requirements.txt -e ." in command, "each command installs everything itself"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_requirements_pin_everything_and_torch_exactly():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert all("==" in l for l in lines), "every requirement is pinned"
    assert "torch==2.13.0" in lines


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
