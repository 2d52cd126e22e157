"""The process-wide durable runtime: one Dapr worker and client, a sidecar or the engine."""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dapr.ext.workflow as wf
from dapr.ext.workflow._durabletask import task as dt_task
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow.workflow_state import WorkflowState, WorkflowStatus
from grpc import RpcError, StatusCode

from dapr_agents_durable.engine import EmbeddedEngine, EngineConfig
from dapr_agents_durable.loop.observers import add_observer
from dapr_agents_durable.loop.stalls import RunHeld, stall_of
from dapr_agents_durable.runtime.approvals import APPROVAL_EVENT, Decision, PendingApproval, decode_status
from dapr_agents_durable.runtime.local_replay import replay_locally
from dapr_agents_durable.runtime.ownership import check_same_run
from dapr_agents_durable.runtime.registry import Registry
from dapr_agents_durable.runtime.settings import Embedded, Sidecar, resolve_target
from dapr_agents_durable.runtime.telemetry import SPANS
from dapr_agents_durable.runtime.waits import check_caller

log = logging.getLogger("dapr_agents_durable.runtime")

WAKE_EVENT = "dapr_agents_durable.wake"
"""External event that retries a workflow parked while its agent was not yet registered."""

_POLL_FIRST = 0.005
_POLL_MAX = 0.25

TERMINAL = frozenset({WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED})


class RunFailed(RuntimeError):
    """A durable run ended FAILED or TERMINATED; ``state`` holds its details."""

    def __init__(self, run_id: str, state: WorkflowState) -> None:
        details = state.failure_details
        reason = f"{details.error_type}: {details.message}" if details else state.runtime_status.name
        super().__init__(f"durable run {run_id!r} ended {state.runtime_status.name}: {reason}")
        self.run_id = run_id
        self.state = state


