"""A run's ``deps``: in-process objects, found where the run's code needs them.

``deps`` stay in the caller's process and are never persisted by default: the workflow and
its tool activities use the very object the caller of ``DaprAgent.run`` passed. A run that
continues in another process (after a crash, on another worker) gets them, in this order,
from that process's own call of ``DaprAgent.run(..., run_id=same, deps=...)``, from the
agent's ``deps_factory(run_id)``, or, with ``persist_deps=True``, from the workflow input
(encoded with a ``TypeAdapter`` of the agent's ``deps_type``). Without any of them the step
fails with a message saying how to provide them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai import Agent
from pydantic_ai.exceptions import UserError

from dapr_agents_durable.adapters.pydantic_ai.runs import DEPS_FACTORIES, SPECS, missing_message
from dapr_agents_durable.runtime import NotRegistered, get_runtime
from dapr_agents_durable.runtime.codec import Codec
from dapr_agents_durable.runtime.registry import REGISTRATION_WAIT_SECONDS

HAS_DEPS = "has_deps"
"""Workflow input field: the run was started with ``deps`` (true), and how they travel."""

PERSISTED_DEPS = "deps"
"""Workflow input field holding the deps as JSON, for agents with ``persist_deps=True``."""


def deps_codec(agent: Agent[Any, Any]) -> Codec[Any]:
    """The codec of ``agent``'s deps (its ``deps_type``), for ``persist_deps=True``."""
    return Codec(TypeAdapter(agent.deps_type), what=f"deps of agent {agent.name!r}")


def deps_in_process(run_id: str, agent: Agent[Any, Any], request: dict[str, Any]) -> tuple[bool, Any]:
    """``(found, deps)`` of run ``run_id`` without waiting: from the caller, a factory or the input."""
    if not request.get(HAS_DEPS):
        return True, None
    spec = SPECS.get(run_id)
    if spec is not None and "deps" in spec.kwargs:
        return True, spec.kwargs["deps"]
    factory = DEPS_FACTORIES.get(agent.name or "")
    if factory is not None:
        return True, factory(run_id)
    if PERSISTED_DEPS in request:
        return True, deps_codec(agent).decode(request[PERSISTED_DEPS])
    return False, None


async def deps_for_activity(run_id: str, agent: Agent[Any, Any], has_deps: bool) -> Any:
    """The deps a tool activity of run ``run_id`` calls its tool with (waits for the caller a while)."""
    if not has_deps:
        return None
    found, deps = deps_in_process(run_id, agent, {HAS_DEPS: True})
    if found:
        return deps
    request = await asyncio.to_thread(_workflow_input, run_id)
    found, deps = deps_in_process(run_id, agent, request)
    if found:
        return deps
    try:
        spec = await asyncio.to_thread(SPECS.wait, run_id, REGISTRATION_WAIT_SECONDS)
    except NotRegistered:
        from dapr.ext.workflow._durabletask.task import NonRetryableError

        raise NonRetryableError(f"UserError: {missing_message(agent.name or '', run_id, ['deps'])}") from None
    return spec.kwargs.get("deps")


def _workflow_input(run_id: str) -> dict[str, Any]:
    state = get_runtime().state(run_id)
    text = state.serialized_input if state is not None else None
    data = json.loads(text) if text else {}
    return data if isinstance(data, dict) else {}


def check_persistable(agent: Agent[Any, Any], deps: Any) -> Any:
    """``deps`` as JSON for ``persist_deps=True``; a clear ``UserError`` if they do not serialize."""
    try:
        return deps_codec(agent).encode(deps)
    except TypeError as exc:
        raise UserError(
            f"agent {agent.name!r} has persist_deps=True but its deps do not serialize ({exc}); make them a "
            "pydantic model or dataclass of plain data, or drop persist_deps and register a deps_factory"
        ) from exc
