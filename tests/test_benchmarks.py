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
    assert "code effect, throughput" in result.stdout, result.stdout


def test_training_benchmark_reports_code_and_recipe_effects_apart(tmp_path):
    """The anchor trains two recipes with the course loop and prints the code effect (same recipe or steps,
    other code) and the recipe effect (same code, other recipe) on separate, labelled lines. A tiny stand-in
    text keeps it quick; the real tinyshakespeare is not part of the repository."""
    text = tmp_path / "tinyshakespeare.txt"
    text.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 150,
                    encoding="utf-8")
    result = run_benchmark("bench_training.py", "--threads", "1", "--batch-sizes", "2", "--seconds", "0.2",
                           "--shakespeare", str(text), "--steps", "3", "--batch", "2", "--warmup", "1",
                           "--nanogpt-steps", "4")
    out = result.stdout
    assert result.returncode in (0, 1), result.stderr
    assert "course recipe: batch 2, lr 0.006 (warmup 1, cosine to 3 steps), betas (0.9, 0.95)" in out, out
    assert "nanoGPT recipe: batch 12, lr 0.001 (warmup 1, cosine to 4 steps), betas (0.9, 0.99)" in out, out
    summary = out[out.index("summary"):]
    code = summary.index("code effect (same recipe or same steps, other code; this is speed, not the recipe)")
    recipe = summary.index("recipe effect (same code, the course loop, two recipes; "
                           "a better recipe is not faster code)")
    assert code < recipe
    assert "course GPT vs stock PyTorch, same shape and steps, batch 2:" in summary[code:recipe], out
    assert "nanoGPT's recipe, 4 steps: course loop" in summary[code:recipe], out
    assert "ratio nanoGPT / course =" in summary[code:recipe], out
    assert "time to val 1.886" in summary[recipe:] and "at about equal training time:" in summary[recipe:], out
    assert "target: course recipe to val 1.886 within 60 s" in summary, out


def test_training_benchmark_skips_the_anchor_without_the_text(tmp_path):
    result = run_benchmark("bench_training.py", "--skip-throughput", "--shakespeare", str(tmp_path / "none.txt"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nanoGPT anchor: skipped, no tinyshakespeare text at" in result.stdout, result.stdout


def test_bpe_benchmark_finds_identical_ids():
    result = run_benchmark("bench_bpe.py", "--bytes", "20000", "--vocab-size", "300", "--naive-merges", "5")
    assert "True" in result.stdout and "False" not in result.stdout, result.stdout
