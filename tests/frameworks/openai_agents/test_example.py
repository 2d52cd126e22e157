"""The OpenAI Agents example app runs offline, and its run id resumes or answers from history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "examples" / "openai_agents" / "app.py"


def _run(tmp_path: Path, *args: str, app: Path = APP) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_GRPC", "OPENAI_API_KEY"))}
    env["DAPR_AGENTS_DURABLE_DB"] = str(tmp_path / "engine.db")
    result = subprocess.run([sys.executable, str(app), *args], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_example_answers_offline_and_a_finished_run_id_answers_again(tmp_path: Path) -> None:
    first = _run(tmp_path, "What is the weather in Oslo and Tokyo?", "--run-id", "example-1")
    assert first == "run example-1: sunny and 22 C in Oslo; sunny and 22 C in Tokyo."
    assert _run(tmp_path, "What is the weather in Oslo and Tokyo?", "--run-id", "example-1") == first


def test_components_declare_an_actor_state_store() -> None:
    text = (ROOT / "components" / "statestore.yaml").read_text()
    assert "kind: Component" in text and "type: state." in text
    assert '- name: actorStateStore\n      value: "true"' in text


APPROVAL_APP = ROOT / "examples" / "openai_agents" / "approval_app.py"


def test_approval_example_waits_across_processes_and_resumes_when_approved(tmp_path: Path) -> None:
    waiting = _run(tmp_path, "--run-id", "refund-ex", app=APPROVAL_APP)
    assert waiting.startswith('run refund-ex waits for approval of issue_refund {"order":7,"amount":120} (call ')
    assert _run(tmp_path, "--run-id", "refund-ex", app=APPROVAL_APP) == waiting  # still waiting, nothing decided
    assert _run(tmp_path, "--run-id", "refund-ex", "--approve", app=APPROVAL_APP) == "run refund-ex: Refunded 120 for order 7."
    assert _run(tmp_path, "--run-id", "refund-ex", app=APPROVAL_APP) == "run refund-ex: Refunded 120 for order 7."
