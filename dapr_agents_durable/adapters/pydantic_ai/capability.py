"""``DaprDurability``: the capability that makes one agent run durable from inside.

Added to every run ``DaprAgent`` starts (or given to the agent itself:
``Agent(..., capabilities=[DaprDurability()])``), it is transparent outside a durable
workflow, and on its durable loop:

* ``get_wrapper_model`` wraps the model serving each request attempt in
  :class:`~dapr_agents_durable.adapters.pydantic_ai.model_seam.ActivityModel`, whose
  requests are ``pydantic_ai.model`` activities; every other capability's model-request
  hooks, output validation and retries still run in the workflow, as natively;
* ``get_wrapper_toolset`` wraps each function toolset in
  :class:`~dapr_agents_durable.adapters.pydantic_ai.tool_seam.ActivityToolset`, whose tool
  calls are ``pydantic_ai.tool`` activities, and each MCP server in
  :class:`~dapr_agents_durable.adapters.pydantic_ai.mcp_seam.MCPActivityToolset`, whose tool
  listing is a ``pydantic_ai.mcp_tools`` activity as well;
* ``wrap_run`` keeps PydanticAI's sync callables (sync instructions, history processors,
  output functions) on the durable loop's thread, and keeps the spans of replayed steps out
  of PydanticAI's instrumentation (``replay_scope``; it wraps the ``Instrumentation``
  capability so the run span is covered too); ``get_run_clock`` gives the run workflow
  time, so deadlines are replay-stable.

Example::

    agent = Agent("openai:gpt-5", name="support", capabilities=[DaprDurability()])
    result = await DaprAgent(agent).run("Where is my order?", run_id="ticket-7")
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.capabilities import AbstractCapability, CapabilityOrdering, Instrumentation, WrapRunHandler
from pydantic_ai.durable_exec import replay_scope
from pydantic_ai.models import Model
from pydantic_ai.run import AgentRunResult
from pydantic_ai.tools import RunContext
from pydantic_ai.toolsets import AbstractToolset

from dapr_agents_durable.adapters.pydantic_ai.mcp_seam import is_mcp_server, wrap_server
from dapr_agents_durable.adapters.pydantic_ai.model_seam import ActivityModel
from dapr_agents_durable.adapters.pydantic_ai.tool_seam import ActivityToolset, wrap_leaf
from dapr_agents_durable.loop import DurableLoopError, current_execution, on_durable_loop, side_effects_suppressed


class _LoopThreadOnly(Executor):
    """The executor PydanticAI hands sync callables to on the durable loop; it is never used."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise DurableLoopError(
            "PydanticAI sent sync work to a thread outside the durable loop. Run the agent with "
            "`await DaprAgent(agent).run(...)`, whose workflow runs sync work on its own loop."
        )


@dataclass
class DaprDurability(AbstractCapability[Any]):
    """Runs each model request and tool call (function tools, MCP servers) of a durable run as an activity.

    Unbound (as constructed by a user) it does nothing; ``for_run`` binds it to the agent
    and the durable run when the run executes inside a ``pydantic_ai.run`` workflow.
    """

    agent_name: str | None = None
    has_deps: bool = False
    id: str | None = "dapr_durability"

    async def for_run(self, ctx: RunContext[Any]) -> AbstractCapability[Any]:
        if not on_durable_loop():
            return DaprDurability(id=self.id)
        agent = ctx.agent
        name = agent.name if isinstance(agent, Agent) else None
        return DaprDurability(agent_name=name or "", has_deps=ctx.deps is not None, id=self.id)

    def get_ordering(self) -> CapabilityOrdering:
        return CapabilityOrdering(position="outermost", wraps=[Instrumentation])

    def get_wrapper_model(self, model: Model) -> Model | None:
        if self.agent_name is None or isinstance(model, ActivityModel):
            return None
        return ActivityModel(model, agent_name=self.agent_name, run_id=current_execution().instance_id)

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any] | None:
        agent_name = self.agent_name
        if agent_name is None:
            return None

        def wrap(leaf: AbstractToolset[Any]) -> AbstractToolset[Any]:
            if isinstance(leaf, ActivityToolset):
                return leaf
            if is_mcp_server(leaf):
                return wrap_server(leaf, agent_name, self.has_deps)
            return wrap_leaf(leaf, agent_name, self.has_deps)

        return toolset.visit_and_replace(wrap)

    def get_run_clock(self) -> Callable[[], datetime] | None:
        if self.agent_name is None:
            return None
        execution = current_execution()
        return execution.now

    async def wrap_run(self, ctx: RunContext[Any], *, handler: WrapRunHandler) -> AgentRunResult[Any]:
        if self.agent_name is None:
            return await handler()
        with Agent.using_thread_executor(_LoopThreadOnly()), replay_scope(is_replaying=side_effects_suppressed):
            return await handler()
