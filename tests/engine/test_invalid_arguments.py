"""Request fields the engine cannot store or convert: INVALID_ARGUMENT naming the field, nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dapr.ext.workflow._durabletask.internal.protos as pb
import grpc
import pytest
from dapr.ext.workflow import WorkflowStatus
from engine_harness import RawStream, WorkflowApp, assert_rpc_error, new_id, raw_stub, wait_until
from google.protobuf import empty_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.wrappers_pb2 import StringValue

MAX_SECONDS = 253402300799
MIN_SECONDS = -62135596800
LONG = "x" * 1025
START_AT = "scheduledStartTimestamp"


def wf_echo(ctx, inp):
    return inp


@pytest.fixture(scope="module")
def app(module_factory) -> WorkflowApp:
    return module_factory.app([wf_echo])


def _start(**fields: Any) -> Callable[[Any], Any]:
    fields.setdefault("instanceId", new_id("bad"))
    fields.setdefault("name", "wf_echo")
    return lambda stub: stub.StartInstance(pb.CreateInstanceRequest(**fields), timeout=10)


def _purge_filter(**fields: Any) -> Callable[[Any], Any]:
    request = pb.PurgeInstancesRequest(purgeInstanceFilter=pb.PurgeInstanceFilter(**fields))
    return lambda stub: stub.PurgeInstances(request, timeout=10)


CASES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "start-after-9999": (_start(scheduledStartTimestamp=Timestamp(seconds=MAX_SECONDS + 1)), START_AT),
    "start-before-0001": (_start(scheduledStartTimestamp=Timestamp(seconds=MIN_SECONDS - 1)), START_AT),
    "start-negative-nanos": (_start(scheduledStartTimestamp=Timestamp(seconds=1, nanos=-1)), START_AT),
    "start-long-id": (_start(instanceId=LONG), "instanceId"),
    "start-long-name": (_start(name=LONG), "name"),
    "start-long-version": (_start(version=StringValue(value=LONG)), "version"),
    "get-long-id": (lambda s: s.GetInstance(pb.GetInstanceRequest(instanceId=LONG), timeout=10), "instanceId"),
    "wait-long-id": (
        lambda s: s.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=LONG), timeout=10), "instanceId"
    ),
    "raise-long-name": (
        lambda s: s.RaiseEvent(pb.RaiseEventRequest(instanceId="some-id", name=LONG), timeout=10), "name"
    ),
    "terminate-long-id": (
        lambda s: s.TerminateInstance(pb.TerminateRequest(instanceId=LONG), timeout=10), "instanceId"
    ),
    "suspend-long-id": (lambda s: s.SuspendInstance(pb.SuspendRequest(instanceId=LONG), timeout=10), "instanceId"),
    "purge-empty-id": (lambda s: s.PurgeInstances(pb.PurgeInstancesRequest(), timeout=10), "instanceId"),
    "purge-created-from": (
        _purge_filter(createdTimeFrom=Timestamp(seconds=MAX_SECONDS + 1)), "purgeInstanceFilter.createdTimeFrom"
    ),
    "purge-created-to": (
        _purge_filter(createdTimeTo=Timestamp(seconds=MIN_SECONDS - 1)), "purgeInstanceFilter.createdTimeTo"
    ),
    "history-long-id": (
        lambda s: s.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=LONG), timeout=10), "instanceId"
    ),
    "rerun-long-new-id": (
        lambda s: s.RerunWorkflowFromEvent(
            pb.RerunWorkflowFromEventRequest(sourceInstanceID="some-id", newInstanceID=LONG), timeout=10
        ),
        "newInstanceID",
    ),
    "list-long-token": (
        lambda s: s.ListInstanceIDs(pb.ListInstanceIDsRequest(continuationToken=LONG), timeout=10),
        "continuationToken",
    ),
}


def _all_ids(app: WorkflowApp) -> list[str]:
    return list(app.stub.ListInstanceIDs(pb.ListInstanceIDsRequest(), timeout=10).instanceIds)


@pytest.mark.parametrize("call, field", list(CASES.values()), ids=list(CASES))
def test_out_of_range_field_is_invalid_argument_and_stores_nothing(app, call, field):
    before = _all_ids(app)
    error = assert_rpc_error(lambda: call(app.stub), grpc.StatusCode.INVALID_ARGUMENT, field)
    if "Timestamp" in field or "Time" in field:
        assert "0001-01-01" in error.details() and "9999-12-31" in error.details(), error.details()
    assert _all_ids(app) == before
    app.stub.Hello(empty_pb2.Empty(), timeout=10)


@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff not a message", b"\x0a\x02\xff\xfe"],
                         ids=["not-protobuf", "bad-utf8"])
def test_undecodable_request_is_invalid_argument(app, payload):
    call = app.channel.unary_unary("/TaskHubSidecarService/StartInstance")
    assert_rpc_error(lambda: call(payload, timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "CreateInstanceRequest")
    app.stub.Hello(empty_pb2.Empty(), timeout=10)


def test_timer_out_of_range_fails_the_workflow_and_is_invalid_argument(factory):
    """A worker's createTimer with a fireAt past year 9999 fails the workflow with a clear message."""
    client_app = factory.client_app()
    stream = RawStream(raw_stub(client_app.channel))
    try:
        instance_id = client_app.schedule("wf_timer")
        item = wait_until(lambda: next((i for i in stream.items if i.HasField("workflowRequest")), None),
                          message="the first turn")
        response = pb.WorkflowResponse(instanceId=instance_id, completionToken=item.completionToken)
        response.actions.add(id=1, createTimer=pb.CreateTimerAction(fireAt=Timestamp(seconds=MAX_SECONDS + 1)))
        assert_rpc_error(lambda: client_app.stub.CompleteOrchestratorTask(response, timeout=10),
                         grpc.StatusCode.INVALID_ARGUMENT, "createTimer.fireAt")
        state = client_app.wait_status(instance_id, WorkflowStatus.FAILED)
        assert "createTimer.fireAt" in state.failure_details.message
    finally:
        stream.cancel()
