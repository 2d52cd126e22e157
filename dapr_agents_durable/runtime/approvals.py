"""Human approval of tool calls: decisions travel as external events, pending calls as custom status.

A durable run that needs a person's decision on a tool call publishes the calls
it waits for in its workflow custom status and waits for one
:data:`APPROVAL_EVENT` per call. Any process can read the pending calls and
answer them by run id and call id, through :class:`DurableRuntime`
(``approve`` / ``reject`` / ``pending_approvals``) or by raising the event itself.
Both formats are persisted in history: tests pin them.

A caller that finds a run waiting cannot tell from the custom status alone whether
decisions raised while no worker ran (the app was down) are still queued for it. It
raises a *barrier* on the same event (``{"barrier": "<nonce>"}``): events of one
instance are handled in order, so once the status lists the nonce under
:data:`SEEN_KEY`, every decision raised before it has been taken into account.

Example::

    runtime = get_runtime()
    for call in runtime.pending_approvals("refund-17"):
        runtime.approve("refund-17", call.call_id)
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dapr_agents_durable.loop import DurableExecution

log = logging.getLogger("dapr_agents_durable.approvals")

APPROVAL_EVENT = "dapr_agents_durable.approval"
"""The external event carrying one decision (payload: :meth:`Decision.to_json`)."""

STATUS_KEY = "pending_approvals"
"""The key of the custom-status object listing the calls a run waits for."""

SEEN_KEY = "barriers_seen"
"""The key of the custom-status list of the latest barrier nonces the run has handled."""

BARRIER_KEY = "barrier"
"""The key of an :data:`APPROVAL_EVENT` payload that is a barrier, not a decision."""

_SEEN_KEPT = 8  # barriers listed: several callers attaching at once each find their own


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
    "always approve/reject"); ``message`` is what a rejected call reports to the model;
    ``arguments`` (a JSON object as text) replaces the call's arguments when approved,
    for frameworks that let a person edit a call (PydanticAI's ``ToolApproved``).
    """

    call_id: str
    approved: bool
    always: bool = False
    message: str | None = None
    arguments: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.arguments is None:  # the format without edited arguments stays as it was
            del data["arguments"]
        return data

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
        arguments = data.get("arguments")
        if arguments is not None:
            if not isinstance(arguments, str) or not isinstance(_json_or_none(arguments), dict):
                raise ValueError(
                    f"approval event for call {data['call_id']!r}: 'arguments' must be a JSON object as a string"
                )
        return cls(data["call_id"], data["approved"], bool(data.get("always", False)), message, arguments)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def encode_status(pending: list[PendingApproval], seen: Sequence[str] = ()) -> str:
    """The custom status of a run waiting for ``pending`` (empty list: not waiting),
    having handled the barriers ``seen``."""
    status: dict[str, Any] = {STATUS_KEY: [p.to_json() for p in pending]}
    if seen:
        status[SEEN_KEY] = list(seen)
    return json.dumps(status, sort_keys=True)


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


def pending_call_ids(custom_status: str | None) -> set[str]:
    """The call ids a run's custom status says it waits for."""
    return {p.call_id for p in decode_status(custom_status)}


def barrier_event(nonce: str) -> dict[str, str]:
    """The :data:`APPROVAL_EVENT` payload of a barrier (see the module's docstring)."""
    return {BARRIER_KEY: nonce}


def barrier_seen(custom_status: str | None, nonce: str) -> bool:
    """Whether a run's custom status says it has handled the barrier ``nonce``."""
    try:
        data = json.loads(custom_status or "")
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get(SEEN_KEY), list) and nonce in data[SEEN_KEY]


_barriers: weakref.WeakKeyDictionary[DurableExecution, list[str]] = weakref.WeakKeyDictionary()


def waits_for_others(answered: frozenset[str] | set[str]) -> Callable[[Any], bool]:
    """A ``wait_until`` test: the run waits for approvals, none of them one just ``answered``."""

    def settled(state: Any) -> bool:
        pending = pending_call_ids(state.serialized_custom_status)
        return bool(pending) and not pending & answered

    return settled


async def collect_decisions(
    execution: DurableExecution,
    pending: Mapping[str, PendingApproval],
    timeout: timedelta | None,
    *,
    at_least: int | None = None,
) -> dict[str, Decision]:
    """In a workflow: publish ``pending`` as custom status and wait for a decision on each call.

    With ``at_least=n`` it returns once ``n`` calls are decided (LangGraph resumes the
    interrupts it has answers for and keeps the others waiting).

    One :data:`APPROVAL_EVENT` per call; malformed events and events for other calls are
    logged and skipped. Calls still undecided after ``timeout`` (workflow time) are
    rejected with a message saying so. The custom status lists the calls still waiting
    after each decision; the caller clears it (``encode_status([])``) once it goes on.

    Example::

        decisions = await collect_decisions(current_execution(), {view.call_id: view}, None)
    """
    decisions: dict[str, Decision] = {}
    deadline = None if timeout is None else execution.now() + timeout
    wanted = len(pending) if at_least is None else min(at_least, len(pending))
    seen = _barriers.setdefault(execution, [])
    while len(decisions) < wanted:
        execution.context.set_custom_status(
            encode_status([view for cid, view in pending.items() if cid not in decisions], seen)
        )
        remaining = None if deadline is None else max((deadline - execution.now()).total_seconds(), 0.0)
        try:
            payload = await execution.wait_for_event(APPROVAL_EVENT, timeout=remaining)
        except asyncio.TimeoutError:
            message = f"Tool call was not approved within {timeout}."
            for cid in pending.keys() - decisions.keys():
                decisions[cid] = Decision(cid, approved=False, message=message)
            break
        if isinstance(payload, dict) and isinstance(payload.get(BARRIER_KEY), str):
            seen[:] = [*seen, payload[BARRIER_KEY]][-_SEEN_KEPT:]
            continue
        try:
            decision = Decision.from_json(payload)
        except ValueError as exc:
            log.warning("run %s: ignoring an approval event: %s", execution.instance_id, exc)
            continue
        if decision.call_id in pending and decision.call_id not in decisions:
            decisions[decision.call_id] = decision
    return decisions
