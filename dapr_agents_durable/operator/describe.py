"""One line per step of ``runs show``, read from the JSON each adapter stores in history.

A step's name starts with its framework (``openai_agents.model``, ``langgraph.node``); the
framework's describer reads that adapter's payload formats (its ``*_seam.py`` and codec
modules) without importing the framework, so the operator CLI runs where none is installed.
A model call shows the model's name and token usage, a tool call its name and previews of
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

PREVIEW = 60
"""Characters of arguments and results shown in a timeline."""

_OBJECT_MARK = "__dapr_agents_durable_object__"
"""How the OpenAI Agents adapter stores a tool's non-JSON return value (``tool_codec``)."""


def describe_step(name: str, input: Any, result: Any) -> str:
    """The detail of step ``name`` (an activity or child workflow) from its stored input and result
    (``None`` while it runs or when it failed); empty when its framework or shape is unknown."""
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
    if kind == "model":
        # The input is a delta of the run's previous request (runtime/deltas.py); the model's name
        # comes with the result.
        usage = _get(result, "usage")
        return _model(_get(result, "model"), _get(usage, "input_tokens"), _get(usage, "output_tokens"))
    if kind in ("tool", "agent_tool"):
        output = _get(result, "output")
        marked = _get(output, _OBJECT_MARK)
        return _call(_get(input, "tool"), _decoded(_get(input, "arguments")),
                     _get(marked, "text") if marked is not None else output, result is not None)
    if kind == "mcp":
        server, op = _get(input, "server"), _get(input, "op")
        error = _get(result, "error")
        reply: Any = _error(error) if error is not None else _get(result, "result")
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
    if kind == "model":
        response = _get(result, "response")
        usage = _get(response, "usage")
        name = _get(response, "model_name")
        if name is None:  # no response (failed or running): the model id the request names, if any
            key = _get(_get(input, "set"), "model")
            name = key.removeprefix("id:") if isinstance(key, str) and key.startswith("id:") else None
        line = _model(name, _get(usage, "input_tokens"), _get(usage, "output_tokens"))
        error = _get(result, "error")
        return _join(line, "-> " + _error(error)) if error is not None else line
    if kind == "tool":
        outcome = _get(result, "kind")
        reply: Any = _get(result, "value")
        if outcome == "retry":
            reply = f"retry: {_get(result, 'message')}"
        elif outcome in ("approval_required", "call_deferred"):
            reply = outcome.replace("_", " ")
        elif outcome == "error":
            reply = _error(_get(result, "error"))
        return _call(_get(input, "tool"), _get(input, "args"), reply, result is not None)
    return ""


def _langgraph(kind: str, input: Any, result: Any) -> str:
    if kind == "model":
        generations = _get(result, "generations")
        messages = [_get(g, "message", "data") for g in generations] if isinstance(generations, list) else []
        name = None
        for data in messages:
            metadata = _get(data, "response_metadata")
            name = name or _text(_get(metadata, "model_name")) or _text(_get(metadata, "model"))
        name = name or _text(_get(result, "llm_output", "model_name")) or _text(_get(input, "model"))
        usages = [_get(data, "usage_metadata") for data in messages]
        return _model(name, _sum(usages, "input_tokens"), _sum(usages, "output_tokens"))
    if kind == "tool":
        arguments = _get(input, "input")
        if isinstance(arguments, dict) and "args" in arguments:
            arguments = arguments["args"]
        return _call(_get(input, "tool"), _revived(arguments), _langgraph_output(result), result is not None)
    if kind == "node":
        return _call(_get(input, "node"), None, _langgraph_output(result), result is not None)
    return ""


def _langgraph_output(result: Any) -> Any:
    """A tool's or node's output (langgraph codec): a message's content, a command, a value."""
    if not isinstance(result, dict):
        return None
    if "message" in result:
        return _get(result, "message", "data", "content")
    if "command" in result:
        goto = _get(result, "command", "goto")
        return f"Command(goto={goto!r})" if goto else "Command"
    return _revived(result.get("value"))


def _crewai(kind: str, input: Any, result: Any) -> str:
    if kind == "model":
        usage = _get(result, "usage")
        name = _text(_get(result, "model")) or _text(_get(input, "llm"))  # its name, else its slot in the crew
        return _model(name, _get(usage, "prompt_tokens"), _get(usage, "completion_tokens"))
    if kind == "tool":
        return _call(_get(input, "tool"), _get(input, "arguments"), result, result is not None)
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


def _error(error: Any) -> str:
    return _join(_text(_get(error, "type")), _text(_get(error, "message")), sep=": ") or "error"


def preview(value: Any) -> str:
    """``value`` as text (JSON unless a string), cut to :data:`PREVIEW` characters."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def _join(*parts: str | None, sep: str = " ") -> str:
    return sep.join(part for part in parts if part)


# ------------------------------------------------------------------ reading foreign JSON


def _get(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is not an object or lacks the key."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _sum(usages: list[Any], key: str) -> int | None:
    counts = [n for n in (_get(usage, key) for usage in usages) if isinstance(n, int) and not isinstance(n, bool)]
    return sum(counts) if counts else None


def _decoded(arguments: Any) -> Any:
    """Tool arguments the model sent as JSON text, decoded (so they preview as every adapter's do)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            pass
    return arguments


def _revived(data: Any) -> Any:
    """LangChain's serialized form (``dumpd``) of a message: its content; anything else as stored."""
    if isinstance(data, dict) and data.get("lc") == 1 and isinstance(_get(data, "kwargs"), dict):
        return data["kwargs"].get("content", data["kwargs"])
    return data
