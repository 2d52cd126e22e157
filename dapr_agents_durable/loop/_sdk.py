"""Every use of dapr.ext.workflow internals by the loop, in one place (dapr 1.19.x).

The loop needs things the SDK does not expose publicly: the id of the action a call
just created, the history a work item replays, a way to forget an abandoned event
waiter, a hook around each orchestrator work item (for teardown and warm executions),
and, for warm executions, the orchestration context and executor state of a work item
and a way to feed only new events to a kept context.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask import task as sdk_task
from dapr.ext.workflow._durabletask import worker as sdk_worker
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal.timer import is_optional_timer_event

from dapr_agents_durable.loop.requests import HistoryStep

HistoryEvent = pb.HistoryEvent
ExecutionResults = sdk_worker.ExecutionResults
RuntimeContext = sdk_worker._RuntimeOrchestrationContext
Execute = Callable[..., ExecutionResults]

_HOOK_MARKER = "__dapr_agents_durable_hook__"
_SCHEDULING_EVENTS = frozenset(
    {"taskScheduled", "childWorkflowInstanceCreated", "timerCreated"}
)
# The history event with which the engine confirms each kind of action.
_CONFIRMED_AS = {
    "scheduleTask": "taskScheduled",
    "createTimer": "timerCreated",
    "createChildWorkflow": "childWorkflowInstanceCreated",
}


def sequence_number(ctx: DaprWorkflowContext | RuntimeContext) -> int:
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


def registry_of(executor: Any) -> object:
    """The orchestrator registry of an SDK orchestration executor."""
    registry: object = executor._registry
    return registry


@dataclass(frozen=True)
class Suspension:
    """An orchestration executor's suspend state: suspended, and the events it holds back."""

    suspended: bool
    held: tuple[HistoryEvent, ...]


def runtime_context(ctx: DaprWorkflowContext) -> RuntimeContext | None:
    """The SDK's orchestration context behind a workflow context, if it is one."""
    inner = getattr(ctx, "_DaprWorkflowContext__obj", None)
    return inner if isinstance(inner, RuntimeContext) else None


def close_orchestrator(context: RuntimeContext) -> None:
    """Close the orchestrator generator a context drives (its finally blocks run now)."""
    generator = context._generator
    if generator is not None:
        generator.close()


def suspension(executor: Any) -> Suspension:
    """The suspend state an orchestration executor reached."""
    return Suspension(bool(executor._is_suspended), tuple(executor._suspended_events))


def continue_orchestration(
    executor: Any,
    context: RuntimeContext,
    state: Suspension,
    replayed: Sequence[HistoryEvent],
    new_events: Sequence[HistoryEvent],
    propagated_history: Any = None,
) -> ExecutionResults:
    """The SDK's ``execute`` on a kept context: only the unseen history, then the new events.

    ``replayed`` are history events the context has not processed yet (the engine's
    confirmations of its last actions); ``state`` is the suspend state the previous
    work item left. Failures end the workflow as the SDK's own executor would.
    """
    executor._is_suspended = state.suspended
    executor._suspended_events = list(state.held)
    context.set_propagated_history(propagated_history)
    try:
        context._is_replaying = True
        for event in replayed:
            executor.process_event(context, event)
        context._is_replaying = False
        for event in new_events:
            executor.process_event(context, event)
    except sdk_worker.VersionNotRegisteredException:
        context.set_version_not_registered()
    except Exception as ex:  # noqa: BLE001 - as the SDK's executor: the workflow fails
        context.set_failed(ex)
    return ExecutionResults(
        actions=context.get_actions(),
        encoded_custom_status=context._encoded_custom_status,
        version_name=getattr(context, "_version_name", None),
        patches=context._encountered_patches,
    )


def failure_details(exc: BaseException) -> sdk_task.FailureDetails | None:
    """The engine's failure record when ``exc`` is a failed workflow task, else None."""
    return exc.details if isinstance(exc, sdk_task.TaskFailedError) else None


def workflow_name(events: Sequence[HistoryEvent]) -> str | None:
    """The orchestrator name from the history's executionStarted event."""
    for event in events:
        if event.HasField("executionStarted"):
            return str(event.executionStarted.name)
    return None


def parent_instance_id(events: Sequence[HistoryEvent]) -> str | None:
    """The parent's instance id from the history's executionStarted event (a child workflow's)."""
    event = execution_started(events)
    if event is None or not event.executionStarted.HasField("parentInstance"):
        return None
    parent = event.executionStarted.parentInstance
    # dapr 1.19 names the field workflowInstance; the 1.18 protocol names it orchestrationInstance.
    instance = getattr(parent, "workflowInstance", None) or getattr(parent, "orchestrationInstance", None)
    if instance is None:
        return None
    return str(instance.instanceId) or None


def detached(event: HistoryEvent) -> HistoryEvent:
    """A copy of ``event`` that does not keep the work item's whole request in memory."""
    copy = HistoryEvent()
    copy.CopyFrom(event)
    return copy


def execution_started(events: Sequence[HistoryEvent]) -> HistoryEvent | None:
    """The history's executionStarted event, if any."""
    for event in events:
        if event.HasField("executionStarted"):
            return event
    return None


def confirmations(results: ExecutionResults) -> tuple[tuple[int, str], ...] | None:
    """The ``(action id, event type)`` the engine records for each returned action, sorted.

    None when an action is not one the engine confirms with a scheduling event (the
    workflow completed, for instance).
    """
    confirmed = []
    for action in results.actions:
        kind = _CONFIRMED_AS.get(action.WhichOneof("workflowActionType") or "")
        if kind is None:
            return None
        confirmed.append((action.id, kind))
    return tuple(sorted(confirmed))


def confirmed(events: Sequence[HistoryEvent]) -> tuple[tuple[int, str], ...] | None:
    """``(action id, event type)`` of ``events``, sorted; None unless all are scheduling events."""
    found = []
    for event in events:
        kind = event.WhichOneof("eventType")
        if kind not in _SCHEDULING_EVENTS:
            return None
        found.append((event.eventId, kind))
    return tuple(sorted(found))


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
