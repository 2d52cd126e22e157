"""Human approval of tool calls: decisions travel as external events, pending calls as custom status.

A durable run that needs a person's decision on a tool call publishes the calls
it waits for in its workflow custom status and waits for one
:data:`APPROVAL_EVENT` per call. Any process can read the pending calls and
answer them by run id and call id, through :class:`DurableRuntime`
(``approve`` / ``reject`` / ``pending_approvals``) or by raising the event itself.
Both formats are persisted in history: tests pin them.

Example::

    runtime = get_runtime()
    for call in runtime.pending_approvals("refund-17"):
        runtime.approve("refund-17", call.call_id)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

APPROVAL_EVENT = "dapr_agents_durable.approval"
"""The external event carrying one decision (payload: :meth:`Decision.to_json`)."""

STATUS_KEY = "pending_approvals"
"""The key of the custom-status object listing the calls a run waits for."""


@dataclass(frozen=True)
class PendingApproval:
    """A tool call a run waits to have approved or rejected."""

    call_id: str
    tool: str
    agent: str
    arguments: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """A person's answer for one tool call.

    ``always`` extends it to the tool's later calls in the same run (the framework's
    "always approve/reject"); ``message`` is what a rejected call reports to the model.
    """

    call_id: str
    approved: bool
    always: bool = False
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Decision:
        """Read an event payload; anything malformed raises ``ValueError`` naming the problem."""
        if not isinstance(data, dict) or not isinstance(data.get("call_id"), str) or not data["call_id"]:
            raise ValueError(f"an approval event needs a non-empty 'call_id'; got {data!r}")
        if not isinstance(data.get("approved"), bool):
            raise ValueError(f"approval event for call {data['call_id']!r} needs 'approved': true or false")
        message = data.get("message")
        if message is not None and not isinstance(message, str):
            raise ValueError(f"approval event for call {data['call_id']!r}: 'message' must be a string")
        return cls(data["call_id"], data["approved"], bool(data.get("always", False)), message)


def encode_status(pending: list[PendingApproval]) -> str:
    """The custom status of a run waiting for ``pending`` (empty list: not waiting)."""
    return json.dumps({STATUS_KEY: [p.to_json() for p in pending]}, sort_keys=True)


def decode_status(custom_status: str | None) -> list[PendingApproval]:
    """The pending calls in a run's custom status (none when it holds anything else)."""
    if not custom_status:
        return []
    try:
        data = json.loads(custom_status)
    except ValueError:
        return []
    if not isinstance(data, dict) or not isinstance(data.get(STATUS_KEY), list):
        return []
    return [PendingApproval(**entry) for entry in data[STATUS_KEY] if isinstance(entry, dict)]
