"""continue_as_new: generations, history reset, carried-over events."""

from __future__ import annotations

import json

import pytest
from dapr.ext.workflow import WorkflowHistoryEventType, WorkflowStatus
from engine_harness import CallLog, kinds, of_kind, output_of

CALLS = CallLog()


def act_record_generation(ctx, n):
    CALLS.add(ctx.workflow_id, n)
    return n


def wf_count_up(ctx, n):
    yield ctx.call_activity("act_record_generation", input=n)
    if n < 3:
        ctx.continue_as_new(n + 1)
        return None
    return n


def wf_collect_across_generations(ctx, collected):
    value = yield ctx.wait_for_external_event("item")
    collected = collected + [value]
    if len(collected) < 3:
        ctx.continue_as_new(collected, save_events=True)
        return None
    return collected


@pytest.fixture(scope="module")
def app(module_factory):
    return module_factory.app([wf_count_up, wf_collect_across_generations], [act_record_generation])


def test_continue_as_new_restarts_history_each_generation(app):
    """Scenario 20: continue_as_new x3 ends COMPLETED; history restarts; the stored input is the last one."""
    state = app.run("wf_count_up", input=0)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == 3
    assert json.loads(state.serialized_input) == 3
    assert CALLS.get(state.instance_id) == [0, 1, 2, 3]

    history = app.client.get_workflow_history(state.instance_id)
    types = [e.event_type for e in history]
    assert types.count(WorkflowHistoryEventType.EXECUTION_STARTED) == 1
    assert types.count(WorkflowHistoryEventType.EXECUTION_COMPLETED) == 1
    assert WorkflowHistoryEventType.CONTINUE_AS_NEW not in types
    scheduled = [e for e in history if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]
    assert [e.event_id for e in scheduled] == [1]

    (started,) = of_kind(app.raw_history(state.instance_id), "executionStarted")
    assert json.loads(started.executionStarted.input.value) == 3


def test_continue_as_new_with_save_events_carries_buffered_events(factory):
    """Scenario 21: continue_as_new(save_events=True) carries unconsumed events into the next generation.

    All three events are raised before any worker connects, so the first generation
    receives them together, consumes one and must carry the other two over.
    """
    app = factory.client_app()
    instance_id = app.schedule("wf_collect_across_generations", input=[])
    for value in ("a", "b", "c"):
        app.client.raise_workflow_event(instance_id, "item", data=value)
    assert app.state(instance_id).runtime_status == WorkflowStatus.PENDING

    factory.runtime(app.port, [wf_collect_across_generations])
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == ["a", "b", "c"]

    events = app.raw_history(instance_id)
    assert kinds(events).count("executionStarted") == 1
    assert json.loads(of_kind(events, "executionStarted")[0].executionStarted.input.value) == ["a", "b"]
    carried = of_kind(events, "eventRaised")
    assert [json.loads(e.eventRaised.input.value) for e in carried] == ["c"]
    assert kinds(events).index("executionStarted") < kinds(events).index("eventRaised")
