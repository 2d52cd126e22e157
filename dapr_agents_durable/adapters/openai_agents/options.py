"""Per-agent and per-tool durability options.

``durable_options(agent, ...)`` sets how an agent's model calls run as activities
(retry policy, timeout per attempt); ``durable_options(tool, ...)`` sets a function
tool's retry policy, or, with ``activity=False``, runs a pure, deterministic tool
inside the workflow instead of as an activity (it then runs again on replay, so it
must not do I/O or read the clock). Options are process configuration, like the
agents themselves: set them where the agents are defined.

Example::

    from dapr.ext.workflow import RetryPolicy
    from dapr_agents_durable.adapters.openai_agents import durable_options

    durable_options(triage, retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=2),
                                                     max_number_of_attempts=3), timeout=30)
    durable_options(add_numbers, activity=False)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, overload

import dapr.ext.workflow as wf
from agents import Agent, FunctionTool

from dapr_agents_durable.runtime.options import (
    OptionsTable,
    StepOptions,
    ToolOptions,
    checked_retry_policy,
    positive_seconds,
)

_OPTIONS_ATTR = "_dapr_agents_durable_options"

_agents: OptionsTable[StepOptions] = OptionsTable(StepOptions())


@overload
def durable_options(
    target: Agent[Any], *, retry_policy: wf.RetryPolicy | None = None, timeout: float | timedelta | None = None
) -> Agent[Any]: ...


@overload
def durable_options(
    target: FunctionTool, *, retry_policy: wf.RetryPolicy | None = None, activity: bool = True
) -> FunctionTool: ...


def durable_options(
    target: Any,
    *,
    retry_policy: wf.RetryPolicy | None = None,
    timeout: float | timedelta | None = None,
    activity: bool = True,
) -> Any:
    """Set the durability options of an agent (its model calls) or a function tool; returns it."""
    checked_retry_policy(retry_policy)
    if isinstance(target, Agent):
        if not activity:
            raise ValueError("activity=False applies to function tools; an agent's model calls are always activities")
        _agents.set(target.name, StepOptions(retry_policy, positive_seconds(timeout, name="timeout")))
        return target
    if isinstance(target, FunctionTool):
        if timeout is not None:
            raise ValueError(
                f"tool {target.name!r}: set a function tool's timeout with the SDK's own "
                "@function_tool(timeout=...) (it runs on durable timers)"
            )
        setattr(target, _OPTIONS_ATTR, ToolOptions(bool(activity), retry_policy))
        return target
    raise TypeError(f"durable_options takes an agents.Agent or a FunctionTool, got {type(target).__name__}")


def agent_options(agent_name: str) -> StepOptions:
    """The options set for the agent named ``agent_name`` (defaults if none)."""
    return _agents.get(agent_name)


def tool_options(tool: FunctionTool, copied_from: FunctionTool | None = None) -> ToolOptions:
    """The options set for ``tool``, else for the tool it is a copy of (defaults if none)."""
    for source in (tool, copied_from):
        options = getattr(source, _OPTIONS_ATTR, None)
        if isinstance(options, ToolOptions):
            return options
    return ToolOptions()