class DurableRuntime:
    """One Dapr workflow worker + client for the process, started lazily.

    Adapters register generic workflow/activity names before the first run; the
    runtime then connects to the Dapr sidecar (``DAPR_GRPC_ENDPOINT`` /
    ``DAPR_GRPC_PORT``) or starts the embedded engine on ``$DAPR_AGENTS_DURABLE_DB``.

    Example::

        runtime = get_runtime()
        runtime.register_activity("demo.echo", lambda ctx, x: x)
        state = runtime.run("demo.workflow", {"q": 1}, run_id="r1")
    """

    def __init__(self, db_path: str | None = None) -> None:
        self._db_path = db_path
        self._lock = threading.RLock()
        self._workflows: dict[str, Callable[..., Any]] = {}
        self._activities: dict[str, Callable[..., Any]] = {}
        self._worker: wf.WorkflowRuntime | None = None
        self._client: wf.DaprWorkflowClient | None = None
        self._engine: EmbeddedEngine | None = None
        self._target: Sidecar | Embedded | None = None
        self._parked: dict[tuple[str, str], set[str]] = {}
        self._watched: set[int] = set()
        self._changed = threading.Condition()
        self._generation = 0

    # -- registration ------------------------------------------------------------------

    def register_workflow(self, name: str, fn: Callable[..., Any]) -> None:
        """Register a generator workflow ``fn(ctx, input)`` under a stable ``name``."""
        self._register(self._workflows, name, fn)

    def register_activity(self, name: str, fn: Callable[..., Any]) -> None:
        """Register an activity ``fn(ctx, input)`` (sync or async) under a stable ``name``."""
        self._register(self._activities, name, fn)

    def _register(self, table: dict[str, Callable[..., Any]], name: str, fn: Callable[..., Any]) -> None:
        """Add ``name`` to ``table``, and to the worker if it runs.

        A running worker learns a new name in place: restarting it would drop the results
        of the activities it is running (their stream closes with them), so each would wait
        out the engine's orphan grace and run again.
        """
        with self._lock:
            if table.get(name) is fn:
                return
            if name in table:
                raise ValueError(f"{name!r} is already registered with the durable runtime")
            table[name] = fn
            if self._worker is not None:
                add = self._worker.register_workflow if table is self._workflows else self._worker.register_activity
                add(_named(fn), name=name)
            elif self._client is not None:
                self._start_worker()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def target(self) -> Sidecar | Embedded | None:
        """Where workflows run, once started."""
        return self._target

    @property
    def serves_work(self) -> bool:
        """Whether this process runs a workflow worker (it does once something is registered)."""
        return self._worker is not None

    @property
    def client(self) -> wf.DaprWorkflowClient:
        """The Dapr workflow client (starts the runtime if needed)."""
        self.start()
        assert self._client is not None
        return self._client

    def start(self) -> None:
        """Connect (or start the embedded engine); later calls do nothing.

        The workflow worker starts with the first registered name: a process that only
        uses the client (approving a call, reading a run's state) takes no work items,
        which a worker without the app's workflows would fail.
        """
        with self._lock:
            if self._client is not None:
                return
            target = resolve_target(self._db_path)
            host: str | None = None
            port: str | None = None
            if isinstance(target, Embedded):
                # Lenient lifecycle: a second suspend or a resume of a running run is dropped
                # instead of passed on (which makes the Python SDK spin or fail the run).
                config = EngineConfig.from_env(db_path=target.db_path, app_id=target.app_id, lenient_lifecycle=True)
                self._engine = EmbeddedEngine(config)
                self._engine.start()
                host, port = "127.0.0.1", str(self._engine.port)
                log.info("durable runtime: no Dapr sidecar configured; using the %s", target.describe())
            else:
                log.info("durable runtime: using the %s", target.describe())
            self._target = target
            self._host, self._port = host, port
            add_observer(SPANS)  # OpenTelemetry spans of live steps, when configured (runtime.telemetry)
            self._client = wf.DaprWorkflowClient(host=host, port=port)
            if self._workflows or self._activities:
                self._start_worker()
            _at_interpreter_exit(self.stop)

    def _start_worker(self) -> None:
        worker = wf.WorkflowRuntime(host=self._host, port=self._port)
        for name, fn in self._workflows.items():
            worker.register_workflow(_named(fn), name=name)
        for name, fn in self._activities.items():
            worker.register_activity(_named(fn), name=name)
        worker.start()
        self._worker = worker

    def stop(self) -> None:
        """Stop the worker and the embedded engine (also run at interpreter exit)."""
        with self._lock:
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._engine is not None:
                self._engine.stop()
                self._engine = None

    # -- runs --------------------------------------------------------------------------

    def start_or_attach(self, workflow: str, input: Any, run_id: str | None = None, *, owner: str | None = None) -> str:
        """Schedule ``workflow`` as ``run_id``, or attach to the run already using that id.

        A run that is still going is attached to; a finished one is left as it is
        (its stored result answers). A run of another workflow, or (with ``owner``, a key
        of the input such as ``"agent"``) of another owner, raises
        :class:`~dapr_agents_durable.runtime.ownership.RunIdInUse`. Returns the run id.
        """
        run_id = run_id or uuid.uuid4().hex
        client = self.client
        existing = client.get_workflow_state(run_id, fetch_payloads=True)
        if existing is not None:
            check_same_run(run_id, workflow, input, existing, owner=owner)
            if (stall := stall_of(existing.serialized_custom_status)) is not None:
                self._retry_held(run_id, stall)
        else:
            try:
                client.schedule_new_workflow(workflow, input=input, instance_id=run_id)
            except RpcError as exc:
                if exc.code() != StatusCode.ALREADY_EXISTS:  # type: ignore[attr-defined]
                    raise
        return run_id

    def _retry_held(self, run_id: str, stall: dict[str, Any], timeout: float = 60.0) -> None:
        """Wake a held run so it replays with this process's code; wait until that replay
        answered (its status no longer this stall), so callers do not see the old one."""
        self.wake(run_id)

        def answered(state: WorkflowState) -> bool:
            now = stall_of(state.serialized_custom_status)
            return now is None or now.get("events", 0) > stall.get("events", 0)

        self.wait_until(run_id, answered, timeout=timeout, held_ok=True)

    def wait(self, run_id: str, timeout: float | None = None) -> WorkflowState:
        """Wait for the run to finish; raises :class:`RunFailed` if it did not complete."""
        # The SDK hands timeout_in_seconds to gRPC as a deadline, which takes a float.
        state = self.client.wait_for_workflow_completion(
            run_id, fetch_payloads=True, timeout_in_seconds=timeout or 0  # type: ignore[arg-type]
        )
        if state is None:
            raise LookupError(f"no durable run with id {run_id!r}")
        if state.runtime_status != WorkflowStatus.COMPLETED:
            raise RunFailed(run_id, state)
        return state

    def run(self, workflow: str, input: Any, run_id: str | None = None, timeout: float | None = None) -> WorkflowState:
        """Start or attach, then wait for completion."""
        return self.wait(self.start_or_attach(workflow, input, run_id), timeout)

    async def arun(
        self, workflow: str, input: Any, run_id: str | None = None, timeout: float | None = None
    ) -> WorkflowState:
        """:meth:`run` for async callers (the blocking calls run in a thread)."""
        return await asyncio.to_thread(self.run, workflow, input, run_id, timeout)

    def wait_until(
        self,
        run_id: str,
        settled: Callable[[WorkflowState], bool],
        timeout: float | None = None,
        *,
        held_ok: bool = False,
    ) -> WorkflowState:
        """Wait until the run is finished or ``settled(state)`` holds; returns that state.

        A run held because its code changed under it (:mod:`~dapr_agents_durable.loop.stalls`)
        raises :class:`~dapr_agents_durable.loop.stalls.RunHeld` unless ``held_ok``. In a thread
        of :func:`~dapr_agents_durable.runtime.waits.waited_in_thread` whose caller was
        cancelled it raises :class:`~dapr_agents_durable.runtime.waits.CallerGone`.

        Polls the run's state, at once after :meth:`notify` and otherwise at a
        slowly growing interval (at most 0.25 s). Example::

            state = runtime.wait_until("r1", lambda s: bool(decode_status(s.serialized_custom_status)))
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = _POLL_FIRST
        while True:
            check_caller()
            with self._changed:
                seen = self._generation
            state = self.state(run_id)
            if state is None:
                raise LookupError(f"no durable run with id {run_id!r}")
            if state.runtime_status in TERMINAL or settled(state):
                return state
            if not held_ok and (stall := stall_of(state.serialized_custom_status)) is not None:
                raise RunHeld(run_id, stall)
            wait = interval if deadline is None else min(interval, deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError(f"durable run {run_id!r} did not settle within {timeout} s")
            with self._changed:
                if self._generation == seen:
                    self._changed.wait(wait)
                poked = self._generation != seen
            interval = _POLL_FIRST if poked else min(interval * 2, _POLL_MAX)

    def notify(self) -> None:
        """Wake :meth:`wait_until` callers: a run of this process is about to change state."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def state(self, run_id: str) -> WorkflowState | None:
        return self.client.get_workflow_state(run_id, fetch_payloads=True)

    def raise_event(self, run_id: str, name: str, data: Any = None) -> None:
        self.client.raise_workflow_event(run_id, name, data=data)

    # -- human approval ----------------------------------------------------------------

    def pending_approvals(self, run_id: str) -> list[PendingApproval]:
        """The tool calls run ``run_id`` is waiting to have approved or rejected."""
        state = self.state(run_id)
        if state is None:
            raise LookupError(f"no durable run with id {run_id!r}")
        if state.runtime_status in TERMINAL:
            return []
        return decode_status(state.serialized_custom_status)

    def approve(
        self, run_id: str, call_id: str, *, always: bool = False, message: str | None = None, arguments: str | None = None
    ) -> None:
        """Approve the pending tool call ``call_id`` of run ``run_id`` (from any process).

        ``always`` also approves the tool's later calls in this run; ``message`` and
        ``arguments`` (a JSON object as text: edited call arguments, a LangGraph resume
        dict) travel with the approval for frameworks that take them. Example::

            get_runtime().approve("refund-17", "call_8x2")
        """
        self.decide(run_id, Decision(call_id, approved=True, always=always, message=message, arguments=arguments))

    def reject(self, run_id: str, call_id: str, *, message: str | None = None, always: bool = False) -> None:
        """Reject the pending tool call ``call_id``; ``message`` is what the model is told."""
        self.decide(run_id, Decision(call_id, approved=False, always=always, message=message))

    def decide(self, run_id: str, decision: Decision) -> None:
        """Deliver ``decision`` to run ``run_id``, which must be waiting for that call.

        A malformed decision (``arguments`` not a JSON object) raises ``ValueError`` and sends nothing.
        """
        Decision.from_json(decision.to_json())
        pending = [p.call_id for p in self.pending_approvals(run_id)]
        if decision.call_id not in pending:
            waiting = ", ".join(repr(c) for c in pending) or "no tool call"
            raise ValueError(
                f"durable run {run_id!r} is not waiting for a decision on tool call {decision.call_id!r}; "
                f"it waits for {waiting}"
            )
        self.raise_event(run_id, APPROVAL_EVENT, decision.to_json())

    def terminate(self, run_id: str, output: Any = None, recursive: bool = True) -> None:
        self.client.terminate_workflow(run_id, output=output, recursive=recursive)

    def purge(self, run_id: str, recursive: bool = True) -> bool:
        return bool(self.client.purge_workflow(run_id, recursive=recursive))

    def list_runs(self) -> Iterator[str]:
        return self.client.iter_workflow_instance_ids()

    def history(self, run_id: str) -> list[Any]:
        return self.client.get_workflow_history(run_id)

    def raw_history(self, run_id: str) -> list[pb.HistoryEvent]:
        """The run's history as the protocol's ``HistoryEvent`` messages (for local replay)."""
        stub = self.client._DaprWorkflowClient__obj._stub  # type: ignore[attr-defined]  # dapr 1.19
        response = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=run_id))
        return list(response.events)

    def replay(self, workflow: str, run_id: str) -> None:
        """Re-run ``workflow``'s registered code over ``run_id``'s history in this process."""
        with self._lock:
            fn = self._workflows.get(workflow)
        if fn is None:
            raise LookupError(f"workflow {workflow!r} is not registered with the durable runtime")
        replay_locally(fn, workflow, run_id, self.raw_history(run_id))

    # -- parking workflows whose agent is not registered yet ---------------------------

    def park(self, ctx: wf.DaprWorkflowContext, registry: Registry[Any], name: str) -> dt_task.Task[Any]:
        """A task for a workflow to yield when ``registry`` lacks ``name``.

        It never completes, so the turn ends without any action and leaves no
        trace a later replay could disagree with. Registering ``name`` in this
        process raises :data:`WAKE_EVENT` on the parked run, which replays it.
        """
        with self._lock:
            self._parked.setdefault((registry.kind, name), set()).add(ctx.instance_id)
            if id(registry) not in self._watched:
                self._watched.add(id(registry))
                registry.on_added(lambda added: self._wake(registry.kind, added))
        log.warning(
            "run %s waits for %s %r to be registered in this process: define it under that name in this app "
            "(as the app that started the run did); the run goes on as soon as it is",
            ctx.instance_id, registry.kind, name,
        )
        return dt_task.CompletableTask()

    def _wake(self, kind: str, name: str) -> None:
        with self._lock:
            runs = self._parked.pop((kind, name), set())
        for run_id in runs:
            threading.Thread(target=self.wake, args=(run_id,), daemon=True).start()

    def wake(self, run_id: str) -> None:
        """Raise :data:`WAKE_EVENT` on ``run_id`` so its workflow replays now (a no-op step).

        An activity whose in-process objects only the replay of its workflow provides (after
        a restart, the activity in flight is dispatched before its workflow has any reason to
        replay) calls this instead of waiting. Example::

            get_runtime().wake("order-42")
        """
        try:
            self.client.raise_workflow_event(run_id, WAKE_EVENT, data={"wake": True})
        except RpcError as exc:
            log.warning("could not wake run %s: %s", run_id, exc)


def _at_interpreter_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` when the main thread ends, before Python joins non-daemon threads.

    The SDK's worker threads are not daemons; stopping them only from ``atexit``
    (which runs after that join) would hold the process for their idle timeouts.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(callback)
    else:
        atexit.register(callback)


def _named(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A fresh function object per registration (the SDK marks registered functions)."""

    if asyncio.iscoroutinefunction(fn):

        async def async_wrapper(ctx: Any, input: Any = None) -> Any:
            return await fn(ctx, input)

        return async_wrapper

    def wrapper(ctx: Any, input: Any = None) -> Any:
        return fn(ctx, input)

    return wrapper


_runtime: DurableRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> DurableRuntime:
    """The process's durable runtime (created on first use, started on first run)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = DurableRuntime()
        return _runtime
