"""Child workflows: ids, results, failures, retries, recursive terminate, propagation, cross-app."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import dapr.ext.workflow._durabletask.internal.protos as pb
import grpc
import pytest
from dapr.ext.workflow import (
    PropagationScope,
    RetryPolicy,
    TaskFailedError,
    WorkflowHistoryEventType,
    WorkflowStatus,
)
from engine_harness import CallLog, assert_rpc_error, new_id, of_kind, output_of

APP_ID = "embedded-app"
CALLS = CallLog()


# -- activities ------------------------------------------------------------------------


def act_fail_first_time(ctx, key):
    if CALLS.add(key) == 1:
        raise RuntimeError(f"first call for {key} fails")
    return f"ok:{key}"


def act_double(ctx, n):
    return n * 2


def act_inspect_propagation(ctx, _):
    history = ctx.get_propagated_history()
    if history is None:
        return None
    workflows = history.get_workflows()
    return {
        "scope": history.scope.name,
        "app_ids": [w.app_id for w in workflows],
        "instance_ids": [w.instance_id for w in workflows],
        "names": [w.name for w in workflows],
        "events": [[e.WhichOneof("eventType") for e in w._events] for w in workflows],
        "parent_pre_output": workflows[0].get_last_activity_by_name("act_double").output
        if len(workflows) > 1 else None,
        "parent_children": [c.name for c in workflows[0].get_child_workflows_by_name("wf_propagating_child")]
        if len(workflows) > 1 else None,
        "own_inspect_started": workflows[-1].get_last_activity_by_name("act_inspect_propagation").started,
    }


# -- workflows -------------------------------------------------------------------------


def wf_child_echo(ctx, inp):
    return {"child_of": inp, "child_id": ctx.instance_id}


def wf_parent_default_child_id(ctx, inp):
    result = yield ctx.call_child_workflow("wf_child_echo", input=inp)
    return result


def wf_child_fails(ctx, message):
    raise ValueError(message)
    yield  # pragma: no cover - makes this a generator like the others


def wf_parent_catches_child_failure(ctx, message):
    try:
        yield ctx.call_child_workflow("wf_child_fails", input=message)
    except TaskFailedError as error:
        return {"caught": True, "message": error.details.message, "type": error.details.error_type}
    return {"caught": False}


def wf_child_flaky(ctx, key):
    result = yield ctx.call_activity("act_fail_first_time", input=key)
    return result


def wf_parent_retries_child(ctx, key):
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=0.2), max_number_of_attempts=3)
    result = yield ctx.call_child_workflow("wf_child_flaky", input=key, retry_policy=policy)
    return result


def wf_wait_for_release(ctx, _):
    value = yield ctx.wait_for_external_event("release")
    return value


def wf_parent_with_explicit_child_id(ctx, child_id):
    try:
        result = yield ctx.call_child_workflow("wf_child_echo", input="dup", instance_id=child_id)
    except TaskFailedError as error:
        return {"failed": True, "message": error.details.message}
    return {"failed": False, "result": result}


def wf_middle(ctx, _):
    value = yield ctx.call_child_workflow("wf_wait_for_release", input=None)
    return value


def wf_top(ctx, _):
    value = yield ctx.call_child_workflow("wf_middle", input=None)
    return value


def wf_top_one_level(ctx, _):
    value = yield ctx.call_child_workflow("wf_wait_for_release", input=None)
    return value


def wf_propagating_child(ctx, _):
    result = yield ctx.call_activity("act_inspect_propagation", input=None, propagation=PropagationScope.LINEAGE)
    return result


def wf_propagating_parent(ctx, n):
    yield ctx.call_activity("act_double", input=n)
    result = yield ctx.call_child_workflow("wf_propagating_child", input=None, propagation=PropagationScope.LINEAGE)
    return result


def wf_cross_app(ctx, target_app):
    outcome = {}
    try:
        outcome["activity"] = yield ctx.call_activity("act_double", input=2, app_id=target_app)
    except TaskFailedError as error:
        outcome["activity_error"] = error.details.error_type
    try:
        outcome["child"] = yield ctx.call_child_workflow("wf_child_echo", input="x", app_id=target_app)
    except TaskFailedError as error:
        outcome["child_error"] = error.details.message or error.details.error_type or "failed"
    return outcome


WORKFLOWS = [
    wf_child_echo, wf_parent_default_child_id, wf_child_fails, wf_parent_catches_child_failure,
    wf_child_flaky, wf_parent_retries_child, wf_wait_for_release, wf_parent_with_explicit_child_id,
    wf_middle, wf_top, wf_top_one_level, wf_propagating_child, wf_propagating_parent, wf_cross_app,
]
ACTIVITIES = [act_fail_first_time, act_double, act_inspect_propagation]


@pytest.fixture(scope="module")
def app(module_factory):
    return module_factory.app(WORKFLOWS, ACTIVITIES, app_id=APP_ID)


# -- tests -----------------------------------------------------------------------------


def test_child_with_default_id_completes_and_returns_its_output(app):
    """Scenario 17: the child's default id is '<parent>:0001'; its output reaches the parent."""
    parent = new_id("parent")
    state = app.run("wf_parent_default_child_id", input={"k": 17}, instance_id=parent)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    child_id = f"{parent}:0001"
    assert output_of(state) == {"child_of": {"k": 17}, "child_id": child_id}

    child = app.state(child_id)
    assert child is not None
    assert child.runtime_status == WorkflowStatus.COMPLETED
    assert child.name == "wf_child_echo"

    history = app.client.get_workflow_history(parent)
    created = [e for e in history if e.event_type == WorkflowHistoryEventType.CHILD_WORKFLOW_INSTANCE_CREATED]
    completed = [e for e in history if e.event_type == WorkflowHistoryEventType.CHILD_WORKFLOW_INSTANCE_COMPLETED]
    assert [(e.event_id, e.name) for e in created] == [(1, "wf_child_echo")]
    assert [e.task_scheduled_id for e in completed] == [1]
    (raw_created,) = of_kind(app.raw_history(parent), "childWorkflowInstanceCreated")
    assert raw_created.childWorkflowInstanceCreated.instanceId == child_id
    raw_child = app.stub.GetInstance(pb.GetInstanceRequest(instanceId=child_id), timeout=10).workflowState
    assert raw_child.parentInstanceId.value == parent
    (child_started,) = of_kind(app.raw_history(child_id), "executionStarted")
    assert child_started.executionStarted.parentInstance.workflowInstance.instanceId == parent
    assert child_started.executionStarted.parentInstance.taskScheduledId == 1


