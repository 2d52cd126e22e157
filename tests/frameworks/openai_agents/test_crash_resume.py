"""The headline promise, in real processes: kill -9 during LLM request 13 of 15, restart, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dapr_agents_durable.testing import (
    RecordedRequest,
    ScriptedModelServer,
    assert_each_once,
    assert_not_stored,
    embedded_app_env,
    kill_during_request,
    text,
    tool_call,
)

APP = Path(__file__).parent / "apps" / "tool_loop_app.py"
STEPS = 14  # tool turns; the 15th model request answers
CRASH_AT = 13
API_KEY = "sk-test-planted-key-4f1d2c9b7e"


def answer(request: RecordedRequest):
    done = len(request.tool_outputs)
    if done < STEPS:
        # Hold the first request 13 long enough for the test to kill the app during it.
        delay = 60.0 if request.number == CRASH_AT else 0.0
        return tool_call("record_step", {"n": done + 1}, delay=delay)
    return text(f"all {done} steps recorded")


def _start(server: ScriptedModelServer, tmp: Path, run_id: str) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "OPENAI_AGENTS_DISABLE_TRACING": "1",
                                                "PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tmp / "tools.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(app: subprocess.Popen[str]) -> dict:
    out, err = app.communicate(timeout=120)
    assert app.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_kill_during_request_13_resumes_without_paying_twice(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=answer) as server:
        assert kill_during_request(_start(server, tmp_path, "crash-run"), server, CRASH_AT) == CRASH_AT

        result = _finish(_start(server, tmp_path, "crash-run"))
        assert result == {"final_output": f"all {STEPS} steps recorded", "turns": STEPS + 1}
        assert server.request_count <= STEPS + 2  # 15 requests + the one in flight at the kill

        tools = [json.loads(line) for line in (tmp_path / "tools.jsonl").read_text().splitlines()]
        assert sorted(t["n"] for t in tools) == list(range(1, STEPS + 1))
        assert_each_once(t["n"] for t in tools)
        assert len({t["key"] for t in tools}) == STEPS

        paid = server.request_count
        again = _finish(_start(server, tmp_path, "crash-run"))
        assert again == result
        assert server.request_count == paid

    assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in server.requests)
    assert_not_stored(API_KEY, tmp_path / "engine.db")
