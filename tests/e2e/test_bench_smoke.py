"""The benchmark harness in its smoke mode (bench/run.sh --smoke): every
kind of run completes and every subscriber sees the final state. Speed is
never asserted here; bench/RESULTS.md holds the figures."""

import os
import subprocess
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("PAYSTAT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN_DIR = Path(os.environ.get("PAYSTAT_BIN_DIR", SOURCE_DIR / "build"))


def test_bench_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ, PAYSTAT_BIN_DIR=str(BIN_DIR))
    proc = subprocess.run([str(SOURCE_DIR / "bench" / "run.sh"), "--smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "final state seen by every subscriber in all" in proc.stdout, proc.stdout
    text = out.read_text()
    for section in ("## Machine and versions", "### Throughput", "### End-to-end latency",
                    "### Compute's memory", "### paystat throughput by number of subscribers",
                    "## Exact commands"):
        assert section in text, section
