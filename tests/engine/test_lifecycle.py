"""Instance lifecycle: custom status, suspend/resume, terminate, purge, id reuse, scheduled start, waits."""

from __future__ import annotations

import json
import time
from concurrent import futures
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from dapr.ext.workflow import WorkflowStatus
from engine_harness import (
    GATES,
    assert_rpc_error,
    kinds,
    new_id,
    of_kind,
    output_of,
    run_bounded,
    wait_until,
)

# -- activities and workflows ------------------------------------------------------------


def act_gate(ctx, key):
    GATES.enter(key)
    return "activity result"


def wf_echo(ctx, inp):
    return inp


def wf_wait_event(ctx, name):
    value = yield ctx.wait_for_external_event(name)
    return value


def wf_custom_status(ctx, _):
    ctx.set_custom_status("phase-1")
    yield ctx.wait_for_external_event("next")
    ctx.set_custom_status("phase-2")
    return "done"


def wf_gated_activity(ctx, key):
    result = yield ctx.call_activity("act_gate", input=key)
    return result


def wf_parent_of_echo(ctx, inp):
    result = yield ctx.call_child_workflow("wf_echo", input=inp)
    return result


WORKFLOWS = [wf_echo, wf_wait_event, wf_custom_status, wf_gated_activity, wf_parent_of_echo]
ACTIVITIES = [act_gate]


@pytest.fixture(scope="module")
def app(module_factory):
    """Dapr-parity engine (lenient_lifecycle off); the worker sits behind a recording proxy."""
    return module_factory.app(WORKFLOWS, ACTIVITIES, via_proxy=True)


@pytest.fixture(scope="module")
def lenient_app(module_factory):
    return module_factory.app(WORKFLOWS, ACTIVITIES, lenient_lifecycle=True)


def _start_waiting(app, event: str = "go") -> str:
    instance_id = app.schedule("wf_wait_event", input=event)
    app.wait_waiting_for_event(instance_id)
    return instance_id


# -- custom status ---------------------------------------------------------------------


def test_custom_status_is_visible_while_running(app):
    """Scenario 22: a custom status set in a turn is visible through get_workflow_state while RUNNING."""
    instance_id = app.schedule("wf_custom_status")

    def phase_one():
        state = app.state(instance_id)
        return state if state and state.serialized_custom_status == "phase-1" else None

    state = wait_until(phase_one, message="custom status phase-1")
    assert state.runtime_status == WorkflowStatus.RUNNING

    app.client.raise_workflow_event(instance_id, "next", data=True)
    final = app.wait_done(instance_id)
    assert final.runtime_status == WorkflowStatus.COMPLETED
    assert final.serialized_custom_status == "phase-2"


# -- suspend / resume ------------------------------------------------------------------


def test_events_raised_while_suspended_apply_after_resume(app):
    """Scenario 23: pause -> SUSPENDED; an event raised meanwhile takes effect only after resume."""
    instance_id = _start_waiting(app)
    app.client.pause_workflow(instance_id)
    app.wait_status(instance_id, WorkflowStatus.SUSPENDED)

    app.client.raise_workflow_event(instance_id, "go", data={"value": 23})
    time.sleep(1.0)
    state = app.state(instance_id)
    assert state.runtime_status == WorkflowStatus.SUSPENDED
    assert state.serialized_output is None

    app.client.resume_workflow(instance_id)
    final = app.wait_done(instance_id)
    assert final.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(final) == {"value": 23}
    events = app.raw_history(instance_id)
    assert "executionSuspended" in kinds(events) and "executionResumed" in kinds(events)


def test_resume_of_a_running_workflow_is_passed_through_by_default(app):
    """Scenario 24 (Dapr parity): resuming a running workflow reaches the SDK, which fails it."""
    instance_id = _start_waiting(app)
    app.client.resume_workflow(instance_id)
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.FAILED
    assert state.failure_details.error_type == "WorkflowStateError"
    assert "executionResumed" in state.failure_details.message


def test_double_suspend_is_passed_through_by_default(factory, monkeypatch):
    """Scenario 24 (Dapr parity): a second suspend reaches the SDK; after resume the workflow never wakes.

    The SDK re-suspends on the buffered second suspend (and spins on it), so the
    worker runs in its own process and is killed afterwards.
    """
    app = factory.client_app()
    factory.worker_process(app.port)
    client = app.client
    instance_id = _start_waiting(app)
    client.pause_workflow(instance_id)
    app.wait_status(instance_id, WorkflowStatus.SUSPENDED)
    client.pause_workflow(instance_id)
    events = app.wait_history(instance_id, lambda events: kinds(events).count("executionSuspended") == 2,
                              message="the second suspend")
    assert kinds(events).count("executionSuspended") == 2

    # the engine holds ResumeInstance until the instance runs again, which it never does here
    monkeypatch.setenv("DAPR_API_TIMEOUT_SECONDS", "1")
    try:
        client.resume_workflow(instance_id)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
    monkeypatch.delenv("DAPR_API_TIMEOUT_SECONDS")
    client.raise_workflow_event(instance_id, "go", data="never seen")
    with pytest.raises(TimeoutError):
        client.wait_for_workflow_completion(instance_id, timeout_in_seconds=2)
    state = app.state(instance_id)
    assert state.runtime_status not in (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED)
    assert state.serialized_output is None


