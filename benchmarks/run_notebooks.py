#!/usr/bin/env python
"""Run each course notebook in a fresh kernel and check it against the laptop budget.

Usage (from the repository root, in the course virtualenv):

    python benchmarks/run_notebooks.py                      # every notebooks/*.ipynb
    python benchmarks/run_notebooks.py notebooks/03_x.ipynb # only these (any paths)

Each notebook is executed, one at a time, by a child process (this same script
with a hidden flag) that drives a fresh Jupyter kernel through nbclient. The
kernel is therefore a grandchild of this process. While the child runs, this
process samples every 0.1 s the resident memory (RSS) of the kernel and all of
its descendants (DataLoader workers and the like) and keeps the peak of the sum.
Each process's own high-water mark (VmHWM) is read as well, so a spike shorter
than the sampling interval in the kernel itself is not missed.

To mimic a 2-core laptop, the child and everything it starts are pinned to at
most 2 CPUs (where the OS allows) and OMP/MKL/OpenBLAS (and so torch's
intra-op pool) are limited to 2 threads through the environment; CUDA is hidden.

Budget per notebook: 180 s wall time and 1536 MB peak memory (see --help to
change). The table shows the ratio to each budget; the exit status is 1 if any
notebook is over budget or fails (an exception in a cell, a dead kernel, or the
hard time limit), 2 if there is nothing to run, else 0. Results also go to
benchmarks/results/notebooks.json (gitignored).

This is a benchmark, not part of the test suite (pytest does not collect it).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO / "benchmarks" / "results" / "notebooks.json"

TIME_BUDGET_S = 180.0
MEM_BUDGET_MB = 1536.0
THREADS = 2
SAMPLE_INTERVAL_S = 0.1
MB = 1024 * 1024

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",  # OpenMP, and torch's intra-op thread pool default
    "MKL_NUM_THREADS",  # Intel MKL (torch / numpy builds that use it)
    "OPENBLAS_NUM_THREADS",  # numpy's default BLAS
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",  # macOS Accelerate
    "RAYON_NUM_THREADS",  # Rust thread pools (e.g. tiktoken's batch encoding)
)


# --------------------------------------------------------------------------- child


def _child_main(notebook: str, result_path: str, kernel_name: str, cell_timeout: int, threads: int) -> int:
    """Execute one notebook in a fresh kernel; write a small JSON result. Runs in the child."""
    if hasattr(os, "sched_setaffinity"):
        try:
            cpus = sorted(os.sched_getaffinity(0))[:threads]
            os.sched_setaffinity(0, cpus)  # inherited by the kernel and its children
        except OSError:
            pass

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(notebook).resolve()
    result: dict[str, object] = {"ok": False, "error": None, "cell": None}
    current: dict[str, int | None] = {"index": None}
    t0 = time.perf_counter()
    try:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            kernel_name=kernel_name,
            timeout=cell_timeout,
            resources={"metadata": {"path": str(path.parent)}},  # kernel cwd = notebook folder, as in Jupyter
        )
        def _on_cell_start(cell, cell_index, **_kw):  # nbclient hook
            current["index"] = cell_index

        client.on_cell_start = _on_cell_start
        client.execute()
        result["ok"] = True
    except CellExecutionError as exc:
        result["error"] = f"{exc.ename}: {exc.evalue}"
        result["cell"] = current["index"]
    except CellTimeoutError as exc:
        result["error"] = f"cell timed out: {str(exc).splitlines()[0] if str(exc) else ''}"
        result["cell"] = current["index"]
    except DeadKernelError as exc:
        result["error"] = f"kernel died (out of memory?): {exc}"
        result["cell"] = current["index"]
    except Exception as exc:  # noqa: BLE001 - report anything else as a failure too
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["cell"] = current["index"]
    result["exec_s"] = time.perf_counter() - t0
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------- parent


@dataclass
class Result:
    notebook: str
    status: str  # OK, OVER, FAIL, TIMEOUT
    wall_s: float
    exec_s: float | None
    peak_mb: float
    sampled_peak_mb: float
    runner_peak_mb: float
    time_budget_s: float
    mem_budget_mb: float
    time_ratio: float
    mem_ratio: float
    error: str | None = None
    failed_cell: int | None = None
    over: list[str] = field(default_factory=list)


def _vmhwm_bytes(pid: int) -> int:
    """Peak RSS of one process so far (Linux /proc), 0 where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _kill_tree(proc) -> None:
    import psutil

    try:
        procs = proc.children(recursive=True) + [proc]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_ENV_VARS:
        env[var] = str(threads)
    env["CUDA_VISIBLE_DEVICES"] = ""  # a laptop has no GPU: never pick one up by accident
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_one(notebook: Path, args: argparse.Namespace) -> Result:
    import psutil

    with tempfile.TemporaryDirectory(prefix="nbbench-") as tmp:
        result_path = Path(tmp) / "result.json"
        log_path = Path(tmp) / "child.log"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--_child",
            str(notebook),
            str(result_path),
            "--kernel",
            args.kernel,
            "--threads",
            str(args.threads),
            "--kill-after",
            str(args.kill_after),
        ]
        sampled_peak = 0  # max over samples of the summed RSS of the kernel tree
        hwm_peak = 0  # max VmHWM of any single process of the kernel tree
        runner_peak = 0
        timed_out = False
        with open(log_path, "wb") as log:
            t0 = time.perf_counter()
            child = subprocess.Popen(
                cmd, env=_child_env(args.threads), cwd=notebook.parent, stdout=log, stderr=subprocess.STDOUT
            )
            runner = psutil.Process(child.pid)
            while child.poll() is None:
                if time.perf_counter() - t0 > args.kill_after:
                    timed_out = True
                    _kill_tree(runner)
                    break
                try:
                    runner_peak = max(runner_peak, runner.memory_info().rss)
                    kernel_tree = runner.children(recursive=True)
                except psutil.NoSuchProcess:
                    kernel_tree = []
                total = 0
                for p in kernel_tree:
                    try:
                        total += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                    hwm_peak = max(hwm_peak, _vmhwm_bytes(p.pid))
                sampled_peak = max(sampled_peak, total)
                time.sleep(SAMPLE_INTERVAL_S)
            child.wait()
            wall = time.perf_counter() - t0

        child_result: dict = {}
        if result_path.exists():
            child_result = json.loads(result_path.read_text(encoding="utf-8"))
        log_tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]

    peak = max(sampled_peak, hwm_peak)
    res = Result(
        notebook=_display_name(notebook),
        status="OK",
        wall_s=round(wall, 2),
        exec_s=round(child_result["exec_s"], 2) if "exec_s" in child_result else None,
        peak_mb=round(peak / MB, 1),
        sampled_peak_mb=round(sampled_peak / MB, 1),
        runner_peak_mb=round(runner_peak / MB, 1),
        time_budget_s=args.time_budget,
        mem_budget_mb=args.mem_budget,
        time_ratio=round(wall / args.time_budget, 3),
        mem_ratio=round(peak / MB / args.mem_budget, 3),
    )
    if wall > args.time_budget:
        res.over.append("time")
    if peak / MB > args.mem_budget:
        res.over.append("memory")
    if timed_out:
        res.status = "TIMEOUT"
        res.error = f"killed after {args.kill_after:.0f} s"
    elif not child_result.get("ok"):
        res.status = "FAIL"
        res.error = child_result.get("error") or (
            f"runner exited with code {child.returncode}: " + " | ".join(log_tail)
        )
        res.failed_cell = child_result.get("cell")
    elif res.over:
        res.status = "OVER"
    return res


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _print_table(results: list[Result], args: argparse.Namespace) -> None:
    headers = ["notebook", "time s", "peak MB", "budget", "time ratio", "mem ratio", "status"]
    budget = f"{args.time_budget:g} s / {args.mem_budget:g} MB"
    rows = [
        [
            r.notebook,
            f"{r.wall_s:.1f}",
            f"{r.peak_mb:.0f}",
            budget,
            f"{r.time_ratio:.2f}",
            f"{r.mem_ratio:.2f}",
            r.status + (f" ({', '.join(r.over)})" if r.over and r.status != "OK" else ""),
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    right = {1, 2, 4, 5}

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))
    for r in results:
        if r.error:
            where = f" (cell {r.failed_cell})" if r.failed_cell is not None else ""
            print(f"{r.status} {r.notebook}{where}: {r.error}")


