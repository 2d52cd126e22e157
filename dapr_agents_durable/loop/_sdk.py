"""Every use of dapr.ext.workflow internals by the loop, in one place (dapr 1.19.x).

The loop needs four things the SDK does not expose publicly: the id of the action a call
just created, the history a work item replays, a way to forget an abandoned event
waiter, and a hook at the end of each orchestrator work item (for teardown).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask import task as sdk_task
from dapr.ext.workflow._durabletask import worker as sdk_worker
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal.timer import is_optional_timer_event

from dapr_agents_durable.loop.requests import HistoryStep

HistoryEvent = pb.HistoryEvent
ExecutionResults = sdk_worker.ExecutionResults
Execute = Callable[..., ExecutionResults]

_HOOK_MARKER = "__dapr_agents_durable_hook__"
_SCHEDULING_EVENTS = frozenset(
    {"taskScheduled", "childWorkflowInstanceCreated", "timerCreated"}
)


def sequence_number(ctx: DaprWorkflowContext) -> int:
    """The id of the last action the context created (0 before any)."""
    return int(ctx._sequence_number)


def forget_event_waiter(
    ctx: DaprWorkflowContext, name: str, waiter: sdk_task.Task[Any]
) -> None:
    """Stop a cancelled event wait from consuming the next event of that name."""
    event_task = getattr(waiter, "_event_task", waiter)
    pending: dict[str, list[sdk_task.Task[Any]]] = ctx._pending_events
    waiters = pending.get(name.casefold())
    if waiters and event_task in waiters:
        waiters.remove(event_task)
        if not waiters:
            del pending[name.casefold()]


def failure_details(exc: BaseException) -> sdk_task.FailureDetails | None:
    """The engine's failure record when ``exc`` is a failed workflow task, else None."""
    return exc.details if isinstance(exc, sdk_task.TaskFailedError) else None


def workflow_name(events: Sequence[HistoryEvent]) -> str | None:
    """The orchestrator name from the history's executionStarted event."""
    for event in events:
        if event.HasField("executionStarted"):
            return str(event.executionStarted.name)
    return None


def scheduling_events(events: Sequence[HistoryEvent]) -> dict[int, HistoryEvent]:
    """The events confirming actions (activities, children, timers, waits), by action id."""
    return {
        event.eventId: event
        for event in events
        if event.WhichOneof("eventType") in _SCHEDULING_EVENTS
    }


def history_step(event: HistoryEvent) -> HistoryStep:
    """What a scheduling event says was requested."""
    if event.HasField("taskScheduled"):
        scheduled = event.taskScheduled
        return HistoryStep(
            "activity", scheduled.name, _canonical(scheduled.input.value)
        )
    if event.HasField("childWorkflowInstanceCreated"):
        created = event.childWorkflowInstanceCreated
        return HistoryStep(
            "child workflow", created.name, _canonical(created.input.value)
        )
    return _timer_step(event)


def _timer_step(event: HistoryEvent) -> HistoryStep:
    timer = event.timerCreated
    if timer.WhichOneof("origin") == "externalEvent" or is_optional_timer_event(event):
        return HistoryStep("event", timer.externalEvent.name, None)
    return HistoryStep("timer", "", None)


def _canonical(encoded: str) -> str | None:
    if encoded == "":
        return None
    try:
        value = json.loads(encoded)
    except ValueError:
        return encoded
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def failed_with_sdk_nondeterminism(
    results: ExecutionResults,
) -> pb.TaskFailureDetails | None:
    """The failure details when the work item failed the run with the SDK's non-determinism error."""
    for action in results.actions:
        if action.HasField("completeWorkflow"):
            details = action.completeWorkflow.failureDetails
            if details.errorType == sdk_task.NonDeterminismError.__name__:
                return details
    return None


def install_execute_hook(wrap: Callable[[Execute], Execute]) -> None:
    """Wrap the SDK's orchestrator work-item entry point once per process."""
    executor = sdk_worker._OrchestrationExecutor
    if getattr(executor.execute, _HOOK_MARKER, False):
        return
    wrapped = wrap(executor.execute)
    setattr(wrapped, _HOOK_MARKER, True)
    executor.execute = wrapped  # type: ignore[method-assign]
