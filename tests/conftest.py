"""The switch for the tests that need a real browser, and the one Chromium they share.

Tests marked ``browser`` (tests/browser/ drives JupyterLab, tests/test_site.py opens the course website) are off
unless LLM_MECHANICS_BROWSER_TESTS=1 (``.ci/run`` sets it after installing Chromium), so the README's test command
works on a student's machine that has no Chromium: they are then skipped with one reason. When the variable is
set, a missing Chromium or Playwright is a hard failure.

Chromium is found at $LLM_MECHANICS_CHROMIUM, else /usr/bin/chromium (``apt-get install chromium``).
Playwright's own browser download is never used (``playwright install`` is not needed and not called).
There is one Playwright per test session: a second ``sync_playwright()`` started while the first runs fails
("Playwright Sync API inside the asyncio loop"), so every browser test takes the ``browser`` fixture below.
"""

from __future__ import annotations

import os

import pytest

ENABLE_VAR = "LLM_MECHANICS_BROWSER_TESTS"
CHROMIUM_VAR = "LLM_MECHANICS_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SKIP_REASON = (f"browser tests are off: set {ENABLE_VAR}=1 to run them (they need Chromium at {DEFAULT_CHROMIUM}, "
               "e.g. `apt-get install chromium`; .ci/run installs it and sets the variable)")


def browser_tests_enabled() -> bool:
    return os.environ.get(ENABLE_VAR, "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config):
    config.addinivalue_line("markers", f"browser: needs Chromium (Playwright); runs only with {ENABLE_VAR}=1")


def pytest_collection_modifyitems(config, items):
    if browser_tests_enabled():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_VAR) or DEFAULT_CHROMIUM


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, launched by Playwright. With the browser tests switched on, anything missing fails."""
    executable = chromium_path()
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        pytest.fail(f"{ENABLE_VAR}=1 but there is no Chromium at {executable}. Install it "
                    f"(`apt-get install -y chromium`, as root), point ${CHROMIUM_VAR} at it, or unset {ENABLE_VAR} "
                    "to skip the browser tests.", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"{ENABLE_VAR}=1 but Playwright is not installed ({exc}): "
                    "`.venv/bin/pip install -r requirements-dev.txt`", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def fresh_check_registry(monkeypatch):
    """An empty record of passed exercises (course_utils.checks keeps one per session), for tests that run
    notebooks' check cells."""
    from course_utils import checks

    monkeypatch.setattr(checks, "_RESULTS", {})
