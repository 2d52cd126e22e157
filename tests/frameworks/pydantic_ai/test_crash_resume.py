"""Durable PydanticAI runs in real processes: kill -9 during an LLM request, restart with the same run id.

The app is a plain ``Agent`` on PydanticAI's ``OpenAIChatModel`` pointed at the scripted
server over HTTP, with its key read from ``OPENAI_API_KEY`` by PydanticAI's OpenAI provider.
"""

from __future__ import annotations

import json
from collections import Counter
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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

APP = Path(__file__).parent / "apps" / "tool_loop_app.py"
STEPS = 14  # tool turns; the 15th model request answers
CRASH_AT = 13
API_KEY = "sk-test-planted-key-5d7a0e3c91"


def _start(server: ScriptedModelServer, tmp: Path, run_id: str, mode: str = "loop",
           spans: Path | None = None) -> subprocess.Popen[str]:
    telemetry = {"SPAN_LOG": str(spans)} if spans else {"OTEL_SDK_DISABLED": "true"}
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "PYTHONPATH": os.pathsep.join(sys.path),
                                                **telemetry})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tmp / "tools.jsonl"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _assert_key_absent(tmp: Path, server: ScriptedModelServer) -> None:
    assert_key_sent_not_stored(server, API_KEY, tmp / "engine.db")


def test_kill_during_request_13_resumes_without_paying_twice(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=step_loop(STEPS, CRASH_AT)) as server:
        assert kill_during_request(_start(server, tmp_path, "pyd-crash"), server, CRASH_AT) == CRASH_AT
        assert len(read_jsonl(tmp_path / "tools.jsonl")) == CRASH_AT - 1

        result = finish(_start(server, tmp_path, "pyd-crash", spans=tmp_path / "spans-resumed.jsonl"))
        assert result == {"output": f"all {STEPS} steps recorded", "requests": STEPS + 1, "tool_calls": STEPS}
        # PydanticAI's own spans: only for what ran after the restart (requests 13 to 15, tools 13 and 14)
        spans = Counter(s["name"] for s in read_jsonl(tmp_path / "spans-resumed.jsonl"))
        assert spans == {"chat scripted": 3, "execute_tool record_step": 2, "invoke_agent planner": 1}, spans
        assert server.request_count <= STEPS + 2  # 15 requests + the one in flight at the kill

        tools = read_jsonl(tmp_path / "tools.jsonl")
        assert sorted(t["n"] for t in tools) == list(range(1, STEPS + 1))
        assert_each_once(t["n"] for t in tools)
        assert len({t["key"] for t in tools}) == STEPS  # idempotency keys: one per call

        paid = server.request_count
        again = tmp_path / "spans-again.jsonl"
        assert finish(_start(server, tmp_path, "pyd-crash", spans=again)) == result  # from history, in a new process
        assert server.request_count == paid
        assert not again.exists()  # nothing ran, nothing traced
        assert len(read_jsonl(tmp_path / "tools.jsonl")) == STEPS
    _assert_key_absent(tmp_path, server)


def pay_answer(request: RecordedRequest) -> Any:
    if not request.tool_outputs:
        return tool_call("record_step", {"n": 1})
    return text(f"done: {request.tool_outputs[0]}")


def _pending(app: subprocess.Popen[str]) -> list[str]:
    assert app.stdout is not None
    line = app.stdout.readline()
    assert line, (app.wait(timeout=30), app.stderr.read()[-3000:] if app.stderr else "")
    return json.loads(line)["pending"]  # type: ignore[no-any-return]


def _kill(app: subprocess.Popen[str]) -> None:
    app.kill()
    app.wait(timeout=30)