def test_failing_child_surfaces_as_task_failed_error_in_the_parent(app):
    """Scenario 18: a child that raises makes the parent's call raise TaskFailedError."""
    parent = new_id("parent-fail")
    state = app.run("wf_parent_catches_child_failure", input="child-boom", instance_id=parent)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    result = output_of(state)
    assert result["caught"] is True
    assert "child-boom" in result["message"]
    child = app.state(f"{parent}:0001")
    assert child.runtime_status == WorkflowStatus.FAILED
    assert child.failure_details.error_type == "ValueError"


def test_child_retry_policy_recreates_the_same_child_id_after_failure(app):
    """Scenario 18: with a retry policy the parent re-creates the FAILED child under the same id."""
    parent = new_id("parent-retry")
    key = new_id("flaky-child")
    state = app.run("wf_parent_retries_child", input=key, instance_id=parent)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == f"ok:{key}"
    assert CALLS.count(key) == 2

    events = app.raw_history(parent)
    created = of_kind(events, "childWorkflowInstanceCreated")
    assert len(created) == 2
    assert {e.childWorkflowInstanceCreated.instanceId for e in created} == {f"{parent}:0001"}
    assert len(of_kind(events, "childWorkflowInstanceFailed")) == 1
    retry_timers = [e for e in of_kind(events, "timerCreated") if e.timerCreated.HasField("childWorkflowRetry")]
    assert len(retry_timers) == 1
    child = app.state(f"{parent}:0001")
    assert child.runtime_status == WorkflowStatus.COMPLETED


def test_child_with_the_id_of_a_running_instance_fails_in_the_parent(app):
    """Scenario 19: a child id that belongs to a RUNNING instance gives the parent a child failure, not a hang."""
    busy = app.schedule("wf_wait_for_release", input="busy")
    app.wait_waiting_for_event(busy)

    state = app.run("wf_parent_with_explicit_child_id", input=busy)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state)["failed"] is True

    running = app.state(busy)
    assert running.runtime_status == WorkflowStatus.RUNNING
    assert running.name == "wf_wait_for_release"
    assert json.loads(running.serialized_input) == "busy"
    app.client.raise_workflow_event(busy, "release", data="done")
    assert output_of(app.wait_done(busy)) == "done"


