"""The engine process itself: restart on the same port after kill -9, one engine per database."""

from __future__ import annotations

import sys
import threading
import time

import grpc
import pytest
from crash_harness import Lab, assert_completed, chain_plan
from dapr.ext.workflow.workflow_state import WorkflowState, WorkflowStatus

from dapr_agents_durable.runtime import DurableRuntime

pytestmark = pytest.mark.crash


def test_engine_restarts_on_its_port_right_after_kill_and_keeps_finished_workflows(lab: Lab) -> None:
    engine = lab.engine()
    worker = lab.worker(engine)
    plan = chain_plan("one")
    client = engine.client()
    client.schedule_new_workflow("chain", input=plan, instance_id="before-kill")
    assert_completed(client, "before-kill", plan)
    port = engine.port

    engine.restart()

    assert engine.port == port
    client = engine.client()
    assert_completed(client, "before-kill", plan)
    client.schedule_new_workflow("chain", input=plan, instance_id="after-restart")
    assert_completed(client, "after-restart", plan)
    assert lab.activity_log.counts() == {("before-kill", "one"): 1, ("after-restart", "one"): 1}
    assert worker.alive()


def test_second_engine_on_the_same_database_refuses_to_start(lab: Lab) -> None:
    engine = lab.engine()
    second = lab.spawn(
        "second-engine",
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", str(engine.db_path)],
    )

    returncode = second.process.wait(timeout=60)

    assert returncode != 0
    assert str(engine.db_path) in second.text()
    assert "in use by another engine" in second.text()
    assert "ready" not in second.text()
    assert engine.current is not None and engine.current.alive()
    assert engine.client().get_workflow_state("no-such-workflow") is None


def test_a_caller_waiting_on_a_run_rides_out_an_engine_restart(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = lab.engine()
    monkeypatch.setenv("DAPR_GRPC_PORT", str(engine.port))  # the engine as this process's sidecar
    runtime = DurableRuntime()
    runtime.register_workflow("rides.waits", lambda ctx, _: (yield ctx.wait_for_external_event("go")))
    runtime.start_or_attach("rides.waits", None, run_id="rides-1")
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(runtime.wait_until("rides-1", lambda state: False, timeout=120))
        except Exception as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    try:
        runtime.wait_until("rides-1", lambda state: state.runtime_status == WorkflowStatus.RUNNING, timeout=60)
        waiter.start()
        engine.kill()
        time.sleep(1.5)  # the waiting caller polls a port nobody answers
        assert waiter.is_alive() and not outcome
        engine.start()  # the same port and database
        waiter.join(3)
        assert waiter.is_alive() and not outcome  # still waiting, now on a live engine
        _raise_once_reachable(runtime, "rides-1", "go", "after the restart")
        waiter.join(90)
        [state] = outcome
        assert isinstance(state, WorkflowState), state
        assert state.runtime_status == WorkflowStatus.COMPLETED
        assert state.serialized_output == '"after the restart"'
    finally:
        runtime.stop()


def _raise_once_reachable(runtime: DurableRuntime, run_id: str, name: str, data: str) -> None:
    """Raise the event as an operator would: again while the engine's port does not answer yet."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return runtime.raise_event(run_id, name, data)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_caller_gives_up_with_a_clear_error_when_the_engine_stays_away(lab: Lab,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    engine = lab.engine()
    monkeypatch.setenv("DAPR_GRPC_PORT", str(engine.port))
    monkeypatch.setenv("DAPR_HEALTH_TIMEOUT", "1")
    runtime = DurableRuntime()
    runtime.register_workflow("rides.waits", lambda ctx, _: (yield ctx.wait_for_external_event("go")))
    try:
        runtime.start_or_attach("rides.waits", None, run_id="stays-away")
        engine.kill()
        with pytest.raises(ConnectionError, match=r"unreachable for 1 s while waiting for durable run 'stays-away'.*"
                                                  r"call again with the same run id"):
            runtime.wait_until("stays-away", lambda state: False, timeout=60)
    finally:
        runtime.stop()
