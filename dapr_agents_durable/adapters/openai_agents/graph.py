"""The agents and tools of this process, by name, so durable steps never carry objects.

``register_graph`` walks an agent, its handoffs and its tools; every agent is
found by name in the workflow and the activities, and every function tool's
``on_invoke_tool`` is wrapped so that, on a durable loop, the call becomes an
activity (off the loop it calls the original, unchanged).
"""

from __future__ import annotations

from typing import Any

from agents import Agent, FunctionTool, Handoff

from dapr_agents_durable.loop.replay_aware import make_replay_aware
from dapr_agents_durable.runtime import Registry

AGENTS: Registry[Agent[Any]] = Registry("agent")
TOOLS: Registry[FunctionTool] = Registry("tool")


def tool_key(agent_name: str, tool_name: str) -> str:
    return f"{agent_name}/{tool_name}"


def register_graph(agent: Agent[Any]) -> None:
    """Register ``agent`` and every agent reachable through its handoffs and agent tools.

    Two different agent objects with the same name are refused: names identify
    agents in durable history.
    """
    from dapr_agents_durable.adapters.openai_agents.agent_tool import as_tool_agent, make_agent_tool_durable
    from dapr_agents_durable.adapters.openai_agents.mcp_seam import register_servers
    from dapr_agents_durable.adapters.openai_agents.tool_seam import make_durable

    seen: dict[str, Agent[Any]] = {}
    pending = [agent]
    while pending:
        current = pending.pop()
        known = seen.get(current.name)
        if known is current:
            continue
        if known is not None:
            raise ValueError(
                f"two different agents are named {current.name!r}; durable runs identify agents by "
                "name, so give each agent of the graph its own name"
            )
        seen[current.name] = current
        make_replay_aware(current.hooks)
        register_servers(current)
        AGENTS.add(current.name, current)
        for tool in current.tools:
            if isinstance(tool, FunctionTool):
                nested = as_tool_agent(tool)
                if nested is None:
                    make_durable(tool)
                else:  # an agent tool: a child workflow running ``nested``
                    make_agent_tool_durable(tool)
                    pending.append(nested)
                TOOLS.add(tool_key(current.name, tool.name), tool)
        for handoff in current.handoffs:
            target = handoff if isinstance(handoff, Agent) else _handoff_agent(handoff)
            if target is not None:
                pending.append(target)


def _handoff_agent(handoff: Handoff[Any, Any]) -> Agent[Any] | None:
    """The agent a ``handoff(agent)`` points to (the SDK keeps a weak reference to it)."""
    ref = getattr(handoff, "_agent_ref", None)
    target = ref() if callable(ref) else None
    return target if isinstance(target, Agent) else None