def test_recursive_terminate_terminates_children_and_grandchildren(app):
    """Scenario 26: terminate(recursive=True) ends the parent, the child and the grandchild TERMINATED."""
    top = new_id("top")
    app.schedule("wf_top", instance_id=top)
    middle, leaf = f"{top}:0001", f"{top}:0001:0001"
    app.wait_waiting_for_event(leaf)

    app.client.terminate_workflow(top, output="stop all", recursive=True)
    for instance_id in (top, middle, leaf):
        state = app.wait_done(instance_id)
        assert state.runtime_status == WorkflowStatus.TERMINATED, instance_id
    assert output_of(app.state(top)) == "stop all"


def test_non_recursive_terminate_leaves_the_child_running(app):
    """Scenario 26: terminate(recursive=False) ends only the parent; the child keeps running."""
    top = new_id("top-flat")
    app.schedule("wf_top_one_level", instance_id=top)
    child = f"{top}:0001"
    app.wait_waiting_for_event(child)

    app.client.terminate_workflow(top, recursive=False)
    assert app.wait_done(top).runtime_status == WorkflowStatus.TERMINATED
    time.sleep(1.0)
    assert app.state(child).runtime_status == WorkflowStatus.RUNNING

    app.client.raise_workflow_event(child, "release", data="child finished")
    state = app.wait_done(child)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "child finished"
    assert app.state(top).runtime_status == WorkflowStatus.TERMINATED


def test_lineage_propagation_from_a_child_reaches_the_activity(app):
    """Scenario 41: an activity called with LINEAGE from a child sees the parent's and the child's chunks."""
    parent = new_id("lineage")
    state = app.run("wf_propagating_parent", input=21, instance_id=parent)
    assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
    seen = output_of(state)
    assert seen is not None, "the activity received no propagated history"
    assert seen["scope"] == "LINEAGE"
    assert seen["app_ids"] == [APP_ID, APP_ID]
    assert seen["instance_ids"] == [parent, f"{parent}:0002"]
    assert seen["names"] == ["wf_propagating_parent", "wf_propagating_child"]
    parent_events, child_events = seen["events"]
    assert "executionStarted" in parent_events
    assert "taskCompleted" in parent_events
    assert "childWorkflowInstanceCreated" in parent_events
    assert seen["parent_pre_output"] == "42"
    assert seen["parent_children"] == ["wf_propagating_child"]
    assert "executionStarted" in child_events
    assert child_events[-1] == "taskScheduled"
    assert seen["own_inspect_started"] is True


def test_cross_app_calls_are_rejected(app):
    """Scenario 42 (reject mode): an activity for another app fails with AppNotFound; a child fails."""
    state = app.run("wf_cross_app", input="some-other-app")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    outcome = output_of(state)
    assert outcome.get("activity_error") == "AppNotFound", outcome
    assert "child_error" in outcome, outcome
    assert "activity" not in outcome and "child" not in outcome


def test_calls_targeting_the_engines_own_app_id_run_locally(app):
    """Scenario 42: app_id equal to the engine's own app id is a local call."""
    parent = new_id("same-app")
    state = app.run("wf_cross_app", input=APP_ID, instance_id=parent)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    outcome = output_of(state)
    assert outcome["activity"] == 4
    assert outcome["child"]["child_of"] == "x"


def test_client_operations_for_another_app_are_rejected(app):
    """Scenario 42 (reject mode): client calls routed to another app id fail with FAILED_PRECONDITION."""
    instance_id = app.run("wf_child_echo", input="local").instance_id
    other = "some-other-app"
    assert_rpc_error(lambda: app.client.schedule_new_workflow("wf_child_echo", input=1, app_id=other),
                     grpc.StatusCode.FAILED_PRECONDITION)
    assert_rpc_error(lambda: app.client.get_workflow_state(instance_id, app_id=other),
                     grpc.StatusCode.FAILED_PRECONDITION)
    assert_rpc_error(lambda: app.client.raise_workflow_event(instance_id, "evt", data=1, app_id=other),
                     grpc.StatusCode.FAILED_PRECONDITION)
    assert app.state(instance_id).runtime_status == WorkflowStatus.COMPLETED
    assert app.client.get_workflow_state(instance_id, app_id=APP_ID).runtime_status == WorkflowStatus.COMPLETED
