"""Static checks of the mybinder.org (repo2docker) configuration in binder/.

No network and no repo2docker needed: these only read the files. They guard
against the three classic Binder regressions: falling back to repo2docker's
default Python (3.10), pulling the multi-GB CUDA build of torch, and binder/
drifting away from the pins in the top-level requirements.txt (the course's install;
the test tools of requirements-dev.txt stay out of Binder).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
TOP_REQUIREMENTS = ROOT / "requirements.txt"
BINDER_REQUIREMENTS = BINDER / "requirements.txt"
RUNTIME = BINDER / "runtime.txt"
POSTBUILD = BINDER / "postBuild"

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MIN_PYTHON = (3, 11)

# Pins of requirements.txt (the course's install) that Binder may leave out. Empty:
# Binder installs exactly the course's set; the test tools live in
# requirements-dev.txt, which Binder does not install. A package listed here may
# be omitted, but if it is present its version must still match.
BINDER_OPTIONAL: set[str] = set()
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def _normalize(name: str) -> str:
    """PEP 503 name normalization (Scikit_Learn == scikit-learn)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _lines(path: Path) -> list[str]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _pins(path: Path) -> dict[str, str]:
    """Map normalized package name -> pinned version ('==' lines only)."""
    pins: dict[str, str] = {}
    for line in _lines(path):
        if line.startswith("-"):
            continue  # options such as --extra-index-url, -e .
        m = _PIN.match(line)
        assert m, f"{path.relative_to(ROOT)}: not an exact '==' pin: {line!r}"
        name = _normalize(m.group(1))
        assert name not in pins, f"{path.relative_to(ROOT)}: {name} pinned twice"
        pins[name] = m.group(2)
    return pins


def _options(path: Path) -> list[tuple[str, str]]:
    """(option, value) pairs from option lines, e.g. ('--extra-index-url', URL)."""
    opts = []
    for line in _lines(path):
        if line.startswith("-"):
            opt, value = (re.split(r"[=\s]", line, maxsplit=1) + [""])[:2]
            opts.append((opt, value.strip()))
    return opts


def _strip_local(version: str) -> str:
    return version.split("+", 1)[0]


def test_binder_files_exist_and_nothing_overrides_them() -> None:
    assert BINDER.is_dir()
    assert RUNTIME.is_file()
    assert BINDER_REQUIREMENTS.is_file()
    # repo2docker refuses a repo with both binder/ and .binder/.
    assert not (ROOT / ".binder").exists()
    # These would switch repo2docker to another buildpack (conda, pipenv,
    # Docker, nix) and binder/requirements.txt + runtime.txt would be ignored.
    for name in ("environment.yml", "Pipfile", "Pipfile.lock", "Dockerfile", "default.nix", "Project.toml"):
        assert not (BINDER / name).exists(), f"binder/{name} would override binder/requirements.txt"


def test_runtime_pins_python_311_or_newer() -> None:
    text = RUNTIME.read_text(encoding="utf-8").strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", text)
    assert m, f"binder/runtime.txt must look like 'python-3.11', got {text!r}"
    assert (int(m.group(1)), int(m.group(2))) >= MIN_PYTHON


def test_runtime_satisfies_pyproject_requires_python() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^requires-python\s*=\s*"\s*>=\s*(\d+)\.(\d+)\s*"', pyproject, re.MULTILINE)
    assert m, "pyproject.toml: expected requires-python = \">=X.Y\""
    runtime = re.fullmatch(r"python-(\d+)\.(\d+)", RUNTIME.read_text(encoding="utf-8").strip())
    assert runtime
    assert (int(runtime.group(1)), int(runtime.group(2))) >= (int(m.group(1)), int(m.group(2)))


