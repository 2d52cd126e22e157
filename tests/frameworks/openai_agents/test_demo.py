"""The README's first command: the crash-and-resume demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_reports_sixteen_calls_paid_instead_of_twenty_eight(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_GRPC")}
    result = subprocess.run(
        [sys.executable, "-m", "dapr_agents_durable", "demo", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = result.stdout.split("\nreport\n")[1]
    assert "run 2 replayed from history:   12 steps" in report
    assert "run 2 executed:                3 steps (13-15)" in report
    assert "14 findings saved, each once: True" in report
    assert "model calls paid:              16 (13 before the crash, 3 after" in report
    assert "a non-durable restart pays:    28" in report
    assert "sk-demo-not-a-real-key".encode() not in (tmp_path / "engine.db").read_bytes()
