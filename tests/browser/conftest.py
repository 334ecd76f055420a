"""Fixtures for the tests that drive JupyterLab in a real browser: a JupyterLab server on 127.0.0.1.

The switch that turns these tests on (LLM_MECHANICS_BROWSER_TESTS=1) and the Chromium they drive (the
``browser`` fixture, shared with the website's test) are in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"  # gitignored (test-artifacts/)
TOKEN = "llm-mechanics-browser-test"  # fixed: the server only listens on 127.0.0.1 and lives for one test session
STARTUP_TIMEOUT_S = 120

# ---------------------------------------------------------------------------------------------------- JupyterLab

# User settings for a clean, deterministic UI: no autosave (the test must never write a notebook), and every
# cell rendered (JupyterLab's default windowing leaves off-screen cells out of the page).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}
# No "get official Jupyter news?" prompt; and no nbgrader toolbar and menus (requirements-dev.txt installs nbgrader
# for the grading test; a student's JupyterLab, from requirements.txt, has none).
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True,
                                      "@jupyter/nbgrader": True}}


@dataclass
class LabServer:
    url: str  # http://127.0.0.1:PORT
    token: str
    log: Path
    process: subprocess.Popen

    def lab_url(self, path: str, workspace: str | None = None) -> str:
        """The URL that opens ``path`` in JupyterLab. With a ``workspace`` name never used before, the page
        starts from an empty layout: JupyterLab saves the open tabs on the server, and a page opened in the
        default workspace would reopen (and start kernels for) every notebook an earlier page had open."""
        where = f"workspaces/{workspace}/tree" if workspace else "tree"
        return f"{self.url}/lab/{where}/{path}?token={self.token}"

    def api(self, method: str, path: str, timeout: float = 10):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def shut_down_kernels(self) -> None:
        """End every kernel session, so one notebook's kernel does not hold memory during the next."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/browser/. Each test replaces its own files there (named after its notebook), so runs side
    by side do not wipe each other's."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _die_with_parent() -> None:
    """In the server's child process (Linux): get SIGTERM when pytest dies, however it dies, so a killed test
    run leaves no server behind (on SIGTERM the server also shuts its kernels down)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory, artifacts_dir):
    """A JupyterLab server from this virtualenv, serving the repository, on 127.0.0.1 with a fixed token.

    Jupyter's config, data, runtime, workspace, settings and checkpoint folders are temporary, so a user's own
    Jupyter setup changes nothing and nothing is written into the repository. The kernel is this virtualenv's
    Python (checked below). The server's process group is killed at the end."""
    home = tmp_path_factory.mktemp("jupyter")
    dirs = {name: home / name for name in ("config", "data", "runtime", "workspaces", "settings", "checkpoints",
                                            "ipython")}
    for d in dirs.values():
        d.mkdir()
    for name, data in LAB_SETTINGS.items():
        _write_json(dirs["settings"] / name, data)
    _write_json(dirs["config"] / "labconfig" / "page_config.json", PAGE_CONFIG)

    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["ipython"]), PYTHONUNBUFFERED="1")
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyterlab",  # this virtualenv's JupyterLab; its kernel is this Python
        "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={REPO}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",  # no workspace to restore: a clean layout
        f"--LabApp.user_settings_dir={dirs['settings']}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read the kernel's state, run commands
        f"--FileCheckpoints.checkpoint_dir={dirs['checkpoints']}",  # no .ipynb_checkpoints/ in the repo
    ]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    log = artifacts_dir / (f"jupyterlab-{worker}.log" if worker else "jupyterlab.log")
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    server = LabServer(url=f"http://127.0.0.1:{port}", token=TOKEN, log=log, process=process)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with code {process.returncode} before answering:\n"
                            f"{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer on {server.url} within {STARTUP_TIMEOUT_S} s:\n"
                                f"{server.log_tail()}")
                time.sleep(0.25)
        _check_kernel_is_this_python(server)
        yield server
    finally:
        _stop(server)


def _check_kernel_is_this_python(server: LabServer) -> None:
    specs = server.api("GET", "/api/kernelspecs")
    argv = specs["kernelspecs"][specs["default"]]["spec"]["argv"]
    # jupyter_client replaces a bare "python"/"python3"/"python3.X" with the server's own interpreter.
    bare = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    executable = argv[0]
    ok = executable in bare or Path(executable).resolve().is_relative_to(Path(sys.prefix).resolve())
    assert ok, (f"the default kernel ({specs['default']}) would run {executable!r}, not this virtualenv's "
                f"Python ({sys.executable})")


def _stop(server: LabServer) -> None:
    process = server.process
    if process.poll() is None:
        try:
            server.api("POST", "/api/shutdown", timeout=5)  # also shuts its kernels down
            process.wait(timeout=20)
        except Exception:  # noqa: BLE001 - whatever happened, the process group is killed below
            pass
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
