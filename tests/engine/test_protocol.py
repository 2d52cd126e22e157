"""Wire-level behaviour: handshake, keepalive, health pings, stale completions, shape of every turn."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import dapr.ext.workflow._durabletask.internal.helpers as ph
import dapr.ext.workflow._durabletask.internal.protos as pb
import pytest
from dapr.ext.workflow import WorkflowStatus
from engine_harness import (
    SDK_CHANNEL_OPTIONS,
    RawStream,
    kinds,
    new_id,
    of_kind,
    output_of,
    raw_channel,
    raw_stub,
    wait_until,
)
from google.protobuf import empty_pb2, wrappers_pb2

FORBIDDEN_IN_TURNS = {
    "workflowCompleted", "executionCompleted", "eventSent", "continueAsNew", "detachedWorkflowInstanceCreated",
}
HEALTH_PING = 3
STATEFUL_HISTORY = 2


def act_upper(ctx, value):
    return value.upper()


def wf_echo(ctx, inp):
    return inp


def wf_wait_event(ctx, name):
    value = yield ctx.wait_for_external_event(name)
    return value


def wf_activity_then_wait(ctx, value):
    result = yield ctx.call_activity("act_upper", input=value)
    yield ctx.wait_for_external_event("go")
    return result


def wf_everything(ctx, generation):
    upper = yield ctx.call_activity("act_upper", input="x")
    yield ctx.create_timer(timedelta(seconds=0.2))
    child = yield ctx.call_child_workflow("wf_echo", input=upper)
    event = yield ctx.wait_for_external_event("go")
    if generation < 1:
        ctx.continue_as_new(generation + 1, save_events=True)
        return None
    return [upper, child, event]


WORKFLOWS = [wf_echo, wf_wait_event, wf_activity_then_wait, wf_everything]


@pytest.fixture(scope="module")
def app(module_factory):
    """The worker reaches the engine through a recording proxy; the client connects directly."""
    return module_factory.app(WORKFLOWS, [act_upper], via_proxy=True)


def _history_bytes(app, instance_id):
    return [e.SerializeToString() for e in app.raw_history(instance_id)]


# -- handshake and transport -----------------------------------------------------------


@pytest.mark.parametrize(
    ("disable_stateful_history", "capabilities"),
    [(False, [HEALTH_PING, STATEFUL_HISTORY]), (True, [HEALTH_PING])],
    ids=["stateful", "stateless"],
)
def test_runtime_start_says_hello_then_opens_the_work_item_stream(factory, disable_stateful_history, capabilities):
    """Scenario 1: WorkflowRuntime.start() succeeds; the engine sees Hello, then GetWorkItems with capabilities."""
    engine = factory.engine()
    proxy = factory.proxy(engine.port)
    runtime = factory.runtime(proxy.port, [wf_echo], disable_stateful_history=disable_stateful_history)
    assert runtime.wait_for_worker_ready(timeout=1)

    # the SDK reports ready as soon as it has issued the call; wait for it to arrive
    wait_until(lambda: "GetWorkItems" in proxy.method_names(), message="the GetWorkItems call")
    assert proxy.method_names()[:2] == ["Hello", "GetWorkItems"]
    hello = proxy.recorded("Hello")[0]
    assert hello.done.is_set() and hello.code is None
    (stream_request,) = proxy.requests("GetWorkItems")
    assert list(stream_request.capabilities) == capabilities

    client = factory.client(engine.port)
    instance_id = client.schedule_new_workflow("wf_echo", input="over the stream")
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert proxy.workflow_items(instance_id), "the turn did not travel over the recorded stream"


def test_idle_stream_survives_frequent_client_keepalive_pings(factory):
    """Scenario 2: an idle work-item stream is not closed for client keepalive pings.

    The SDK pings every 30 s; this client pings every second, so 8 s carry more pings
    than 120 s of the SDK's, and a server with grpc's default ping policy closes the
    connection ('too_many_pings') within about 5 s.
    """
    engine = factory.engine()
    options = dict(SDK_CHANNEL_OPTIONS)
    options["grpc.keepalive_time_ms"] = 1000
    channel = raw_channel(engine.port, list(options.items()))
    stub = raw_stub(channel)
    stub.Hello(empty_pb2.Empty(), timeout=10)
    stream = RawStream(stub)  # no capabilities: no health pings, the connection stays data-free
    try:
        time.sleep(8)
        assert not stream.ended.is_set(), f"stream ended: {stream.error}"

        instance_id = new_id("probe")
        stub.StartInstance(pb.CreateInstanceRequest(name="wf_probe", instanceId=instance_id), timeout=10)
        wait_until(lambda: any(i.workflowRequest.instanceId == instance_id for i in stream.items),
                   message="the probe turn on the idle stream")
        assert stream.error is None
    finally:
        stream.cancel()
        channel.close()


def test_health_pings_reach_a_worker_that_accepts_them(factory, caplog):
    """Scenario 47: health pings go to a 1.19 worker (capability 3) and cause no errors or reconnects."""
    caplog.set_level(logging.WARNING)
    engine = factory.engine(health_ping_interval=0.3)
    proxy = factory.proxy(engine.port)
    runtime = factory.runtime(proxy.port, [wf_echo])

    def pings():
        return [i for i in proxy.items() if i.HasField("healthPing")]

    wait_until(lambda: len(pings()) >= 3, message="three health pings")
    assert runtime.wait_for_worker_ready(timeout=1)
    assert len(proxy.requests("GetWorkItems")) == 1, "the worker reconnected"
    assert len(proxy.requests("Hello")) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in warnings if "Unexpected work item type" in m or "stream ended" in m], warnings

    client = factory.client(engine.port)
    instance_id = client.schedule_new_workflow("wf_echo", input="after pings")
    assert client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60).runtime_status == \
        WorkflowStatus.COMPLETED


def test_health_pings_skip_a_stream_without_the_capability(factory):
    """Scenario 47: a stream that did not advertise capability 3 gets no health pings."""
    engine = factory.engine(health_ping_interval=0.3)
    proxy = factory.proxy(engine.port)
    factory.runtime(proxy.port, [wf_echo])
    channel = raw_channel(engine.port)
    stream = RawStream(raw_stub(channel))
    try:
        before = len([i for i in proxy.items() if i.HasField("healthPing")])
        wait_until(lambda: len([i for i in proxy.items() if i.HasField("healthPing")]) >= before + 3,
                   message="health pings on the capable stream")
        assert not [i for i in stream.items if i.HasField("healthPing")]
        assert not stream.ended.is_set()
    finally:
        stream.cancel()
        channel.close()


# -- completions with stale tokens ------------------------------------------------------


def test_stale_workflow_completion_is_acknowledged_and_ignored(app):
    """Scenario 37: CompleteOrchestratorTask with an old token returns OK and changes nothing."""
    instance_id = app.schedule("wf_wait_event", input="go")
    app.wait_waiting_for_event(instance_id)
    first_turn = app.proxy.workflow_items(instance_id)[0]
    old_token = first_turn.completionToken
    (original,) = [r for r in app.proxy.requests("CompleteOrchestratorTask") if r.completionToken == old_token]
    before = _history_bytes(app, instance_id)

    forged = pb.WorkflowResponse(
        instanceId=instance_id,
        completionToken=old_token,
        actions=[ph.new_complete_workflow_action(
            2, pb.ORCHESTRATION_STATUS_FAILED,
            failure_details=pb.TaskFailureDetails(errorType="Forged", errorMessage="stale answer"),
        )],
    )
    app.stub.CompleteOrchestratorTask(forged, timeout=10)
    app.stub.CompleteOrchestratorTask(original, timeout=10)
    app.stub.CompleteWorkflowTask(forged, timeout=10)

    state = app.state(instance_id)
    assert state.runtime_status == WorkflowStatus.RUNNING
    assert state.failure_details is None
    assert _history_bytes(app, instance_id) == before

    app.client.raise_workflow_event(instance_id, "go", data="genuine")
    final = app.wait_done(instance_id)
    assert final.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(final) == "genuine"


def test_repeated_activity_completion_is_acknowledged_and_ignored(app):
    """Scenario 37: a second CompleteActivityTask for a resolved task returns OK and adds nothing."""
    instance_id = app.schedule("wf_activity_then_wait", input="first")
    app.wait_waiting_for_event(instance_id)
    (original,) = [r for r in app.proxy.requests("CompleteActivityTask") if r.instanceId == instance_id]
    before = _history_bytes(app, instance_id)

    forged = pb.ActivityResponse()
    forged.CopyFrom(original)
    forged.result.CopyFrom(wrappers_pb2.StringValue(value='"FORGED"'))
    app.stub.CompleteActivityTask(original, timeout=10)
    app.stub.CompleteActivityTask(forged, timeout=10)

    assert _history_bytes(app, instance_id) == before
    app.client.raise_workflow_event(instance_id, "go", data=1)
    final = app.wait_done(instance_id)
    assert output_of(final) == "FIRST"
    assert len(of_kind(app.raw_history(instance_id), "taskCompleted")) == 1


# -- shape of turns and history --------------------------------------------------------


def test_every_turn_starts_with_workflow_started_and_history_has_no_markers(app):
    """Scenario 38: newEvents[0] is workflowStarted with non-decreasing timestamps; no completion markers anywhere."""
    instance_id = app.schedule("wf_everything", input=0)
    app.client.raise_workflow_event(instance_id, "go", data="one")
    app.client.raise_workflow_event(instance_id, "go", data="two")
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == ["X", "X", "two"]

    turns = app.proxy.workflow_items(instance_id)
    assert len(turns) >= 8, "expected a turn per activity, timer, child, event and generation"
    assert kinds(turns[0].workflowRequest.newEvents)[:2] == ["workflowStarted", "executionStarted"]
    turn_times = []
    for item in turns + app.proxy.workflow_items(f"{instance_id}:0003"):
        request = item.workflowRequest
        assert request.newEvents, "a turn without new events"
        assert kinds(request.newEvents)[0] == "workflowStarted"
        assert not FORBIDDEN_IN_TURNS & set(kinds(request.pastEvents) + kinds(request.newEvents))
    for item in turns:
        turn_times.append(item.workflowRequest.newEvents[0].timestamp.ToDatetime())
    assert turn_times == sorted(turn_times)

    history = app.raw_history(instance_id)
    assert not {"workflowCompleted", "eventSent", "continueAsNew"} & set(kinds(history))
    assert kinds(history).count("executionCompleted") == 1
    assert kinds(history)[-1] == "executionCompleted"
