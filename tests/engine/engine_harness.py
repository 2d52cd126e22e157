"""Harness of the embedded engine's conformance suite: engine, SDK runtime, client, proxy.

Every test talks to a real :class:`EmbeddedEngine` over real gRPC, through the
unmodified ``dapr.ext.workflow`` SDK (``WorkflowRuntime`` + ``DaprWorkflowClient``).
Raw stubs are used only where the SDK cannot express a check (history event
fields, stale completions, malformed requests).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
import threading
import time
import types
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
from typing import Any

import dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc as stubs
import dapr.ext.workflow._durabletask.internal.protos as pb
import grpc
import pytest
from dapr.ext.workflow import (
    DaprWorkflowClient,
    WorkflowRuntime,
    WorkflowState,
    WorkflowStatus,
)
from dapr.ext.workflow._durabletask.internal.shared import (
    DEFAULT_GRPC_KEEPALIVE_OPTIONS,
)
from google.protobuf import empty_pb2

from dapr_agents_durable.engine import EmbeddedEngine

WAIT_SECONDS = 60
"""Upper bound for any wait in this suite; only there to turn a hang into a failure."""

SERVICE = "TaskHubSidecarService"
SENTINEL_FIRE_AT_SECONDS = 253402300799
SENTINEL_FIRE_AT_NANOS = 999999999

# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """A fresh instance id, readable in logs."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT_SECONDS, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def run_bounded(fn: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Run a possibly blocking client call, failing (instead of hanging) after ``timeout``."""
    pool = futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(fn).result(timeout=timeout)
    finally:
        pool.shutdown(wait=False)


def output_of(state: WorkflowState) -> Any:
    assert state.serialized_output is not None, f"no output: {state}"
    return json.loads(state.serialized_output)


def kind(event: pb.HistoryEvent) -> str:
    """The payload type of a raw history event (``taskScheduled``, ``timerFired`` ...)."""
    return event.WhichOneof("eventType")


def kinds(events: Iterable[pb.HistoryEvent]) -> list[str]:
    return [kind(e) for e in events]


def of_kind(events: Iterable[pb.HistoryEvent], name: str) -> list[pb.HistoryEvent]:
    return [e for e in events if kind(e) == name]


def fresh(fn: Callable) -> Callable:
    """A new function object with ``fn``'s code.

    The SDK marks a registered function as registered, so one function object can
    be registered with only one ``WorkflowRuntime`` per process. Tests that start
    several runtimes (or several modules that reuse a workflow) register copies.
    """
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__annotations__ = dict(fn.__annotations__)
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    return copy


class CallLog:
    """Thread-safe record of what activities saw, keyed by e.g. instance id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, list[Any]] = defaultdict(list)

    def add(self, key: str, value: Any = None) -> int:
        """Record a call; return how many calls ``key`` has now."""
        with self._lock:
            self._calls[key].append(value)
            return len(self._calls[key])

    def get(self, key: str) -> list[Any]:
        with self._lock:
            return list(self._calls.get(key, []))

    def count(self, key: str) -> int:
        with self._lock:
            return len(self._calls.get(key, []))


class Gates:
    """Lets a test hold an activity until it decides to let it finish.

    The activity calls ``enter(key)``; the test waits with ``wait_entered(key)`` and
    lets it go with ``release(key)``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entered: dict[str, threading.Event] = defaultdict(threading.Event)
        self._released: dict[str, threading.Event] = defaultdict(threading.Event)
        self._left: dict[str, threading.Event] = defaultdict(threading.Event)

    def _events(self, key: str) -> tuple[threading.Event, threading.Event, threading.Event]:
        with self._lock:
            return self._entered[key], self._released[key], self._left[key]

    def enter(self, key: str, timeout: float = WAIT_SECONDS) -> None:
        entered, released, left = self._events(key)
        entered.set()
        released.wait(timeout)
        left.set()

    def wait_entered(self, key: str, timeout: float = WAIT_SECONDS) -> None:
        assert self._events(key)[0].wait(timeout), f"activity never reached gate {key!r}"

    def release(self, key: str) -> None:
        self._events(key)[1].set()

    def wait_left(self, key: str, timeout: float = WAIT_SECONDS) -> None:
        assert self._events(key)[2].wait(timeout), f"activity never left gate {key!r}"

    def release_all(self) -> None:
        with self._lock:
            events = list(self._released.values())
        for event in events:
            event.set()


GATES = Gates()


# --------------------------------------------------------------------------------------
# raw gRPC access (only for what the SDK cannot express)
# --------------------------------------------------------------------------------------

