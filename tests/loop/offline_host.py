"""An offline workflow host: the SDK's real orchestrator executor, fed history by hand.

Workflows and activities register through a real ``WorkflowRuntime`` (no sidecar is
needed to build one). Each work item is executed by the SDK's own
``_OrchestrationExecutor`` with the instance's history so far plus the new events, so
every work item replays the orchestrator from scratch, exactly as under a sidecar.
Activities run in-process with the SDK's ``_ActivityExecutor`` as soon as they are
scheduled; child workflows run to completion on this host; timers fire on a simulated
clock once nothing else is outstanding; external events are delivered when the
workflow waits for them. Completions are delivered first-in-first-out, last-in-first-out
or all at once ("batch"). Work items run on the calling thread, or round-robin on
``threads`` worker threads of the host's own (as on the SDK's orchestration pool).

Example::

    host = OfflineHost(order="lifo")

    @host.activity("double")
    def double(ctx, x):
        return 2 * x

    @host.workflow("wf")
    def wf(ctx, x):
        return (yield from drive(ctx, lambda: main(x)))

    result = host.run("wf", 21)
    assert result.output == 42
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from dapr.ext.workflow import WorkflowRuntime
from dapr.ext.workflow._durabletask import worker as sdk_worker
from dapr.ext.workflow._durabletask.internal import helpers as ph
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal import shared

from dapr_agents_durable.loop import warm
from dapr_agents_durable.loop.stalls import stall_of

Order = Literal["fifo", "lifo", "batch"]

_log = logging.getLogger("tests.loop.offline_host")


NO_EVENT = object()
"""In an ``events`` list: let that wait go without an event."""


class HostStuck(AssertionError):
    """The workflow waits, but nothing it waits for can ever be delivered."""


@dataclass
class RunResult:
    """How one workflow instance ended on the offline host (HELD: its code no longer fits its history)."""

    instance_id: str
    status: str
    output: Any
    failure_type: str | None
    failure_message: str | None
    work_items: int
    history: list[pb.HistoryEvent] = field(repr=False)


@dataclass
class _Completion:
    """A history event waiting to be delivered in a later work item."""

    event: pb.HistoryEvent
    fire_at: datetime | None = None


class OfflineHost:
    """Runs registered workflows to completion without a sidecar."""

    def __init__(
        self,
        *,
        order: Order = "fifo",
        start: datetime = datetime(2030, 1, 1),
        threads: int = 0,
    ) -> None:
        self.order = order
        self.clock = start
        self.runtime = WorkflowRuntime()
        self._registry = self.runtime._WorkflowRuntime__worker._registry  # type: ignore[attr-defined]
        self.activity_calls: list[tuple[str, Any]] = []
        self.results: dict[str, RunResult] = {}
        self._workers = [ThreadPoolExecutor(max_workers=1) for _ in range(threads)]
        self._executed = 0

    def close(self) -> None:
        """Let each worker thread tear down what only it can, then stop the threads."""
        for worker in self._workers:
            worker.submit(warm.tear_down_leftovers).result()
            worker.shutdown()

    def workflow(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a workflow under ``name`` (decorator)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.runtime.register_workflow(fn, name=name)
            return fn

        return register

    def activity(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register an activity under ``name`` (decorator)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.runtime.register_activity(fn, name=name)
            return fn

        return register

    def calls_of(self, name: str) -> list[Any]:
        """Inputs of every execution of activity ``name``, in order."""
        return [value for called, value in self.activity_calls if called == name]

    def run(
        self,
        name: str,
        input: Any = None,
        *,
        instance_id: str = "wf-1",
        events: dict[str, list[Any]] | None = None,
        early_events: list[tuple[str, Any]] | None = None,
        max_work_items: int = 300,
    ) -> RunResult:
        """Run workflow ``name`` to its end.

        ``events`` maps an event name to payloads delivered, one per wait, when the
        workflow waits for that event (``NO_EVENT`` skips a wait); ``early_events`` are raised with the start, before
        any wait.
        """
        queues = {
            key.casefold(): list(values) for key, values in (events or {}).items()
        }
        history: list[pb.HistoryEvent] = []
        new_events = [
            ph.new_workflow_started_event(self.clock),
            ph.new_execution_started_event(name, instance_id, _encode(input)),
            *(
                ph.new_event_raised_event(event, _encode(value))
                for event, value in early_events or []
            ),
        ]
        outstanding: list[_Completion] = []
        for work_item in range(1, max_work_items + 1):
            results = self._execute(instance_id, history, new_events)
            history.extend(new_events)
            for action in results.actions:
                if action.HasField("completeWorkflow"):
                    return self._finish(
                        instance_id, action.completeWorkflow, work_item, history
                    )
                history.append(self._confirm(instance_id, action, outstanding, queues))
            stall = stall_of(results.encoded_custom_status)
            if stall is not None and not results.actions:  # held: code and history disagree
                return self._record(RunResult(instance_id, "HELD", None, stall["error"], stall["message"],
                                              work_item, history))
            delivered = self._pick(outstanding)
            if not delivered:
                raise HostStuck(
                    f"{instance_id}: waiting after {work_item} work item(s) with nothing to deliver"
                )
            self.clock += timedelta(seconds=1)
            for completion in delivered:
                if completion.fire_at is not None:
                    self.clock = max(self.clock, completion.fire_at)
            new_events = [ph.new_workflow_started_event(self.clock)]
            new_events.extend(completion.event for completion in delivered)
        raise HostStuck(f"{instance_id}: no end after {max_work_items} work items")

    def _execute(
        self,
        instance_id: str,
        history: list[pb.HistoryEvent],
        new_events: list[pb.HistoryEvent],
    ) -> sdk_worker.ExecutionResults:
        """One work item on the SDK's executor, on this thread or the next worker thread."""
        executor = sdk_worker._OrchestrationExecutor(self._registry, _log)
        if not self._workers:
            return executor.execute(instance_id, history, new_events)
        worker = self._workers[self._executed % len(self._workers)]
        self._executed += 1
        return worker.submit(
            executor.execute, instance_id, list(history), new_events
        ).result()

    def _confirm(
        self,
        instance_id: str,
        action: pb.WorkflowAction,
        outstanding: list[_Completion],
        queues: dict[str, list[Any]],
    ) -> pb.HistoryEvent:
        """Record an action in history and queue its eventual completion."""
        if action.HasField("scheduleTask"):
            scheduled = action.scheduleTask
            outstanding.append(
                _Completion(self._run_activity(instance_id, action.id, scheduled))
            )
            return ph.new_task_scheduled_event(
                action.id, scheduled.name, _value(scheduled.input)
            )
        if action.HasField("createChildWorkflow"):
            child = action.createChildWorkflow
            outstanding.append(_Completion(self._run_child(action.id, child)))
            return ph.new_child_workflow_created_event(
                action.id, child.name, child.instanceId, _value(child.input)
            )
        if action.HasField("createTimer"):
            timer = action.createTimer
            origin_field = timer.WhichOneof("origin")
            origin = getattr(timer, origin_field) if origin_field else None
            created = ph.new_timer_created_event(action.id, timer.fireAt, origin)
            if origin_field == "externalEvent" and queues.get(
                timer.externalEvent.name.casefold()
            ):
                payload = queues[timer.externalEvent.name.casefold()].pop(0)
                if payload is not NO_EVENT:
                    event = ph.new_event_raised_event(
                        timer.externalEvent.name, _encode(payload)
                    )
                    outstanding.append(_Completion(event))
            if not ph.is_optional_timer_action(action):
                fire_at = timer.fireAt.ToDatetime()
                fired = ph.new_timer_fired_event(action.id, timer.fireAt)
                outstanding.append(_Completion(fired, fire_at=fire_at))
            return created
        raise AssertionError(f"unexpected action {action}")

    def _run_activity(
        self, instance_id: str, task_id: int, scheduled: pb.ScheduleTaskAction
    ) -> pb.HistoryEvent:
        fn = self._registry.get_activity(scheduled.name)
        encoded_input = _value(scheduled.input)
        self.activity_calls.append((scheduled.name, _decode(encoded_input)))
        executor = sdk_worker._ActivityExecutor(_log)
        try:
            if inspect.iscoroutinefunction(fn):
                output = asyncio.run(
                    executor.execute_async(
                        fn, instance_id, scheduled.name, task_id, encoded_input
                    )
                )
            else:
                output = executor.execute(
                    fn, instance_id, scheduled.name, task_id, encoded_input
                )
        except Exception as exc:  # noqa: BLE001 - any activity failure is recorded
            return ph.new_task_failed_event(task_id, exc)
        return ph.new_task_completed_event(task_id, output)

    def _run_child(
        self, task_id: int, child: pb.CreateChildWorkflowAction
    ) -> pb.HistoryEvent:
        result = self.run(
            child.name, _decode(_value(child.input)), instance_id=child.instanceId
        )
        if result.status == "COMPLETED":
            return ph.new_child_workflow_completed_event(
                task_id, _encode(result.output)
            )
        return pb.HistoryEvent(
            eventId=-1,
            childWorkflowInstanceFailed=pb.ChildWorkflowInstanceFailedEvent(
                taskScheduledId=task_id,
                failureDetails=pb.TaskFailureDetails(
                    errorType=result.failure_type or "",
                    errorMessage=result.failure_message or "",
                ),
            ),
        )

    def _pick(self, outstanding: list[_Completion]) -> list[_Completion]:
        """Take the completions for the next work item, following the delivery order."""
        ready = [completion for completion in outstanding if completion.fire_at is None]
        if ready:
            chosen = {"fifo": ready[:1], "lifo": ready[-1:], "batch": ready}[self.order]
        else:
            timers = [
                completion
                for completion in outstanding
                if completion.fire_at is not None
            ]
            if not timers:
                return []
            earliest = min(completion.fire_at for completion in timers)  # type: ignore[type-var]
            due = [
                completion for completion in timers if completion.fire_at == earliest
            ]
            chosen = due if self.order == "batch" else due[:1]
        for completion in chosen:
            outstanding.remove(completion)
        return chosen

    def _finish(
        self,
        instance_id: str,
        complete: pb.CompleteWorkflowAction,
        work_items: int,
        history: list[pb.HistoryEvent],
    ) -> RunResult:
        status = pb.OrchestrationStatus.Name(complete.workflowStatus).removeprefix(
            "ORCHESTRATION_STATUS_"
        )
        failed = complete.HasField("failureDetails")
        result = RunResult(
            instance_id=instance_id,
            status=status,
            output=_decode(_value(complete.result)),
            failure_type=complete.failureDetails.errorType if failed else None,
            failure_message=complete.failureDetails.errorMessage if failed else None,
            work_items=work_items,
            history=history,
        )
        return self._record(result)

    def _record(self, result: RunResult) -> RunResult:
        self.results[result.instance_id] = result
        return result


def _value(wrapped: Any) -> str | None:
    return wrapped.value if wrapped is not None and wrapped.value != "" else None


def _encode(value: Any) -> str | None:
    return None if value is None else shared.to_json(value)


def _decode(encoded: str | None) -> Any:
    return None if encoded is None else shared.from_json(encoded)
