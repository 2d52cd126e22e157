"""Function-tool calls as activities.

``make_durable`` wraps a ``FunctionTool``'s ``on_invoke_tool`` in place: on a
durable loop a call becomes an ``openai_agents.tool`` activity (idempotency key:
run id + tool call id), elsewhere it calls the original, so the same agent keeps
working in plain ``agents.Runner`` runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dapr.ext.workflow as wf
from agents import FunctionTool, RunConfig
from agents.tool_context import ToolContext
from pydantic import BaseModel

from dapr_agents_durable.adapters.openai_agents.graph import AGENTS, TOOLS, tool_key
from dapr_agents_durable.adapters.openai_agents.names import TOOL_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import DurableLoopError
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.codec import checked

REGISTRATION_WAIT_SECONDS = 30.0


class DurableToolInvoker:
    """The ``on_invoke_tool`` of a durable function tool."""

    def __init__(self, tool: FunctionTool, original: Any) -> None:
        self.tool_name = tool.name
        self.original = original

    async def __call__(self, context: ToolContext[Any], arguments: str) -> Any:
        try:
            execution = current_execution()
        except DurableLoopError:
            return await self.original(context, arguments)
        agent = getattr(context, "agent", None)
        request = {
            "agent": getattr(agent, "name", ""),
            "tool": self.tool_name,
            "call_id": context.tool_call_id,
            "arguments": arguments,
        }
        return await execution.call_activity(TOOL_ACTIVITY, request)


def make_durable(tool: FunctionTool) -> None:
    """Wrap the tool's invoke function once (idempotent)."""
    if not isinstance(tool.on_invoke_tool, DurableToolInvoker):
        tool.on_invoke_tool = DurableToolInvoker(tool, tool.on_invoke_tool)


async def tool_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """Run the real tool function; its output is stored in history."""
    key = tool_key(request["agent"], request["tool"])
    tool = await asyncio.to_thread(TOOLS.wait, key, REGISTRATION_WAIT_SECONDS)
    agent = AGENTS.get(request["agent"])
    spec = RUNS.get(ctx.workflow_id)
    invoker = tool.on_invoke_tool
    original = invoker.original if isinstance(invoker, DurableToolInvoker) else invoker
    tool_context = ToolContext(
        context=spec.context if spec else None,
        tool_name=request["tool"],
        tool_call_id=request["call_id"],
        tool_arguments=request["arguments"],
        agent=agent,
        run_config=spec.run_config if spec else RunConfig(),
    )
    with idempotency.step_key(ctx.workflow_id, request["call_id"]):
        output = await original(tool_context, request["arguments"])
    return _encode_output(output, f"result of tool {request['tool']!r} of agent {request['agent']!r}")


def _encode_output(output: Any, what: str) -> Any:
    if isinstance(output, BaseModel):
        output = output.model_dump(mode="json")
    elif not isinstance(output, (str, int, float, bool, list, dict, type(None))):
        output = str(output)
    return checked(output, what=what)