SDK_CHANNEL_OPTIONS = list(DEFAULT_GRPC_KEEPALIVE_OPTIONS)


def raw_channel(port: int, options: Sequence[tuple[str, Any]] | None = None) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=list(options or SDK_CHANNEL_OPTIONS))


def raw_stub(channel: grpc.Channel) -> stubs.TaskHubSidecarServiceStub:
    return stubs.TaskHubSidecarServiceStub(channel)


def raw_history(stub: stubs.TaskHubSidecarServiceStub, instance_id: str) -> list[pb.HistoryEvent]:
    response = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=instance_id), timeout=30)
    return list(response.events)


class RawStream:
    """A raw ``GetWorkItems`` stream read on a background thread (items and the final error)."""

    def __init__(self, stub: stubs.TaskHubSidecarServiceStub, capabilities: Sequence[int] = ()) -> None:
        request = pb.GetWorkItemsRequest()
        request.capabilities.extend(capabilities)
        self.call = stub.GetWorkItems(request)
        self.items: list[pb.WorkItem] = []
        self.arrivals: list[float] = []
        """``time.monotonic()`` at which each item of ``items`` arrived."""
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, name="raw-work-item-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for item in self.call:
                self.arrivals.append(time.monotonic())
                self.items.append(item)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.ended.set()

    def cancel(self) -> None:
        self.call.cancel()
        self.ended.wait(10)


# --------------------------------------------------------------------------------------
# recording proxy: a transparent gRPC relay that records what crosses it
# --------------------------------------------------------------------------------------

_REQUEST_TYPES: dict[str, type] = {
    "Hello": empty_pb2.Empty,
    "GetWorkItems": pb.GetWorkItemsRequest,
    "CompleteOrchestratorTask": pb.WorkflowResponse,
    "CompleteWorkflowTask": pb.WorkflowResponse,
    "CompleteActivityTask": pb.ActivityResponse,
    "StartInstance": pb.CreateInstanceRequest,
    "RaiseEvent": pb.RaiseEventRequest,
}

ENGINE_LIKE_SERVER_OPTIONS = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]


@dataclasses.dataclass
class RecordedCall:
    method: str
    request: Any
    code: grpc.StatusCode | None = None  # None while running or when it ended OK
    done: threading.Event = dataclasses.field(default_factory=threading.Event)


