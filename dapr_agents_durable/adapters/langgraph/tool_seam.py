"""Tool calls made inside nodes become ``langgraph.tool`` activities.

``BaseTool.invoke``/``ainvoke`` (what ``ToolNode`` and custom nodes call, for ``@tool``
functions and ``BaseTool`` subclasses alike) request the activity on a durable loop; the
activity runs the original method on the real tool with the node's own input and config, so
injected state and ``ToolRuntime`` work as native, and the app's callback handlers hear the
tool run there, once per real call (LangGraph's own handlers stay in the workflow). The
result crosses the boundary as LangChain data:
a ``ToolMessage`` as ``message_to_dict``, a ``Command`` (handoffs) as its parts, anything
else with ``langchain_core.load.dumpd``. A tool's ``interrupt()`` interrupts its node as natively
(:mod:`~dapr_agents_durable.adapters.langgraph.tool_interrupts`).
"""

from __future__ import annotations

import functools
from typing import Any

from langchain_core.tools import BaseTool
from langgraph.errors import GraphInterrupt

from dapr_agents_durable.adapters.langgraph import resumes, tool_interrupts
from dapr_agents_durable.adapters.langgraph.callbacks import app_only
from dapr_agents_durable.adapters.langgraph.calls import leave, take
from dapr_agents_durable.adapters.langgraph.codec import decode_output, encode_output, to_data
from dapr_agents_durable.adapters.langgraph.errors import as_raised
from dapr_agents_durable.adapters.langgraph.names import TOOL_ACTIVITY
from dapr_agents_durable.adapters.langgraph.scope import durable_call
from dapr_agents_durable.loop import ActivityError, await_only, current_execution
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.codec import JSONValue, checked

_original_ainvoke = BaseTool.ainvoke
_installed = False


def install() -> None:
    """Route tool calls on durable loops to the activity (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_invoke = BaseTool.invoke

    @functools.wraps(_original_ainvoke)
    async def ainvoke(self: BaseTool, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if not durable_call(f"tool {self.name!r}"):
            return await _original_ainvoke(self, input, config, **kwargs)
        return await _request(self, input, config, kwargs)

    @functools.wraps(original_invoke)
    def invoke(self: BaseTool, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if not durable_call(f"tool {self.name!r}"):
            return original_invoke(self, input, config, **kwargs)
        return await_only(_request(self, input, config, kwargs))

    BaseTool.ainvoke = ainvoke  # type: ignore[method-assign]
    BaseTool.invoke = invoke  # type: ignore[method-assign]


async def _request(tool: BaseTool, input: Any, config: Any, kwargs: dict[str, Any]) -> Any:
    execution = current_execution()
    payload: dict[str, Any] = {"tool": tool.name, "input": _summary(input)}
    task, call = resumes.current_task(), resumes.digest({**payload, "kwargs": kwargs})
    reply = resumes.recall(execution, task, call)
    if reply is None:
        payload["call"] = leave(execution, (tool, input, config, kwargs))
        try:
            reply = await execution.call_activity(TOOL_ACTIVITY, checked(payload, what=f"call of tool {tool.name!r}"))
        except ActivityError as err:
            raise as_raised(err) from None
        if "interrupts" not in reply:  # a resumed node calls an interrupted tool again
            resumes.remember(execution, task, call, reply)
    tool_interrupts.apply(config, reply)
    return decode_output(reply)


def _summary(input: Any) -> Any:
    """The tool call's name, id and arguments, for the history (the activity uses the real input)."""
    if isinstance(input, dict) and input.get("type") == "tool_call":
        return {"id": input.get("id"), "args": to_data(input.get("args"))}
    return to_data(input)


async def tool_activity(ctx: Any, request: dict[str, Any]) -> JSONValue:
    """Run the node's tool on its own input and config, under the call's idempotency key."""
    tool, input, config, kwargs = await take(request["call"], ctx.workflow_id)
    own, effects = tool_interrupts.isolated({**config, "callbacks": app_only(config.get("callbacks"))} if config else None)
    call_id = (request["input"] or {}).get("id") if isinstance(request["input"], dict) else None
    with idempotency.step_key(ctx.workflow_id, call_id or f"tool-{ctx.task_id}"):
        try:
            output = await _original_ainvoke(tool, input, own, **kwargs)
        except GraphInterrupt as exc:
            return tool_interrupts.interrupted(exc, effects)
    result = encode_output(output)
    assert isinstance(result, dict)  # one field: the message, command or value
    return checked({**result, **tool_interrupts.encoded(effects)}, what=f"result of tool {tool.name!r}")
