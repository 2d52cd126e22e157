"""DurableExecution: one run of a workflow's main coroutine on a durable loop.

It owns the loop, the main task, the durable requests the framework's seams make, and
their journal. Seam interceptors reach it with :func:`current_execution` and await its
requests; the orchestrator generator (:func:`~dapr_agents_durable.loop.driver.drive`)
steps it. At the end of a work item a waiting execution can be parked with its
generator and context, and continued by the instance's next work item
(see :mod:`~dapr_agents_durable.loop.warm`).

Example (inside a framework seam, on the durable loop)::

    durable = current_execution()
    reply = await durable.call_activity("openai_agents.model", {"input": messages})
    approved = await durable.wait_for_event("approval", timeout=3600)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy
from dapr.ext.workflow._durabletask import task as sdk_task

from dapr_agents_durable.loop import observers
from dapr_agents_durable.loop.errors import DurableLoopError
from dapr_agents_durable.loop.eventloop import DurableEventLoop
from dapr_agents_durable.loop.requests import (
    DurableRequest,
    DurableStep,
    RequestKind,
    canonical_json,
)
from dapr_agents_durable.loop.scheduler import Scheduler
from dapr_agents_durable.loop.workitem import WorkItem, current_work_item

_log = logging.getLogger("dapr_agents_durable.loop")
_local = threading.local()
_UUID_NAMESPACE = uuid.UUID("6b1f4c0e-8d5a-4a43-9a52-2f0b7c1de7a1")

Timeout = float | int | timedelta | None


def current_execution() -> DurableExecution:
    """The durable execution whose loop this code runs on; raises anywhere else.

    Seam interceptors call this and must let the error propagate: a seam reached off the
    durable loop (from a framework's worker thread, say) would otherwise run
    non-durably.

    Example::

        reply = await current_execution().call_activity("model", payload)
    """
    execution = bound_execution()
    if execution is None:
        raise DurableLoopError(
            "No durable execution is running on this thread. Durable seams (model, tool, "
            "sub-agent and approval calls) only work on the durable loop inside a "
            "workflow. This call came from elsewhere, typically a thread the framework "
            "started itself (a thread pool, or a sync entry point such as invoke() / "
            "run_sync()). Await the framework's async entry point inside the workflow "
            "instead; sync work passed through asyncio.to_thread() or run_in_executor() "
            "runs on the durable loop's own thread and is fine."
        )
    execution._check_running_loop()
    return execution


def on_durable_loop() -> bool:
    """Whether the calling code runs on a durable loop, inside a workflow (never raises).

    Example::

        model = durable_model if on_durable_loop() else real_model
    """
    try:
        current_execution()
    except DurableLoopError:
        return False
    return True


def side_effects_suppressed() -> bool:
    """True on a durable loop that replays history, is parked or is being torn down (never raises).

    Replay-aware side effects (hooks, spans, logs) check it to happen once per step::

        if not side_effects_suppressed():
            notify_on_call()
    """
    try:
        return current_execution().suppress_side_effects
    except DurableLoopError:
        return False


def bound_execution() -> DurableExecution | None:
    """The execution being stepped on this thread, or None (never raises)."""
    stack: list[DurableExecution] = getattr(_local, "stack", [])
    return stack[-1] if stack else None


class DurableExecution:
    """One execution of a workflow's main coroutine on a :class:`DurableEventLoop`.

    Seams use :meth:`call_activity`, :meth:`call_child_workflow` and
    :meth:`wait_for_event`; each returns a future to await. Inputs and results are plain
    JSON values.
    """

    def __init__(
        self,
        ctx: DaprWorkflowContext,
        *,
        label: str | None = None,
        foreign_timeout: float = 30.0,
    ) -> None:
        self._ctx = ctx
        self._label = label
        self._foreign_timeout = foreign_timeout
        self._owner = threading.get_ident()
        self._work_item = current_work_item()
        self._started_at: datetime = ctx.current_utc_datetime
        self._uuids = 0
        self._main: asyncio.Task[Any] | None = None
        self._waiting = False
        self._parked = False
        self._tearing_down = False
        self._closed = False
        self.loop = DurableEventLoop(
            self._workflow_seconds, quiet=lambda: self.suppress_side_effects
        )
        self._scheduler = Scheduler(
            ctx, self.loop, self._work_item, self.describe, lambda step: observers.report_step(self, step)
        )
        if self._work_item is not None:
            self._work_item.adopt(self)

    # ------------------------------------------------------------------ seams

    def call_activity(
        self, name: str, input: Any = None, *, retry_policy: RetryPolicy | None = None
    ) -> asyncio.Future[Any]:
        """Request activity ``name``; the future resolves to its JSON result.

        A failure surfaces as :class:`ActivityError`. Example::

            reply = await durable.call_activity("search", {"q": "dapr"})
        """
        return self._request("activity", name, input, retry_policy=retry_policy)

    def call_child_workflow(
        self,
        name: str,
        input: Any = None,
        *,
        instance_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> asyncio.Future[Any]:
        """Request child workflow ``name``; the future resolves to its JSON output.

        A failure surfaces as :class:`ChildWorkflowError`. Example::

            answer = await durable.call_child_workflow("agents.weather", {"q": "Paris"})
        """
        return self._request(
            "child workflow",
            name,
            input,
            retry_policy=retry_policy,
            instance_id=instance_id,
        )

    def wait_for_event(self, name: str, timeout: Timeout = None) -> asyncio.Future[Any]:
        """Wait for external event ``name`` (case-insensitive); resolves to its JSON payload.

        ``timeout`` (seconds or a timedelta of workflow time) raises
        ``TimeoutError`` (``asyncio.TimeoutError``) when no event arrives in time. Example::

            decision = await durable.wait_for_event("approval", timeout=3600)
        """
        return self._request("event", name, None, timeout=_as_timedelta(timeout))

    # ------------------------------------------------------------------ determinism helpers

    def now(self) -> datetime:
        """Workflow time as an aware UTC datetime; replay-stable."""
        return datetime.fromtimestamp(self.loop.time(), tz=UTC)

    def new_uuid4(self) -> uuid.UUID:
        """A version-4-shaped UUID derived from the instance and a per-execution counter."""
        self._uuids += 1
        name = f"{self.instance_id}/{self._started_at.isoformat()}/{self._uuids}"
        return uuid.UUID(bytes=uuid.uuid5(_UUID_NAMESPACE, name).bytes, version=4)

    # ------------------------------------------------------------------ facts

    @property
    def instance_id(self) -> str:
        """The workflow instance id."""
        return str(self._ctx.instance_id)

    @property
    def parent_instance_id(self) -> str | None:
        """The instance id of the workflow that started this one as a child, if any."""
        return self._work_item.parent_instance_id if self._work_item is not None else None

    @property
    def workflow_name(self) -> str | None:
        """The workflow's registered name, when the history is known."""
        return self._work_item.workflow_name if self._work_item is not None else None

    @property
    def label(self) -> str | None:
        """What runs here, for messages (e.g. ``"agent 'triage'"``)."""
        return self._label

    @property
    def is_replaying(self) -> bool:
        """True while the orchestrator re-runs history it has already recorded."""
        return bool(self._ctx.is_replaying)

    @property
    def is_tearing_down(self) -> bool:
        """True while an abandoned or finished execution is being cancelled."""
        return self._tearing_down

    @property
    def suppress_side_effects(self) -> bool:
        """True when in-workflow side effects (logs, traces, framework events) must be skipped."""
        return self._tearing_down or self._parked or self.is_replaying

    @property
    def is_waiting(self) -> bool:
        """True while the execution waits on the engine (its generator is at a yield)."""
        return self._waiting and not self._closed

    @property
    def context(self) -> DaprWorkflowContext:
        """The orchestration context the execution schedules its requests on."""
        return self._ctx

    @property
    def owner(self) -> int:
        """The id of the thread that last stepped the execution."""
        return self._owner

    @property
    def journal(self) -> tuple[DurableStep, ...]:
        """Every durable request scheduled so far, in order."""
        return self._scheduler.journal

    def describe(self) -> str:
        """``Workflow 'name' (instance 'id', label)`` for messages."""
        name = f" {self.workflow_name!r}" if self.workflow_name else ""
        label = f", {self._label}" if self._label else ""
        return f"Workflow{name} (instance {self.instance_id!r}{label})"

    # ------------------------------------------------------------------ driving

    def start(self, main: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Create the main task from ``main()`` in a fresh contextvars context."""
        context = contextvars.Context()
        with self._bound():
            coro = context.run(main)
            if not inspect.iscoroutine(coro):
                raise TypeError(
                    f"drive() needs main to return a coroutine, got {type(coro).__name__}; "
                    "pass e.g. lambda: agent_main(input)."
                )
            self._main = self.loop.create_task(
                coro, name="durable-main", context=context
            )

    def advance(self) -> list[sdk_task.Task[Any]] | None:
        """Run until the loop needs the engine: the tasks to wait for, or None when done."""
        assert self._main is not None, "start() must be called first"
        with self._bound():
            while True:
                self._run_until_settled()
                if self._main.done():
                    self._scheduler.check_finished()
                    return None
                waiting = self._scheduler.schedule()
                if waiting:
                    self._waiting = True
                    return waiting
                if not self.loop.wait_for_foreign(self._foreign_timeout):
                    raise DurableLoopError(self._stuck_message())

    def resume(self) -> None:
        """Deliver every completed workflow task to its future, in creation order."""
        self._waiting = False
        with self._bound():
            self._scheduler.deliver_completed()

    # ------------------------------------------------------------------ warm executions

    def park(self) -> None:
        """Wait, warm, for the instance's next work item (see :meth:`continue_in`)."""
        assert self.is_waiting, "only an execution waiting on the engine can be parked"
        self._parked = True

    def continue_in(self, work_item: WorkItem) -> None:
        """Continue a parked execution in ``work_item``, on the calling thread."""
        assert self._parked and self.can_run_here()
        self._parked = False
        self._owner = threading.get_ident()
        self._work_item = work_item
        self._scheduler.continue_in(work_item)
        work_item.adopt(self)

    def can_run_here(self) -> bool:
        """Whether this thread may step the execution (sync code suspended in a greenlet pins it)."""
        return (
            threading.get_ident() == self._owner
            or not self.loop.has_suspended_bridges()
        )

    def move_here(self) -> None:
        """Make the calling thread the owner; only when :meth:`can_run_here`."""
        assert self.can_run_here()
        self._owner = threading.get_ident()

    def report_end(self, error: BaseException | None) -> None:
        """Tell the step observers that the run ended (live only; see :mod:`~dapr_agents_durable.loop.observers`)."""
        observers.report_run(self, observers.FinishedRun(self._started_at, self._ctx.current_utc_datetime, error))

    def result(self) -> Any:
        """The main coroutine's result (or its exception, raised)."""
        assert self._main is not None and self._main.done()
        if self._main.cancelled():
            raise DurableLoopError(
                f"{self.describe()}: the main coroutine was cancelled before it returned."
            )
        return self._main.result()

    def close(self) -> None:
        """Tear down: cancel every task with side effects suppressed, then close the loop.

        On the thread that ran the execution this runs the framework's cleanup now; from
        any other thread the loop is only closed, never stepped.
        """
        if self._closed:
            return
        self._closed = True
        self._scheduler.close()
        if threading.get_ident() == self._owner:
            self._tearing_down = True
            try:
                with self._bound():
                    self.loop.cancel_everything()
            except Exception:  # noqa: BLE001 - teardown must never fail the work item
                _log.debug("Teardown of %s raised", self.describe(), exc_info=True)
        self.loop.close()

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _bound(self) -> Iterator[None]:
        stack: list[DurableExecution] = _local.__dict__.setdefault("stack", [])
        stack.append(self)
        try:
            with self.loop.running():
                yield
        finally:
            stack.pop()

    def _check_running_loop(self) -> None:
        running = asyncio._get_running_loop()
        if running is not None and running is not self.loop:
            raise DurableLoopError(
                f"A durable seam of {self.describe()} was reached from another event loop "
                "running inside the workflow (for example asyncio.run() called from sync "
                "code). Await the framework's async API on the workflow's own loop instead."
            )

    def _request(
        self,
        kind: RequestKind,
        name: str,
        input: Any,
        *,
        retry_policy: RetryPolicy | None = None,
        instance_id: str | None = None,
        timeout: timedelta | None = None,
    ) -> asyncio.Future[Any]:
        if bound_execution() is not self:
            raise DurableLoopError(
                f"{kind} {name!r} was requested off the durable loop of {self.describe()}. "
                "Durable requests must be made on the workflow's loop thread; a framework "
                "thread pool or another workflow cannot make them."
            )
        self._check_running_loop()
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {kind} needs a non-empty name, got {name!r}.")
        input_json = (
            None if input is None else canonical_json(input, what=f"{kind} {name!r}")
        )
        future = self.loop.create_future()
        if self._tearing_down:
            future.cancel()
            return future
        self._scheduler.add(
            DurableRequest(
                kind,
                name,
                input,
                input_json,
                future,
                retry_policy=retry_policy,
                instance_id=instance_id,
                timeout=timeout,
            )
        )
        return future

    def _run_until_settled(self) -> None:
        self.loop.run_until_idle()
        while self.loop.foreign_outstanding:
            if not self.loop.wait_for_foreign(self._foreign_timeout):
                raise DurableLoopError(
                    f"{self.describe()}: {self.loop.foreign_outstanding} future(s) awaited "
                    f"through loop.wrap_foreign() were not completed by their threads within "
                    f"{self._foreign_timeout} s."
                )
            self.loop.run_until_idle()

    def _stuck_message(self) -> str:
        waiting = [repr(task) for task in asyncio.all_tasks(self.loop)]
        return (
            f"{self.describe()} is stuck: its main coroutine has not returned, yet no durable "
            "request, timer or foreign-thread callback is outstanding, and nothing arrived "
            f"within {self._foreign_timeout} s. Waiting tasks: {'; '.join(waiting)}. "
            "Typical causes: awaiting a future or event that nothing completes, or work "
            "handed to a thread that never reports back."
        )

    def _workflow_seconds(self) -> float:
        now = self._ctx.current_utc_datetime
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.timestamp()


def _as_timedelta(timeout: Timeout) -> timedelta | None:
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        delta = timeout
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        delta = timedelta(seconds=timeout)
    else:
        raise TypeError(
            f"timeout must be seconds or a timedelta, got {type(timeout).__name__}"
        )
    if delta < timedelta(0):
        raise ValueError(f"timeout must not be negative, got {timeout!r}")
    return delta