class RecordingProxy:
    """Relays every ``TaskHubSidecarService`` call to the engine and records it.

    Workers connect to the proxy instead of the engine; the proxy records each
    request (decoded where the type is known) and every work item the engine
    streams back, so a test can check what the worker and the engine really said.
    """

    def __init__(self, target_port: int) -> None:
        self._lock = threading.Lock()
        self.calls: list[RecordedCall] = []
        self.work_items: list[pb.WorkItem] = []
        self._channel = raw_channel(
            target_port,
            SDK_CHANNEL_OPTIONS
            + [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
        )
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="proxy"),
            options=ENGINE_LIKE_SERVER_OPTIONS,
        )
        self._server.add_generic_rpc_handlers((_ProxyHandler(self),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def stop(self) -> None:
        self._server.stop(0).wait(5)
        self._channel.close()

    def _record(self, method: str, raw: bytes) -> RecordedCall:
        message_type = _REQUEST_TYPES.get(method)
        request = message_type.FromString(raw) if message_type else raw
        call = RecordedCall(method, request)
        with self._lock:
            self.calls.append(call)
        return call

    def _record_item(self, raw: bytes) -> None:
        with self._lock:
            self.work_items.append(pb.WorkItem.FromString(raw))

    def method_names(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def requests(self, method: str) -> list[Any]:
        with self._lock:
            return [c.request for c in self.calls if c.method == method]

    def recorded(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_answered(self, method: str, predicate: Callable[[Any], bool] = lambda request: True,
                      timeout: float = WAIT_SECONDS) -> RecordedCall:
        """Wait until the engine has answered a ``method`` call whose request matches ``predicate``."""

        def answered():
            for call in self.recorded(method):
                if predicate(call.request) and call.done.is_set():
                    return call
            return None

        return wait_until(answered, timeout, message=f"an answered {method} call")

    def items(self) -> list[pb.WorkItem]:
        with self._lock:
            return list(self.work_items)

    def workflow_items(self, instance_id: str) -> list[pb.WorkItem]:
        return [
            i for i in self.items()
            if i.HasField("workflowRequest") and i.workflowRequest.instanceId == instance_id
        ]


def _forwarded_metadata(context: grpc.ServicerContext) -> list[tuple[str, str]]:
    return [(k, v) for k, v in context.invocation_metadata() if k == "dapr-api-token"]


class _ProxyHandler(grpc.GenericRpcHandler):
    def __init__(self, proxy: RecordingProxy) -> None:
        self._proxy = proxy

    def service(self, details: grpc.HandlerCallDetails):
        path = details.method
        if not path.startswith(f"/{SERVICE}/"):
            return None
        method = path.rsplit("/", 1)[-1]
        if method == "GetWorkItems":
            return grpc.unary_stream_rpc_method_handler(functools.partial(self._stream, path, method))
        return grpc.unary_unary_rpc_method_handler(functools.partial(self._unary, path, method))

    def _unary(self, path: str, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        record = self._proxy._record(method, request)
        try:
            return self._proxy._channel.unary_unary(path)(
                request, timeout=context.time_remaining(), metadata=_forwarded_metadata(context)
            )
        except grpc.RpcError as error:
            record.code = error.code()
            context.abort(error.code(), error.details() or "")
        finally:
            record.done.set()

    def _stream(self, path: str, method: str, request: bytes, context: grpc.ServicerContext):
        record = self._proxy._record(method, request)
        call = self._proxy._channel.unary_stream(path)(request, metadata=_forwarded_metadata(context))
        context.add_callback(call.cancel)
        try:
            for item in call:
                self._proxy._record_item(item)
                yield item
        except grpc.RpcError as error:
            record.code = error.code()
            if error.code() != grpc.StatusCode.CANCELLED and context.is_active():
                context.abort(error.code(), error.details() or "")
        finally:
            record.done.set()


# --------------------------------------------------------------------------------------
# engine + runtime + client
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Versioned:
    """A versioned workflow registration (``register_versioned_workflow``)."""

    name: str
    version: str
    fn: Callable
    is_latest: bool


def _named(item: Callable | tuple[str, Callable]) -> tuple[str, Callable]:
    if isinstance(item, tuple):
        return item
    return item.__name__, item


def build_runtime(port: int, workflows: Sequence = (), activities: Sequence = (),
                  start: bool = True, **runtime_kwargs: Any) -> WorkflowRuntime:
    """A ``WorkflowRuntime`` on ``127.0.0.1:port`` with fresh copies of the given functions."""
    runtime_kwargs.setdefault("maximum_thread_pool_workers", 16)
    runtime = WorkflowRuntime(host="127.0.0.1", port=str(port), **runtime_kwargs)
    for item in workflows:
        if isinstance(item, Versioned):
            runtime.register_versioned_workflow(
                fresh(item.fn), name=item.name, version_name=item.version, is_latest=item.is_latest
            )
        else:
            name, fn = _named(item)
            runtime.register_workflow(fresh(fn), name=name)
    for item in activities:
        name, fn = _named(item)
        runtime.register_activity(fresh(fn), name=name)
    if start:
        runtime.start()
    return runtime


class WorkflowApp:
    """One engine, one worker runtime and one client, plus the checks tests repeat."""

    def __init__(self, engine: EmbeddedEngine, runtime: WorkflowRuntime | None,
                 client: DaprWorkflowClient, proxy: RecordingProxy | None = None) -> None:
        self.engine = engine
        self.runtime = runtime
        self.client = client
        self.proxy = proxy
        self.channel = raw_channel(engine.port)
        self.stub = raw_stub(self.channel)

    @property
    def port(self) -> int:
        return self.engine.port

    def schedule(self, workflow: str, input: Any = None, instance_id: str | None = None, **kwargs: Any) -> str:
        return self.client.schedule_new_workflow(
            workflow, input=input, instance_id=instance_id or new_id(workflow), **kwargs
        )

    def wait_done(self, instance_id: str, timeout: int = WAIT_SECONDS) -> WorkflowState:
        state = self.client.wait_for_workflow_completion(instance_id, timeout_in_seconds=timeout)
        assert state is not None, f"instance {instance_id} does not exist"
        return state

    def run(self, workflow: str, input: Any = None, instance_id: str | None = None, **kwargs: Any) -> WorkflowState:
        """Schedule and wait for a terminal state."""
        return self.wait_done(self.schedule(workflow, input=input, instance_id=instance_id, **kwargs))

    def state(self, instance_id: str) -> WorkflowState | None:
        return self.client.get_workflow_state(instance_id, fetch_payloads=True)

    def wait_status(self, instance_id: str, status: WorkflowStatus, timeout: float = WAIT_SECONDS) -> WorkflowState:
        def reached():
            state = self.state(instance_id)
            return state if state is not None and state.runtime_status == status else None

        return wait_until(reached, timeout, message=f"{instance_id} to become {status.name}")

    def raw_history(self, instance_id: str) -> list[pb.HistoryEvent]:
        return raw_history(self.stub, instance_id)

    def wait_history(self, instance_id: str, predicate: Callable[[list[pb.HistoryEvent]], bool],
                     timeout: float = WAIT_SECONDS, message: str = "history") -> list[pb.HistoryEvent]:
        """Poll the committed history until ``predicate`` holds."""

        def check():
            try:
                events = self.raw_history(instance_id)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise
            return events if predicate(events) else None

        return wait_until(check, timeout, interval=0.1, message=f"{message} of {instance_id}")

    def wait_waiting_for_event(self, instance_id: str, count: int = 1) -> list[pb.HistoryEvent]:
        """Until the workflow has committed ``count`` external-event waits (each records a timerCreated)."""
        return self.wait_history(
            instance_id,
            lambda events: sum(
                1 for e in of_kind(events, "timerCreated") if e.timerCreated.HasField("externalEvent")
            ) >= count,
            message="an external-event wait",
        )


class AppFactory:
    """Builds engines, runtimes, clients and proxies, and tears them down in reverse order."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._closers: list[Callable[[], None]] = []

    def db_path(self) -> str:
        return str(self._tmp.mktemp("engine") / "engine.db")

    def engine(self, **config: Any) -> EmbeddedEngine:
        config.setdefault("db_path", self.db_path())
        config.setdefault("port", 0)
        engine = EmbeddedEngine(**config)
        engine.start()
        self._closers.append(engine.stop)
        return engine

    def runtime(self, port: int, workflows: Sequence = (), activities: Sequence = (),
                **runtime_kwargs: Any) -> WorkflowRuntime:
        runtime = build_runtime(port, workflows, activities, start=False, **runtime_kwargs)
        self._closers.append(runtime.shutdown)
        runtime.start()
        return runtime

    def client(self, port: int) -> DaprWorkflowClient:
        client = DaprWorkflowClient(host="127.0.0.1", port=str(port))
        self._closers.append(client.close)
        return client

    def worker_process(self, port: int) -> subprocess.Popen:
        """A worker in a child process (``worker_process.py``), killed at teardown."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_process.py")
        process = subprocess.Popen(
            [sys.executable, script, str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self._closers.append(lambda: (process.kill(), process.wait(10)))
        ready = run_bounded(process.stdout.readline, timeout=WAIT_SECONDS)
        assert "ready" in ready, f"worker process did not start: {ready!r}"
        return process

    def proxy(self, port: int) -> RecordingProxy:
        proxy = RecordingProxy(port)
        self._closers.append(proxy.stop)
        return proxy

    def app(self, workflows: Sequence = (), activities: Sequence = (), *, via_proxy: bool = False,
            engine: EmbeddedEngine | None = None, runtime_kwargs: dict | None = None,
            **engine_config: Any) -> WorkflowApp:
        """Engine (new unless given) + runtime (optionally behind a recording proxy) + client."""
        engine = engine or self.engine(**engine_config)
        proxy = self.proxy(engine.port) if via_proxy else None
        runtime = self.runtime(proxy.port if proxy else engine.port, workflows, activities, **(runtime_kwargs or {}))
        app = WorkflowApp(engine, runtime, self.client(engine.port), proxy)
        self._closers.append(app.channel.close)
        return app

    def client_app(self, engine: EmbeddedEngine | None = None, **engine_config: Any) -> WorkflowApp:
        """Engine (new unless given) + client, with no worker: the test decides when workers connect."""
        engine = engine or self.engine(**engine_config)
        app = WorkflowApp(engine, None, self.client(engine.port))
        self._closers.append(app.channel.close)
        return app

    def close(self) -> None:
        """Close everything (newest first); re-raise the first teardown error afterwards."""
        GATES.release_all()
        errors: list[Exception] = []
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception as error:  # noqa: BLE001 - teardown must reach every resource
                errors.append(error)
        if errors:
            raise errors[0]


def assert_rpc_error(
    fn: Callable[[], Any], code: grpc.StatusCode | None = None, contains: str | None = None
) -> grpc.RpcError:
    """``fn`` must raise an RpcError (with ``code`` / a message containing ``contains``)."""
    with pytest.raises(grpc.RpcError) as info:
        fn()
    error = info.value
    if code is not None:
        assert error.code() == code, f"expected {code}, got {error.code()}: {error.details()}"
    if contains is not None:
        assert contains.lower() in (error.details() or "").lower(), error.details()
    return error


