"""Listing instances, reading history, and rerunning from a history event."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from dapr.ext.workflow import WorkflowHistoryEventType as T
from dapr.ext.workflow import WorkflowStatus
from engine_harness import CallLog, assert_rpc_error, new_id, output_of

CALLS = CallLog()


def act_step(ctx, value):
    CALLS.add(ctx.workflow_id, value)
    return value.lower()


def wf_echo(ctx, inp):
    return inp


def wf_two_steps(ctx, inp):
    a = yield ctx.call_activity("act_step", input=f"A-{inp}")
    b = yield ctx.call_activity("act_step", input="B")
    return [a, b]


def wf_step_then_timer(ctx, _):
    a = yield ctx.call_activity("act_step", input="Step")
    yield ctx.create_timer(timedelta(seconds=0.2))
    return a


def wf_timer_then_step(ctx, _):
    yield ctx.create_timer(timedelta(seconds=0.2))
    a = yield ctx.call_activity("act_step", input="After-Timer")
    return a


def wf_parent(ctx, _):
    result = yield ctx.call_child_workflow("wf_echo", input="from parent")
    return result


def wf_wait_event(ctx, name):
    value = yield ctx.wait_for_external_event(name)
    return value


WORKFLOWS = [wf_echo, wf_two_steps, wf_step_then_timer, wf_timer_then_step, wf_parent, wf_wait_event]


@pytest.fixture(scope="module")
def app(module_factory):
    return module_factory.app(WORKFLOWS, [act_step])


def _run_all(app, count: int, prefix: str) -> list[str]:
    ids = [app.schedule("wf_echo", input=i, instance_id=f"{prefix}-{i:04d}") for i in range(count)]
    for instance_id in ids:
        assert app.wait_done(instance_id).runtime_status == WorkflowStatus.COMPLETED
    return ids


# -- listing ---------------------------------------------------------------------------


def test_list_instance_ids_pages_through_every_id(app):
    """Scenario 43: list_workflow_instance_ids(page_size=2) pages through all ids; the last page has no token."""
    ours = set(_run_all(app, 5, new_id("page")))
    seen: list[str] = []
    token = None
    for _ in range(1000):
        page = app.client.list_workflow_instance_ids(page_size=2, continuation_token=token)
        assert len(page.instance_ids) <= 2
        seen.extend(page.instance_ids)
        token = page.continuation_token
        if not token:
            break
    else:
        pytest.fail("paging never reached a last page")
    assert len(seen) == len(set(seen)), "an id was listed twice"
    assert ours <= set(seen)
    assert set(app.client.iter_workflow_instance_ids(page_size=2)) == set(seen)


def test_iter_instance_ids_terminates(app):
    """Scenario 43: iter_workflow_instance_ids stops after the last page."""
    ours = set(_run_all(app, 3, new_id("iter")))
    listed = list(app.client.iter_workflow_instance_ids(page_size=1024))
    assert ours <= set(listed)
    assert len(listed) == len(set(listed))


def test_list_and_history_on_many_instances(app):
    """List and read history of 150 instances: each listed once, each history complete and in order."""
    ours = _run_all(app, 150, new_id("many"))
    listed = list(app.client.iter_workflow_instance_ids(page_size=64))
    assert len(listed) == len(set(listed))
    assert set(ours) <= set(listed)
    for index, instance_id in enumerate(ours):
        history = app.client.get_workflow_history(instance_id)
        meaningful = [e for e in history if e.event_type != T.WORKFLOW_STARTED]
        assert [e.event_type for e in meaningful] == [T.EXECUTION_STARTED, T.EXECUTION_COMPLETED], instance_id
        assert meaningful[0].name == "wf_echo"
        assert output_of(app.state(instance_id)) == index


# -- history ---------------------------------------------------------------------------


def test_history_is_ordered_with_correct_event_ids(app):
    """Scenario 44: get_workflow_history returns events oldest first with the right event ids."""
    state = app.run("wf_step_then_timer")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    history = app.client.get_workflow_history(state.instance_id)

    assert history[0].event_type == T.WORKFLOW_STARTED
    turn_times = [e.timestamp for e in history if e.event_type == T.WORKFLOW_STARTED]
    assert len(turn_times) == 3
    assert turn_times == sorted(turn_times)
    meaningful = [e for e in history if e.event_type != T.WORKFLOW_STARTED]
    assert [e.event_type for e in meaningful] == [
        T.EXECUTION_STARTED, T.TASK_SCHEDULED, T.TASK_COMPLETED, T.TIMER_CREATED, T.TIMER_FIRED, T.EXECUTION_COMPLETED,
    ]
    started, scheduled, completed, timer_created, timer_fired, _ = meaningful
    assert started.event_id == -1 and started.name == "wf_step_then_timer"
    assert scheduled.event_id == 1 and scheduled.name == "act_step"
    assert completed.event_id == -1 and completed.task_scheduled_id == 1
    assert timer_created.event_id == 2
    assert timer_fired.event_id == -1
    assert scheduled.is_rerunnable and timer_created.is_rerunnable


def test_history_of_unknown_instance_is_not_found(app):
    """Scenario 44: history of an id that never existed is NOT_FOUND."""
    assert_rpc_error(lambda: app.client.get_workflow_history(new_id("ghost")), grpc.StatusCode.NOT_FOUND)


def test_history_is_not_found_after_purge(app):
    """Scenario 44: after purge, get_workflow_history is NOT_FOUND."""
    state = app.run("wf_echo", input="to purge")
    assert app.client.get_workflow_history(state.instance_id)
    app.client.purge_workflow(state.instance_id)
    assert_rpc_error(lambda: app.client.get_workflow_history(state.instance_id), grpc.StatusCode.NOT_FOUND)


# -- rerun -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_step_source(app):
    state = app.run("wf_two_steps", input="x")
    assert output_of(state) == ["a-x", "b"]
    return state.instance_id


def test_rerun_from_an_activity_reexecutes_only_that_activity(app, two_step_source):
    """Scenario 45: rerun from the second taskScheduled re-runs only that activity; the source is untouched."""
    new = new_id("rerun")
    assert app.client.rerun_workflow_from_event(two_step_source, 2, new_instance_id=new) == new
    state = app.wait_done(new)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == ["a-x", "b"]
    assert CALLS.get(new) == ["B"]
    assert output_of(app.state(two_step_source)) == ["a-x", "b"]
    assert CALLS.get(two_step_source) == ["A-x", "B"]


def test_rerun_with_input_override_applies_the_new_input(app, two_step_source):
    """Scenario 45: an input override replaces the rerun activity's input."""
    new = new_id("rerun-input")
    app.client.rerun_workflow_from_event(two_step_source, 2, new_instance_id=new, input="B-Override")
    state = app.wait_done(new)
    assert output_of(state) == ["a-x", "b-override"]
    assert CALLS.get(new) == ["B-Override"]


