"""MCP server calls as activities.

:func:`register_servers` (run for every agent of a durable graph) registers each of
the agent's ``mcp_servers`` under ``agent name/server name`` and wraps the server's
``list_tools`` and ``call_tool`` in place. On a durable loop each call becomes an
``openai_agents.mcp`` activity, which calls the real server in this process, on the
event loop that connected it; off the loop the wrappers call the originals, so plain
``agents.Runner`` runs are unchanged. Everything else stays the SDK's own work in the
workflow: turning the listed tools into function tools, approvals, guardrails, meta
resolvers and the tool output the model sees. Tool lists (``mcp.types.Tool``) and
results (``mcp.types.CallToolResult``) cross as their pydantic JSON. Hosted MCP tools
(``HostedMCPTool``) run at the model provider and are not touched.

Example::

    from agents.mcp import MCPServerStdio
    from dapr_agents_durable.adapters.openai_agents import Runner

    async with MCPServerStdio({"command": "python", "args": ["calc_server.py"]}, name="calc") as calc:
        agent = Agent(name="math", instructions="Use the tools.", mcp_servers=[calc])
        result = await Runner.run(agent, "What is 2 + 3?", run_id="math-1")
"""

from __future__ import annotations

from typing import Any

import dapr.ext.workflow as wf
from agents import Agent, RunContextWrapper
from agents.exceptions import UserError
from agents.mcp import MCPServer
from agents.mcp._compat import MCPError
from mcp.types import CallToolResult, ErrorData, Tool

from dapr_agents_durable.adapters.openai_agents.graph import find_agent
from dapr_agents_durable.loop.home import Homed, home_loop
from dapr_agents_durable.adapters.openai_agents.names import MCP_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import DurableLoopError
from dapr_agents_durable.runtime import Registry
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.raised import CallFailed, rebuilt
from dapr_agents_durable.runtime.registry import registered

MCP_SERVERS: Registry[Homed[MCPServer]] = Registry("MCP server")


def server_key(agent_name: str, server_name: str) -> str:
    return f"{agent_name}/{server_name}"


def register_servers(agent: Agent[Any]) -> None:
    """Register and wrap the agent's MCP servers (idempotent).

    Two different servers of one agent with the same name are refused: names identify
    servers in durable history.
    """
    loop = home_loop()
    seen: dict[str, MCPServer] = {}
    for server in agent.mcp_servers:
        name = server.name
        if seen.setdefault(name, server) is not server:
            raise ValueError(
                f"agent {agent.name!r} has two MCP servers named {name!r}; durable runs identify "
                "MCP servers by name, so give each server of an agent its own name"
            )
        key = server_key(agent.name, name)
        known = MCP_SERVERS.get(key)
        if loop is None and known is not None and known.item is server:
            continue
        _wrap(server, agent.name)
        MCP_SERVERS.add(key, Homed(server, loop))


class _DurableListTools:
    """A server's ``list_tools``: an activity on a durable loop, the original elsewhere."""

    def __init__(self, server: MCPServer, agent_name: str, original: Any) -> None:
        self.server_name = server.name
        self.agent_name = agent_name
        self.original = original

    async def __call__(self, run_context: RunContextWrapper[Any] | None = None, agent: Any = None) -> list[Tool]:
        try:
            execution = current_execution()
        except DurableLoopError:
            return await self.original(run_context, agent)  # type: ignore[no-any-return]
        request = {"op": "list_tools", "agent": getattr(agent, "name", None) or self.agent_name,
                   "server": self.server_name}
        reply = _raise_recorded_error(await execution.call_activity(MCP_ACTIVITY, request))
        return [Tool.model_validate(tool) for tool in reply]


class _DurableCallTool:
    """A server's ``call_tool``: an activity on a durable loop, the original elsewhere."""

    def __init__(self, server: MCPServer, agent_name: str, original: Any) -> None:
        self.server_name = server.name
        self.agent_name = agent_name
        self.original = original

    async def __call__(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        try:
            execution = current_execution()
        except DurableLoopError:
            if meta is None:
                return await self.original(tool_name, arguments)  # type: ignore[no-any-return]
            return await self.original(tool_name, arguments, meta=meta)  # type: ignore[no-any-return]
        request = {"op": "call_tool", "agent": self.agent_name, "server": self.server_name,
                   "tool": tool_name, "arguments": arguments, "meta": meta}
        reply = _raise_recorded_error(await execution.call_activity(MCP_ACTIVITY, request))
        return CallToolResult.model_validate(reply)


def _wrap(server: MCPServer, agent_name: str) -> None:
    """Wrap the server's two per-turn calls once."""
    if not isinstance(server.list_tools, _DurableListTools):
        server.list_tools = _DurableListTools(server, agent_name, server.list_tools)  # type: ignore[method-assign]
    if not isinstance(server.call_tool, _DurableCallTool):
        server.call_tool = _DurableCallTool(server, agent_name, server.call_tool)  # type: ignore[method-assign]


class MCPCallFailed(CallFailed):
    """The MCP server call raised an exception that is rebuilt as its text (``error_type`` names it)."""


def _raise_recorded_error(reply: dict[str, Any]) -> Any:
    """The recorded answer, or the recorded failure raised as the SDK expects to see it."""
    error = reply.get("error")
    if error is None:
        return reply["result"]
    if error.get("mcp") is not None:
        data = ErrorData.model_validate(error["mcp"])
        from_data = getattr(MCPError, "from_error_data", None)
        raise from_data(data) if callable(from_data) else MCPError(data)
    raise rebuilt(error["type"], error["message"], {"UserError": UserError}, fallback=MCPCallFailed)


def _encode_error(exc: Exception) -> dict[str, Any]:
    data = getattr(exc, "error", None) if isinstance(exc, MCPError) else None
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "mcp": data.model_dump(mode="json", by_alias=True) if isinstance(data, ErrorData) else None,
    }


async def mcp_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """List the tools of, or call a tool on, the agent's real MCP server; the JSON answer (or the
    server's error) is stored in history."""
    handle = await registered(MCP_SERVERS, server_key(request["agent"], request["server"]))
    what = f"{request['op']} of MCP server {request['server']!r} of agent {request['agent']!r}"
    try:
        if request["op"] == "list_tools":
            spec = RUNS.get(ctx.workflow_id)
            run_context = RunContextWrapper(context=spec.context if spec else None)
            agent = find_agent(ctx.workflow_id, request["agent"])
            tools = await handle.call(lambda server: _original(server.list_tools)(run_context, agent))
            result: Any = [tool.model_dump(mode="json", by_alias=True) for tool in tools]
        else:
            tool, arguments, meta = request["tool"], request["arguments"], request["meta"]
            call = _original_call(tool, arguments, meta)
            answer = await handle.call(lambda server: call(_original(server.call_tool)))
            result = answer.model_dump(mode="json", by_alias=True)
    except Exception as exc:  # the server's failure is the step's recorded outcome
        return checked({"error": _encode_error(exc)}, what=what)
    return checked({"result": result}, what=what)


def _original(method: Any) -> Any:
    """The server's own method behind a durable wrapper."""
    return method.original if isinstance(method, (_DurableListTools, _DurableCallTool)) else method


def _original_call(tool: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None) -> Any:
    """``call_tool`` in the SDK's call shape (``meta`` only when there is one)."""

    async def call(method: Any) -> CallToolResult:
        if meta is None:
            return await method(tool, arguments)  # type: ignore[no-any-return]
        return await method(tool, arguments, meta=meta)  # type: ignore[no-any-return]

    return call
