"""The protocol's message modules, taken from the installed Dapr SDK.

The SDK registers its generated ``*_pb2`` files (no proto package) in the default
descriptor pool; loading a second copy in the same process fails, so the engine
reuses the SDK's own modules. Fields that differ between SDK releases are
feature-detected with :func:`has_field`.
"""

from __future__ import annotations

from google.protobuf.message import Message

from dapr.ext.workflow._durabletask.internal import history_events_pb2 as events
from dapr.ext.workflow._durabletask.internal import orchestration_pb2 as orchestration
from dapr.ext.workflow._durabletask.internal import orchestrator_actions_pb2 as actions
from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2 as service
from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2_grpc as service_grpc

__all__ = ["actions", "events", "has_field", "orchestration", "service", "service_grpc"]

PENDING = orchestration.ORCHESTRATION_STATUS_PENDING
RUNNING = orchestration.ORCHESTRATION_STATUS_RUNNING
COMPLETED = orchestration.ORCHESTRATION_STATUS_COMPLETED
CONTINUED_AS_NEW = orchestration.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
FAILED = orchestration.ORCHESTRATION_STATUS_FAILED
CANCELED = orchestration.ORCHESTRATION_STATUS_CANCELED
TERMINATED = orchestration.ORCHESTRATION_STATUS_TERMINATED
SUSPENDED = orchestration.ORCHESTRATION_STATUS_SUSPENDED
STALLED = orchestration.ORCHESTRATION_STATUS_STALLED

TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, TERMINATED, CANCELED})

CAPABILITY_HEALTH_PING = 3


def has_field(message_type: type[Message], name: str) -> bool:
    """Whether this SDK release's ``message_type`` defines field ``name``."""
    return name in message_type.DESCRIPTOR.fields_by_name
