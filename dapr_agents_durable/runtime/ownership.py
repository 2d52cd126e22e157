"""A run id names one run: a call for another workflow or another agent may not attach to it.

Calling again with the id of an existing run attaches to it (or returns its stored
result). When that run is of another kind (a LangGraph run's id passed to a PydanticAI
agent) or of another agent, graph or crew, attaching would hand back someone else's
result or resume someone else's run: :func:`check_same_run` refuses it with
:class:`RunIdInUse`, before anything is sent to the run, so its stored state is untouched.

Example::

    existing = client.get_workflow_state("trip-1", fetch_payloads=True)
    check_same_run("trip-1", "openai_agents.run", {"agent": "planner"}, existing, owner="agent")
"""

from __future__ import annotations

import json
from typing import Any


class RunIdInUse(ValueError):
    """The run id names a run of another workflow, agent, graph or crew."""


def check_same_run(run_id: str, workflow: str, request: Any, existing: Any, *, owner: str | None = None) -> None:
    """Raise :class:`RunIdInUse` unless ``existing`` (a workflow state) is a ``workflow`` run and,
    with ``owner`` (a key of the workflow input, such as ``"agent"``), of the same owner as ``request``."""
    kind = getattr(existing, "name", None)
    if isinstance(kind, str) and kind and kind != workflow:
        raise RunIdInUse(
            f"durable run {run_id!r} is a {kind} run, not a {workflow} run: a run id names one run; "
            "pass a new run_id (or none) for this call"
        )
    if owner is None or not isinstance(request, dict) or request.get(owner) is None:
        return
    try:
        stored = json.loads(existing.serialized_input or "null")
    except ValueError:
        return
    theirs = stored.get(owner) if isinstance(stored, dict) else None
    if theirs is not None and theirs != request[owner]:
        raise RunIdInUse(
            f"durable run {run_id!r} belongs to {owner} {theirs!r}, not {request[owner]!r}: a run id names one "
            f"run (calling again attaches to it or returns its result); pass a new run_id for a run of "
            f"{request[owner]!r}"
        )
