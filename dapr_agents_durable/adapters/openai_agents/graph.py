"""The agents and tools of a run, by name, so durable steps never carry objects.

``register_graph`` walks an agent, its handoffs and its tools into a :class:`Graph`:
the run started with that agent finds its agents and tools there (the very objects it
was started with, even when other runs use other agents of the same name), and every
function tool's ``on_invoke_tool`` is wrapped so that, on a durable loop, the call
becomes an activity (off the loop it calls the original, unchanged).

The process-wide registries :data:`AGENTS` and :data:`TOOLS` hold the newest object
of each name, for runs whose caller is not in this process (a resume after a restart,
another replica). Where this process has registered two different agents under one
name, such a lookup is ambiguous and fails with an error saying so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, FunctionTool, Handoff

from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.loop.replay_aware import make_replay_aware
from dapr_agents_durable.runtime import Registry
from dapr_agents_durable.runtime.registry import registered

AGENTS: Registry[Agent[Any]] = Registry("agent")
TOOLS: Registry[FunctionTool] = Registry("tool")

_lock = threading.Lock()
_shared_names: set[str] = set()
"""Agent names this process has registered with more than one agent object."""


class AmbiguousAgent(LookupError):
    """A run without its caller in this process names an agent two different objects here share."""


@dataclass
class Graph:
    """The agents and function tools reachable from a run's starting agent, by name."""

    agents: dict[str, Agent[Any]] = field(default_factory=dict)
    tools: dict[str, FunctionTool] = field(default_factory=dict)


def tool_key(agent_name: str, tool_name: str) -> str:
    return f"{agent_name}/{tool_name}"


def register_graph(agent: Agent[Any], graph: Graph | None = None) -> Graph:
    """Walk ``agent`` and every agent reachable through its handoffs and agent tools into ``graph``
    (a new one by default), and register them process-wide; returns the graph.

    Two different agent objects with the same name in one graph are refused: names
    identify agents in a run's history.
    """
    from dapr_agents_durable.adapters.openai_agents.agent_tool import as_tool_agent, make_agent_tool_durable
    from dapr_agents_durable.adapters.openai_agents.mcp_seam import register_servers
    from dapr_agents_durable.adapters.openai_agents.tool_seam import make_durable

    graph = graph if graph is not None else Graph()
    walked: set[int] = set()
    pending = [agent]
    while pending:
        current = pending.pop()
        if id(current) in walked:
            continue
        known = graph.agents.get(current.name)
        if known is not None and known is not current:
            raise ValueError(
                f"two different agents are named {current.name!r} in one run; durable runs identify "
                "agents by name, so give each agent reachable from the starting agent its own name"
            )
        walked.add(id(current))
        graph.agents[current.name] = current
        make_replay_aware(current.hooks)
        register_servers(current)
        _add_agent(current)
        for tool in current.tools:
            if isinstance(tool, FunctionTool):
                nested = as_tool_agent(tool)
                if nested is None:
                    make_durable(tool)
                else:  # an agent tool: a child workflow running ``nested``
                    make_agent_tool_durable(tool)
                    pending.append(nested)
                key = tool_key(current.name, tool.name)
                graph.tools[key] = tool
                TOOLS.add(key, tool)
        for handoff in current.handoffs:
            target = handoff if isinstance(handoff, Agent) else _handoff_agent(handoff)
            if target is not None:
                pending.append(target)
    return graph


def run_graph(run_id: str) -> Graph | None:
    """The graph of run ``run_id`` when its caller (or its parent run's) is in this process."""
    spec = RUNS.get(run_id)
    return spec.graph if spec is not None else None


def find_agent(run_id: str, name: str) -> Agent[Any] | None:
    """The agent ``name`` of run ``run_id``: from its graph, else process-wide (None if unknown here)."""
    graph = run_graph(run_id)
    if graph is not None and name in graph.agents:
        return graph.agents[name]
    _refuse_ambiguous(run_id, name)
    return AGENTS.get(name)


async def wait_for_agent(run_id: str, name: str) -> Agent[Any]:
    """For activities: :func:`find_agent`, waiting for the app to register the agent after a restart."""
    agent = find_agent(run_id, name)
    return agent if agent is not None else await registered(AGENTS, name)


async def wait_for_tool(run_id: str, agent_name: str, tool_name: str) -> FunctionTool:
    """For activities: the function tool ``tool_name`` of agent ``agent_name`` in run ``run_id``."""
    key = tool_key(agent_name, tool_name)
    graph = run_graph(run_id)
    if graph is not None and key in graph.tools:
        return graph.tools[key]
    _refuse_ambiguous(run_id, agent_name)
    return await registered(TOOLS, key)


def _add_agent(agent: Agent[Any]) -> None:
    with _lock:
        known = AGENTS.get(agent.name)
        if known is not None and known is not agent:
            _shared_names.add(agent.name)
    AGENTS.add(agent.name, agent)


def _refuse_ambiguous(run_id: str, name: str) -> None:
    with _lock:
        shared = name in _shared_names
    if shared:
        raise AmbiguousAgent(
            f"durable run {run_id!r} names agent {name!r}, and this process has several different agents "
            f"of that name; the run's own agent is only known while its caller is in this process. Resume it "
            f"with Runner.run(<that agent>, ..., run_id={run_id!r}), or give agents distinct names"
        )


def _handoff_agent(handoff: Handoff[Any, Any]) -> Agent[Any] | None:
    """The agent a ``handoff(agent)`` points to (the SDK keeps a weak reference to it)."""
    ref = getattr(handoff, "_agent_ref", None)
    target = ref() if callable(ref) else None
    return target if isinstance(target, Agent) else None
