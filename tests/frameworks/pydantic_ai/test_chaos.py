"""Fault injection: SIGKILL at seeded random points of a run with an approval and a child workflow.

The planner's request 1 calls ``record_plan``, a tool that needs approval and runs in the
workflow; once approved, it delegates to the recorder (a ``DaprAgent``), whose run is a
``pydantic_ai.delegate`` child workflow (requests 2 to 16 and the 14 tool calls), and the
planner's request 17 answers with its result. Kills land during model requests, during
tool calls, during the approval wait, at random moments and during the app's start (its
embedded engine starting); after each the same command runs again.
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
# the resumed run's usage, as natively: its own request and the delegate's 15; record_plan and the 14 steps
EXPECTED = {"output": f"all {STEPS} steps recorded", "requests": STEPS + 2, "tool_calls": STEPS + 1}
ENV = {"OPENAI_API_KEY": "sk-chaos", "OTEL_SDK_DISABLED": "true"}

pytestmark = [pytest.mark.crash, pytest.mark.timeout(2400)]


def command(base_url: str, work: Path) -> list[str]:
    return [sys.executable, str(APP), base_url, "chaos-run", str(work / "tools.jsonl")]


def test_random_kills_never_lose_a_run_nor_repay_a_finished_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_chaos(command, ENV, tmp_path, steps=STEPS, kills=KILLS, approval_step=1,
                        child_call=("record_plan", {"task": "Record the 14 steps."}))
    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert figures.reference == EXPECTED
    figures.check(kills=KILLS, kinds=("request", "tool", "approval", "startup"))
