"""The CrewAI example runs offline, takes feedback on its terminal, and its run id answers from history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "examples" / "crewai" / "app.py"


def _run(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_GRPC", "OPENAI_API_KEY"))}
    env.update(DAPR_AGENTS_DURABLE_DB=str(tmp_path / "engine.db"), HOME=str(tmp_path),
               CREWAI_STORAGE_DIR=str(tmp_path / "crewai"))
    result = subprocess.run([sys.executable, str(APP), *args], input=stdin, capture_output=True, text=True,
                            timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_example_revises_on_feedback_and_a_finished_run_answers_again(tmp_path: Path) -> None:
    first = _run(tmp_path, "Say it is good for a walk.\n\n", "--run-id", "forecast-ex")
    last = first.stdout.strip().splitlines()[-1]
    assert last == "run forecast-ex: Paris: sunny, 22 C, perfect for a walk. (4 LLM requests)"
    assert first.stdout.count("review ") == 2
    again = _run(tmp_path, "", "--run-id", "forecast-ex")
    assert again.stdout.strip().splitlines()[-1] == last
    assert "review " not in again.stdout
