"""Which run a seam is called in: the crew of the run at the top, per workflow instance.

The ``crewai.run`` workflow and its task and delegation children each declare their
scope when they start (:func:`enter`); the LLM and tool seams read it through
:func:`run_scope` to name the crew and the run in their activity requests.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from crewai import Crew

from dapr_agents_durable.loop import current_execution


@dataclass
class RunScope:
    """The run at the top of a workflow instance, and its crew in this process."""

    root: str
    crew_name: str
    inputs: dict[str, Any]
    crew: Crew
    top: bool = True
    """The ``crewai.run`` instance itself, not a task or delegation child."""
    calls: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    """Numbers the instance's tool calls and children in the order its code makes them."""
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    """A child's token usage by LLM slot, handed to its parent with its result."""
    absorptions: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    """Numbers the token usage the instance counts, in the order its code counts it."""
    rpm: dict[str, list[float]] = field(default_factory=dict)
    """The run's ``max_rpm`` windows by controller (see :mod:`.rpm`), handed down and back up."""


_SCOPES: dict[str, RunScope] = {}
_LOCK = threading.Lock()


def enter(instance_id: str, scope: RunScope) -> RunScope:
    """Declare ``scope`` for workflow instance ``instance_id`` (a fresh count on every replay)."""
    with _LOCK:
        _SCOPES[instance_id] = scope
    return scope


def leave(instance_id: str, scope: RunScope | None) -> None:
    """Forget ``scope`` of ``instance_id``, unless a newer execution of the instance declared its own."""
    with _LOCK:
        if scope is not None and _SCOPES.get(instance_id) is scope:
            del _SCOPES[instance_id]


def run_scope() -> RunScope:
    """The scope of the workflow instance running on this durable loop."""
    instance_id = current_execution().instance_id
    with _LOCK:
        scope = _SCOPES.get(instance_id)
    if scope is None:
        raise LookupError(f"workflow instance {instance_id!r} is not a CrewAI durable run")
    return scope


def next_call_id(kind: str) -> str:
    """``"<kind>-<n>"``: the n-th such call of this instance, the same on every replay."""
    return f"{kind}-{next(run_scope().calls)}"
