"""The benchmarks run, on settings small enough for the test suite. Their speed targets are not checked here
(speed lives in the benchmarks, whose numbers depend on the machine); what is checked is that each one
measures what it says: identical outputs from the two things it compares, and the lines it reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_kv_cache_benchmark_checks_identical_tokens_and_reports_the_ratio():
    result = run_benchmark("bench_kv_cache.py", "--tokens", "24", "--prompt", "4", "--batch", "2",
                           "--threads", "1", "--repeats", "1")
    out = result.stdout
    assert "identical tokens with and without the cache: yes" in out
    assert "generate 24 tokens without cache:" in out and "generate 24 tokens with KV cache:" in out
    assert "speed-up:" in out and "target >= 5x" in out
    assert result.returncode == (0 if " OK" in out else 1)       # the exit code says whether the target was met


def test_training_benchmark_measures_both_models():
    result = run_benchmark("bench_training.py", "--skip-anchor", "--threads", "1", "--batch-sizes", "2",
                           "--seconds", "0.3")
    assert result.returncode in (0, 1), result.stderr
    assert "course" in result.stdout and "reference" in result.stdout and "ratio" in result.stdout, result.stdout


def test_bpe_benchmark_finds_identical_ids():
    result = run_benchmark("bench_bpe.py", "--bytes", "20000", "--vocab-size", "300", "--naive-merges", "5")
    assert "True" in result.stdout and "False" not in result.stdout, result.stdout
