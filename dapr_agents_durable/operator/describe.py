"""One line per step of ``runs show``, read from the JSON each adapter stores in history.

A step's name starts with its framework (``openai_agents.model``, ``langgraph.node``). Model
and tool calls are read by :mod:`~dapr_agents_durable.runtime.payloads` (as the OpenTelemetry
spans are), the other steps here; nothing imports a framework, so the operator CLI runs
where none is installed. A model call shows the model's name and token usage, a tool call its name and previews of
its arguments and result, a node its name. A payload of another shape (a foreign workflow,
an older format, a failed step without a result) shows what can be read of it, or nothing.

Example::

    describe_step("pydantic_ai.model", {"seq": 1, "base": None, "set": {...}},
                  {"response": {"model_name": "gpt-4o", "usage": {"input_tokens": 812, "output_tokens": 64}}})
    # 'gpt-4o  812 in / 64 out tokens'
    run_label("langgraph.run", {"graph": "trip-planner", "thread_id": "t-1"})  # 'trip-planner'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dapr_agents_durable.runtime.payloads import (
    ToolCall,
    error_text,
    get as _get,
    langgraph_output,
    model_call,
    openai_agents_tool,
    text as _text,
    tool_call,
)

PREVIEW = 60
"""Characters of arguments and results shown in a timeline."""


def describe_step(name: str, input: Any, result: Any) -> str:
    """The detail of step ``name`` (an activity or child workflow) from its stored input and result
    (``None`` while it runs or when it failed); empty when its framework or shape is unknown."""
    if (model := model_call(name, input, result)) is not None:
        line = _model(model.model, model.input_tokens, model.output_tokens)
        return _join(line, "-> " + model.error) if model.error is not None else line
    if (tool := tool_call(name, input, result)) is not None:
        return _tool(tool)
    framework, _, kind = name.partition(".")
    describer = _DESCRIBERS.get(framework)
    return describer(kind, input, result) if describer is not None else ""


def run_label(workflow: str, input: Any) -> str | None:
    """What a run runs, from its workflow input: the agent's, graph's or crew's name (``runs list``'s
    AGENT column); the input's ``"agent"`` for workflows of no known framework."""
    value = _get(input, _LABEL_KEYS.get(workflow, "agent"))
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) and value else None


_LABEL_KEYS = {
    "openai_agents.agent_tool": "tool",  # the input's "agent" is the calling agent; the tool names the nested one
    "langgraph.run": "graph",
    "langgraph.subgraph": "graph",
    "crewai.run": "crew",
    "crewai.task": "crew",  # the task's agent travels as its slot in the crew ("agents.0")
    "crewai.delegate": "crew",
}


# ------------------------------------------------------------------ the frameworks


def _openai_agents(kind: str, input: Any, result: Any) -> str:
    if kind == "agent_tool":
        return _tool(openai_agents_tool(input, result))
    if kind == "mcp":
        server, op = _get(input, "server"), _get(input, "op")
        error = _get(result, "error")
        reply: Any = error_text(error) if error is not None else _get(result, "result")
        if op == "list_tools":
            if isinstance(reply, list):
                reply = ", ".join(name for name in (_text(_get(tool, "name")) for tool in reply) if name)
            return _call(_join(_text(server), "list_tools"), None, reply, result is not None)
        content = _get(reply, "content")
        if error is None and isinstance(content, list):  # an MCP CallToolResult: its text parts
            reply = " ".join(text for text in (_text(_get(part, "text")) for part in content) if text)
        return _call(_join(_text(server), _text(_get(input, "tool")), sep="/"), _get(input, "arguments"), reply,
                     result is not None)
    if kind == "session":
        items = _get(input, "items")
        answer = _get(result, "result")
        return " ".join(part for part in (
            _text(_get(input, "op")),
            f"{len(items)} items" if isinstance(items, list) else None,
            f"-> {len(answer)} items" if isinstance(answer, list) else None,
        ) if part)
    return ""


def _pydantic_ai(kind: str, input: Any, result: Any) -> str:
    if kind == "mcp_tools":  # an MCP server's tool listing (adapters/pydantic_ai/mcp_seam.py)
        tools = _get(result, "tools")
        listed = ", ".join(name for name in tools if isinstance(name, str)) if isinstance(tools, dict) else None
        return _call(_join(_text(_get(input, "toolset")), "list_tools"), None, listed, result is not None)
    return ""


def _langgraph(kind: str, input: Any, result: Any) -> str:
    if kind == "node":
        return _call(_get(input, "node"), None, langgraph_output(result), result is not None)
    return ""


def _crewai(kind: str, input: Any, result: Any) -> str:
    if kind == "task":
        task, output = _get(input, "task"), _get(result, "output")
        label = f"task {task}" if isinstance(task, int) else None
        return _call(_join(label, _text(_get(output, "agent")) or _text(_get(input, "agent"))), None,
                     _get(output, "raw"), result is not None)
    if kind == "delegate":
        return _call(_get(input, "tool"), _get(input, "arguments"), _get(result, "result"), result is not None)
    return ""


_DESCRIBERS: dict[str, Callable[[str, Any, Any], str]] = {
    "openai_agents": _openai_agents,
    "pydantic_ai": _pydantic_ai,
    "langgraph": _langgraph,
    "crewai": _crewai,
}
"""The steps other than model and tool calls (those read alike: :mod:`~dapr_agents_durable.runtime.payloads`)."""


# ------------------------------------------------------------------ the lines


def _model(name: Any, input_tokens: Any, output_tokens: Any) -> str:
    """``"gpt-4o  812 in / 64 out tokens"``; a count left out of the payload (stored only when not 0) is 0."""
    counts = [n if isinstance(n, int) and not isinstance(n, bool) else None for n in (input_tokens, output_tokens)]
    tokens = None
    if any(n is not None for n in counts):
        tokens = f"{counts[0] or 0} in / {counts[1] or 0} out tokens"
    return _join(_text(name), tokens)


def _call(name: Any, arguments: Any, reply: Any, answered: bool) -> str:
    """``"get_weather {"city": "Paris"} -> sunny in Paris"``."""
    return _join(_text(name), None if arguments is None else preview(arguments),
                 "-> " + preview(reply) if answered else None)


def _tool(call: ToolCall) -> str:
    return _call(call.tool, call.arguments, call.reply, call.answered)


def preview(value: Any) -> str:
    """``value`` as text (JSON unless a string), cut to :data:`PREVIEW` characters."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def _join(*parts: str | None, sep: str = " ") -> str:
    return sep.join(part for part in parts if part)
