"""What an operator sees of a run, read from its state and history.

Example::

    summary = summarize(runtime.state("refund-7"), runtime.raw_history("refund-7"))
    summary.steps     # completed activities
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow.workflow_state import WorkflowState

from dapr_agents_durable.operator.describe import describe_step, run_label
from dapr_agents_durable.loop.stalls import stall_of
from dapr_agents_durable.runtime.approvals import decode_status


@dataclass(frozen=True)
class RunSummary:
    """One line of ``runs list``."""

    run_id: str
    status: str
    framework: str
    workflow: str
    agent: str | None
    steps: int
    started: str
    duration: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Step:
    """An activity or child workflow of a run, as scheduled and (once finished) answered."""

    event_id: int
    kind: str  # "activity" or "child"
    name: str
    started: str
    status: str = "running"  # "running", "completed" or "failed"
    detail: str = ""
    error: str | None = None
    child_id: str | None = None
    child: Timeline | None = None
    input: Any = None

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("child", "input")}
        data["child"] = self.child.to_json() if self.child is not None else None
        return data


@dataclass
class Timeline:
    """``runs show``: a run's summary, its steps in order, pending approvals and failure."""

    summary: RunSummary
    steps: list[Step] = field(default_factory=list)
    pending: list[dict[str, str]] = field(default_factory=list)
    failure: dict[str, str | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.summary.to_json(), "timeline": [s.to_json() for s in self.steps],
                "pending_approvals": self.pending, "failure": self.failure}


def framework_of(workflow: str) -> str:
    """The framework a workflow name belongs to: its prefix before the first dot."""
    return workflow.split(".", 1)[0] if "." in workflow else ""


def summarize(state: WorkflowState, history: Sequence[pb.HistoryEvent], now: datetime | None = None) -> RunSummary:
    """The ``runs list`` line of a run."""
    created = _utc(state.created_at)
    status = state.runtime_status.name
    ended = _utc(state.last_updated_at) if status in ("COMPLETED", "FAILED", "TERMINATED") else None
    duration = ((ended or now or datetime.now(timezone.utc)) - created).total_seconds()
    steps = sum(1 for s in steps_of(history) if s.kind == "activity" and s.status == "completed")
    label = run_label(state.name, _json(state.serialized_input))
    return RunSummary(state.instance_id, status, framework_of(state.name), state.name, label, steps,
                      created.isoformat(timespec="seconds"), round(max(duration, 0.0), 3))


def timeline(
    state: WorkflowState, history: Sequence[pb.HistoryEvent],
    child: Callable[[str], Timeline | None] | None = None,
) -> Timeline:
    """The ``runs show`` view of a run; ``child(instance_id)`` builds a child workflow's own view."""
    steps = steps_of(history)
    if child is not None:
        for step in steps:
            if step.child_id:
                step.child = child(step.child_id)
    details = state.failure_details
    failure = None
    if details is not None:
        failure = {"error_type": details.error_type, "message": details.message, "stack_trace": details.stack_trace}
    pending = []
    if state.runtime_status.name not in ("COMPLETED", "FAILED", "TERMINATED"):
        pending = [p.to_json() for p in decode_status(state.serialized_custom_status)]
        if (stall := stall_of(state.serialized_custom_status)) is not None:  # held: its code changed under it
            failure = {"error_type": str(stall.get("error")), "stack_trace": None,
                       "message": f"held, not failed (its history is kept): {stall['message']}"}
    return Timeline(summarize(state, history), steps, pending, failure)


def steps_of(history: Sequence[pb.HistoryEvent]) -> list[Step]:
    """The run's activities and child workflows in the order they were scheduled."""
    steps: dict[int, Step] = {}
    for event in history:
        kind = event.WhichOneof("eventType")
        when = _utc(event.timestamp.ToDatetime()).isoformat(timespec="seconds")
        if kind == "taskScheduled":
            steps[event.eventId] = Step(event.eventId, "activity", event.taskScheduled.name, when,
                                        input=_json(event.taskScheduled.input.value))
        elif kind == "childWorkflowInstanceCreated":
            created = event.childWorkflowInstanceCreated
            steps[event.eventId] = Step(event.eventId, "child", created.name, when, child_id=created.instanceId,
                                        input=_json(created.input.value))
        elif kind in ("taskCompleted", "childWorkflowInstanceCompleted"):
            done = getattr(event, kind)
            step = steps.get(done.taskScheduledId)
            if step is not None:
                step.status = "completed"
                step.detail = describe_step(step.name, step.input, _json(done.result.value))
        elif kind in ("taskFailed", "childWorkflowInstanceFailed"):
            failed = getattr(event, kind)
            step = steps.get(failed.taskScheduledId)
            if step is not None:
                step.status = "failed"
                step.error = f"{failed.failureDetails.errorType}: {failed.failureDetails.errorMessage}"
    for step in steps.values():
        if step.status != "completed":  # what the input tells of a running or failed step
            step.detail = describe_step(step.name, step.input, None)
    return list(steps.values())


def event_line(event: pb.HistoryEvent) -> dict[str, Any]:
    """One history event as ``runs history`` prints it: id, type, timestamp and name."""
    kind = event.WhichOneof("eventType") or "unknown"
    payload = getattr(event, kind, None)
    name = getattr(payload, "name", "") if payload is not None else ""
    return {"event_id": event.eventId, "type": kind,
            "timestamp": _utc(event.timestamp.ToDatetime()).isoformat(timespec="milliseconds"), "name": name}


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
