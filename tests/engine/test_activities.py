"""Activities: results, chaining, fan-out/fan-in, failures, retries, unknown names."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from dapr.ext.workflow import (
    RetryPolicy,
    TaskFailedError,
    WorkflowHistoryEventType,
    WorkflowStatus,
    when_all,
    when_any,
)
from dapr.ext.workflow._durabletask import task as durable_task
from dapr.ext.workflow._durabletask.task import NonRetryableError
from engine_harness import GATES, CallLog, new_id, of_kind, output_of

CALLS = CallLog()


# -- activities ------------------------------------------------------------------------


def act_append(ctx, inp):
    CALLS.add(ctx.workflow_id, inp)
    return inp["acc"] + inp["add"]


def act_square(ctx, n):
    CALLS.add(f"{ctx.workflow_id}/{n}", ctx.task_id)
    return n * n


def act_quick(ctx, value):
    return f"activity:{value}"


def act_gate(ctx, key):
    GATES.enter(key)
    return "released"


def act_raise_value_error(ctx, message):
    raise ValueError(message)


def act_flaky(ctx, succeed_on):
    """Fails until its ``succeed_on``-th call for this task execution id."""
    execution_id = ctx.get_inner_context().task_execution_id
    attempt = CALLS.add(f"{ctx.workflow_id}/flaky", execution_id)
    if attempt < succeed_on:
        raise RuntimeError(f"attempt {attempt} failed")
    return attempt


def act_non_retryable(ctx, _):
    CALLS.add(f"{ctx.workflow_id}/non-retryable")
    raise NonRetryableError("give up at once")


def act_value_error_counted(ctx, _):
    CALLS.add(f"{ctx.workflow_id}/value-error")
    raise ValueError("not worth retrying")


# -- workflows -------------------------------------------------------------------------


def wf_echo(ctx, inp):
    return inp


def wf_chain(ctx, inp):
    acc = inp
    for add in ("-a", "-b", "-c"):
        acc = yield ctx.call_activity("act_append", input={"acc": acc, "add": add})
    return acc


def wf_fan_out(ctx, n):
    tasks = [ctx.call_activity("act_square", input=i) for i in range(n)]
    results = yield when_all(tasks)
    return results


def wf_activity_vs_timer(ctx, inp):
    if inp["activity"] == "gate":
        activity = ctx.call_activity("act_gate", input=inp["key"])
    else:
        activity = ctx.call_activity("act_quick", input=inp["key"])
    timer = ctx.create_timer(timedelta(seconds=inp["timer_seconds"]))
    winner = yield when_any([activity, timer])
    if winner is activity:
        return {"winner": "activity", "result": activity.get_result()}
    return {"winner": "timer"}


def wf_catch_failure(ctx, message):
    try:
        yield ctx.call_activity("act_raise_value_error", input=message)
    except TaskFailedError as error:
        return {"type": error.details.error_type, "message": error.details.message}
    return "not failed"


def wf_uncaught_failure(ctx, message):
    yield ctx.call_activity("act_raise_value_error", input=message)
    return "not failed"


def wf_retry(ctx, succeed_on):
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=0.2), max_number_of_attempts=3)
    attempt = yield ctx.call_activity("act_flaky", input=succeed_on, retry_policy=policy)
    return attempt


class _PolicyWithNonRetryableTypes(RetryPolicy):
    """The SDK's ``RetryPolicy`` carrying ``non_retryable_error_types`` of the underlying policy."""

    def __init__(self, non_retryable: list, **kwargs):
        super().__init__(**kwargs)
        self._obj = durable_task.RetryPolicy(non_retryable_error_types=non_retryable, **kwargs)


def wf_non_retryable(ctx, which):
    policy_kwargs = {"first_retry_interval": timedelta(seconds=0.1), "max_number_of_attempts": 4}
    if which == "exception":
        activity, policy = "act_non_retryable", RetryPolicy(**policy_kwargs)
    else:
        activity, policy = "act_value_error_counted", _PolicyWithNonRetryableTypes(["ValueError"], **policy_kwargs)
    try:
        yield ctx.call_activity(activity, input=None, retry_policy=policy)
    except TaskFailedError as error:
        return error.details.error_type
    return "not failed"


