"""Per-agent and per-tool durability options.

``durable_options(agent, ...)`` sets how an agent's model requests run as activities
(retry policy for transient failures, timeout per attempt); ``durable_options(agent,
tool="name", ...)`` sets a tool's retry policy and timeout, or, with ``activity=False``,
runs the tool in the workflow instead of as an activity: for a tool that delegates to another
``DaprAgent`` (its run then becomes a child workflow), or a pure, deterministic function (it
runs again on replay, so it must not do I/O or read the clock). Options are process
configuration, like the agents themselves: set them where the agents are defined.

Example::

    from dapr.ext.workflow import RetryPolicy
    from dapr_agents_durable.adapters.pydantic_ai import durable_options

    durable_options(support, retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=2),
                                                      max_number_of_attempts=3), timeout=30)
    durable_options(support, tool="ask_billing", activity=False)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
from pydantic_ai import Agent

from dapr_agents_durable.runtime.options import (
    OptionsTable,
    StepOptions,
    ToolOptions,
    checked_retry_policy,
    positive_seconds,
)

_models: OptionsTable[StepOptions] = OptionsTable(StepOptions())
_tools: OptionsTable[ToolOptions] = OptionsTable(ToolOptions())


def durable_options(
    agent: Agent[Any, Any],
    *,
    tool: str | Callable[..., Any] | None = None,
    retry_policy: wf.RetryPolicy | None = None,
    timeout: float | timedelta | None = None,
    activity: bool = True,
) -> Agent[Any, Any]:
    """Set the durability options of ``agent``'s model requests, or of its tool ``tool``; returns the agent."""
    if not isinstance(agent, Agent):
        raise TypeError(f"durable_options takes a pydantic_ai.Agent, got {type(agent).__name__}")
    if not agent.name:
        raise ValueError("durable_options: the agent needs a name (Agent(..., name='...'))")
    checked_retry_policy(retry_policy)
    seconds = positive_seconds(timeout, name="timeout")
    if tool is None:
        if not activity:
            raise ValueError("activity=False applies to tools; an agent's model requests are always activities")
        _models.set(agent.name, StepOptions(retry_policy, seconds))
        return agent
    name = tool if isinstance(tool, str) else getattr(tool, "__name__", None)
    if not name:
        raise TypeError(f"tool must be a tool's name or its function, got {tool!r}")
    _tools.set(_tool_key(agent.name, name), ToolOptions(bool(activity), retry_policy, seconds))
    return agent


def model_options(agent_name: str) -> StepOptions:
    """The options set for the model requests of agent ``agent_name`` (defaults if none)."""
    return _models.get(agent_name)


def tool_options(agent_name: str, tool_name: str) -> ToolOptions:
    """The options set for tool ``tool_name`` of agent ``agent_name`` (defaults if none)."""
    return _tools.get(_tool_key(agent_name, tool_name))


def _tool_key(agent_name: str, tool_name: str) -> str:
    return f"{agent_name}\x1f{tool_name}"
