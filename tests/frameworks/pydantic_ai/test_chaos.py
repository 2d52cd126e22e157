"""Fault injection: SIGKILL at seeded random points of a durable PydanticAI agent's 15-request tool loop.

Kills land during model requests, during tool calls, at random moments and during the
app's start (its embedded engine starting); after each kill the same command runs again.
``DAPR_AGENTS_DURABLE_CHAOS_KILLS`` sets how many (default 50),
``DAPR_AGENTS_DURABLE_CHAOS_SEED`` replays a printed seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dapr_agents_durable.testing.chaos import chaos_kills, run_chaos

APP = Path(__file__).parent / "apps" / "tool_loop_app.py"
STEPS = 14
KILLS = chaos_kills(50)
EXPECTED = {"output": f"all {STEPS} steps recorded", "requests": STEPS + 1, "tool_calls": STEPS}
ENV = {"OPENAI_API_KEY": "sk-chaos", "OTEL_SDK_DISABLED": "true"}

pytestmark = [pytest.mark.crash, pytest.mark.timeout(1800)]


def command(base_url: str, work: Path) -> list[str]:
    return [sys.executable, str(APP), base_url, "chaos-run", str(work / "tools.jsonl"), "loop"]


def test_random_kills_never_lose_a_run_nor_repay_a_finished_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_chaos(command, ENV, tmp_path, steps=STEPS, kills=KILLS)
    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert figures.reference == EXPECTED
    figures.check(kills=KILLS)
