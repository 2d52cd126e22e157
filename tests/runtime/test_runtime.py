from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from dapr_agents_durable.engine import EmbeddedEngine
from dapr_agents_durable.runtime import (
    APPROVAL_EVENT,
    DurableRuntime,
    Embedded,
    PendingApproval,
    Registry,
    RunFailed,
    Sidecar,
)
from dapr_agents_durable.runtime.approvals import decode_status, encode_status


def _double_workflow(ctx, value):
    doubled = yield ctx.call_activity("t.double", input=value)
    return doubled


def test_embedded_engine_runs_a_workflow(runtime: DurableRuntime, tmp_path) -> None:
    calls: list[int] = []
    runtime.register_activity("t.double", lambda ctx, x: calls.append(x) or 2 * x)
    runtime.register_workflow("t.flow", _double_workflow)
    state = runtime.run("t.flow", 21, run_id="r1", timeout=30)
    assert state.serialized_output == "42"
    assert isinstance(runtime.target, Embedded)
    assert (tmp_path / "engine.db").exists()
    assert calls == [21]


def test_completed_run_returns_stored_result_without_new_work(runtime: DurableRuntime) -> None:
    calls: list[int] = []
    runtime.register_activity("t.double", lambda ctx, x: calls.append(x) or 2 * x)
    runtime.register_workflow("t.flow", _double_workflow)
    runtime.run("t.flow", 5, run_id="same", timeout=30)
    again = runtime.run("t.flow", 5, run_id="same", timeout=30)
    assert again.serialized_output == "10"
    assert calls == [5]


def test_second_caller_attaches_to_a_running_run(runtime: DurableRuntime) -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow(ctx, x):
        calls.append(x)
        release.wait(30)
        return x + 1

    runtime.register_activity("t.slow", slow)
    runtime.register_workflow("t.slowflow", lambda ctx, x: (yield ctx.call_activity("t.slow", input=x)))
    runtime.start_or_attach("t.slowflow", 1, run_id="shared")
    results: list[str | None] = []
    waiter = threading.Thread(target=lambda: results.append(runtime.run("t.slowflow", 1, "shared", 30).serialized_output))
    waiter.start()
    time.sleep(0.5)
    release.set()
    waiter.join(30)
    assert results == ["2"]
    assert calls == [1]


def test_failed_run_raises_with_the_cause(runtime: DurableRuntime) -> None:
    def boom(ctx, x):
        raise ValueError("tool exploded")

    runtime.register_activity("t.boom", boom)
    runtime.register_workflow("t.boomflow", lambda ctx, x: (yield ctx.call_activity("t.boom", input=x)))
    with pytest.raises(RunFailed, match="tool exploded") as info:
        runtime.run("t.boomflow", 1, run_id="fails", timeout=30)
    assert info.value.run_id == "fails"


def test_sidecar_env_is_used_instead_of_starting_an_engine(tmp_path, clean_env, monkeypatch) -> None:
    with EmbeddedEngine(db_path=str(tmp_path / "sidecar.db"), port=0, api_token="tok-123") as sidecar:
        monkeypatch.setenv("DAPR_GRPC_PORT", str(sidecar.port))
        monkeypatch.setenv("DAPR_API_TOKEN", "tok-123")
        runtime = DurableRuntime(db_path=str(tmp_path / "unused.db"))
        try:
            runtime.register_activity("t.double", lambda ctx, x: 2 * x)
            runtime.register_workflow("t.flow", _double_workflow)
            assert runtime.run("t.flow", 4, run_id="via-sidecar", timeout=30).serialized_output == "8"
            assert runtime.target == Sidecar(f"127.0.0.1:{sidecar.port}")
        finally:
            runtime.stop()
    assert not (tmp_path / "unused.db").exists()


def test_workflow_parks_until_its_agent_is_registered(runtime: DurableRuntime, caplog: pytest.LogCaptureFixture) -> None:
    agents: Registry[str] = Registry("agent")

    def flow(ctx, inp):
        agent = agents.get(inp["agent"])
        if agent is None:
            yield runtime.park(ctx, agents, inp["agent"])
        value = yield ctx.call_activity("t.double", input=inp["x"])
        return f"{agent}:{value}"

    runtime.register_activity("t.double", lambda ctx, x: 2 * x)
    runtime.register_workflow("t.parked", flow)
    runtime.start_or_attach("t.parked", {"agent": "late", "x": 3}, run_id="parked")
    time.sleep(1.0)
    assert runtime.state("parked").runtime_status.name == "RUNNING"
    assert "run parked waits for agent 'late' to be registered in this process: define it under that name" \
        in caplog.text
    agents.add("late", "AGENT")
    assert runtime.wait("parked", timeout=30).serialized_output == '"AGENT:6"'


