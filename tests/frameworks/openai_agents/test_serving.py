"""Replicas: an app that serves after its own run picks up the run of a replica that died.

Two app processes share one engine process (as two replicas share the Dapr control plane):
replica B is SIGKILLed while a model request of its run is in flight; replica A starts with
a run of its own and serves. A finishes B's run with nobody calling it again, paying only the
request that was in flight again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dapr_agents_durable.runtime import DurableRuntime
from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, embedded_app_env, text, tool_call

APP = Path(__file__).parent / "apps" / "serving_app.py"
STEPS = 3

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]


def _rule(request: RecordedRequest):
    done = len(request.tool_outputs)
    who = "run-b" if "steps of run-b." in json.dumps(request.body) else "run-a"
    # replica B's second request hangs until B is killed; asked again (by A), it answers
    delay = 30.0 if who == "run-b" and done == 1 and not _rule.asked_b2 else 0.0
    if delay:
        _rule.asked_b2 = True
    if done < STEPS:
        return tool_call("record_step", {"n": done + 1}, delay=delay)
    return text(f"{who}: {done} steps recorded", delay=delay)


_rule.asked_b2 = False  # type: ignore[attr-defined]


def _requests_of(server: ScriptedModelServer, run_id: str) -> list[RecordedRequest]:
    return [r for r in server.requests if f"steps of {run_id}." in json.dumps(r.body)]


def _engine(db: Path) -> tuple[subprocess.Popen[str], int]:
    engine = subprocess.Popen([sys.executable, "-m", "dapr_agents_durable", "engine", "--db", str(db), "--port", "0",
                               "--activity-orphan-grace", "2"],  # a dead replica's activity goes on after 2 s
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=embedded_app_env(db, {"PYTHONPATH": os.pathsep.join(sys.path)}))
    assert engine.stdout is not None
    for line in engine.stdout:
        if match := re.search(r"ready on [^\s:]+:(\d+)", line):
            return engine, int(match.group(1))
    raise AssertionError(f"the engine did not start: {engine.wait(10)}")


def _replica(server: ScriptedModelServer, port: int, run_id: str, tools: Path, *flags: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
    env.update({"DAPR_GRPC_PORT": str(port), "OPENAI_API_KEY": "sk-replica", "OPENAI_AGENTS_DISABLE_TRACING": "1",
                "PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tools), *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_a_serving_replica_finishes_the_run_of_a_replica_that_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, port = _engine(tmp_path / "engine.db")
    tools = tmp_path / "tools.jsonl"
    replicas: list[subprocess.Popen[str]] = []
    try:
        with ScriptedModelServer(rule=_rule) as server:
            b = _replica(server, port, "run-b", tools)
            replicas.append(b)
            server.wait_for_request(2, timeout=120)  # B's second request, in flight
            b.send_signal(signal.SIGKILL)
            b.wait(timeout=30)

            a = _replica(server, port, "run-a", tools, "--serve")  # a replica starting with runs of its own
            replicas.append(a)
            assert a.stdout is not None
            assert json.loads(a.stdout.readline()) == {"run_id": "run-a", "final_output": "run-a: 3 steps recorded"}
            monkeypatch.setenv("DAPR_GRPC_PORT", str(port))
            client = DurableRuntime()
            try:
                client.wait("run-b", timeout=120)  # nobody calls run-b again: A serves it
            finally:
                client.stop()
            assert len(_requests_of(server, "run-b")) == STEPS + 2  # 4 requests, the one in flight twice

            again = _replica(server, port, "run-b", tools)  # a caller of the finished run: its stored result
            out, err = again.communicate(timeout=120)
            assert again.returncode == 0, err[-3000:]
            assert json.loads(out) == {"run_id": "run-b", "final_output": "run-b: 3 steps recorded"}
            assert len(_requests_of(server, "run-b")) == STEPS + 2
            assert len(_requests_of(server, "run-a")) == STEPS + 1

            a.send_signal(signal.SIGTERM)
            assert a.wait(timeout=30) == 0
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)

    steps = [json.loads(line) for line in tools.read_text().splitlines()]
    b_steps = [s for s in steps if "run-b" in s["key"]]
    assert sorted(s["n"] for s in b_steps) == [1, 2, 3]  # each tool of B's run once
    assert [s["pid"] for s in b_steps] == [b.pid, a.pid, a.pid]  # after the kill, on replica A