def test_lenient_mode_drops_resume_of_a_running_workflow(lenient_app):
    """Scenario 24 (lenient_lifecycle): resuming a running workflow is a no-op; it completes normally."""
    instance_id = _start_waiting(lenient_app)
    lenient_app.client.resume_workflow(instance_id)
    assert lenient_app.state(instance_id).runtime_status == WorkflowStatus.RUNNING
    lenient_app.client.raise_workflow_event(instance_id, "go", data="fine")
    state = lenient_app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "fine"
    assert "executionResumed" not in kinds(lenient_app.raw_history(instance_id))


def test_lenient_mode_drops_a_second_suspend(lenient_app):
    """Scenario 24 (lenient_lifecycle): a second suspend is a no-op; one resume wakes the workflow."""
    instance_id = _start_waiting(lenient_app)
    lenient_app.client.pause_workflow(instance_id)
    lenient_app.wait_status(instance_id, WorkflowStatus.SUSPENDED)
    lenient_app.client.pause_workflow(instance_id)
    assert lenient_app.state(instance_id).runtime_status == WorkflowStatus.SUSPENDED
    lenient_app.client.resume_workflow(instance_id)
    lenient_app.client.raise_workflow_event(instance_id, "go", data="awake")
    state = lenient_app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "awake"
    assert kinds(lenient_app.raw_history(instance_id)).count("executionSuspended") == 1


# -- terminate -------------------------------------------------------------------------


def test_terminate_sets_output_and_drops_the_late_activity_result(app):
    """Scenario 25: terminate(output=X) -> TERMINATED with output X; the in-flight activity's result is dropped."""
    key = new_id("terminate-gate")
    instance_id = app.schedule("wf_gated_activity", input=key)
    GATES.wait_entered(key)

    app.client.terminate_workflow(instance_id, output={"reason": "stop"})
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.TERMINATED
    assert output_of(state) == {"reason": "stop"}
    history_before = [e.SerializeToString() for e in app.raw_history(instance_id)]

    GATES.release(key)
    app.proxy.wait_answered("CompleteActivityTask", lambda r: r.instanceId == instance_id)
    time.sleep(0.3)
    after = app.state(instance_id)
    assert after.runtime_status == WorkflowStatus.TERMINATED
    assert output_of(after) == {"reason": "stop"}
    events = app.raw_history(instance_id)
    assert [e.SerializeToString() for e in events] == history_before
    assert "taskCompleted" not in kinds(events)
    assert kinds(events)[-1] == "executionCompleted"


def test_terminate_while_suspended_ends_terminated(app):
    """Scenario 27: a SUSPENDED workflow can be terminated."""
    instance_id = _start_waiting(app)
    app.client.pause_workflow(instance_id)
    app.wait_status(instance_id, WorkflowStatus.SUSPENDED)
    app.client.terminate_workflow(instance_id, output="while suspended")
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.TERMINATED
    assert output_of(state) == "while suspended"


def test_terminate_while_pending_ends_terminated(app):
    """Scenario 27: a PENDING workflow (start time far ahead) can be terminated."""
    instance_id = app.schedule("wf_wait_event", input="go",
                               start_at=datetime.now(UTC) + timedelta(seconds=120))
    assert app.state(instance_id).runtime_status == WorkflowStatus.PENDING
    run_bounded(lambda: app.client.terminate_workflow(instance_id, output="cancelled"), timeout=30)
    state = app.wait_done(instance_id, timeout=30)
    assert state.runtime_status == WorkflowStatus.TERMINATED
    assert output_of(state) == "cancelled"


# -- purge -----------------------------------------------------------------------------


def test_purge_of_a_terminal_instance_removes_it(app):
    """Scenario 28: purging a COMPLETED instance removes its state and history."""
    state = app.run("wf_echo", input="bye")
    app.client.purge_workflow(state.instance_id)
    assert app.state(state.instance_id) is None
    assert_rpc_error(lambda: app.client.get_workflow_history(state.instance_id), grpc.StatusCode.NOT_FOUND)


def test_purge_of_a_running_instance_is_an_error(app):
    """Scenario 28: purging a RUNNING instance fails and leaves it intact."""
    instance_id = _start_waiting(app)
    assert_rpc_error(lambda: app.client.purge_workflow(instance_id))
    assert app.state(instance_id).runtime_status == WorkflowStatus.RUNNING
    app.client.raise_workflow_event(instance_id, "go", data="still alive")
    assert output_of(app.wait_done(instance_id)) == "still alive"


