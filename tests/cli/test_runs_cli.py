"""``dapr-agents-durable runs`` as a real subprocess against a live embedded engine.

The test process runs the workers (plain workflows on a DurableRuntime whose embedded
engine advertises its address beside the database); the CLI finds that engine from
``--db`` exactly as it finds a running app's. Their model and tool activities carry the
PydanticAI adapter's names and payload formats, which the CLI describes with no framework
installed (this environment has none).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dapr_agents_durable.loop import NonDeterminismError
from dapr_agents_durable.loop.stalls import stall_of
from dapr_agents_durable.runtime import DurableRuntime
from dapr_agents_durable.runtime.approvals import APPROVAL_EVENT, Decision, PendingApproval, decode_status, encode_status

LONG_QUERY = "q" * 200
USAGE = {"input_tokens": 12, "output_tokens": 5}


MODEL, TOOL = "pydantic_ai.model", "pydantic_ai.tool"


def _model(ctx: Any, prompt: Any) -> dict[str, Any]:
    return {"response": {"parts": [{"part_kind": "text", "content": f"answer to {prompt}"}],
                         "model_name": "scripted", "usage": USAGE}}


def _tool(ctx: Any, call: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "return", "value": f"found {call['args']['q'][:10]}"}


def _explode(ctx: Any, _: Any) -> None:
    raise ValueError("the tool exploded")


def _tool_call(query: str) -> dict[str, Any]:
    return {"agent": "planner", "toolset": "tools", "tool": "lookup", "call_id": "c1", "args": {"q": query}}


def _agent(ctx: Any, input: dict[str, Any]) -> Any:
    yield ctx.call_activity(MODEL, input="hello")
    yield ctx.call_activity(TOOL, input=_tool_call(LONG_QUERY))
    helped = yield ctx.call_child_workflow("demo.helper", input={"agent": "helper"},
                                           instance_id=f"{ctx.instance_id}-helper")
    return {"final": helped}


def _helper(ctx: Any, input: Any) -> Any:
    return (yield ctx.call_activity(TOOL, input=_tool_call("child query")))


def _broken(ctx: Any, input: Any) -> Any:
    yield ctx.call_activity(MODEL, input="before the failure")
    yield ctx.call_activity("demo.explode", input=None)


def _held(ctx: Any, input: Any) -> Any:
    yield ctx.call_activity(MODEL, input="before the code changed")
    raise NonDeterminismError("the code now asks for another step")  # as a replay of changed code does


def _approval(ctx: Any, input: Any) -> Any:
    ctx.set_custom_status(encode_status([PendingApproval("call-1", "refund", "cashier", '{"amount": 120}')]))
    decision = Decision.from_json((yield ctx.wait_for_external_event(APPROVAL_EVENT)))
    ctx.set_custom_status(encode_status([]))
    if not decision.approved:
        return "refused"
    return (yield ctx.call_activity(TOOL, input=_tool_call("refund 120")))


def _waiting(ctx: Any, input: Any) -> Any:
    go = yield ctx.wait_for_external_event("go")
    yield ctx.call_activity(MODEL, input=go)
    return go


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DurableRuntime, Path]]:
    db = tmp_path_factory.mktemp("runs") / "engine.db"
    runtime = DurableRuntime(db_path=str(db))
    for name, fn in ((MODEL, _model), (TOOL, _tool), ("demo.explode", _explode)):
        runtime.register_activity(name, fn)
    for name, fn in (("demo.agent", _agent), ("demo.helper", _helper), ("demo.broken", _broken), ("demo.held", _held),
                     ("demo.approval", _approval), ("demo.waiting", _waiting), ("other.waiting", _waiting)):
        runtime.register_workflow(name, fn)
    runtime.start()
    yield runtime, db
    runtime.stop()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), COLUMNS="250", **extra)
    return env


def _cli(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dapr_agents_durable", "runs", *args, "--db", str(db)],
                          env=_env(**env), capture_output=True, text=True, timeout=60)


def _json(db: Path, *args: str) -> Any:
    done = _cli(db, *args, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _indent(line: str) -> int:
    return next(i for i, char in enumerate(line) if char.isalnum())


def _pending(runtime: DurableRuntime, run_id: str) -> None:
    runtime.wait_until(run_id, lambda s: bool(decode_status(s.serialized_custom_status)), timeout=30)


def test_list_shows_finished_failed_running_and_waiting_runs_with_filters(engine) -> None:
    runtime, db = engine
    runtime.run("demo.agent", {"agent": "planner"}, run_id="list-done", timeout=30)
    runtime.start_or_attach("demo.broken", {"agent": "breaker"}, run_id="list-failed")
    runtime.client.wait_for_workflow_completion("list-failed", timeout_in_seconds=30)
    runtime.start_or_attach("other.waiting", None, run_id="list-running")
    runtime.start_or_attach("demo.approval", {"agent": "cashier"}, run_id="list-approval")
    _pending(runtime, "list-approval")

    runs = {r["run_id"]: r for r in _json(db, "list")}
    done = runs["list-done"]
    assert (done["status"], done["framework"], done["workflow"], done["agent"], done["steps"]) == (
        "COMPLETED", "demo", "demo.agent", "planner", 2)
    assert runs["list-done-helper"]["agent"] == "helper"
    assert (runs["list-failed"]["status"], runs["list-failed"]["steps"]) == ("FAILED", 1)
    assert runs["list-running"]["status"] == "RUNNING" and runs["list-running"]["framework"] == "other"
    assert runs["list-approval"]["status"] == "RUNNING"

    failed = _json(db, "list", "--status", "failed")
    assert [r["run_id"] for r in failed] == ["list-failed"]
    others = _json(db, "list", "--framework", "other")
    assert {r["run_id"] for r in others} >= {"list-running"} and {r["framework"] for r in others} == {"other"}
    two = _json(db, "list", "--status", "COMPLETED", "RUNNING", "--limit", "2")
    assert len(two) == 2 and {r["status"] for r in two} <= {"COMPLETED", "RUNNING"}

    table = _cli(db, "list", "--status", "FAILED")
    assert table.returncode == 0, table.stderr
    assert "list-failed" in table.stdout and "breaker" in table.stdout and "list-done" not in table.stdout
    assert "\x1b[" not in table.stdout  # no colour codes off a terminal
    bad = _cli(db, "list", "--status", "SLEEPING")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_show_gives_the_timeline_with_tool_and_model_details_and_the_child_tree(engine) -> None:
    runtime, db = engine
    runtime.run("demo.agent", {"agent": "planner"}, run_id="show-done", timeout=30)
    view = _json(db, "show", "show-done")
    assert view["status"] == "COMPLETED" and view["failure"] is None
    model, tool, child = view["timeline"]
    assert (model["name"], model["status"], model["detail"]) == (MODEL, "completed", "scripted 12 in / 5 out tokens")
    assert tool["detail"].startswith('lookup {"q": "qqq') and tool["detail"].endswith("… -> found qqqqqqqqqq")
    assert len(tool["detail"]) < len(LONG_QUERY)  # arguments are truncated
    assert (child["kind"], child["child_id"]) == ("child", "show-done-helper")
    assert [s["detail"] for s in child["child"]["timeline"]] == ['lookup {"q": "child query"} -> found child quer']

    text = _cli(db, "show", "show-done")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert any(MODEL in line and "scripted 12 in / 5 out tokens" in line for line in lines)
    parent_line = next(line for line in lines if "child demo.helper" in line)
    nested = next(line for line in lines if "show-done-helper" in line and "COMPLETED" in line)
    assert _indent(nested) > _indent(parent_line)  # the child run nests under its step


def test_show_names_the_failure_and_the_pending_approvals(engine) -> None:
    runtime, db = engine
    runtime.start_or_attach("demo.broken", None, run_id="show-failed")
    runtime.client.wait_for_workflow_completion("show-failed", timeout_in_seconds=30)
    failed = _json(db, "show", "show-failed")
    assert failed["status"] == "FAILED"
    assert "the tool exploded" in failed["failure"]["message"]
    assert [(s["name"], s["status"]) for s in failed["timeline"]] == [(MODEL, "completed"), ("demo.explode", "failed")]
    assert "the tool exploded" in failed["timeline"][1]["error"]
    text = _cli(db, "show", "show-failed").stdout
    assert "failed: " in text and "the tool exploded" in text

    runtime.start_or_attach("demo.held", None, run_id="show-held")
    runtime.wait_until("show-held", lambda s: stall_of(s.serialized_custom_status) is not None, timeout=30,
                       held_ok=True)
    held = _json(db, "show", "show-held")
    assert held["status"] == "RUNNING"
    assert held["failure"]["message"] == "held, not failed (its history is kept): the code now asks for another step"
    assert "held, not failed" in _cli(db, "show", "show-held").stdout

    runtime.start_or_attach("demo.approval", None, run_id="show-waiting")
    _pending(runtime, "show-waiting")
    waiting = _json(db, "show", "show-waiting")
    assert waiting["pending_approvals"] == [{"call_id": "call-1", "tool": "refund", "agent": "cashier",
                                            "arguments": '{"amount": 120}'}]
    assert "waiting for approval" in _cli(db, "show", "show-waiting").stdout


def test_approve_lets_the_waiting_run_finish_and_a_wrong_call_is_refused(engine) -> None:
    runtime, db = engine
    runtime.start_or_attach("demo.approval", None, run_id="approve-me")
    _pending(runtime, "approve-me")
    wrong = _cli(db, "approve", "approve-me", "call-nope")
    assert wrong.returncode == 2 and "not waiting for a decision on tool call 'call-nope'" in wrong.stderr
    assert _cli(db, "approve", "approve-me", "call-1").returncode == 0
    state = runtime.wait("approve-me", timeout=30)
    assert json.loads(state.serialized_output) == {"kind": "return", "value": "found refund 120"}

    runtime.start_or_attach("demo.approval", None, run_id="reject-me")
    _pending(runtime, "reject-me")
    assert _cli(db, "reject", "reject-me", "call-1", "--message", "no").returncode == 0
    assert json.loads(runtime.wait("reject-me", timeout=30).serialized_output) == "refused"


def test_watch_follows_a_live_run_to_its_end(engine) -> None:
    runtime, db = engine
    runtime.start_or_attach("demo.waiting", None, run_id="watch-live")
    watcher = subprocess.Popen([sys.executable, "-m", "dapr_agents_durable", "runs", "watch", "watch-live",
                                "--db", str(db), "--json", "--interval", "0.1"],
                               env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the watcher is polling a run with no step yet
        raised = _cli(db, "raise", "watch-live", "go", '{"n": 1}')
        assert raised.returncode == 0, raised.stderr
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line.get("name"), line.get("status")) for line in lines] == [(MODEL, "completed"), (None, "COMPLETED")]
    assert lines[0]["detail"] == "scripted 12 in / 5 out tokens"
    assert json.loads(runtime.state("watch-live").serialized_output) == {"n": 1}  # DATA parsed as JSON


def test_suspend_resume_terminate_and_purge(engine) -> None:
    runtime, db = engine
    runtime.start_or_attach("demo.waiting", None, run_id="steer")
    runtime.client.wait_for_workflow_start("steer", timeout_in_seconds=30)
    assert _cli(db, "suspend", "steer").returncode == 0
    assert runtime.wait_until("steer", lambda s: s.runtime_status.name == "SUSPENDED", 30)
    assert _cli(db, "resume", "steer").returncode == 0
    assert runtime.wait_until("steer", lambda s: s.runtime_status.name == "RUNNING", 30)
    early = _cli(db, "purge", "steer")
    assert early.returncode == 2 and "terminate it before purging" in early.stderr
    assert _cli(db, "terminate", "steer").returncode == 0
    watched = _cli(db, "watch", "steer")
    assert watched.returncode == 1 and "TERMINATED" in watched.stdout
    assert _cli(db, "purge", "steer").returncode == 0
    assert runtime.state("steer") is None


def test_history_prints_one_event_a_line_and_full_json(engine) -> None:
    runtime, db = engine
    runtime.run("demo.agent", {"agent": "planner"}, run_id="hist", timeout=30)
    events = _json(db, "history", "hist")
    assert next(e for e in events if "executionStarted" in e)["executionStarted"]["name"] == "demo.agent"
    assert any(e.get("taskScheduled", {}).get("name") == TOOL for e in events)
    text = _cli(db, "history", "hist").stdout.splitlines()
    assert len(text) == len(events)
    assert any("executionStarted" in line and "demo.agent" in line for line in text)


def test_unknown_runs_and_unreachable_engines_exit_2_naming_the_fix(engine, tmp_path: Path) -> None:
    _, db = engine
    for action in ("show", "watch", "terminate"):
        missing = _cli(db, action, "no-such-run")
        assert missing.returncode == 2, (action, missing.stderr)
        assert "no durable run with id 'no-such-run'" in missing.stderr and "runs list" in missing.stderr
    assert _cli(db, "approve", "no-such-run", "c1").returncode == 2

    nothing = _cli(tmp_path / "absent.db", "list")
    assert nothing.returncode == 2 and "no engine database at" in nothing.stderr and "--db" in nothing.stderr
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: connections are refused
        unreachable = _cli(db, "list", DAPR_GRPC_ENDPOINT=address)
    assert unreachable.returncode == 2
    assert f"cannot reach the Dapr sidecar at {address}" in unreachable.stderr
    assert "DAPR_GRPC_ENDPOINT" in unreachable.stderr
