"""Fault injection: SIGKILL at seeded random points of a crew run with a delegation and a human-input wait.

A hierarchical crew's one task runs as the ``<run id>-task-0`` child workflow. Its
manager's request 1 delegates the recording to the coworker, a ``crewai.delegate`` child
workflow of the task (requests 2 to 16 and the 14 tool calls, in the coworker's own
conversation); the manager's request 17 answers with the coworker's result, and the task
then waits for human input on that answer, which the app accepts. Kills land during model
requests, during tool calls, during the human-input wait, at random moments and during the
app's start (its embedded engine starting); after each the same command runs again, and
every run (crew, task, delegation) must end completed.
``DAPR_AGENTS_DURABLE_CHAOS_KILLS`` sets how many (default 50),
``DAPR_AGENTS_DURABLE_CHAOS_SEED`` replays a printed seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dapr_agents_durable.testing.chaos import chaos_kills, run_chaos

APP = Path(__file__).parent / "apps" / "chaos_app.py"
STEPS = 14
KILLS = chaos_kills(50)
TASK = "Record the 14 steps, one tool call per turn."
CHILD_CALL = ("delegate_work_to_coworker", {"task": TASK, "context": "the plan has 14 steps", "coworker": "recorder"})
APPROVAL_STEP = STEPS + 1  # the human-input wait comes after the last tool call (on the manager's answer)
EXPECTED_RAW = f"all {STEPS} steps recorded"
ENV = {"OPENAI_API_KEY": "sk-chaos", "CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true",
       "CREWAI_TRACING_ENABLED": "false", "CREWAI_TESTING": "true"}

pytestmark = [pytest.mark.crash, pytest.mark.timeout(2400)]


def command(base_url: str, work: Path) -> list[str]:
    return [sys.executable, str(APP), base_url, "chaos-run", str(work / "tools.jsonl")]


def test_random_kills_never_lose_a_run_nor_repay_a_finished_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**ENV, "HOME": str(tmp_path), "CREWAI_STORAGE_DIR": str(tmp_path / "crewai")}
    figures = run_chaos(command, env, tmp_path, steps=STEPS, kills=KILLS, child_call=CHILD_CALL,
                        approval_step=APPROVAL_STEP)
    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert figures.reference == {"raw": EXPECTED_RAW, "tasks": [EXPECTED_RAW], "requests": STEPS + 3}
    figures.check(kills=KILLS, kinds=("request", "tool", "approval", "startup"))