def test_recursive_purge_removes_children(app):
    """Scenario 28: purge(recursive=True) also removes the child instances."""
    parent = new_id("purge-parent")
    assert app.run("wf_parent_of_echo", input="c", instance_id=parent).runtime_status == WorkflowStatus.COMPLETED
    child = f"{parent}:0001"
    assert app.state(child) is not None
    app.client.purge_workflow(parent, recursive=True)
    assert app.state(parent) is None
    assert app.state(child) is None


def test_non_recursive_purge_keeps_children(app):
    """Scenario 28: purge(recursive=False) removes only the named instance."""
    parent = new_id("purge-flat")
    assert app.run("wf_parent_of_echo", input="c", instance_id=parent).runtime_status == WorkflowStatus.COMPLETED
    child = f"{parent}:0001"
    app.client.purge_workflow(parent, recursive=False)
    assert app.state(parent) is None
    assert app.state(child).runtime_status == WorkflowStatus.COMPLETED


# -- instance id reuse -----------------------------------------------------------------


def test_completed_instance_id_can_be_scheduled_again(app):
    """Scenario 29: re-scheduling the id of a COMPLETED instance starts a fresh run."""
    instance_id = new_id("reuse")
    assert output_of(app.run("wf_echo", input="first run", instance_id=instance_id)) == "first run"
    again = app.run("wf_echo", input="second run", instance_id=instance_id)
    assert again.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(again) == "second run"
    assert json.loads(again.serialized_input) == "second run"
    assert kinds(app.raw_history(instance_id)).count("executionStarted") == 1


def test_scheduling_the_id_of_a_running_instance_is_already_exists(app):
    """Scenario 29: re-scheduling the id of a RUNNING instance fails with ALREADY_EXISTS."""
    instance_id = _start_waiting(app)
    assert_rpc_error(lambda: app.schedule("wf_echo", input="intruder", instance_id=instance_id),
                     grpc.StatusCode.ALREADY_EXISTS)
    state = app.state(instance_id)
    assert state.runtime_status == WorkflowStatus.RUNNING
    assert state.name == "wf_wait_event"
    app.client.raise_workflow_event(instance_id, "go", data="original")
    assert output_of(app.wait_done(instance_id)) == "original"


# -- scheduled start and waits ---------------------------------------------------------


def test_start_at_keeps_the_instance_pending_until_due(app):
    """Scenario 30: start_at in the future reads PENDING until due; wait_for_workflow_start returns after it."""
    start_at = datetime.now(UTC) + timedelta(seconds=2)
    instance_id = app.schedule("wf_echo", input="later", start_at=start_at)
    pending = app.state(instance_id)
    if time.time() < start_at.timestamp():  # read before the start time: it must not have started
        assert pending.runtime_status == WorkflowStatus.PENDING

    started = app.client.wait_for_workflow_start(instance_id, timeout_in_seconds=30)
    assert time.time() >= start_at.timestamp()
    assert started.runtime_status != WorkflowStatus.PENDING
    state = app.wait_done(instance_id)
    assert output_of(state) == "later"

    events = app.raw_history(instance_id)
    (execution_started,) = of_kind(events, "executionStarted")
    scheduled = execution_started.executionStarted.scheduledStartTimestamp.ToDatetime().replace(tzinfo=UTC)
    assert abs((scheduled - start_at).total_seconds()) < 1e-3
    first_turn = events[0].timestamp.ToDatetime().replace(tzinfo=UTC)
    assert first_turn >= start_at - timedelta(microseconds=1)


def test_wait_for_completion_with_timeout_raises_timeout_error(app):
    """Scenario 31: wait_for_workflow_completion(timeout=1) on a long workflow raises TimeoutError."""
    instance_id = _start_waiting(app)
    with pytest.raises(TimeoutError):
        app.client.wait_for_workflow_completion(instance_id, timeout_in_seconds=1)
    assert app.state(instance_id).runtime_status == WorkflowStatus.RUNNING
    app.client.raise_workflow_event(instance_id, "go", data="eventually")
    assert output_of(app.wait_done(instance_id)) == "eventually"


def test_waits_on_a_not_yet_created_instance_return_once_it_exists(app):
    """Scenario 31: waiting for start/completion of an id that does not exist yet returns once it is created."""
    instance_id = new_id("not-yet")
    with futures.ThreadPoolExecutor(max_workers=2) as pool:
        start_wait = pool.submit(app.client.wait_for_workflow_start, instance_id, timeout_in_seconds=30)
        completion_wait = pool.submit(app.client.wait_for_workflow_completion, instance_id, timeout_in_seconds=30)
        time.sleep(1.0)
        assert not start_wait.done() and not completion_wait.done()

        app.schedule("wf_echo", input="created late", instance_id=instance_id)
        started = start_wait.result(timeout=40)
        completed = completion_wait.result(timeout=40)
    assert started is not None and started.runtime_status != WorkflowStatus.PENDING
    assert completed.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(completed) == "created late"