def test_torch_is_cpu_build_from_cpu_index() -> None:
    options = _options(BINDER_REQUIREMENTS)
    index_urls = [v.rstrip("/") for o, v in options if o in ("--extra-index-url", "--index-url", "-i")]
    assert CPU_INDEX in index_urls, f"binder/requirements.txt must use {CPU_INDEX}"

    pins = _pins(BINDER_REQUIREMENTS)
    assert "torch" in pins, "binder/requirements.txt must pin torch"
    version = pins["torch"]
    assert version.endswith("+cpu"), f"torch must be the CPU build (X.Y.Z+cpu), got {version}"

    top = _pins(TOP_REQUIREMENTS)
    assert _strip_local(version) == _strip_local(top["torch"]), "torch version differs from requirements.txt"


def test_no_cuda_packages_in_binder_requirements() -> None:
    text = BINDER_REQUIREMENTS.read_text(encoding="utf-8").lower()
    for line in _lines(BINDER_REQUIREMENTS):
        low = line.lower()
        assert not low.startswith(("nvidia-", "triton")), f"CUDA-only package in binder: {line}"
        assert "whl/cu" not in low, f"CUDA wheel index in binder: {line}"
    assert "+cu1" not in text


def test_binder_pins_match_top_level_requirements() -> None:
    top = _pins(TOP_REQUIREMENTS)
    binder = _pins(BINDER_REQUIREMENTS)

    missing = sorted(set(top) - set(binder) - BINDER_OPTIONAL)
    assert not missing, f"pinned in requirements.txt but missing from binder/requirements.txt: {missing}"

    extra = sorted(set(binder) - set(top))
    assert not extra, f"pinned in binder/requirements.txt but not in requirements.txt: {extra}"

    mismatched = {
        name: (top[name], binder[name])
        for name in sorted(set(top) & set(binder))
        if _strip_local(top[name]) != _strip_local(binder[name])
    }
    assert not mismatched, f"version differs (requirements.txt, binder): {mismatched}"


def test_binder_leaves_out_the_test_tools() -> None:
    """Binder is where students run the course: nothing that only requirements-dev.txt adds."""
    dev_only = set(_pins(DEV_REQUIREMENTS)) - set(_pins(TOP_REQUIREMENTS))
    assert dev_only, "requirements-dev.txt adds the test tools"
    assert not dev_only & set(_pins(BINDER_REQUIREMENTS)), \
        f"binder/requirements.txt installs test-only packages: {sorted(dev_only & set(_pins(BINDER_REQUIREMENTS)))}"
    assert not [line for line in _lines(BINDER_REQUIREMENTS) if line.startswith("-r")], \
        "binder/requirements.txt lists its pins itself (repo2docker installs it before the repository is copied)"


def _postbuild_installs_package(text: str) -> bool:
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        if re.search(r"\bpip\s+install\b", line) and re.search(r"\s(-e\s+|--editable[=\s]+)?\.(\s|$)", line):
            return True
    return False


def test_course_utils_gets_installed() -> None:
    if POSTBUILD.exists():
        mode = POSTBUILD.stat().st_mode
        assert mode & stat.S_IXUSR, "binder/postBuild must be executable (chmod +x)"
        text = POSTBUILD.read_text(encoding="utf-8")
        assert text.startswith("#!"), "binder/postBuild needs a shebang line"
        assert re.search(r"^set -e", text, re.MULTILINE), "binder/postBuild should fail fast (set -e...)"
        assert _postbuild_installs_package(text), "binder/postBuild must pip install the repo (course_utils)"
    else:
        local = [line for line in _lines(BINDER_REQUIREMENTS) if re.fullmatch(r"(-e\s+)?\.", line)]
        assert local, "without binder/postBuild, binder/requirements.txt must contain '-e .' or '.'"


def test_postbuild_uses_unix_line_endings() -> None:
    if not POSTBUILD.exists():
        pytest.skip("no binder/postBuild")
    assert b"\r\n" not in POSTBUILD.read_bytes(), "CRLF in postBuild breaks the shebang on Linux"


def test_package_dir_exists() -> None:
    # postBuild installs the repo root; course_utils must be the package there.
    assert (ROOT / "course_utils" / "__init__.py").is_file()
    assert os.path.isfile(ROOT / "pyproject.toml")
