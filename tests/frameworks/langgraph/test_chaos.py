"""Fault injection: SIGKILL at seeded random points of a durable LangGraph run with an interrupt and a subgraph.

The graph's ``approve`` node waits on an ``interrupt()`` for approval of the plan (the
app resumes it with ``Command(resume=True)``); once approved, its ``record`` node, a
ReAct subgraph, runs as a child workflow making all 15 model requests and the 14 tool
calls. Kills land during model requests, during tool calls, during the approval wait, at
random moments and during the app's start (its embedded engine starting); after each
kill the same command runs again. ``DAPR_AGENTS_DURABLE_CHAOS_KILLS`` sets how many
(default 50), ``DAPR_AGENTS_DURABLE_CHAOS_SEED`` replays a printed seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY, SUBGRAPH_WORKFLOW, TOOL_ACTIVITY
from dapr_agents_durable.testing.chaos import chaos_kills, run_chaos

APP = Path(__file__).parent / "apps" / "chaos_app.py"
STEPS = 14
KILLS = chaos_kills(50)
QUESTION = "Record the 14 steps, one tool call per turn."
EXPECTED = {"messages": [QUESTION, *[m for n in range(1, STEPS + 1) for m in ("", f"step {n} recorded")],
                         f"all {STEPS} steps recorded"],
            "approved": True,
            "children": [[SUBGRAPH_WORKFLOW, [MODEL_ACTIVITY, TOOL_ACTIVITY] * STEPS + [MODEL_ACTIVITY]]]}
ENV = {"OPENAI_API_KEY": "sk-chaos"}

pytestmark = [pytest.mark.crash, pytest.mark.timeout(1800)]


def command(base_url: str, work: Path) -> list[str]:
    return [sys.executable, str(APP), base_url, "chaos-run", str(work / "tools.jsonl")]


def test_random_kills_never_lose_a_run_nor_repay_a_finished_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_chaos(command, ENV, tmp_path, steps=STEPS, kills=KILLS, approval_step=1)
    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert figures.reference == EXPECTED
    figures.check(kills=KILLS, kinds=("request", "tool", "approval", "startup"))
