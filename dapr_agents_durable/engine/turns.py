"""The rules of an instance's life: creation, committing a turn, completion, cascades.

Everything here runs inside one store transaction and records what else changed in
an :class:`Effects`. It mirrors the durabletask-go applier the Dapr sidecar uses:
actions become history events and side effects (activity tasks, timers, child
instances, messages to the parent) in a single atomic write.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

from dapr_agents_durable.engine import protos as pb
from dapr_agents_durable.engine.checks import InvalidArgument, timestamp_seconds
from dapr_agents_durable.engine.config import SENTINEL_TIMER_SECONDS, EngineConfig
from dapr_agents_durable.engine.effects import Effects
from dapr_agents_durable.engine.events import (
    HistoryEvent,
    failure,
    kind,
    new_event,
    seconds,
    string_value,
    timestamp,
)
from dapr_agents_durable.engine.store import InstanceRow, Store

# Inbox events that survive a continue-as-new into the next generation.
_CARRIED_KINDS = frozenset({"eventRaised", "executionTerminated", "executionSuspended", "executionResumed"})


class InstanceConflict(Exception):
    """An active instance already uses the requested id."""


@dataclass
class ParentInfo:
    """Where a child instance reports its completion."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str


def new_execution_id() -> str:
    return uuid.uuid4().hex


