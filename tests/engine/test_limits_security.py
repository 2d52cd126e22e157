"""Message-size limits, API-token checks and malformed requests."""

from __future__ import annotations

import os
import stat
import threading
import time

import dapr.ext.workflow._durabletask.internal.protos as pb
import grpc
import pytest
from dapr.ext.workflow import DaprWorkflowClient, TaskFailedError, WorkflowStatus
from engine_harness import (
    RawStream,
    WorkflowApp,
    assert_rpc_error,
    build_runtime,
    kind,
    new_id,
    output_of,
    raw_channel,
    raw_stub,
    wait_until,
)
from google.protobuf import empty_pb2

from dapr_agents_durable.engine import EmbeddedEngine, EngineAlreadyRunning
from dapr_agents_durable.engine.lock import engine_address

SMALL_LIMIT = 128 * 1024
PAYLOAD_SIZE_EXCEEDED = 2
TOKEN = "engine-s3cret"


def act_blob(ctx, size):
    return "x" * size


def wf_echo(ctx, inp):
    return inp


def wf_oversized_result(ctx, size):
    try:
        blob = yield ctx.call_activity("act_blob", input=size)
    except TaskFailedError as error:
        return {"failed": True, "message": error.details.message}
    return {"failed": False, "length": len(blob)}


def wf_growing_history(ctx, size):
    lengths = []
    for _ in range(6):
        blob = yield ctx.call_activity("act_blob", input=size)
        lengths.append(len(blob))
    return lengths


@pytest.fixture(scope="module")
def small(module_factory):
    """An engine whose messages may not exceed 128 KiB."""
    return module_factory.app([wf_echo, wf_oversized_result, wf_growing_history], [act_blob],
                              max_message_bytes=SMALL_LIMIT)


def _assert_still_serving(app: WorkflowApp) -> None:
    app.stub.Hello(empty_pb2.Empty(), timeout=10)
    state = app.run("wf_echo", input="still serving")
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "still serving"


# -- message size ----------------------------------------------------------------------


def test_oversized_activity_result_fails_the_activity(small):
    """Scenario 46: an activity result above the message limit reaches the workflow as a failure."""
    state = small.run("wf_oversized_result", input=SMALL_LIMIT + 50_000)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    result = output_of(state)
    assert result["failed"] is True
    assert "exceeds gRPC max message size" in result["message"]


def test_oversized_history_stalls_with_payload_size_exceeded(small):
    """Scenario 46: a history that outgrows the message limit leaves the instance STALLED(PAYLOAD_SIZE_EXCEEDED)."""
    instance_id = small.schedule("wf_growing_history", input=50_000)
    small.wait_status(instance_id, WorkflowStatus.STALLED)
    events = small.wait_history(instance_id, lambda e: bool(e) and kind(e[-1]) == "executionStalled",
                                message="an executionStalled event")
    assert events[-1].executionStalled.reason == PAYLOAD_SIZE_EXCEEDED
    assert events[-1].executionStalled.description
    _assert_still_serving(small)