def wf_unknown_activity(ctx, name):
    try:
        yield ctx.call_activity(name, input="x")
    except TaskFailedError as error:
        return {"type": error.details.error_type, "message": error.details.message}
    return "not failed"


def wf_unknown_activity_uncaught(ctx, name):
    yield ctx.call_activity(name, input="x")
    return "not failed"


WORKFLOWS = [
    wf_echo, wf_chain, wf_fan_out, wf_activity_vs_timer, wf_catch_failure, wf_uncaught_failure,
    wf_retry, wf_non_retryable, wf_unknown_activity, wf_unknown_activity_uncaught,
]
ACTIVITIES = [
    act_append, act_square, act_quick, act_gate, act_raise_value_error, act_flaky,
    act_non_retryable, act_value_error_counted,
]


@pytest.fixture(scope="module")
def app(module_factory):
    return module_factory.app(WORKFLOWS, ACTIVITIES)


# -- tests -----------------------------------------------------------------------------


def test_workflow_without_yields_returns_its_input(app):
    """Scenario 3: a workflow with no yields completes with its input as output (JSON round trip)."""
    payload = {"text": "héllo ✓", "numbers": [1, 2.5, -3], "nested": {"none": None, "flag": True}}
    state = app.run("wf_echo", input=payload)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert state.name == "wf_echo"
    assert output_of(state) == payload
    assert state.serialized_input is not None
    assert output_of(state) == json.loads(state.serialized_input)
    assert state.failure_details is None


def test_three_chained_activities_have_history_ids_1_to_3(app):
    """Scenario 4: three chained activities; taskScheduled ids are 1..3 and completions match them."""
    state = app.run("wf_chain", input="start")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "start-a-b-c"

    history = app.client.get_workflow_history(state.instance_id)
    scheduled = [e for e in history if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]
    completed = [e for e in history if e.event_type == WorkflowHistoryEventType.TASK_COMPLETED]
    assert [e.event_id for e in scheduled] == [1, 2, 3]
    assert {e.name for e in scheduled} == {"act_append"}
    assert [e.task_scheduled_id for e in completed] == [1, 2, 3]
    assert [c["add"] for c in CALLS.get(state.instance_id)] == ["-a", "-b", "-c"]


def test_fan_out_fan_in_of_50_activities_runs_each_exactly_once(app):
    """Scenario 5: when_all over 50 activities; every activity is dispatched exactly once."""
    n = 50
    state = app.run("wf_fan_out", input=n)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == [i * i for i in range(n)]
    for i in range(n):
        assert CALLS.count(f"{state.instance_id}/{i}") == 1, f"activity {i} ran {CALLS.get(f'{state.instance_id}/{i}')}"

    events = app.raw_history(state.instance_id)
    scheduled_ids = [e.eventId for e in of_kind(events, "taskScheduled")]
    assert sorted(scheduled_ids) == list(range(1, n + 1))
    completed_ids = [e.taskCompleted.taskScheduledId for e in of_kind(events, "taskCompleted")]
    assert sorted(completed_ids) == list(range(1, n + 1))


def test_when_any_returns_the_activity_when_it_finishes_first(app):
    """Scenario 6: when_any(activity, 60 s timer) returns the activity that finished first."""
    state = app.run("wf_activity_vs_timer", input={"activity": "quick", "key": "k1", "timer_seconds": 60})
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == {"winner": "activity", "result": "activity:k1"}


def test_when_any_returns_the_timer_when_the_activity_is_still_running(app):
    """Scenario 6: when_any(held activity, 1 s timer) returns the timer; the late result is dropped."""
    key = new_id("when-any-gate")
    instance_id = app.schedule("wf_activity_vs_timer", input={"activity": "gate", "key": key, "timer_seconds": 1})
    GATES.wait_entered(key)
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == {"winner": "timer"}

    GATES.release(key)
    GATES.wait_left(key)
    after = app.state(instance_id)
    assert after.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(after) == {"winner": "timer"}


