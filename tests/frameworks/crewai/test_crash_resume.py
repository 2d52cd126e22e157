"""Durable crews in real processes: kill -9 during an LLM request, restart with the same run id."""

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
    assert_key_sent_not_stored,
    embedded_app_env,
    finish,
    kill_during_request,
    read_jsonl,
    step_loop,
    text,
    tool_call,
)

APP = Path(__file__).parent / "apps" / "crew_app.py"
STEPS = 14  # tool turns; the 15th LLM request answers
CRASH_AT = 13
API_KEY = "sk-test-planted-key-8c2e5a1f3d"
CREWAI_OFFLINE = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}


def _start(server: ScriptedModelServer, tmp: Path, run_id: str, mode: str) -> subprocess.Popen[str]:
    env = embedded_app_env(
        tmp / "engine.db",
        {"OPENAI_API_KEY": API_KEY, "PYTHONPATH": os.pathsep.join(sys.path), "HOME": str(tmp),
         "CREWAI_STORAGE_DIR": str(tmp / "crewai"), **CREWAI_OFFLINE},
    )
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tmp / "tools.jsonl"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _assert_key_absent(tmp: Path, server: ScriptedModelServer) -> None:
    assert_key_sent_not_stored(server, API_KEY, tmp / "engine.db")


def test_kill_during_request_13_resumes_without_paying_twice(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=step_loop(STEPS, CRASH_AT)) as server:
        assert kill_during_request(_start(server, tmp_path, "crew-crash", "loop"), server, CRASH_AT) == CRASH_AT

        result = finish(_start(server, tmp_path, "crew-crash", "loop"))
        assert result["raw"] == f"all {STEPS} steps recorded"
        assert result["requests"] == STEPS + 1
        assert server.request_count <= STEPS + 2  # 15 requests + the one in flight at the kill

        tools = read_jsonl(tmp_path / "tools.jsonl")
        assert sorted(t["n"] for t in tools) == list(range(1, STEPS + 1))
        assert_each_once(t["n"] for t in tools)
        assert len({t["key"] for t in tools}) == STEPS

        paid = server.request_count
        assert finish(_start(server, tmp_path, "crew-crash", "loop")) == result
        assert server.request_count == paid
    _assert_key_absent(tmp_path, server)


def three_answer(request: RecordedRequest):
    task = next(n for n in (1, 2, 3) if f"Record step {n}." in json.dumps(request.body))
    if not request.tool_outputs:
        return tool_call("record_step", {"n": task}, delay=60.0 if task == 2 else 0.0)
    return text(f"step {task} done")


def test_kill_in_the_second_task_does_not_rerun_the_first(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=three_answer) as server:
        # Requests: task 1 (tool call, answer), then task 2's first request hangs: killed there.
        assert kill_during_request(_start(server, tmp_path, "crew-three", "three"), server, 3) == 3

        result = finish(_start(server, tmp_path, "crew-three", "three"))
        assert result["tasks"] == ["step 1 done", "step 2 done", "step 3 done"]
        assert server.request_count == 7  # 6 + the one in flight at the kill: task 1 not re-run
        assert sorted(t["n"] for t in read_jsonl(tmp_path / "tools.jsonl")) == [1, 2, 3]
    _assert_key_absent(tmp_path, server)


def feedback_answer(request: RecordedRequest):
    if not request.tool_outputs:
        return tool_call("record_step", {"n": 1})
    if "Add the date." in json.dumps(request.body):
        return text("step 1 done on Monday")
    return text("step 1 done")


def test_kill_during_a_human_input_wait_resumes_the_wait(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=feedback_answer) as server:
        app = _start(server, tmp_path, "crew-feedback", "feedback")
        assert app.stdout is not None
        assert app.stdout.readline().startswith("waiting ")
        app.kill()
        app.wait()
        assert server.request_count == 2  # the tool call and the first answer

        os.environ["FEEDBACK"] = "Add the date."
        try:
            result = finish(_start(server, tmp_path, "crew-feedback", "feedback"))
        finally:
            del os.environ["FEEDBACK"]
        assert result["raw"] == "step 1 done on Monday"
        assert server.request_count == 3  # only the revision after the feedback
        assert [t["n"] for t in read_jsonl(tmp_path / "tools.jsonl")] == [1]
    _assert_key_absent(tmp_path, server)
