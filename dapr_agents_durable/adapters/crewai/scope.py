"""Which run a seam is called in: the crew (or flow) of the run at the top, per workflow instance.

The ``crewai.run`` workflow and its task and delegation children each declare their
scope when they start (:func:`enter`); the LLM and tool seams read it through
:func:`run_scope` to name the crew and the run in their activity requests. A
``crewai.flow`` instance declares a :class:`FlowScope` (:func:`flow_scope`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from crewai import Crew

import greenlet

from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.bridge import BridgeGreenlet


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


@dataclass
class FlowScope:
    """A ``crewai.flow`` instance: its flow's name and the numbering of its durable calls."""

    root: str
    flow_name: str
    counted: set[str]
    """The token usage already counted on the flow's LLMs in this process (a replay skips it)."""
    calls: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    crews: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    """Numbers the crews the flow kicks off, in the order its code kicks them off."""
    absorptions: Iterator[int] = field(default_factory=lambda: itertools.count(1))


_SCOPES: dict[str, RunScope | FlowScope] = {}
_LOCK = threading.Lock()


S = TypeVar("S", RunScope, FlowScope)


def enter(instance_id: str, scope: S) -> S:
    """Declare ``scope`` for workflow instance ``instance_id`` (a fresh count on every replay)."""
    with _LOCK:
        _SCOPES[instance_id] = scope
    return scope


def leave(instance_id: str, scope: RunScope | FlowScope | None) -> None:
    """Forget ``scope`` of ``instance_id``, unless a newer execution of the instance declared its own."""
    with _LOCK:
        if scope is not None and _SCOPES.get(instance_id) is scope:
            del _SCOPES[instance_id]


def _declared() -> RunScope | FlowScope | None:
    with _LOCK:
        return _SCOPES.get(current_execution().instance_id)


def run_scope() -> RunScope:
    """The crew scope of the workflow instance running on this durable loop."""
    scope = _declared()
    if not isinstance(scope, RunScope):
        raise LookupError(f"workflow instance {current_execution().instance_id!r} is not a CrewAI durable crew run")
    return scope


def flow_scope() -> FlowScope | None:
    """The flow scope of the ``crewai.flow`` instance running on this durable loop, else None."""
    scope = _declared()
    return scope if isinstance(scope, FlowScope) else None


def check_suspendable(what: str, instead: str | None = None) -> None:
    """In a flow, refuse a sync durable call made where the run cannot wait for it: in an
    ``async`` method (a sync method runs where it can)."""
    if flow_scope() is not None and not isinstance(greenlet.getcurrent(), BridgeGreenlet):
        alternative = f"use {instead} there, or make the method sync" if instead else "make the method sync"
        raise RuntimeError(
            f"{what} was called synchronously in an async method of a durable flow, where the run cannot "
            f"wait for it; {alternative}"
        )


def next_call_id(kind: str) -> str:
    """``"<kind>-<n>"``: the n-th such call of this instance, the same on every replay."""
    scope = _declared()
    if scope is None:
        raise LookupError(f"workflow instance {current_execution().instance_id!r} is not a CrewAI durable run")
    return f"{kind}-{next(scope.calls)}"