class Lifecycle:
    """Applies workflow semantics to the store for one transaction.

    Example::

        effects = Effects()
        with store.transaction():
            Lifecycle(store, config, effects).create("wf-1", "my_workflow", '"input"')
    """

    def __init__(self, store: Store, config: EngineConfig, effects: Effects) -> None:
        self.store = store
        self.config = config
        self.effects = effects

    # -- inbox -------------------------------------------------------------------------

    def deliver(self, instance_id: str, event: HistoryEvent, visible_at: float | None = None) -> None:
        """Queue ``event`` for the instance's next turn (at ``visible_at`` if given)."""
        self.store.add_inbox(instance_id, kind(event), event.SerializeToString(), visible_at)
        if visible_at is None or visible_at <= time.time():
            self.effects.ready.add(instance_id)
        else:
            self.effects.timers.append((visible_at, instance_id))

    # -- creation ----------------------------------------------------------------------

    def create(
        self,
        instance_id: str,
        name: str,
        input: str | None,
        *,
        parent: ParentInfo | None = None,
        scheduled_start: float | None = None,
        version: str | None = None,
        router: pb.orchestration.TaskRouter | None = None,
        incoming_history: bytes | None = None,
        enforce_unique: bool = False,
    ) -> InstanceRow:
        """Create (or re-create a terminal) instance and queue its ``executionStarted``."""
        existing = self.store.get_instance(instance_id)
        if existing is not None:
            if existing.status not in pb.TERMINAL_STATUSES:
                raise InstanceConflict(f"an active workflow with ID '{instance_id}' already exists")
            if enforce_unique:
                raise InstanceConflict(f"a workflow with ID '{instance_id}' already exists")
            self.store.wipe_instance_state(instance_id)
            self.effects.cancelled_activities.add(instance_id)
        now = time.time()
        inst = InstanceRow(
            instance_id=instance_id,
            name=name,
            status=pb.PENDING,
            execution_id=new_execution_id(),
            generation=(existing.generation + 1) if existing else 1,
            created_at=now,
            last_updated_at=now,
            scheduled_start=scheduled_start,
            input=input,
            parent_instance_id=parent.instance_id if parent else None,
            parent_execution_id=parent.execution_id if parent else None,
            parent_task_id=parent.task_id if parent else None,
            parent_name=parent.name if parent else None,
            start_router=router.SerializeToString() if router is not None else None,
            incoming_history=incoming_history,
            version_name=version,
        )
        self.store.put_instance(inst)
        self.deliver(instance_id, self._execution_started(inst, now), scheduled_start)
        self.effects.changed.add(instance_id)
        return inst

    def _execution_started(self, inst: InstanceRow, at: float) -> HistoryEvent:
        started = pb.events.ExecutionStartedEvent(
            name=inst.name,
            input=string_value(inst.input),
            workflowInstance=pb.orchestration.WorkflowInstance(
                instanceId=inst.instance_id, executionId=string_value(inst.execution_id)
            ),
        )
        if inst.version_name:
            started.version.value = inst.version_name
        if inst.scheduled_start is not None:
            started.scheduledStartTimestamp.CopyFrom(timestamp(inst.scheduled_start))
        if inst.parent_instance_id is not None:
            started.parentInstance.CopyFrom(
                pb.orchestration.ParentInstanceInfo(
                    taskScheduledId=inst.parent_task_id or 0,
                    name=string_value(inst.parent_name or ""),
                    workflowInstance=pb.orchestration.WorkflowInstance(
                        instanceId=inst.parent_instance_id,
                        executionId=string_value(inst.parent_execution_id or ""),
                    ),
                    appID=self.config.app_id,
                )
            )
        event = new_event(at, executionStarted=started)
        if inst.start_router is not None:
            event.router.CopyFrom(pb.orchestration.TaskRouter.FromString(inst.start_router))
        return event

    # -- turn commit -------------------------------------------------------------------

    def commit_turn(
        self,
        inst: InstanceRow,
        new_events: list[HistoryEvent],
        inbox_ids: list[int],
        response: pb.service.WorkflowResponse,
    ) -> None:
        """Apply a worker's answer to a dispatched turn."""
        if inst.status in pb.TERMINAL_STATUSES:
            self.store.delete_inbox_rows(inbox_ids)
            return
        started = new_events[0]
        current = list(response.version.patches) if response.HasField("version") else []
        recorded = inst.patches
        if recorded and current[: len(recorded)] != recorded and not _is_sdk_failure(response):
            self.stall(
                inst,
                pb.orchestration.PATCH_MISMATCH,
                f"Patch mismatch. History patches: {recorded}, current patches: {current}",
            )
            return
        if response.HasField("version") and (response.version.name or response.version.patches):
            new_patches = list((Counter(current) - Counter(recorded)).elements())
            started.workflowStarted.version.CopyFrom(
                pb.orchestration.WorkflowVersion(name=response.version.name, patches=new_patches)
            )
            inst.patches = recorded + new_patches
        if any(a.WhichOneof("workflowActionType") == "workflowVersionNotAvailable" for a in response.actions):
            self.stall(
                inst,
                pb.orchestration.VERSION_NOT_AVAILABLE,
                f"Version not available: {self._recorded_version_name(inst, new_events)}",
            )
            return

        now = time.time()
        appended: list[HistoryEvent] = []
        terminate: pb.events.ExecutionTerminatedEvent | None = None
        for event in new_events:
            event_kind = kind(event)
            if event_kind == "executionStarted":
                inst.status = pb.RUNNING
                inst.started_at = seconds(event.timestamp)
            elif event_kind == "executionSuspended":
                inst.suspended = True
            elif event_kind == "executionResumed":
                inst.suspended = False
            elif event_kind == "executionTerminated" and terminate is None:
                terminate = event.executionTerminated
            appended.append(event)
        inst.stall = None
        inst.status = pb.SUSPENDED if inst.suspended else pb.RUNNING

        completion: pb.actions.CompleteWorkflowAction | None = None
        completion_id = -1
        for action in response.actions:
            action_type = action.WhichOneof("workflowActionType")
            if action_type == "completeWorkflow":
                completion, completion_id = action.completeWorkflow, action.id
                break
            appended.extend(self._apply_action(inst, action, appended, now))

        self.store.delete_inbox_rows(inbox_ids)
        inst.custom_status = response.customStatus.value if response.HasField("customStatus") else None

        if completion is not None and completion.workflowStatus == pb.CONTINUED_AS_NEW and terminate is None:
            self._continue_as_new(inst, completion, now)
            return
        if terminate is not None and (completion is None or completion.workflowStatus != pb.TERMINATED):
            completion = pb.actions.CompleteWorkflowAction(
                workflowStatus=pb.TERMINATED, result=terminate.input if terminate.HasField("input") else None
            )
        if completion is not None:
            appended.append(
                new_event(
                    now,
                    completion_id,
                    executionCompleted=pb.events.ExecutionCompletedEvent(
                        workflowStatus=completion.workflowStatus,
                        result=completion.result if completion.HasField("result") else None,
                        failureDetails=completion.failureDetails if completion.HasField("failureDetails") else None,
                    ),
                )
            )
        self._append(inst, appended, now)
        if completion is not None:
            self._complete(inst, completion, now, recurse=bool(terminate and terminate.recurse), terminate=terminate)
        self.store.put_instance(inst)
        self.effects.changed.add(inst.instance_id)

    def _recorded_version_name(self, inst: InstanceRow, new_events: list[HistoryEvent]) -> str:
        first = self.store.history(inst.instance_id)[:1]
        event = HistoryEvent.FromString(first[0]) if first else new_events[0]
        return event.workflowStarted.version.name if kind(event) == "workflowStarted" else ""

    def _append(self, inst: InstanceRow, appended: list[HistoryEvent], now: float) -> None:
        blobs = [e.SerializeToString() for e in appended]
        self.store.append_history(inst.instance_id, inst.history_len, blobs)
        inst.history_len += len(blobs)
        inst.history_bytes += sum(len(b) for b in blobs)
        inst.last_updated_at = now

    def _router(self, action: pb.actions.WorkflowAction) -> pb.orchestration.TaskRouter:
        router = pb.orchestration.TaskRouter()
        if action.HasField("router"):
            router.CopyFrom(action.router)
        router.sourceAppID = self.config.app_id
        return router

    def _is_remote(self, router: pb.orchestration.TaskRouter) -> bool:
        return router.HasField("targetAppID") and router.targetAppID not in ("", self.config.app_id)

    def _apply_action(
        self, inst: InstanceRow, action: pb.actions.WorkflowAction, appended: list[HistoryEvent], now: float
    ) -> list[HistoryEvent]:
        action_type = action.WhichOneof("workflowActionType")
        if action_type == "scheduleTask":
            return [self._schedule_task(inst, action, appended, now)]
        if action_type == "createTimer":
            return [self._create_timer(inst, action, now)]
        if action_type == "createChildWorkflow":
            return [self._create_child(inst, action, appended, now)]
        raise UnsupportedAction(
            f"workflow '{inst.name}' (instance '{inst.instance_id}') returned a '{action_type}' action, "
            "which the embedded engine does not support (the Dapr Python SDK never sends it)"
        )

    def _schedule_task(
        self, inst: InstanceRow, action: pb.actions.WorkflowAction, appended: list[HistoryEvent], now: float
    ) -> HistoryEvent:
        task = action.scheduleTask
        router = self._router(action)
        event = new_event(
            now,
            action.id,
            taskScheduled=pb.events.TaskScheduledEvent(
                name=task.name,
                version=task.version if task.HasField("version") else None,
                input=task.input if task.HasField("input") else None,
                taskExecutionId=task.taskExecutionId,
                historyPropagationScope=task.historyPropagationScope,
            ),
            router=router,
        )
        if self._is_remote(router):
            self.deliver(
                inst.instance_id,
                new_event(
                    now,
                    taskFailed=pb.events.TaskFailedEvent(
                        taskScheduledId=action.id,
                        taskExecutionId=task.taskExecutionId,
                        failureDetails=failure(
                            "AppNotFound",
                            f"activity '{task.name}' targets app '{router.targetAppID}', but the embedded "
                            f"engine only serves app '{self.config.app_id}'; run under a Dapr sidecar for "
                            "multi-app workflows",
                        ),
                    ),
                ),
            )
            return event
        self.enqueue_activity(inst, event, appended + [event])
        return event

    def enqueue_activity(self, inst: InstanceRow, scheduled: HistoryEvent, history_so_far: list[HistoryEvent]) -> None:
        """Queue the activity task of a ``taskScheduled`` event for a worker."""
        task = scheduled.taskScheduled
        request = pb.service.ActivityRequest(
            name=task.name,
            version=task.version if task.HasField("version") else None,
            input=task.input if task.HasField("input") else None,
            workflowInstance=pb.orchestration.WorkflowInstance(
                instanceId=inst.instance_id, executionId=string_value(inst.execution_id)
            ),
            taskId=scheduled.eventId,
            taskExecutionId=task.taskExecutionId,
        )
        if task.historyPropagationScope != pb.orchestration.HISTORY_PROPAGATION_SCOPE_NONE:
            request.propagatedHistory.CopyFrom(
                self._propagated_history(inst, task.historyPropagationScope, history_so_far)
            )
        activity_id = self.store.add_activity(
            inst.instance_id, inst.execution_id, scheduled.eventId, request.SerializeToString()
        )
        if activity_id:
            self.effects.activities.append(activity_id)

    def _propagated_history(
        self,
        inst: InstanceRow,
        scope: pb.orchestration.HistoryPropagationScope.ValueType,
        pending: list[HistoryEvent],
    ) -> pb.events.PropagatedHistory:
        history = pb.events.PropagatedHistory(scope=scope)
        if scope == pb.orchestration.HISTORY_PROPAGATION_SCOPE_LINEAGE and inst.incoming_history:
            history.chunks.extend(pb.events.PropagatedHistory.FromString(inst.incoming_history).chunks)
        raw = self.store.history(inst.instance_id) + [e.SerializeToString() for e in pending]
        history.chunks.append(
            pb.events.PropagatedHistoryChunk(
                appId=self.config.app_id, instanceId=inst.instance_id, workflowName=inst.name, rawEvents=raw
            )
        )
        return history

    def _create_timer(self, inst: InstanceRow, action: pb.actions.WorkflowAction, now: float) -> HistoryEvent:
        timer = action.createTimer
        created = pb.events.TimerCreatedEvent(fireAt=timer.fireAt)
        if timer.HasField("name"):
            created.name = timer.name
        origin = timer.WhichOneof("origin")
        if origin:
            getattr(created, origin).CopyFrom(getattr(timer, origin))
        event = new_event(now, action.id, timerCreated=created)
        if action.HasField("router"):
            event.router.CopyFrom(self._router(action))
        try:
            fire_at = timestamp_seconds("createTimer.fireAt", timer.fireAt)
        except InvalidArgument as exc:
            raise InvalidAction(f"workflow '{inst.name}' (instance '{inst.instance_id}'): {exc}") from None
        if timer.fireAt.seconds < SENTINEL_TIMER_SECONDS:
            fired = new_event(
                now, timerFired=pb.events.TimerFiredEvent(fireAt=timer.fireAt, timerId=action.id)
            )
            self.deliver(inst.instance_id, fired, max(fire_at, now))
        return event

    def _create_child(
        self, inst: InstanceRow, action: pb.actions.WorkflowAction, appended: list[HistoryEvent], now: float
    ) -> HistoryEvent:
        child = action.createChildWorkflow
        child_id = child.instanceId or f"{inst.instance_id}:{action.id:04x}"
        router = self._router(action)
        event = new_event(
            now,
            action.id,
            childWorkflowInstanceCreated=pb.events.ChildWorkflowInstanceCreatedEvent(
                instanceId=child_id,
                name=child.name,
                version=child.version if child.HasField("version") else None,
                input=child.input if child.HasField("input") else None,
                historyPropagationScope=child.historyPropagationScope,
            ),
            router=router,
        )
        problem: str | None = None
        if self._is_remote(router):
            problem = (
                f"child workflow '{child.name}' targets app '{router.targetAppID}', but the embedded engine "
                f"only serves app '{self.config.app_id}'; run under a Dapr sidecar for multi-app workflows"
            )
        else:
            existing = self.store.get_instance(child_id)
            if (
                existing is not None
                and existing.status not in pb.TERMINAL_STATUSES
                and not (
                    existing.parent_instance_id == inst.instance_id
                    and existing.parent_execution_id == inst.execution_id
                    and existing.parent_task_id == action.id
                )
            ):
                problem = f"an active workflow with ID '{child_id}' already exists"
            elif existing is None or existing.status in pb.TERMINAL_STATUSES:
                incoming = None
                if child.historyPropagationScope != pb.orchestration.HISTORY_PROPAGATION_SCOPE_NONE:
                    incoming = self._propagated_history(
                        inst, child.historyPropagationScope, appended + [event]
                    ).SerializeToString()
                self.create(
                    child_id,
                    child.name,
                    child.input.value if child.HasField("input") else None,
                    parent=ParentInfo(inst.instance_id, inst.execution_id, action.id, inst.name),
                    version=child.version.value if child.HasField("version") else None,
                    router=pb.orchestration.TaskRouter(sourceAppID=self.config.app_id),
                    incoming_history=incoming,
                )
            self.store.add_child(inst.instance_id, child_id)
        if problem is not None:
            self.deliver(
                inst.instance_id,
                new_event(
                    now,
                    childWorkflowInstanceFailed=pb.events.ChildWorkflowInstanceFailedEvent(
                        taskScheduledId=action.id, failureDetails=failure("ChildWorkflowRejected", problem)
                    ),
                ),
            )
        return event

    # -- completion --------------------------------------------------------------------

    def _complete(
        self,
        inst: InstanceRow,
        completion: pb.actions.CompleteWorkflowAction,
        now: float,
        *,
        recurse: bool,
        terminate: pb.events.ExecutionTerminatedEvent | None,
    ) -> None:
        inst.status = completion.workflowStatus
        inst.suspended = False
        inst.completed_at = now
        inst.output = completion.result.value if completion.HasField("result") else None
        inst.failure_details = (
            completion.failureDetails.SerializeToString() if completion.HasField("failureDetails") else None
        )
        self.store.delete_inbox(inst.instance_id)
        self.store.delete_activities(inst.instance_id)
        self.effects.cancelled_activities.add(inst.instance_id)
        if recurse and terminate is not None:
            for child_id in self.store.children(inst.instance_id):
                self.terminate(child_id, terminate.input.value if terminate.HasField("input") else None, True)
        self._notify_parent(inst, completion, now)

    def _notify_parent(self, inst: InstanceRow, completion: pb.actions.CompleteWorkflowAction, now: float) -> None:
        if inst.parent_instance_id is None:
            return
        parent = self.store.get_instance(inst.parent_instance_id)
        if (
            parent is None
            or parent.execution_id != inst.parent_execution_id
            or parent.status in pb.TERMINAL_STATUSES
        ):
            return
        task_id = inst.parent_task_id or 0
        if completion.workflowStatus == pb.COMPLETED:
            event = new_event(
                now,
                childWorkflowInstanceCompleted=pb.events.ChildWorkflowInstanceCompletedEvent(
                    taskScheduledId=task_id, result=completion.result if completion.HasField("result") else None
                ),
            )
        else:
            details = completion.failureDetails if completion.HasField("failureDetails") else None
            if details is None and completion.workflowStatus == pb.TERMINATED:
                details = failure("WorkflowTerminated", f"child workflow '{inst.instance_id}' was terminated")
            event = new_event(
                now,
                childWorkflowInstanceFailed=pb.events.ChildWorkflowInstanceFailedEvent(
                    taskScheduledId=task_id, failureDetails=details
                ),
            )
        event.router.CopyFrom(pb.orchestration.TaskRouter(sourceAppID=self.config.app_id))
        self.deliver(parent.instance_id, event)

    def _continue_as_new(
        self, inst: InstanceRow, completion: pb.actions.CompleteWorkflowAction, now: float
    ) -> None:
        kept = [
            HistoryEvent.FromString(row.event)
            for row in self.store.inbox(inst.instance_id)
            if row.kind in _CARRIED_KINDS
        ]
        self.store.wipe_instance_state(inst.instance_id)
        self.effects.cancelled_activities.add(inst.instance_id)
        inst.execution_id = new_execution_id()
        inst.generation += 1
        inst.input = completion.result.value if completion.HasField("result") else None
        inst.history_len = 0
        inst.history_bytes = 0
        inst.patches = []
        inst.custom_status = None
        inst.last_updated_at = now
        inst.suspended = False
        inst.status = pb.RUNNING
        self.store.put_instance(inst)
        self.deliver(inst.instance_id, self._execution_started(inst, now))
        for carried in completion.carryoverEvents:
            self.deliver(inst.instance_id, carried)
        for event in kept:
            self.deliver(inst.instance_id, event)
        self.effects.changed.add(inst.instance_id)

    def stall(self, inst: InstanceRow, reason: pb.orchestration.StalledReason.ValueType, description: str) -> None:
        """Hold the instance (its inbox stays) until a new worker or engine restart retries it."""
        stalled = pb.events.ExecutionStalledEvent(reason=reason, description=description)
        blob = stalled.SerializeToString()
        if inst.stall != blob:
            self._append(inst, [new_event(time.time(), executionStalled=stalled)], time.time())
            inst.stall = blob
        inst.status = pb.STALLED
        self.store.put_instance(inst)
        self.effects.changed.add(inst.instance_id)

    # -- external requests -------------------------------------------------------------

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> bool:
        """Queue a termination; False if the instance does not exist."""
        inst = self.store.get_instance(instance_id)
        if inst is None:
            return False
        if inst.status in pb.TERMINAL_STATUSES:
            return True
        if inst.status == pb.PENDING:
            self.store.make_visible(instance_id, "executionStarted")
        self.deliver(
            instance_id,
            new_event(
                executionTerminated=pb.events.ExecutionTerminatedEvent(input=string_value(output), recurse=recursive)
            ),
        )
        return True


def _is_sdk_failure(response: pb.service.WorkflowResponse) -> bool:
    """The SDK's answer when it could not run the workflow at all (no replay, so no patches)."""
    return (
        len(response.actions) == 1
        and response.actions[0].id == -1
        and response.actions[0].WhichOneof("workflowActionType") == "completeWorkflow"
        and response.actions[0].completeWorkflow.workflowStatus == pb.FAILED
    )


class UnsupportedAction(Exception):
    """A worker answered with an action type the engine does not implement."""


class InvalidAction(UnsupportedAction):
    """A worker answered with an action whose fields are out of range."""
