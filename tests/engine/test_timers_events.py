"""Durable timers and external events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from dapr.ext.workflow import WorkflowStatus
from engine_harness import (
    GATES,
    SENTINEL_FIRE_AT_NANOS,
    SENTINEL_FIRE_AT_SECONDS,
    assert_rpc_error,
    kinds,
    new_id,
    of_kind,
    output_of,
)

# -- activities and workflows ------------------------------------------------------------


def act_gate(ctx, key):
    GATES.enter(key)
    return key


def wf_timer(ctx, seconds):
    before = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return {"before": before.isoformat(), "after": ctx.current_utc_datetime.isoformat()}


def wf_wait_forever(ctx, name):
    value = yield ctx.wait_for_external_event(name)
    return value


def wf_wait_with_timeout(ctx, seconds):
    try:
        value = yield ctx.wait_for_external_event("never-sent", timeout=timedelta(seconds=seconds))
    except TimeoutError as error:
        return {"timed_out": True, "message": str(error)}
    return {"timed_out": False, "value": value}


def wf_wait_with_timeout_uncaught(ctx, seconds):
    value = yield ctx.wait_for_external_event("never-sent", timeout=timedelta(seconds=seconds))
    return value


def wf_gate_then_wait(ctx, inp):
    yield ctx.call_activity("act_gate", input=inp["key"])
    value = yield ctx.wait_for_external_event(inp["event"])
    return value


def wf_collect_three(ctx, name):
    values = []
    for _ in range(3):
        value = yield ctx.wait_for_external_event(name)
        values.append(value)
    return values


WORKFLOWS = [wf_timer, wf_wait_forever, wf_wait_with_timeout, wf_wait_with_timeout_uncaught,
             wf_gate_then_wait, wf_collect_three]


@pytest.fixture(scope="module")
def app(module_factory):
    return module_factory.app(WORKFLOWS, [act_gate])


def _as_utc(timestamp) -> datetime:
    return timestamp.ToDatetime().replace(tzinfo=UTC)


# -- timers ----------------------------------------------------------------------------


def test_two_second_timer_fires_no_earlier_than_two_seconds(app):
    """Scenario 7: create_timer(2 s) fires no earlier than 2 s; timerFired.timerId matches timerCreated."""
    started = time.time()
    state = app.run("wf_timer", input=2)
    elapsed = time.time() - started
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert elapsed >= 2.0

    result = output_of(state)
    before = datetime.fromisoformat(result["before"])
    after = datetime.fromisoformat(result["after"])
    assert after - before >= timedelta(seconds=2)

    events = app.raw_history(state.instance_id)
    created = of_kind(events, "timerCreated")
    fired = of_kind(events, "timerFired")
    assert len(created) == 1 and len(fired) == 1
    assert created[0].eventId == 1
    assert fired[0].timerFired.timerId == created[0].eventId
    assert fired[0].timerFired.fireAt == created[0].timerCreated.fireAt
    assert created[0].timerCreated.HasField("createTimer")
    fire_at = _as_utc(created[0].timerCreated.fireAt)
    assert fire_at - before.replace(tzinfo=UTC) == timedelta(seconds=2)
    # the turn that saw the timer fire did not start before the timer was due
    assert after.replace(tzinfo=UTC) >= fire_at


# -- external events -------------------------------------------------------------------


def test_indefinite_wait_records_a_sentinel_timer_that_never_fires(app):
    """Scenario 8: an indefinite wait records the sentinel timerCreated; the raised event completes it."""
    instance_id = app.schedule("wf_wait_forever", input="approval")
    events = app.wait_waiting_for_event(instance_id)
    (timer,) = of_kind(events, "timerCreated")
    assert timer.timerCreated.fireAt.seconds == SENTINEL_FIRE_AT_SECONDS
    assert timer.timerCreated.fireAt.nanos == SENTINEL_FIRE_AT_NANOS
    assert timer.timerCreated.externalEvent.name == "approval"

    time.sleep(1.0)
    state = app.state(instance_id)
    assert state.runtime_status == WorkflowStatus.RUNNING
    assert "timerFired" not in kinds(app.raw_history(instance_id))

    app.client.raise_workflow_event(instance_id, "approval", data={"approved": True})
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == {"approved": True}
    assert "timerFired" not in kinds(app.raw_history(instance_id))


def test_wait_with_timeout_raises_timeout_error_in_the_workflow(app):
    """Scenario 9: wait_for_external_event(timeout=1 s) raises TimeoutError when no event arrives."""
    state = app.run("wf_wait_with_timeout", input=1)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    result = output_of(state)
    assert result["timed_out"] is True
    assert "never-sent" in result["message"]
    events = app.raw_history(state.instance_id)
    (timer,) = of_kind(events, "timerCreated")
    assert timer.timerCreated.externalEvent.name == "never-sent"
    assert [e.timerFired.timerId for e in of_kind(events, "timerFired")] == [timer.eventId]


def test_uncaught_event_timeout_fails_the_workflow(app):
    """Scenario 9: left uncaught, the TimeoutError fails the workflow."""
    state = app.run("wf_wait_with_timeout_uncaught", input=1)
    assert state.runtime_status == WorkflowStatus.FAILED
    assert state.failure_details.error_type == "TimeoutError"


def test_event_raised_before_the_first_turn_is_delivered_case_insensitively(factory):
    """Scenario 10: an event raised while the instance is still PENDING is delivered; names are case-insensitive.

    No worker is connected when the event is raised, so it surely precedes the first turn.
    """
    app = factory.client_app()
    instance_id = app.schedule("wf_wait_forever", input="go-signal")
    pending = app.state(instance_id)
    assert pending.runtime_status == WorkflowStatus.PENDING
    assert pending.name == "wf_wait_forever"
    assert pending.serialized_input == '"go-signal"'
    app.client.raise_workflow_event(instance_id, "GO-Signal", data="early bird")
    assert app.state(instance_id).runtime_status == WorkflowStatus.PENDING

    factory.runtime(app.port, [wf_wait_forever])
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "early bird"
    events = app.raw_history(instance_id)
    assert kinds(events)[:3] == ["workflowStarted", "executionStarted", "eventRaised"]
    assert events[2].eventRaised.name == "GO-Signal"


def test_event_raised_before_the_workflow_waits_is_buffered(app):
    """Scenario 10: an event raised while the workflow is busy in an activity is kept until it waits."""
    key = new_id("buffer-gate")
    instance_id = app.schedule("wf_gate_then_wait", input={"key": key, "event": "Later"})
    GATES.wait_entered(key)
    app.client.raise_workflow_event(instance_id, "later", data={"n": 1})
    GATES.release(key)
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == {"n": 1}


def test_events_with_the_same_name_are_consumed_in_fifo_order(app):
    """Scenario 11: several events with one name complete successive waits in the order raised."""
    instance_id = app.schedule("wf_collect_three", input="item")
    for value in ("first", "second", "third"):
        app.client.raise_workflow_event(instance_id, "item", data=value)
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == ["first", "second", "third"]


def test_events_raised_one_by_one_to_a_waiting_workflow_keep_their_order(app):
    """Scenario 11: events raised while the workflow waits, one at a time, arrive in order."""
    instance_id = app.schedule("wf_collect_three", input="step")
    for count, value in enumerate(("a", "b", "c"), start=1):
        app.wait_waiting_for_event(instance_id, count)
        app.client.raise_workflow_event(instance_id, "step", data=value)
    state = app.wait_done(instance_id)
    assert output_of(state) == ["a", "b", "c"]


def test_raise_event_on_unknown_instance_is_an_error(app):
    """Scenario 12: RaiseEvent on an instance that does not exist fails with 'no such instance exists'."""
    assert_rpc_error(
        lambda: app.client.raise_workflow_event(new_id("nobody"), "anything", data=1),
        contains="no such instance exists",
    )


def test_raise_event_on_completed_instance_is_accepted_and_has_no_effect(app):
    """Scenario 12: RaiseEvent on a COMPLETED instance is accepted and changes nothing."""
    instance_id = app.schedule("wf_wait_forever", input="once")
    app.client.raise_workflow_event(instance_id, "once", data="payload")
    state = app.wait_done(instance_id)
    assert output_of(state) == "payload"
    history_before = [e.SerializeToString() for e in app.raw_history(instance_id)]

    app.client.raise_workflow_event(instance_id, "once", data="late")
    time.sleep(0.5)
    after = app.state(instance_id)
    assert after.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(after) == "payload"
    assert [e.SerializeToString() for e in app.raw_history(instance_id)] == history_before
