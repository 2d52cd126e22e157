"""LangGraph's seams on the durable loop: every model call and tool call is an activity.

The graph itself (``ainvoke``, channels, ``Send``/``Command``/``interrupt``) runs in
the workflow on the durable loop. Two seams leave it:

* :class:`DurableChatModel`, a ``BaseChatModel`` whose ``_agenerate`` requests the
  ``langgraph.model`` activity (``_generate`` suspends on it through the greenlet
  bridge, for sync ``def`` nodes). The activity looks the real model up by name in
  :data:`chat_models`, so the model object never enters the history.
* :func:`durable_tool_call`, a ``ToolNode(awrap_tool_call=...)`` wrapper requesting
  the ``langgraph.tool`` activity, which runs the tool found in :data:`tools`.

Messages cross the boundary as langchain's own ``messages_to_dict`` data, checked by
the runtime codec.

Example::

    chat_models.add("gpt", ChatOpenAI(model="gpt-4.1"))
    model = DurableChatModel(model_name="gpt")
    agent = create_react_agent(model, durable_tool_node([search]))
    register_activities(runtime)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from dapr_agents_durable.loop import await_only, current_execution
from dapr_agents_durable.loop.framework_shims import langgraph as langgraph_shims
from dapr_agents_durable.runtime import DurableRuntime, Registry
from dapr_agents_durable.runtime.codec import JSONValue, checked

MODEL_ACTIVITY = "langgraph.model"
TOOL_ACTIVITY = "langgraph.tool"
LOOKUP_TIMEOUT = 30.0
"""Seconds an activity waits for its model or tool to be registered in this process."""

chat_models: Registry[BaseChatModel] = Registry("chat model")
tools: Registry[BaseTool] = Registry("tool")

langgraph_shims.install()


class DurableChatModel(BaseChatModel):
    """Stands in for the chat model registered as ``model_name``; calls are activities.

    ``bind_tools`` binds OpenAI-style tool schemas, which the activity binds to the
    real model.
    """

    model_name: str

    @property
    def _llm_type(self) -> str:
        return "dapr-agents-durable"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        schemas = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=schemas, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = await self._request(messages, stop, kwargs)
        return self._result(reply)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(await_only(self._request(messages, stop, kwargs)))

    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        options: dict[str, Any],
    ) -> asyncio.Future[Any]:
        payload = {
            "model": self.model_name,
            "messages": messages_to_dict(messages),
            "stop": stop,
            "options": options,
        }
        what = f"input of chat model {self.model_name!r}"
        return current_execution().call_activity(
            MODEL_ACTIVITY, checked(payload, what=what)
        )

    def _result(self, reply: Any) -> ChatResult:
        (message,) = messages_from_dict(reply)
        if not isinstance(message, AIMessage):
            raise TypeError(
                f"chat model {self.model_name!r} answered with a {message.type!r} "
                "message; a chat model must answer with an AI message"
            )
        return ChatResult(generations=[ChatGeneration(message=message)])


async def durable_tool_call(
    request: ToolCallRequest,
    execute: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command]],
) -> ToolMessage | Command:
    """``ToolNode(awrap_tool_call=...)``: run the call as a ``langgraph.tool`` activity.

    A call to a tool the node does not know goes to ``execute``, which answers it with
    LangGraph's own error message, in the workflow.
    """
    if request.tool is None:
        return await execute(request)
    call = request.tool_call
    payload = {
        "tool": call["name"],
        "call": {"name": call["name"], "args": call["args"], "id": call["id"]},
    }
    what = f"call of tool {call['name']!r}"
    reply = await current_execution().call_activity(
        TOOL_ACTIVITY, checked(payload, what=what)
    )
    (message,) = messages_from_dict(reply)
    return cast(ToolMessage, message)


def durable_tool_node(node_tools: Sequence[BaseTool], **kwargs: Any) -> ToolNode:
    """A ``ToolNode`` whose calls are activities; registers ``node_tools`` for them."""
    for node_tool in node_tools:
        tools.add(node_tool.name, node_tool)
    return ToolNode(node_tools, awrap_tool_call=durable_tool_call, **kwargs)


async def model_activity(ctx: Any, request: dict[str, Any]) -> JSONValue:
    """Call the registered chat model with the request's messages and options."""
    name = request["model"]
    model = await asyncio.to_thread(chat_models.wait, name, LOOKUP_TIMEOUT)
    options = dict(request["options"])
    bound_tools = options.pop("tools", None)
    tool_choice = options.pop("tool_choice", None)
    runnable: Runnable[LanguageModelInput, BaseMessage] = (
        model.bind_tools(bound_tools, tool_choice=tool_choice) if bound_tools else model
    )
    reply = await runnable.ainvoke(
        messages_from_dict(request["messages"]), stop=request["stop"], **options
    )
    return checked(messages_to_dict([reply]), what=f"reply of chat model {name!r}")


async def tool_activity(ctx: Any, request: dict[str, Any]) -> JSONValue:
    """Run the registered tool on the request's tool call; answers with its message."""
    name = request["tool"]
    tool = await asyncio.to_thread(tools.wait, name, LOOKUP_TIMEOUT)
    message = await tool.ainvoke({**request["call"], "type": "tool_call"})
    if not isinstance(message, ToolMessage):
        raise TypeError(
            f"tool {name!r} returned a {type(message).__name__}; a tool run as an "
            "activity must return message content (tools returning Command must run "
            "in the workflow)"
        )
    return checked(messages_to_dict([message]), what=f"result of tool {name!r}")


def register_activities(runtime: DurableRuntime) -> None:
    """Register the model and tool activities under their stable names."""
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)
