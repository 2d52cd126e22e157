"""MCP servers in durable runs: listing their tools and calling them as activities.

:class:`MCPActivityToolset` wraps each MCP server (``pydantic_ai.mcp.MCPToolset``) of a durable
run; the server is never entered in the workflow. Listing its tools (with its instructions,
which it reads when it connects) is a ``pydantic_ai.mcp_tools`` activity: once per run when the
server caches its tool list (``cache_tools``, the default, as one native session lists them
once), else once per run step. Each tool call is a ``pydantic_ai.tool`` activity
(:mod:`.tool_seam`) carrying the tool's definition from that listing. Both activities find the
server by its ``id`` on the agent (or the run's ``toolsets=``) in this process and enter it for
the call, so a replay, here or in another process, reads the listing and the results from
history without contacting the server. What the server's tools raise comes back as PydanticAI
maps it (``tool_error_behavior``: a retry prompt, a failed result, or the error).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import dapr.ext.workflow as wf
from pydantic import TypeAdapter
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import InstructionPart
from pydantic_ai.tools import RunContext, ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from dapr_agents_durable.adapters.pydantic_ai.codec import JSON_OBJECT
from dapr_agents_durable.adapters.pydantic_ai.errors import rebuilt
from dapr_agents_durable.adapters.pydantic_ai.names import MCP_TOOLS_ACTIVITY
from dapr_agents_durable.adapters.pydantic_ai.tool_seam import (
    TOOL_DEFINITION,
    ActivityToolset,
    entered,
    require_id,
    serialized_run_context,
    toolset_in_activity,
)
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import ActivityError
from dapr_agents_durable.runtime.codec import Codec

INSTRUCTIONS = Codec(
    TypeAdapter(str | InstructionPart | Sequence[str | InstructionPart] | None), what="MCP server instructions"
)


def is_mcp_server(toolset: AbstractToolset[Any]) -> bool:
    """Whether ``toolset`` is an MCP server (without importing ``pydantic_ai.mcp``: its ``mcp`` extra is optional)."""
    mcp = sys.modules.get("pydantic_ai.mcp")
    return mcp is not None and isinstance(toolset, mcp.MCPToolset)


def wrap_server(server: AbstractToolset[Any], agent_name: str, has_deps: bool) -> AbstractToolset[Any]:
    """The MCP server ``server`` with its tool listing and tool calls as activities."""
    require_id(server, f"An MCP server of agent {agent_name!r}", "MCPToolset(..., id='...')")
    return MCPActivityToolset(server, agent_name=agent_name, has_deps=has_deps)


@dataclass
class _Listing:
    """What a ``pydantic_ai.mcp_tools`` activity recorded: the server's tool definitions and its instructions."""

    tools: dict[str, ToolDefinition]
    instructions: Any


@dataclass
class MCPActivityToolset(ActivityToolset):
    """An MCP server whose tool listing is a ``pydantic_ai.mcp_tools`` activity, its calls ``pydantic_ai.tool`` ones."""

    _listing: _Listing | None = field(default=None, init=False, repr=False)

    @property
    def id(self) -> str | None:
        return self.wrapped.id  # the server's instructions stay keyed by its id, as natively

    @property
    def _explicit_id(self) -> str | None:
        return self.wrapped._explicit_id

    async def __aenter__(self) -> Self:
        return self  # the server is entered inside the activities, never in the workflow

    async def __aexit__(self, *args: Any) -> bool | None:
        return None

    async def for_run(self, ctx: RunContext[Any]) -> AbstractToolset[Any]:
        return self  # a server with per-run credentials resolves them inside the activities

    async def for_run_step(self, ctx: RunContext[Any]) -> AbstractToolset[Any]:
        return self

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        if self._listing is None or not self.wrapped.cache_tools:
            self._listing = await self._list(ctx)
        server = self.wrapped
        return {name: server.tool_for_tool_def(tool_def, ctx=ctx) for name, tool_def in self._listing.tools.items()}

    async def get_instructions(self, ctx: RunContext[Any]) -> Any:
        """The server's instructions as the step's listing read them (PydanticAI lists tools first)."""
        return self._listing.instructions if self._listing is not None else None

    async def call_in_workflow(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        raise UserError(
            f"Tool {name!r} of MCP server {self.wrapped.id!r} (agent {self.agent_name!r}) has activity=False, "
            "but an MCP tool calls its server and always runs as an activity; drop activity=False for it."
        )

    def call_details(self, tool: ToolsetTool[Any]) -> dict[str, Any]:
        what = f"definition of MCP tool {tool.tool_def.name!r}"
        return {"tool_def": TOOL_DEFINITION.encode(tool.tool_def, what=what)}

    async def _list(self, ctx: RunContext[Any]) -> _Listing:
        what = f"tool listing of MCP server {self.wrapped.id!r} of agent {self.agent_name!r}"
        request = {
            "agent": self.agent_name,
            "toolset": self.wrapped.id,
            "run_context": JSON_OBJECT.encode(serialized_run_context(ctx), what=f"run context of {what}"),
            "has_deps": self.has_deps,
        }
        try:
            listed = await current_execution().call_activity(MCP_TOOLS_ACTIVITY, request)
        except ActivityError as err:
            raise rebuilt(err.error_type, err.error_message) from err
        tools = {name: TOOL_DEFINITION.decode(tool_def, what=what) for name, tool_def in listed["tools"].items()}
        return _Listing(tools, INSTRUCTIONS.decode(listed["instructions"], what=what))


async def mcp_tools_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """List one MCP server's tools and read its instructions, in one session; the listing is stored."""
    _, server, run_context = await toolset_in_activity(ctx, request)
    what = f"tool listing of MCP server {server.id!r}"
    async with entered(server, run_context) as live:
        tools = await live.get_tools(run_context)
        instructions = await live.get_instructions(run_context)
    return {
        "tools": {name: TOOL_DEFINITION.encode(tool.tool_def, what=what) for name, tool in tools.items()},
        "instructions": INSTRUCTIONS.encode(instructions, what=what),
    }