def test_registering_after_start_serves_the_new_name(runtime: DurableRuntime) -> None:
    runtime.register_activity("t.double", lambda ctx, x: 2 * x)
    runtime.register_workflow("t.flow", _double_workflow)
    assert runtime.run("t.flow", 1, run_id="before", timeout=30).serialized_output == "2"
    runtime.register_workflow("t.other", lambda ctx, x: (yield ctx.call_activity("t.double", input=x + 1)))
    assert runtime.run("t.other", 1, run_id="after", timeout=30).serialized_output == "4"


def test_registering_while_an_activity_runs_keeps_its_result(runtime: DurableRuntime) -> None:
    # A worker restarted under it would lose its result: it would run again after the
    # engine's 30-second orphan grace, so the wait below would time out.
    started, release, calls = threading.Event(), threading.Event(), []

    def slow(ctx: Any, x: int) -> int:
        calls.append(x)
        started.set()
        release.wait(30)
        return x + 1

    runtime.register_activity("t.slow", slow)
    runtime.register_workflow("t.slow_flow", lambda ctx, x: (yield ctx.call_activity("t.slow", input=x)))
    run_id = runtime.start_or_attach("t.slow_flow", 1, run_id="in-flight")
    assert started.wait(30)
    runtime.register_activity("t.late", lambda ctx, x: x)
    release.set()
    assert runtime.wait(run_id, timeout=20).serialized_output == "2"
    assert calls == [1]


def test_duplicate_name_is_refused(runtime: DurableRuntime) -> None:
    runtime.register_activity("t.double", lambda ctx, x: 2 * x)
    with pytest.raises(ValueError, match="already registered"):
        runtime.register_activity("t.double", lambda ctx, x: 3 * x)


def test_embedded_engine_drops_a_resume_of_a_running_run(runtime: DurableRuntime) -> None:
    runtime.register_workflow("t.waits", lambda ctx, x: (yield ctx.wait_for_external_event("go")))
    run_id = runtime.start_or_attach("t.waits", None, run_id="lenient")
    runtime.client.wait_for_workflow_start(run_id, timeout_in_seconds=30)
    runtime.client.resume_workflow(run_id)  # not suspended: dropped, the run keeps going
    runtime.raise_event(run_id, "go", "ok")
    assert runtime.wait(run_id, timeout=30).serialized_output == '"ok"'


def _approval_workflow(ctx, _):
    ctx.set_custom_status(encode_status([PendingApproval("c1", "refund", "cashier", "{}")]))
    decision = yield ctx.wait_for_external_event(APPROVAL_EVENT)
    return decision


def test_wait_until_returns_when_the_run_waits_and_approve_delivers_the_decision(runtime: DurableRuntime) -> None:
    runtime.register_workflow("t.approval", _approval_workflow)
    runtime.start_or_attach("t.approval", None, run_id="appr")
    state = runtime.wait_until("appr", lambda s: bool(decode_status(s.serialized_custom_status)), timeout=30)
    assert state.runtime_status.name == "RUNNING"
    assert [p.call_id for p in runtime.pending_approvals("appr")] == ["c1"]
    with pytest.raises(ValueError, match="waits for 'c1'"):
        runtime.reject("appr", "c9")
    runtime.reject("appr", "c1", message="not today")
    done = runtime.wait("appr", timeout=30)
    assert json.loads(done.serialized_output) == {"call_id": "c1", "approved": False, "always": False,
                                                  "message": "not today"}
    assert runtime.pending_approvals("appr") == []
    with pytest.raises(TimeoutError, match="did not settle within 0.2 s"):
        runtime.register_workflow("t.forever", lambda ctx, _: (yield ctx.wait_for_external_event("never")))
        runtime.start_or_attach("t.forever", None, run_id="forever")
        runtime.wait_until("forever", lambda s: False, timeout=0.2)


def test_a_client_only_runtime_takes_no_work_items(runtime: DurableRuntime, monkeypatch) -> None:
    runtime.register_workflow("t.approval", _approval_workflow)
    runtime.start_or_attach("t.approval", None, run_id="client-only")
    runtime.wait_until("client-only", lambda s: bool(decode_status(s.serialized_custom_status)), timeout=30)
    assert runtime._engine is not None
    monkeypatch.setenv("DAPR_GRPC_PORT", str(runtime._engine.port))
    other = DurableRuntime()
    try:
        assert [p.call_id for p in other.pending_approvals("client-only")] == ["c1"]
        assert not other.serves_work  # a worker without the app's workflows would fail its work items
        other.approve("client-only", "c1")
        assert json.loads(runtime.wait("client-only", timeout=30).serialized_output)["approved"] is True
        other.register_activity("t.noop", lambda ctx, x: x)
        assert other.serves_work
    finally:
        other.stop()
