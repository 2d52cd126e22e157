"""The PydanticAI example runs offline, and its finished run id answers from history without a model call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "examples" / "pydantic_ai" / "app.py"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_GRPC", "DAPR_HTTP", "OPENAI_API_KEY"))}
    env.update(DAPR_AGENTS_DURABLE_DB=str(tmp_path / "engine.db"), HOME=str(tmp_path))
    result = subprocess.run([sys.executable, str(APP), *args], capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_example_runs_offline_and_a_finished_run_answers_again_without_the_model(tmp_path: Path) -> None:
    first = _run(tmp_path, "--run-id", "weather-ex")
    last = first.stdout.strip().splitlines()[-1]
    assert last == "run weather-ex: sunny and 22 C in Paris; sunny and 22 C in Rome. (2 LLM requests)"
    assert "the scripted model server answered 2 requests" in first.stderr

    again = _run(tmp_path, "--run-id", "weather-ex")
    assert again.stdout.strip().splitlines()[-1] == last
    assert "the scripted model server answered 0 requests" in again.stderr


def test_example_takes_a_question(tmp_path: Path) -> None:
    result = _run(tmp_path, "Weather in Oslo?", "--run-id", "weather-oslo")
    assert result.stdout.strip().splitlines()[-1] == "run weather-oslo: sunny and 22 C in Oslo. (2 LLM requests)"
