"""Constructors for the history events the engine writes."""

from __future__ import annotations

import time
from typing import Any

from google.protobuf import timestamp_pb2, wrappers_pb2

from dapr_agents_durable.engine.protos import events, orchestration

HistoryEvent = events.HistoryEvent


def timestamp(at: float | None = None) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp for ``at`` (seconds since the epoch; now if None)."""
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int((time.time() if at is None else at) * 1e9))
    return ts


def seconds(ts: timestamp_pb2.Timestamp) -> float:
    """Seconds since the epoch of a protobuf timestamp."""
    return ts.seconds + ts.nanos / 1e9


def string_value(value: str | None) -> wrappers_pb2.StringValue | None:
    return None if value is None else wrappers_pb2.StringValue(value=value)


def new_event(at: float | None = None, event_id: int = -1, **payload: Any) -> HistoryEvent:
    """A ``HistoryEvent`` with one payload field set, e.g. ``new_event(eventRaised=...)``."""
    return HistoryEvent(eventId=event_id, timestamp=timestamp(at), **payload)


def workflow_started(at: float) -> HistoryEvent:
    return new_event(at, workflowStarted=events.WorkflowStartedEvent())


def failure(error_type: str, message: str) -> orchestration.TaskFailureDetails:
    return orchestration.TaskFailureDetails(errorType=error_type, errorMessage=message)


def kind(event: HistoryEvent) -> str:
    """The name of the event's payload field (``taskCompleted``, ``eventRaised``, ...)."""
    return event.WhichOneof("eventType") or ""