def test_activity_exception_surfaces_as_task_failed_error(app):
    """Scenario 13: the workflow catches TaskFailedError carrying the activity's error type and message."""
    state = app.run("wf_catch_failure", input="boom-13")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == {"type": "ValueError", "message": "boom-13"}


def test_uncaught_activity_failure_fails_the_workflow_with_task_failed_error(app):
    """Scenario 13: an uncaught activity failure ends the workflow FAILED with error type TaskFailedError."""
    state = app.run("wf_uncaught_failure", input="boom-uncaught")
    assert state.runtime_status == WorkflowStatus.FAILED
    assert state.failure_details is not None
    assert state.failure_details.error_type == "TaskFailedError"
    assert "boom-uncaught" in state.failure_details.message


def test_retry_policy_retries_with_retry_timers_and_one_task_execution_id(app):
    """Scenario 14: 3 attempts 0.2 s apart; retry timers have origin activityRetry; same taskExecutionId."""
    state = app.run("wf_retry", input=3)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == 3

    execution_ids = CALLS.get(f"{state.instance_id}/flaky")
    assert len(execution_ids) == 3
    assert len(set(execution_ids)) == 1 and execution_ids[0]

    events = app.raw_history(state.instance_id)
    scheduled = of_kind(events, "taskScheduled")
    assert len(scheduled) == 3
    assert {e.taskScheduled.taskExecutionId for e in scheduled} == {execution_ids[0]}
    assert len({e.eventId for e in scheduled}) == 3
    retry_timers = [e for e in of_kind(events, "timerCreated") if e.timerCreated.HasField("activityRetry")]
    assert len(retry_timers) == 2
    assert {e.timerCreated.activityRetry.taskExecutionId for e in retry_timers} == {execution_ids[0]}
    assert len(of_kind(events, "taskFailed")) == 2


def test_non_retryable_error_stops_retries_at_once(app):
    """Scenario 15: an activity raising NonRetryableError runs once despite a 4-attempt policy."""
    state = app.run("wf_non_retryable", input="exception")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "NonRetryableError"
    assert CALLS.count(f"{state.instance_id}/non-retryable") == 1
    events = app.raw_history(state.instance_id)
    assert len(of_kind(events, "taskScheduled")) == 1
    assert not [e for e in of_kind(events, "timerCreated") if e.timerCreated.HasField("activityRetry")]


def test_non_retryable_error_types_stop_retries_at_once(app):
    """Scenario 15: an error type listed in non_retryable_error_types is not retried."""
    state = app.run("wf_non_retryable", input="types")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "ValueError"
    assert CALLS.count(f"{state.instance_id}/value-error") == 1
    assert len(of_kind(app.raw_history(state.instance_id), "taskScheduled")) == 1


def test_unregistered_activity_fails_with_activity_not_registered_error(app):
    """Scenario 16: calling an unregistered activity yields ActivityNotRegisteredError naming it."""
    state = app.run("wf_unknown_activity", input="act_never_registered")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    result = output_of(state)
    assert result["type"] == "ActivityNotRegisteredError"
    assert "act_never_registered" in result["message"]


def test_unknown_activity_fails_the_workflow_with_a_message_naming_it(app):
    """Scenario 16: left uncaught, the unknown activity fails the workflow; the message names the activity."""
    state = app.run("wf_unknown_activity_uncaught", input="act_missing_for_message")
    assert state.runtime_status == WorkflowStatus.FAILED
    assert "act_missing_for_message" in state.failure_details.message


def test_unknown_workflow_name_fails_the_instance_naming_the_workflow(app):
    """Scenario 16: scheduling an unregistered workflow ends the instance FAILED with a message naming it."""
    state = app.run("wf_never_registered_anywhere", input=1)
    assert state.runtime_status == WorkflowStatus.FAILED
    assert state.failure_details is not None
    assert "wf_never_registered_anywhere" in state.failure_details.message
    assert state.failure_details.error_type == "OrchestratorNotRegisteredError"
