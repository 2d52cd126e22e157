"""What a stored model or tool step says, read from the JSON each adapter keeps in history.

A step's name starts with its framework (``pydantic_ai.model``, ``langgraph.tool``); the
framework's reader knows that adapter's payload formats (its ``*_seam.py`` and codec
modules) without importing the framework, so the operator CLI (``runs show``) and the
OpenTelemetry spans (:mod:`~dapr_agents_durable.runtime.telemetry`) read them the same way
wherever they run. A payload of another shape reads as what can be found in it, or nothing.

Example::

    model_call("pydantic_ai.model", request, {"response": {"model_name": "gpt-4o",
               "usage": {"input_tokens": 812, "output_tokens": 64}}})
    # ModelCall(model='gpt-4o', input_tokens=812, output_tokens=64, error=None)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OBJECT_MARK = "__dapr_agents_durable_object__"
"""How the OpenAI Agents adapter stores a tool's non-JSON return value (``tool_codec``)."""


@dataclass(frozen=True)
class ModelCall:
    """A model step: the model's name and token counts (None where the payload has none), its error."""

    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    error: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """A tool step: the tool's name, its arguments and reply (``answered`` once it has one)."""

    tool: str | None
    arguments: Any
    reply: Any
    answered: bool


def model_call(step: str, input: Any, result: Any) -> ModelCall | None:
    """The model call step ``step`` (``<framework>.model``) stored, or None for another step."""
    framework, _, kind = step.partition(".")
    reader = _MODEL_READERS.get(framework)
    return reader(input, result) if kind == "model" and reader is not None else None


def tool_call(step: str, input: Any, result: Any) -> ToolCall | None:
    """The tool call step ``step`` (``<framework>.tool``) stored, or None for another step."""
    framework, _, kind = step.partition(".")
    reader = _TOOL_READERS.get(framework)
    return reader(input, result) if kind == "tool" and reader is not None else None


# ------------------------------------------------------------------ the frameworks


def _openai_agents_model(input: Any, result: Any) -> ModelCall:
    # The input is a delta of the run's previous request (runtime/deltas.py); the model's name
    # comes with the result.
    usage = get(result, "usage")
    return ModelCall(text(get(result, "model")), count(get(usage, "input_tokens")), count(get(usage, "output_tokens")))


def openai_agents_tool(input: Any, result: Any) -> ToolCall:
    """An ``openai_agents.tool`` (or ``.agent_tool``) step."""
    output = get(result, "output")
    marked = get(output, OBJECT_MARK)
    return ToolCall(text(get(input, "tool")), decoded(get(input, "arguments")),
                    get(marked, "text") if marked is not None else output, result is not None)


def _pydantic_ai_model(input: Any, result: Any) -> ModelCall:
    response = get(result, "response")
    usage = get(response, "usage")
    name = text(get(response, "model_name"))
    if name is None:  # no response (failed or running): the model id the request names, if any
        key = get(get(input, "set"), "model")
        name = key.removeprefix("id:") if isinstance(key, str) and key.startswith("id:") else None
    error = get(result, "error")
    return ModelCall(name, count(get(usage, "input_tokens")), count(get(usage, "output_tokens")),
                     error_text(error) if error is not None else None)


def _pydantic_ai_tool(input: Any, result: Any) -> ToolCall:
    outcome = get(result, "kind")
    reply: Any = get(result, "value")
    if outcome in ("retry", "failed"):
        reply = f"{outcome}: {get(result, 'message')}"
    elif outcome in ("approval_required", "call_deferred"):
        reply = outcome.replace("_", " ")
    elif outcome == "error":
        reply = error_text(get(result, "error"))
    return ToolCall(text(get(input, "tool")), get(input, "args"), reply, result is not None)


def _langgraph_model(input: Any, result: Any) -> ModelCall:
    generations = get(result, "generations")
    messages = [get(g, "message", "data") for g in generations] if isinstance(generations, list) else []
    name = None
    for data in messages:
        metadata = get(data, "response_metadata")
        name = name or text(get(metadata, "model_name")) or text(get(metadata, "model"))
    name = name or text(get(result, "llm_output", "model_name")) or text(get(input, "model"))
    usages = [get(data, "usage_metadata") for data in messages]
    return ModelCall(name, _sum(usages, "input_tokens"), _sum(usages, "output_tokens"))


def _langgraph_tool(input: Any, result: Any) -> ToolCall:
    arguments = get(input, "input")
    if isinstance(arguments, dict) and "args" in arguments:
        arguments = arguments["args"]
    return ToolCall(text(get(input, "tool")), revived(arguments), langgraph_output(result), result is not None)


def langgraph_output(result: Any) -> Any:
    """A LangGraph tool's or node's stored output (langgraph codec): a message's content, a command, a value."""
    if not isinstance(result, dict):
        return None
    if "message" in result:
        return get(result, "message", "data", "content")
    if "command" in result:
        goto = get(result, "command", "goto")
        return f"Command(goto={goto!r})" if goto else "Command"
    return revived(result.get("value"))


def _crewai_model(input: Any, result: Any) -> ModelCall:
    usage = get(result, "usage")
    name = text(get(result, "model")) or text(get(input, "llm"))  # its name, else its slot in the crew
    return ModelCall(name, count(get(usage, "prompt_tokens")), count(get(usage, "completion_tokens")))


def _crewai_tool(input: Any, result: Any) -> ToolCall:
    return ToolCall(text(get(input, "tool")), get(input, "arguments"), result, result is not None)


_MODEL_READERS: dict[str, Callable[[Any, Any], ModelCall]] = {
    "openai_agents": _openai_agents_model,
    "pydantic_ai": _pydantic_ai_model,
    "langgraph": _langgraph_model,
    "crewai": _crewai_model,
}
_TOOL_READERS: dict[str, Callable[[Any, Any], ToolCall]] = {
    "openai_agents": openai_agents_tool,
    "pydantic_ai": _pydantic_ai_tool,
    "langgraph": _langgraph_tool,
    "crewai": _crewai_tool,
}


# ------------------------------------------------------------------ reading foreign JSON


def get(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is not an object or lacks the key."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def text(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def count(value: Any) -> int | None:
    """``value`` if it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_text(error: Any) -> str:
    """A stored error ``{"type": ..., "message": ...}`` as ``"Type: message"``."""
    return ": ".join(part for part in (text(get(error, "type")), text(get(error, "message"))) if part) or "error"


def _sum(usages: list[Any], key: str) -> int | None:
    counts = [n for n in (count(get(usage, key)) for usage in usages) if n is not None]
    return sum(counts) if counts else None


def decoded(arguments: Any) -> Any:
    """Tool arguments the model sent as JSON text, decoded (so they read as every adapter's do)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            pass
    return arguments


def revived(data: Any) -> Any:
    """LangChain's serialized form (``dumpd``) of a message: its content; anything else as stored."""
    if isinstance(data, dict) and data.get("lc") == 1 and isinstance(get(data, "kwargs"), dict):
        return data["kwargs"].get("content", data["kwargs"])
    return data