def _environment(args: argparse.Namespace) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("torch", "numpy", "nbclient", "ipykernel"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine_cpus": os.cpu_count(),
        "threads": args.threads,
        "thread_env": {v: str(args.threads) for v in THREAD_ENV_VARS},
        "sample_interval_s": SAMPLE_INTERVAL_S,
        "packages": versions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/*.ipynb)")
    parser.add_argument("--time-budget", type=float, default=TIME_BUDGET_S, help="seconds per notebook (180)")
    parser.add_argument("--mem-budget", type=float, default=MEM_BUDGET_MB, help="peak MB per notebook (1536)")
    parser.add_argument("--threads", type=int, default=THREADS, help="CPU threads/cores to allow (2)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (python3)")
    parser.add_argument(
        "--kill-after", type=float, default=600.0, help="hard limit in seconds before a notebook is killed (600)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results (%(default)s)")
    parser.add_argument("--_child", nargs=2, metavar=("NOTEBOOK", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child:
        return _child_main(args._child[0], args._child[1], args.kernel, int(args.kill_after), args.threads)

    notebooks = list(args.notebooks) or sorted((REPO / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not notebooks:
        print("error: no notebooks to run (notebooks/*.ipynb is empty)", file=sys.stderr)
        return 2

    results = []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {_display_name(nb)} ...", file=sys.stderr, flush=True)
        res = run_one(nb.resolve(), args)
        print(f"    {res.status}  {res.wall_s:.1f} s  {res.peak_mb:.0f} MB", file=sys.stderr, flush=True)
        results.append(res)

    print()
    _print_table(results, args)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "budget": {"time_s": args.time_budget, "memory_mb": args.mem_budget},
        "environment": _environment(args),
        "results": [asdict(r) for r in results],
        "all_ok": all(r.status == "OK" for r in results),
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {_display_name(args.json)}")
    return 0 if payload["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