def test_rerun_from_the_first_activity_replays_everything_after_it(app, two_step_source):
    """Scenario 45: rerun from the first taskScheduled re-runs it and then the rest of the workflow."""
    new = new_id("rerun-first")
    app.client.rerun_workflow_from_event(two_step_source, 1, new_instance_id=new, input="A-New")
    state = app.wait_done(new)
    assert output_of(state) == ["a-new", "b"]
    assert CALLS.get(new) == ["A-New", "B"]


def test_rerun_from_a_timer_fires_it_at_once(app):
    """Scenario 45: rerun from a timerCreated event continues after the timer."""
    source = app.run("wf_timer_then_step").instance_id
    new = new_id("rerun-timer")
    app.client.rerun_workflow_from_event(source, 1, new_instance_id=new)
    state = app.wait_done(new)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "after-timer"
    assert CALLS.get(new) == ["After-Timer"]


def test_rerun_of_a_running_instance_is_invalid(app):
    """Scenario 45: the source must be terminal."""
    running = app.schedule("wf_wait_event", input="go")
    app.wait_waiting_for_event(running)
    assert_rpc_error(lambda: app.client.rerun_workflow_from_event(running, 1), grpc.StatusCode.INVALID_ARGUMENT)
    app.client.raise_workflow_event(running, "go", data=1)
    app.wait_done(running)


def test_rerun_of_a_child_instance_is_invalid(app):
    """Scenario 45: a child workflow cannot be a rerun source."""
    parent = new_id("rerun-parent")
    assert app.run("wf_parent", instance_id=parent).runtime_status == WorkflowStatus.COMPLETED
    child = f"{parent}:0001"
    assert app.state(child).runtime_status == WorkflowStatus.COMPLETED
    assert_rpc_error(lambda: app.client.rerun_workflow_from_event(child, 1), grpc.StatusCode.INVALID_ARGUMENT)


def test_rerun_of_a_timer_with_input_is_invalid(app):
    """Scenario 45: an input override on a timer event is rejected."""
    source = app.run("wf_timer_then_step").instance_id
    assert_rpc_error(lambda: app.client.rerun_workflow_from_event(source, 1, input="nope"),
                     grpc.StatusCode.INVALID_ARGUMENT)


def test_rerun_into_an_existing_instance_id_is_already_exists(app, two_step_source):
    """Scenario 45: the new instance id must not exist yet."""
    other = app.run("wf_echo", input=1).instance_id
    assert_rpc_error(lambda: app.client.rerun_workflow_from_event(two_step_source, 2, new_instance_id=other),
                     grpc.StatusCode.ALREADY_EXISTS)


def test_rerun_from_an_event_that_cannot_be_rerun_is_not_found(app, two_step_source):
    """Scenario 45: an event id that names no taskScheduled/timerCreated/childWorkflowInstanceCreated is NOT_FOUND."""
    assert_rpc_error(lambda: app.client.rerun_workflow_from_event(two_step_source, 99), grpc.StatusCode.NOT_FOUND)
