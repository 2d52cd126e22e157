"""Scheduler: durable requests in, workflow tasks out, completions back.

When the loop is idle, the queued requests become workflow tasks on the orchestration
context in creation order, plus one durable timer for the loop's earliest asyncio
timer. Each scheduled request is journaled and, on replay, compared with what the
history recorded at the same action id. Completed tasks are delivered to their
futures, again in creation order, so every replay resolves them identically.

Example (what the execution does each step)::

    scheduler.add(request)
    waiting = scheduler.schedule()     # workflow tasks to wait for
    ...                                # the engine completes one of them
    scheduler.deliver_completed()
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask import task as sdk_task

from dapr_agents_durable.loop import _sdk
from dapr_agents_durable.loop.errors import (
    ActivityError,
    ChildWorkflowError,
    NonDeterminismError,
    nondeterminism_message,
)
from dapr_agents_durable.loop.eventloop import DurableEventLoop
from dapr_agents_durable.loop.observers import FinishedStep
from dapr_agents_durable.loop.requests import DurableRequest, DurableStep, RequestKind
from dapr_agents_durable.loop.workitem import WorkItem


class Scheduler:
    """Turns one execution's durable requests into workflow tasks and back."""

    def __init__(
        self,
        ctx: DaprWorkflowContext,
        loop: DurableEventLoop,
        work_item: WorkItem | None,
        describe: Callable[[], str],
        observe: Callable[[FinishedStep], None] | None = None,
    ) -> None:
        self._observe = observe
        self._ctx = ctx
        self._loop = loop
        self._work_item = work_item
        self._describe = describe
        self._queue: list[DurableRequest] = []
        self._pending: list[DurableRequest] = []
        self._timers: dict[float, sdk_task.Task[Any]] = {}
        self._journal: list[DurableStep] = []
        self._closed = False

    @property
    def journal(self) -> tuple[DurableStep, ...]:
        """Every durable request scheduled so far, in order."""
        return tuple(self._journal)

    def add(self, request: DurableRequest) -> None:
        """Queue a request; it is scheduled when the loop next goes idle."""
        self._queue.append(request)

    def schedule(self) -> list[sdk_task.Task[Any]]:
        """Schedule queued requests and the earliest timer; return every task to wait for."""
        queued, self._queue = self._queue, []
        self._pending = [r for r in self._pending if not r.future.cancelled()]
        for request in queued:
            if request.future.cancelled():
                continue
            before = _sdk.sequence_number(self._ctx)
            request.task = self._start_task(request)
            request.scheduled_at = self._ctx.current_utc_datetime
            self._journal_step(request.kind, request.name, request.input_json, before)
            if request.kind == "event":
                request.future.add_done_callback(
                    functools.partial(self._forget_waiter, request)
                )
            self._pending.append(request)
        deadline = self._loop.next_deadline()
        if deadline is not None and not any(
            known <= deadline for known in self._timers
        ):
            before = _sdk.sequence_number(self._ctx)
            fire_at = datetime.fromtimestamp(deadline, tz=UTC).replace(tzinfo=None)
            self._timers[deadline] = self._ctx.create_timer(fire_at)
            self._journal_step("timer", "", None, before)
        waiting = [
            request.task for request in self._pending if request.task is not None
        ]
        waiting.extend(self._timers.values())
        return waiting

    def deliver_completed(self) -> None:
        """Resolve the futures of completed tasks in creation order; fired timers advance time."""
        still_pending = []
        for request in self._pending:
            assert request.task is not None
            if request.future.cancelled():
                continue
            if request.task.is_complete:
                self._settle(request, request.task)
            else:
                still_pending.append(request)
        self._pending = still_pending
        for deadline in sorted(self._timers):
            if self._timers[deadline].is_complete:
                del self._timers[deadline]
                self._loop.advance_to(deadline)

    def check_finished(self) -> None:
        """Fail when the code finished but the history recorded further steps."""
        if self._work_item is None:
            return
        later = self._work_item.first_recorded_after(_sdk.sequence_number(self._ctx))
        if later is not None:
            raise NonDeterminismError(
                nondeterminism_message(
                    self._describe(),
                    f"after step {len(self._journal)}: the code finished, but its history "
                    f"recorded {later[1].describe()} next.",
                )
            )

    def continue_in(self, work_item: WorkItem) -> None:
        """Check later requests against ``work_item``'s history (a warm execution continues)."""
        self._work_item = work_item

    def close(self) -> None:
        """Stop touching the orchestration context (the execution is being torn down)."""
        self._closed = True

    def _start_task(self, request: DurableRequest) -> sdk_task.Task[Any]:
        if request.kind == "activity":
            return self._ctx.call_activity(
                request.name, input=request.input, retry_policy=request.retry_policy
            )
        if request.kind == "child workflow":
            return self._ctx.call_child_workflow(
                request.name,
                input=request.input,
                instance_id=request.instance_id,
                retry_policy=request.retry_policy,
            )
        return self._ctx.wait_for_external_event(request.name, timeout=request.timeout)

    def _journal_step(
        self, kind: RequestKind, name: str, input_json: str | None, sequence_before: int
    ) -> None:
        sequence_after = _sdk.sequence_number(self._ctx)
        event_id = sequence_after if sequence_after != sequence_before else None
        step = DurableStep(len(self._journal) + 1, kind, name, input_json, event_id)
        self._journal.append(step)
        if event_id is None or self._work_item is None:
            return
        recorded = self._work_item.recorded(event_id)
        if recorded is not None and not step.matches(recorded):
            raise NonDeterminismError(
                nondeterminism_message(
                    self._describe(),
                    f"at step {step.number}: its history recorded {recorded.describe()}, "
                    f"but the code now requested {step.describe()}.{step.difference(recorded)}",
                )
            )

    def _forget_waiter(
        self, request: DurableRequest, future: asyncio.Future[Any]
    ) -> None:
        if future.cancelled() and request.task is not None and not self._closed:
            _sdk.forget_event_waiter(self._ctx, request.name, request.task)

    def _settle(self, request: DurableRequest, done: sdk_task.Task[Any]) -> None:
        self._settle_future(request, done)
        if request.kind in ("activity", "child workflow") and self._observe is not None:
            future = request.future
            error = future.exception() if not future.cancelled() else None
            self._observe(
                FinishedStep(
                    request.kind,  # type: ignore[arg-type]
                    request.name,
                    request.input,
                    None if error is not None else future.result(),
                    error,
                    request.scheduled_at or self._ctx.current_utc_datetime,
                    self._ctx.current_utc_datetime,
                    request.instance_id,
                )
            )

    def _settle_future(self, request: DurableRequest, done: sdk_task.Task[Any]) -> None:
        if not done.is_failed:
            request.future.set_result(done.get_result())
            return
        error = done.get_exception()
        details = _sdk.failure_details(error)
        if details is not None:
            failure = (
                ActivityError if request.kind == "activity" else ChildWorkflowError
            )
            request.future.set_exception(
                failure(
                    request.name,
                    details.error_type,
                    details.message,
                    details.stack_trace,
                )
            )
        elif request.kind == "event" and isinstance(error, TimeoutError):
            request.future.set_exception(
                TimeoutError(
                    f"No event {request.name!r} arrived within {request.timeout} "
                    "of workflow time."
                )
            )
        else:
            request.future.set_exception(error)
