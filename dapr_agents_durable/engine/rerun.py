"""``RerunWorkflowFromEvent``: a new instance that replays a finished one up to an event.

The new instance keeps the source's history before the chosen event; the event
itself, and every activity, timer or child still unresolved before it, is issued
again (activities dispatched, children created, timers fired at once), so only
that part of the work runs a second time.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from dapr_agents_durable.engine import protos as pb
from dapr_agents_durable.engine.events import HistoryEvent, kind, new_event, string_value
from dapr_agents_durable.engine.store import InstanceRow
from dapr_agents_durable.engine.turns import Lifecycle, ParentInfo, new_execution_id

_RERUNNABLE = ("taskScheduled", "timerCreated", "childWorkflowInstanceCreated")
_RESOLVES = {
    "taskCompleted": "taskScheduledId",
    "taskFailed": "taskScheduledId",
    "timerFired": "timerId",
    "childWorkflowInstanceCompleted": "taskScheduledId",
    "childWorkflowInstanceFailed": "taskScheduledId",
}


class RerunRejected(Exception):
    """The rerun request cannot be honoured; ``code`` names the gRPC status."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RerunRequest:
    source_id: str
    event_id: int
    new_id: str | None
    input: str | None
    overwrite_input: bool
    new_child_id: str | None


def rerun(life: Lifecycle, request: RerunRequest) -> str:
    """Create the rerun instance inside the caller's transaction; returns its id."""
    store = life.store
    source = store.get_instance(request.source_id)
    if source is None:
        raise RerunRejected("NOT_FOUND", f"workflow instance '{request.source_id}' not found")
    if source.status not in pb.TERMINAL_STATUSES:
        raise RerunRejected("INVALID_ARGUMENT", f"'{request.source_id}' is not in a terminal state")
    if source.parent_instance_id is not None:
        raise RerunRejected("INVALID_ARGUMENT", "cannot rerun from child-workflows")
    new_id = request.new_id or uuid.uuid4().hex
    if new_id == request.source_id:
        raise RerunRejected("INVALID_ARGUMENT", "the new instance id must differ from the source instance id")
    if store.get_instance(new_id) is not None:
        raise RerunRejected("ALREADY_EXISTS", f"a workflow with ID '{new_id}' already exists")

    history = [HistoryEvent.FromString(b) for b in store.history(request.source_id)]
    target_index = next(
        (i for i, e in enumerate(history) if kind(e) in _RERUNNABLE and e.eventId == request.event_id), None
    )
    if target_index is None:
        raise RerunRejected(
            "NOT_FOUND", f"event {request.event_id} of '{request.source_id}' is not an event that can be rerun"
        )
    target = history[target_index]
    target_kind = kind(target)
    if request.overwrite_input and target_kind == "timerCreated":
        raise RerunRejected("INVALID_ARGUMENT", "a timer has no input to overwrite")
    if request.new_child_id is not None and target_kind != "childWorkflowInstanceCreated":
        raise RerunRejected("INVALID_ARGUMENT", "a new child instance id applies only to a child workflow event")

    kept = history[:target_index] + [target]
    resolved = {
        getattr(getattr(e, kind(e)), _RESOLVES[kind(e)]) for e in kept if kind(e) in _RESOLVES
    }
    now = time.time()
    inst = InstanceRow(
        instance_id=new_id,
        name=source.name,
        status=pb.RUNNING,
        execution_id=new_execution_id(),
        generation=1,
        created_at=now,
        last_updated_at=now,
        started_at=now,
        input=source.input,
        incoming_history=source.incoming_history,
        version_name=source.version_name,
        patches=list(source.patches),
    )
    for event in kept:
        event_kind = kind(event)
        if event_kind == "executionStarted":
            started = event.executionStarted
            started.workflowInstance.instanceId = new_id
            started.workflowInstance.executionId.value = inst.execution_id
        elif event_kind in _RERUNNABLE and (event is target or event.eventId not in resolved):
            _prepare_reissue(event, event is target, request, new_id)
    blobs = [e.SerializeToString() for e in kept]
    store.append_history(new_id, 0, blobs)
    inst.history_len = len(blobs)
    inst.history_bytes = sum(len(b) for b in blobs)
    store.put_instance(inst)

    for event in kept:
        event_kind = kind(event)
        if event_kind not in _RERUNNABLE or (event is not target and event.eventId in resolved):
            continue
        if event_kind == "taskScheduled":
            life.enqueue_activity(inst, event, [])
        elif event_kind == "timerCreated":
            life.deliver(
                new_id,
                new_event(now, timerFired=pb.events.TimerFiredEvent(fireAt=event.timerCreated.fireAt, timerId=event.eventId)),
            )
        else:
            child = event.childWorkflowInstanceCreated
            life.create(
                child.instanceId,
                child.name,
                child.input.value if child.HasField("input") else None,
                parent=ParentInfo(new_id, inst.execution_id, event.eventId, inst.name),
                router=pb.orchestration.TaskRouter(sourceAppID=life.config.app_id),
            )
            store.add_child(new_id, child.instanceId)
    life.effects.changed.add(new_id)
    return new_id


def _prepare_reissue(event: HistoryEvent, is_target: bool, request: RerunRequest, new_id: str) -> None:
    payload = getattr(event, kind(event))
    if is_target:
        payload.rerunParentInstanceInfo.instanceID = request.source_id
        if request.overwrite_input:
            if request.input is None:
                payload.ClearField("input")
            else:
                payload.input.CopyFrom(string_value(request.input))
    if kind(event) == "childWorkflowInstanceCreated":
        chosen = request.new_child_id if is_target and request.new_child_id else None
        payload.instanceId = chosen or f"{new_id}:{event.eventId:04x}"
