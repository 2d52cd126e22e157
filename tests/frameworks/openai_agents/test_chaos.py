"""Fault injection: SIGKILL at seeded random points of a 15-request tool loop, restart, compare.

Kills land during model requests, during tool calls, at random moments and during the
app's start (its embedded engine starting); ``DAPR_AGENTS_DURABLE_CHAOS_KILLS`` sets how
many (default 50), ``DAPR_AGENTS_DURABLE_CHAOS_SEED`` replays a printed seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, embedded_app_env, text, tool_call
from dapr_agents_durable.testing.chaos import ChaosFigures, ChaosTrial, KillPlan, database_is_sound

APP = Path(__file__).parent / "apps" / "tool_loop_app.py"
STEPS = 14
KILLS = int(os.environ.get("DAPR_AGENTS_DURABLE_CHAOS_KILLS", "50"))
EXPECTED = {"final_output": f"all {STEPS} steps recorded", "turns": STEPS + 1}

pytestmark = [pytest.mark.crash, pytest.mark.timeout(2400)]


def test_random_kills_never_lose_a_run_nor_repay_a_finished_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = KillPlan.seeded(requests=STEPS + 1, tools=STEPS)
    figures = ChaosFigures(plan.seed)
    failures: list[str] = []
    while figures.kills < KILLS and figures.trials < 3 * KILLS:
        points = next(plan.trials(1))
        work = tmp_path / f"run-{figures.trials}"
        work.mkdir()
        holder: dict[str, ChaosTrial] = {}

        def answer(request: RecordedRequest):
            done = len(request.tool_outputs)
            delay = 30.0 if holder["trial"].slow_state == done else 0.0
            if done < STEPS:
                return tool_call("record_step", {"n": done + 1}, delay=delay)
            return text(f"all {done} steps recorded", delay=delay)

        with ScriptedModelServer(rule=answer) as server:
            def start(extra: dict[str, str]) -> subprocess.Popen[str]:
                env = embedded_app_env(work / "engine.db", {
                    "OPENAI_API_KEY": "sk-chaos", "OPENAI_AGENTS_DISABLE_TRACING": "1",
                    "PYTHONPATH": os.pathsep.join(sys.path), "CHAOS_TOOL_STARTS": str(work / "starts.jsonl"), **extra,
                })
                return subprocess.Popen([sys.executable, str(APP), server.base_url, "chaos-run", str(work / "tools.jsonl")],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

            trial = holder["trial"] = ChaosTrial(start, server, work / "starts.jsonl",
                                                 state_of=lambda r: len(r.tool_outputs))
            code, out, err = trial.run(points)
            where = f"trial {figures.trials} (seed {plan.seed}, kills {[p.describe() for p in points]})"
            figures.trials += 1
            figures.kills += trial.kills
            figures.restarts += trial.restarts
            figures.repaid += trial.repaid()
            figures.duplicate_tools += trial.duplicate_tools()
            figures.worst_recovery = max(figures.worst_recovery, trial.worst_recovery)
            if code != 0:
                failures.append(f"{where}: exit {code}: {err[-2000:]}")
                continue
            if json.loads(out.strip().splitlines()[-1]) != EXPECTED:
                failures.append(f"{where}: output {out.strip()[-300:]}")
            if trial.repaid():
                failures.append(f"{where}: {trial.repaid()} completed model calls paid again")
            if trial.duplicate_tools() > trial.kills:
                failures.append(f"{where}: {trial.duplicate_tools()} tool calls repeated for {trial.kills} kills")
            failures.extend(f"{where}: {problem}" for problem in database_is_sound(work / "engine.db"))
    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert not failures, "\n".join(failures)
    assert figures.kills >= KILLS
