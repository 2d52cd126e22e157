"""Fault injection with the engine in its own process: SIGKILL of the app and of the engine.

The app (the planner of ``test_chaos.py``: an approval, then a 14-step child workflow) reaches ``dapr-agents-durable engine``
through ``DAPR_GRPC_PORT``, as it would a Dapr sidecar. Kills land on either process during
model requests, during tool calls, during the approval wait, at random moments and during its start; a killed engine
starts again on the same port and database, a killed app with the same command (and so does
an app that exits because its engine went away). ``DAPR_AGENTS_DURABLE_CHAOS_KILLS`` sets how
many kills (default 25), ``DAPR_AGENTS_DURABLE_CHAOS_SEED`` replays a printed seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dapr_agents_durable.testing.chaos import chaos_kills, run_chaos

APP = Path(__file__).parent / "apps" / "chaos_app.py"
STEPS = 14
KILLS = chaos_kills(25)
EXPECTED = {"final_output": f"all {STEPS} steps recorded", "turns": 2}
ENV = {"OPENAI_API_KEY": "sk-chaos", "OPENAI_AGENTS_DISABLE_TRACING": "1"}
ENGINE_OPTIONS = ("--activity-orphan-grace", "2")
"""A killed app's activity goes to its restarted worker after 2 s (not the default 30 s)."""

pytestmark = [pytest.mark.crash, pytest.mark.timeout(1800)]


def command(base_url: str, work: Path) -> list[str]:
    return [sys.executable, str(APP), base_url, "chaos-run", str(work / "tools.jsonl")]


def test_random_kills_of_app_and_engine_never_lose_a_run_nor_repay_a_finished_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_chaos(command, ENV, tmp_path, steps=STEPS, kills=KILLS, approval_step=1,
                        child_call=("record_plan", {"input": "Record the 14 steps."}), separate_engine=True,
                        engine_options=ENGINE_OPTIONS)
    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert figures.reference == EXPECTED
    assert figures.engine_kills > 0
    figures.check(kills=KILLS, kinds=("request", "tool", "approval", "startup"))
