"""``agent.run``'s keyword arguments split into what the workflow input persists and what stays in process.

Plain data (the prompt, ``message_history``, ``usage_limits``, static ``model_settings``,
``usage``, ``deferred_tool_results``, ``conversation_id``, ``metadata``, ``retries``,
``timeout``, static ``instructions``) is persisted in the workflow input through PydanticAI's
own schemas, so a replay in any process runs the same request. Everything else (``deps``,
``output_type``, ``model`` objects, ``toolsets``, ``capabilities``, ``event_stream_handler``,
callables) stays in the caller's process (:mod:`~dapr_agents_durable.adapters.pydantic_ai.runs`).

Example::

    persisted, in_process = split({"deps": db, "usage_limits": UsageLimits(request_limit=5)})
    # persisted == {"usage_limits": {...}}, in_process == {"deps": db}
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai import Agent
from pydantic_ai.messages import UserContent
from pydantic_ai.usage import RunUsage

from dapr_agents_durable.adapters.pydantic_ai.codec import (
    DEFERRED_RESULTS,
    JSON_VALUE,
    MESSAGES,
    SETTINGS,
    USAGE,
    USAGE_LIMITS,
)
from dapr_agents_durable.runtime.codec import Codec

PROMPT = Codec(TypeAdapter(str | list[UserContent] | None), what="PydanticAI user prompt")

_PERSISTED: dict[str, Codec[Any]] = {
    "message_history": MESSAGES,
    "usage_limits": USAGE_LIMITS,
    "model_settings": SETTINGS,
    "usage": USAGE,
    "deferred_tool_results": DEFERRED_RESULTS,
    "conversation_id": JSON_VALUE,
    "metadata": JSON_VALUE,
    "retries": JSON_VALUE,
    "timeout": JSON_VALUE,
    "instructions": JSON_VALUE,
    "infer_name": JSON_VALUE,
}

RUN_PARAMETERS = frozenset(inspect.signature(Agent.run).parameters) - {"self", "user_prompt", "run_id"}
"""The keyword arguments ``Agent.run`` takes (``run_id`` has the durable meaning here)."""

ITER_PARAMETERS = frozenset(inspect.signature(Agent.iter).parameters) - {"self", "user_prompt", "run_id"}
"""The keyword arguments ``Agent.iter`` takes."""


def check_names(kwargs: dict[str, Any], allowed: frozenset[str] = RUN_PARAMETERS, method: str = "run") -> None:
    """Unknown keyword arguments raise ``TypeError`` naming them, as ``Agent.<method>`` would."""
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"DaprAgent.{method}() got unexpected keyword arguments: {', '.join(unknown)}")


def _plain(name: str, value: Any) -> bool:
    if callable(value) and not isinstance(value, (type, RunUsage)):  # a RunUsage is callable (``usage()``)
        return False
    if name in ("instructions", "metadata") and not isinstance(value, (str, dict, list, type(None))):
        return False
    return True


def split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(persisted as JSON, kept in process)``; ``None`` values are left out."""
    persisted: dict[str, Any] = {}
    in_process: dict[str, Any] = {}
    for name, value in kwargs.items():
        if value is None:
            continue
        codec = _PERSISTED.get(name)
        if codec is not None and _plain(name, value):
            try:
                persisted[name] = codec.encode(value, what=f"argument {name}= of DaprAgent.run")
                continue
            except TypeError:
                pass
        in_process[name] = value
    return persisted, in_process


def hold_total_usage(kwargs: dict[str, Any], total: RunUsage) -> None:
    """The ``usage=`` object the caller passed holds the run's total, as natively (the run got a copy)."""
    usage = kwargs.get("usage")
    if isinstance(usage, RunUsage) and usage is not total:
        for field in dataclasses.fields(RunUsage):
            setattr(usage, field.name, getattr(total, field.name))


def restore(persisted: dict[str, Any]) -> dict[str, Any]:
    """The persisted arguments as ``Agent.run`` takes them."""
    return {name: _PERSISTED[name].decode(value) for name, value in persisted.items()}
