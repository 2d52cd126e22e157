"""Agents by name, and per-run objects that never cross a process boundary.

``DaprAgent(agent)`` registers the agent under its name, so that a worker in any process
running the same app code finds it. What a caller of ``DaprAgent.run`` passes that cannot
(or must not) be persisted, ``deps`` first of all, but also ``output_type``, ``model``
objects, extra ``toolsets`` and ``capabilities`` and callables, is kept here under the run
id: the workflow and its activities use it in this process. A run resumed in another process
gets them again from that process's caller of ``DaprAgent.run`` (same run id), or ``deps``
from the agent's ``deps_factory``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent

from dapr_agents_durable.runtime import Registry

AGENTS: Registry[Agent[Any, Any]] = Registry("PydanticAI agent")
"""Agents wrapped by ``DaprAgent``, by name."""

DEPS_FACTORIES: dict[str, Callable[[str], Any]] = {}
"""``deps_factory`` of each wrapped agent, by agent name: builds a run's deps from its run id."""


@dataclass
class RunSpec:
    """The in-process arguments of one durable run (``agent.run``'s keyword arguments)."""

    kwargs: dict[str, Any] = field(default_factory=dict)


SPECS: Registry[RunSpec] = Registry("PydanticAI run's in-process arguments")
"""Per-run in-process arguments, by run id (registered by the caller of ``DaprAgent.run``)."""

def missing_message(agent: str, run_id: str, names: list[str]) -> str:
    """What to do when run ``run_id`` needs in-process arguments this process never got."""
    listed = ", ".join(f"{name}=" for name in names)
    return (
        f"durable run {run_id!r} of agent {agent!r} was started with {listed} which never cross "
        "a process boundary, and this process has not been given them. Call "
        f"DaprAgent.run(..., run_id={run_id!r}, {listed}...) again in this process, or, for deps, "
        "register a factory with DaprAgent(agent, deps_factory=lambda run_id: ...), or make the "
        "deps serializable and pass DaprAgent(agent, persist_deps=True)."
    )