def test_oversized_start_input_is_resource_exhausted(small):
    """An input larger than the message limit is refused with RESOURCE_EXHAUSTED and creates nothing."""
    instance_id = new_id("too-big")
    assert_rpc_error(lambda: small.schedule("wf_echo", input="y" * (SMALL_LIMIT + 1024), instance_id=instance_id),
                     grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert small.state(instance_id) is None
    _assert_still_serving(small)


# -- malformed requests ----------------------------------------------------------------


def test_raise_event_with_empty_instance_id_is_rejected(small):
    """A RaiseEvent with an empty instance id gets a gRPC error; the engine keeps serving."""
    assert_rpc_error(lambda: small.stub.RaiseEvent(pb.RaiseEventRequest(instanceId="", name="evt"), timeout=10))
    _assert_still_serving(small)


def test_start_instance_with_empty_workflow_name_is_rejected(small):
    """A StartInstance with an empty workflow name gets a gRPC error and creates nothing."""
    instance_id = new_id("nameless")
    assert_rpc_error(lambda: small.stub.StartInstance(pb.CreateInstanceRequest(instanceId=instance_id, name=""),
                                                      timeout=10))
    assert small.state(instance_id) is None
    _assert_still_serving(small)


def test_undecodable_request_bytes_are_rejected(small):
    """Bytes that are not a protobuf message get a gRPC error; the engine keeps serving."""
    call = small.channel.unary_unary("/TaskHubSidecarService/GetInstance")
    assert_rpc_error(lambda: call(b"\xff\xff\xff\xff not a message", timeout=10))
    _assert_still_serving(small)


# -- API token -------------------------------------------------------------------------


@pytest.fixture
def token_engine(factory):
    return factory.engine(api_token=TOKEN)


def _client_with_token(factory, monkeypatch, port: int, token: str | None) -> DaprWorkflowClient:
    if token is None:
        monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("DAPR_API_TOKEN", token)
    client = factory.client(port)
    monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
    return client


@pytest.mark.parametrize("token", ["wrong-token", None], ids=["wrong", "missing"])
def test_client_with_wrong_or_missing_token_is_unauthenticated(factory, monkeypatch, token_engine, token):
    """Scenario 48: a client whose DAPR_API_TOKEN does not match gets UNAUTHENTICATED."""
    client = _client_with_token(factory, monkeypatch, token_engine.port, token)
    assert_rpc_error(lambda: client.get_workflow_state("anything"), grpc.StatusCode.UNAUTHENTICATED)
    assert_rpc_error(lambda: client.schedule_new_workflow("wf_echo", input=1), grpc.StatusCode.UNAUTHENTICATED)


def test_worker_with_wrong_token_keeps_reconnecting(factory, monkeypatch, token_engine):
    """Scenario 48: a worker with the wrong token is refused again and again and never becomes ready."""
    proxy = factory.proxy(token_engine.port)
    monkeypatch.setenv("DAPR_API_TOKEN", "wrong-token")
    runtime = build_runtime(proxy.port, [wf_echo], start=False, worker_ready_timeout=5)
    monkeypatch.delenv("DAPR_API_TOKEN")
    outcome: list[BaseException | None] = []

    def start():
        try:
            runtime.start()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            outcome.append(error)

    starter = threading.Thread(target=start, daemon=True)
    starter.start()
    try:
        def rejected_twice():
            attempts = proxy.recorded("Hello") + proxy.recorded("GetWorkItems")
            return len([c for c in attempts if c.code == grpc.StatusCode.UNAUTHENTICATED]) >= 2

        wait_until(rejected_twice, timeout=30, message="two rejected connection attempts")
        assert not outcome, "the worker started although its token is wrong"
        assert not runtime.wait_for_worker_ready(timeout=0.5)
        streams = proxy.recorded("GetWorkItems")
        assert all(c.code == grpc.StatusCode.UNAUTHENTICATED for c in streams if c.done.is_set())
    finally:
        runtime.shutdown()
        starter.join(30)
    assert outcome and isinstance(outcome[0], RuntimeError)


def test_matching_token_runs_workflows(factory, monkeypatch, token_engine):
    """Scenario 48: with the right DAPR_API_TOKEN the worker and the client work normally."""
    monkeypatch.setenv("DAPR_API_TOKEN", TOKEN)
    runtime = factory.runtime(token_engine.port, [wf_echo])
    client = factory.client(token_engine.port)
    monkeypatch.delenv("DAPR_API_TOKEN")
    instance_id = client.schedule_new_workflow("wf_echo", input={"token": "ok"})
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == {"token": "ok"}
    assert runtime.wait_for_worker_ready(timeout=1)

    channel = raw_channel(token_engine.port)
    try:
        request = pb.GetInstanceRequest(instanceId=instance_id)
        assert_rpc_error(lambda: raw_stub(channel).GetInstance(request, timeout=10), grpc.StatusCode.UNAUTHENTICATED)
    finally:
        channel.close()


# -- concurrent waits and work-item streams --------------------------------------------


def _waits(channel: grpc.Channel, count: int, instance_id: str, rpc: str = "WaitForInstanceCompletion") -> list:
    call = getattr(raw_stub(channel), rpc)
    return [call.future(pb.GetInstanceRequest(instanceId=instance_id), timeout=60) for _ in range(count)]


def _exhausted(waits: list) -> list:
    return [w for w in waits if w.done() and w.exception() is not None
            and w.exception().code() == grpc.StatusCode.RESOURCE_EXHAUSTED]


def test_many_waiting_clients_do_not_starve_other_calls(factory):
    """300 blocked WaitForInstanceCompletion calls leave Hello, workers and new runs served promptly."""
    app = factory.client_app()
    instance_id = app.schedule("wf_echo", input="waited for")  # no worker yet: it stays PENDING
    channel = raw_channel(app.port)
    try:
        waits = _waits(channel, 300, instance_id)
        time.sleep(1.5)
        app.stub.Hello(empty_pb2.Empty(), timeout=10)
        factory.runtime(app.port, [wf_echo])
        served = [w.result(timeout=60) for w in waits if w not in _exhausted(waits)]
        assert served and all(r.workflowState.workflowStatus == pb.ORCHESTRATION_STATUS_COMPLETED for r in served)
        assert len(served) + len(_exhausted(waits)) == 300
        assert output_of(app.run("wf_echo", input="after the waits")) == "after the waits"
    finally:
        channel.close()


def test_waits_and_streams_beyond_their_limits_are_resource_exhausted(factory):
    """Waits past ``max_waiting_calls`` and streams past ``max_work_item_streams`` are refused at once."""
    app = factory.client_app(max_waiting_calls=3, max_work_item_streams=1)
    instance_id = app.schedule("wf_echo", input="limited")
    channel = raw_channel(app.port)
    stream = RawStream(raw_stub(channel))
    try:
        waits = _waits(channel, 4, instance_id) + _waits(channel, 1, instance_id, "WaitForInstanceStart")
        wait_until(lambda: len(_exhausted(waits)) == 2, timeout=10, message="two waits to be refused")
        assert all("max_waiting_calls" in w.exception().details() for w in _exhausted(waits))
        held = [w for w in waits if w not in _exhausted(waits)]
        time.sleep(0.5)
        assert len(held) == 3 and not [w for w in held if w.done()]

        second = RawStream(raw_stub(channel))
        assert second.ended.wait(10), "a stream past the limit was accepted"
        assert second.error is not None and second.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_work_item_streams" in second.error.details()

        began = time.monotonic()
        other = app.schedule("wf_echo", input="terminated")
        app.stub.TerminateInstance(pb.TerminateRequest(instanceId=other), timeout=10)
        assert time.monotonic() - began < 5, "terminate waited for a wait slot"
        app.stub.Hello(empty_pb2.Empty(), timeout=5)

        stream.cancel()
        factory.runtime(app.port, [wf_echo])
        assert all(wait.result(timeout=60).exists for wait in held)
        assert output_of(app.run("wf_echo", input="after")) == "after"
    finally:
        stream.cancel()
        channel.close()


# -- file permissions ------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_database_files_are_readable_by_the_owner_only(factory, umask):
    """The database, its WAL and shared-memory files and its lock file are created 0600."""
    db_path = factory.db_path()
    previous = os.umask(umask)
    try:
        app = factory.client_app(db_path=db_path)
        app.schedule("wf_echo", input="written")
    finally:
        os.umask(previous)
    for suffix in ("", "-wal", "-shm", ".lock"):
        mode = stat.S_IMODE(os.stat(db_path + suffix).st_mode)
        assert mode == 0o600, f"{db_path + suffix} has mode {oct(mode)}"


# -- one engine per database -----------------------------------------------------------


def test_second_engine_on_the_same_database_is_refused(factory):
    """Only one engine may own a database file; a second one fails with a clear error."""
    db_path = factory.db_path()
    first = factory.engine(db_path=db_path)
    second = EmbeddedEngine(db_path=db_path, port=0)
    with pytest.raises(EngineAlreadyRunning) as info:
        second.start()
    assert db_path in str(info.value)
    assert f"pid {os.getpid()}" in str(info.value)
    channel = raw_channel(first.port)
    try:
        raw_stub(channel).Hello(empty_pb2.Empty(), timeout=10)
    finally:
        channel.close()


def test_the_engine_serving_a_database_can_be_found_from_its_lock(factory, tmp_path):
    """Tools (the approvals command) reach the engine an app started, through ``<db>.lock``."""
    assert engine_address(str(tmp_path / "none.db")) is None
    db_path = factory.db_path()
    engine = factory.engine(db_path=db_path)
    assert engine_address(db_path) == f"127.0.0.1:{engine.port}"
    engine.stop()
    assert engine_address(db_path) is None  # the file stays, but nobody holds it
