"""Keeps the benchmark code alive: a tiny run of every scenario must succeed (no figures kept)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_benchmark_runs_in_smoke_mode():
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "not measured" not in result.stdout, result.stdout[-3000:]
