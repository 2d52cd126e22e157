"""The headline promise, in real processes: kill -9 during LLM request 13 of 15, restart, resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dapr_agents_durable.testing import (
    ScriptedModelServer,
    assert_each_once,
    assert_key_sent_not_stored,
    embedded_app_env,
    finish,
    kill_during_request,
    read_jsonl,
    step_loop,
)

APP = Path(__file__).parent / "apps" / "tool_loop_app.py"
STEPS = 14  # tool turns; the 15th model request answers
CRASH_AT = 13
API_KEY = "sk-test-planted-key-4f1d2c9b7e"


def _start(server: ScriptedModelServer, tmp: Path, run_id: str) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "OPENAI_AGENTS_DISABLE_TRACING": "1",
                                                "PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tmp / "tools.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_kill_during_request_13_resumes_without_paying_twice(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=step_loop(STEPS, CRASH_AT)) as server:
        assert kill_during_request(_start(server, tmp_path, "crash-run"), server, CRASH_AT) == CRASH_AT

        result = finish(_start(server, tmp_path, "crash-run"))
        assert result == {"final_output": f"all {STEPS} steps recorded", "turns": STEPS + 1}
        assert server.request_count <= STEPS + 2  # 15 requests + the one in flight at the kill

        tools = read_jsonl(tmp_path / "tools.jsonl")
        assert sorted(t["n"] for t in tools) == list(range(1, STEPS + 1))
        assert_each_once(t["n"] for t in tools)
        assert len({t["key"] for t in tools}) == STEPS

        paid = server.request_count
        again = finish(_start(server, tmp_path, "crash-run"))
        assert again == result
        assert server.request_count == paid

    assert_key_sent_not_stored(server, API_KEY, tmp_path / "engine.db")
