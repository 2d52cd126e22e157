"""A run whose code changed under it is held, not failed: its history waits for code that fits it.

When a work item's replay finds the code asking for other steps than the history
recorded (a :class:`~dapr_agents_durable.loop.NonDeterminismError`, ours or the SDK's:
instructions or tools of an agent changed while a run was in flight), failing the
workflow would end the run for good although nothing stored is wrong: the code it
was started with, deployed again, could finish it. So the work item is answered with
no action and a custom status naming the problem; the run stays RUNNING with its
history intact. Callers waiting on it get the error at once
(:meth:`~dapr_agents_durable.runtime.DurableRuntime.wait_until` raises), and a later
caller wakes it, so that it is replayed with the code running then.

The status format is persisted in the engine: tests pin it. Example::

    hold(results, events_seen=len(history))   # in the work-item hook, after the replay
    stall_of(state.serialized_custom_status)  # {"error": ..., "message": ..., "events": 12}
"""

from __future__ import annotations

import json
from typing import Any

from dapr_agents_durable.loop import _sdk
from dapr_agents_durable.loop.errors import NonDeterminismError

STALL_KEY = "stalled"
"""The custom-status key of a held run: what went wrong and how much history the replay saw."""


class RunHeld(NonDeterminismError):
    """A run's code no longer fits its history; the run is held (RUNNING, history intact)."""

    def __init__(self, run_id: str, stall: dict[str, Any]) -> None:
        super().__init__(
            f"{stall['message']}\nDurable run {run_id!r} is held, not failed: its history is kept. Run it with "
            "the code it was started with to finish it (calling it again with the same run id wakes it), or end "
            f"it with `dapr-agents-durable runs terminate {run_id}`."
        )
        self.run_id = run_id
        self.stall = stall


def hold(results: _sdk.ExecutionResults | None, events_seen: int) -> bool:
    """Turn a work item that fails its run with a non-determinism error into one that holds it.

    ``events_seen`` (the history's length) tells a stall after a later wake-up from this one.
    Returns whether the run is held.
    """
    details = None if results is None else _sdk.failed_with_sdk_nondeterminism(results)
    if results is None or details is None:
        return False
    results.actions = []
    results.encoded_custom_status = json.dumps(
        {STALL_KEY: {"error": details.errorType, "message": details.errorMessage, "events": events_seen}},
        sort_keys=True,
    )
    return True


def stall_of(custom_status: str | None) -> dict[str, Any] | None:
    """The stall a run's custom status reports (``error``, ``message``, ``events``), or None."""
    try:
        data = json.loads(custom_status or "")
    except ValueError:
        return None
    stall = data.get(STALL_KEY) if isinstance(data, dict) else None
    if not isinstance(stall, dict) or not isinstance(stall.get("message"), str):
        return None
    return stall