def test_kill_during_an_approval_wait_resumes_the_wait_and_the_approved_call_runs_once(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=pay_answer) as server:
        asking = _start(server, tmp_path, "pyd-approve", "ask")
        pending = _pending(asking)
        assert len(pending) == 1
        _kill(asking)
        assert server.request_count == 1 and not (tmp_path / "tools.jsonl").exists()

        approving = _start(server, tmp_path, "pyd-approve", "approve")
        out, err = approving.communicate(timeout=180)
        assert approving.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in out.strip().splitlines()]
        assert lines[0] == {"pending": pending}  # the paused result, rebuilt from history
        assert lines[1] == {"output": "done: step 1 recorded", "requests": 1, "tool_calls": 1}
        assert server.request_count == 2  # the first request was not paid again
        assert [t["n"] for t in read_jsonl(tmp_path / "tools.jsonl")] == [1]

        assert finish(_start(server, tmp_path, "pyd-approve", "approve")) == lines[1]  # finished: from history
        assert server.request_count == 2 and len(read_jsonl(tmp_path / "tools.jsonl")) == 1
    _assert_key_absent(tmp_path, server)


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = embedded_app_env(db, {"PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.run([sys.executable, "-m", "dapr_agents_durable", "approvals", *args, "--db", str(db)],
                          env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_approves_a_run_whose_app_was_killed_and_a_restart_finishes_it(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    with ScriptedModelServer(rule=pay_answer) as server:
        asking = _start(server, tmp_path, "pyd-cli", "ask")
        pending = _pending(asking)
        listed = _cli("list", "pyd-cli", db=db)  # reaches the engine the running app started
        assert listed.returncode == 0, listed.stderr[-2000:]
        assert [json.loads(line)["call_id"] for line in listed.stdout.splitlines()] == pending
        _kill(asking)

        approved = _cli("approve", "pyd-cli", pending[0], db=db)  # no app now: the CLI opens the database
        assert approved.returncode == 0, approved.stderr[-2000:]

        result = finish(_start(server, tmp_path, "pyd-cli", "approve"))
        assert result == {"output": "done: step 1 recorded", "requests": 1, "tool_calls": 1}
        assert server.request_count == 2
        assert [t["n"] for t in read_jsonl(tmp_path / "tools.jsonl")] == [1]
    _assert_key_absent(tmp_path, server)


DELEGATION_APP = Path(__file__).parent / "apps" / "delegation_app.py"
CHILD_CRASH_AT = 5  # the researcher's 3rd request: coordinator 1-2, researcher 3-6, coordinator 7


def _is_researcher(request: RecordedRequest) -> bool:
    return any("Research:" in str(m.get("content")) for m in request.body.get("messages") or [] if isinstance(m, dict))


def delegation_script(crash_at: int | None) -> Any:
    """The coordinator notes, asks the researcher (three lookups, then an answer), then reports."""

    def answer(request: RecordedRequest) -> Any:
        outputs = request.tool_outputs
        if _is_researcher(request):
            if len(outputs) < 3:
                return tool_call("lookup", {"n": len(outputs) + 1}, delay=60.0 if request.number == crash_at else 0.0)
            return text(f"found {', '.join(outputs)}")
        if not outputs:
            return tool_call("note", {"n": 1})
        if len(outputs) == 1:
            return tool_call("ask_researcher", {"question": "Which facts?"})
        return text(f"report: {outputs[-1]}")

    return answer


def _start_delegation(server: ScriptedModelServer, tmp: Path, run_id: str, mode: str) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "PYTHONPATH": os.pathsep.join(sys.path),
                                                "OTEL_SDK_DISABLED": "true"})
    return subprocess.Popen([sys.executable, str(DELEGATION_APP), server.base_url, run_id, str(tmp / f"{mode}.jsonl"),
                             mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_kill_during_a_delegated_run_resumes_parent_and_child_without_paying_twice(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=delegation_script(None)) as server:
        native = finish(_start_delegation(server, tmp_path, "native", "native"))
        native_requests = server.request_count
    assert native == {"output": "report: found fact 1, fact 2, fact 3", "requests": 7, "tool_calls": 5,
                      "input_tokens": native["input_tokens"], "output_tokens": native["output_tokens"]}
    assert native_requests == 7

    with ScriptedModelServer(rule=delegation_script(CHILD_CRASH_AT)) as server:
        app = _start_delegation(server, tmp_path, "pyd-delegate", "durable")
        assert kill_during_request(app, server, CHILD_CRASH_AT) == CHILD_CRASH_AT
        assert _is_researcher(server.requests[-1])
        tools = read_jsonl(tmp_path / "durable.jsonl")
        assert [(t["tool"], t["n"]) for t in tools] == [("note", 1), ("lookup", 1), ("lookup", 2)]

        assert finish(_start_delegation(server, tmp_path, "pyd-delegate", "durable")) == native  # output and usage
        assert server.request_count == native_requests + 1  # only the request in flight at the kill again
        researcher = [r for r in server.requests if _is_researcher(r)]
        assert len(server.requests) - len(researcher) == 3  # the coordinator's requests: none paid twice
        assert [len(r.tool_outputs) for r in researcher] == [0, 1, 2, 2, 3]  # the one in flight, again

        tools = read_jsonl(tmp_path / "durable.jsonl")
        assert_each_once((t["tool"], t["n"]) for t in tools)
        assert sorted((t["tool"], t["n"]) for t in tools) == [("lookup", 1), ("lookup", 2), ("lookup", 3), ("note", 1)]
        assert len({t["key"] for t in tools}) == 4

        paid = server.request_count
        assert finish(_start_delegation(server, tmp_path, "pyd-delegate", "durable")) == native  # from history
        assert server.request_count == paid
        assert len(read_jsonl(tmp_path / "durable.jsonl")) == 4
    _assert_key_absent(tmp_path, server)
