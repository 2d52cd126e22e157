"""Script steps of the scripted model server, and their JSON file format.

A script is an ordered list of steps; model request *n* is answered by step *n*.
Build steps with the helpers::

    from dapr_agents_durable.testing import http_error, structured, text, tool_call, tool_calls

    script = [
        http_error(429, retry_after=1),                       # rate limited once
        tool_call("get_weather", {"city": "Paris"}),          # one tool call
        tool_calls(tool_call("a", {}), tool_call("b", {"x": 1})),  # parallel tool calls
        structured({"city": "Paris", "sunny": True}),          # JSON text (structured output)
        text("It is sunny in Paris.", delay=2.0),              # answered after 2 s
    ]

JSON script format (what ``load_script`` reads and ``dump_script`` writes)::

    {"steps": [
        {"error": 429, "retry_after": 1, "message": "slow down"},
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"},
                         "call_id": "call_weather"}]},
        {"text": "{\\"city\\": \\"Paris\\"}"},
        {"text": "It is sunny in Paris.", "delay": 2.0}
    ]}

Each step holds exactly one of ``text`` (a string), ``tool_calls`` (a non-empty list
of ``{"name", "arguments"?, "call_id"?}``; ``arguments`` is an object, or a string
sent verbatim) or ``error`` (an HTTP status 400-599, with optional ``retry_after``
seconds and ``message``). Any step may carry ``delay``: seconds the server holds the
request before answering.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias


def _check_delay(delay: float) -> None:
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay) or delay < 0:
        raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")


@dataclass(frozen=True)
class TextStep:
    """Answer with an assistant message holding ``content``.

    Example::

        TextStep("It is sunny in Paris.")   # or text("It is sunny in Paris.")
    """

    content: str
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.content, str):
            raise ValueError(f"text content must be a string, got {type(self.content).__name__}; "
                             "use structured(value) to answer with JSON")
        _check_delay(self.delay)


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asks for.

    ``arguments`` is a JSON object (sent compactly encoded) or a string sent verbatim,
    which lets a test send arguments that are not valid JSON. ``call_id`` defaults to
    ``call_<request number>_<position>``.

    Example::

        ToolCall("get_weather", {"city": "Paris"}, call_id="call_weather")
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"tool call name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.arguments, (Mapping, str)):
            raise ValueError(f"arguments of tool call {self.name!r} must be an object or a string, "
                             f"got {type(self.arguments).__name__}")
        try:
            self.arguments_json()
        except (TypeError, ValueError) as error:
            raise ValueError(f"arguments of tool call {self.name!r} must be JSON-serializable ({error})") from None
        if self.call_id is not None and (not isinstance(self.call_id, str) or not self.call_id):
            raise ValueError(f"call_id of tool call {self.name!r} must be a non-empty string or None, "
                             f"got {self.call_id!r}")

    def arguments_json(self) -> str:
        """The arguments as the model sends them: a compact JSON string."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


@dataclass(frozen=True)
class ToolCallsStep:
    """Answer with one or more (parallel) tool calls.

    Example::

        ToolCallsStep((ToolCall("a"), ToolCall("b", {"x": 1})))   # or tool_calls(...)
    """

    calls: tuple[ToolCall, ...]
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not self.calls or not all(isinstance(call, ToolCall) for call in self.calls):
            raise ValueError("a tool calls step needs at least one ToolCall, "
                             "for example tool_call('get_weather', {'city': 'Paris'})")
        _check_delay(self.delay)


@dataclass(frozen=True)
class ErrorStep:
    """Answer with an HTTP error in OpenAI's error shape.

    ``retry_after`` (seconds) is sent as ``Retry-After`` (whole seconds, rounded up)
    and ``retry-after-ms``.

    Example::

        ErrorStep(429, retry_after=1)   # or http_error(429, retry_after=1)
    """

    status: int
    retry_after: float | None = None
    message: str | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 400 <= self.status <= 599:
            raise ValueError(f"error status must be an HTTP error code between 400 and 599, got {self.status!r}")
        if self.retry_after is not None:
            ok = isinstance(self.retry_after, (int, float)) and not isinstance(self.retry_after, bool)
            if not ok or not math.isfinite(self.retry_after) or self.retry_after < 0:
                raise ValueError(f"retry_after must be a finite number of seconds >= 0 or None, "
                                 f"got {self.retry_after!r}")
        if self.message is not None and not isinstance(self.message, str):
            raise ValueError(f"error message must be a string or None, got {type(self.message).__name__}")
        _check_delay(self.delay)


Step: TypeAlias = TextStep | ToolCallsStep | ErrorStep
"""One scripted answer."""

STEP_TYPES = (TextStep, ToolCallsStep, ErrorStep)


def text(content: str, *, delay: float = 0.0) -> TextStep:
    """A text answer.

    Example::

        text("It is sunny in Paris.")
    """
    return TextStep(content, delay=delay)


def structured(value: Any, *, delay: float = 0.0) -> TextStep:
    """A text answer whose content is ``value`` encoded as JSON (structured output).

    Example::

        structured({"city": "Paris", "sunny": True})
    """
    return TextStep(json.dumps(value), delay=delay)


def tool_call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, call_id: str | None = None, delay: float = 0.0
) -> ToolCallsStep:
    """A step with a single tool call.

    Example::

        tool_call("get_weather", {"city": "Paris"})
    """
    return ToolCallsStep((ToolCall(name, {} if arguments is None else arguments, call_id),), delay=delay)


def tool_calls(*calls: ToolCall | ToolCallsStep, delay: float = 0.0) -> ToolCallsStep:
    """A step with parallel tool calls, from ``ToolCall`` values or ``tool_call(...)`` steps.

    Example::

        tool_calls(tool_call("get_weather", {"city": "Paris"}), tool_call("get_time", {"tz": "CET"}))
    """
    flat: list[ToolCall] = []
    for call in calls:
        if isinstance(call, ToolCallsStep):
            flat.extend(call.calls)
        elif isinstance(call, ToolCall):
            flat.append(call)
        else:
            raise ValueError(f"tool_calls takes ToolCall values or tool_call(...) steps, got {call!r}")
    return ToolCallsStep(tuple(flat), delay=delay)


def http_error(
    status: int, *, retry_after: float | None = None, message: str | None = None, delay: float = 0.0
) -> ErrorStep:
    """An HTTP error answer, optionally with ``Retry-After``.

    Example::

        http_error(429, retry_after=1)
    """
    return ErrorStep(status, retry_after=retry_after, message=message, delay=delay)


_STEP_KEYS = {"text", "tool_calls", "error"}
_EXTRA_KEYS = {"text": set(), "tool_calls": set(), "error": {"retry_after", "message"}}


def step_from_json(data: Any, *, position: int = 1) -> Step:
    """Build a step from its JSON form (see the module docstring); ``position`` names it in errors.

    Example::

        step_from_json({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
    """
    where = f"script step {position}"
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be an object such as {{\"text\": \"hi\"}}, got {type(data).__name__}")
    kinds = _STEP_KEYS & set(data)
    if len(kinds) != 1:
        raise ValueError(f"{where} must hold exactly one of 'text', 'tool_calls' or 'error', got keys {sorted(data)}")
    kind = kinds.pop()
    unknown = set(data) - {kind, "delay"} - _EXTRA_KEYS[kind]
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; a {kind!r} step allows "
                         f"{sorted({kind, 'delay'} | _EXTRA_KEYS[kind])}")
    delay = data.get("delay", 0.0)
    try:
        if kind == "text":
            return TextStep(data["text"], delay=delay)
        if kind == "error":
            return ErrorStep(data["error"], retry_after=data.get("retry_after"), message=data.get("message"),
                             delay=delay)
        return ToolCallsStep(_calls_from_json(data["tool_calls"]), delay=delay)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _calls_from_json(data: Any) -> tuple[ToolCall, ...]:
    if not isinstance(data, list) or not data:
        raise ValueError("'tool_calls' must be a non-empty list of {\"name\", \"arguments\", \"call_id\"} objects")
    calls = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, Mapping) or "name" not in item or set(item) - {"name", "arguments", "call_id"}:
            raise ValueError(f"tool call {index} must be an object with 'name' and optional 'arguments' and "
                             f"'call_id', got {item!r}")
        calls.append(ToolCall(item["name"], item.get("arguments", {}), item.get("call_id")))
    return tuple(calls)


def step_to_json(step: Step) -> dict[str, Any]:
    """The JSON form of a step (the inverse of :func:`step_from_json`).

    Example::

        step_to_json(text("hi"))  # {"text": "hi"}
    """
    data: dict[str, Any]
    if isinstance(step, TextStep):
        data = {"text": step.content}
    elif isinstance(step, ToolCallsStep):
        data = {"tool_calls": [_call_to_json(call) for call in step.calls]}
    elif isinstance(step, ErrorStep):
        data = {"error": step.status}
        if step.retry_after is not None:
            data["retry_after"] = step.retry_after
        if step.message is not None:
            data["message"] = step.message
    else:
        raise ValueError(f"not a script step: {step!r}; build steps with text(), tool_call() or http_error()")
    if step.delay:
        data["delay"] = step.delay
    return data


def _call_to_json(call: ToolCall) -> dict[str, Any]:
    data: dict[str, Any] = {"name": call.name, "arguments": call.arguments if isinstance(call.arguments, str)
                            else dict(call.arguments)}
    if call.call_id is not None:
        data["call_id"] = call.call_id
    return data


def parse_script(data: Any) -> list[Step]:
    """Build a script from its JSON form ``{"steps": [...]}``.

    Example::

        parse_script({"steps": [{"text": "hi"}]})
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("steps"), list) or set(data) != {"steps"}:
        raise ValueError('a script must be a JSON object {"steps": [...]} holding a list of steps, '
                         "for example {\"steps\": [{\"text\": \"hi\"}]}")
    return [step_from_json(item, position=index) for index, item in enumerate(data["steps"], start=1)]


def dump_script(steps: Sequence[Step]) -> dict[str, Any]:
    """The JSON form ``{"steps": [...]}`` of a script.

    Example::

        json.dump(dump_script([text("hi")]), open("script.json", "w"))
    """
    return {"steps": [step_to_json(step) for step in steps]}


def save_script(steps: Sequence[Step], path: str | os.PathLike[str]) -> None:
    """Write a script as a JSON file that ``load_script`` and the server's ``--script`` read.

    Example::

        save_script([tool_call("get_weather", {"city": "Paris"}), text("Sunny.")], "script.json")
    """
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dump_script(steps), handle, indent=2)


def load_script(path: str | os.PathLike[str]) -> list[Step]:
    """Read a script from a JSON file (format in the module docstring).

    Example::

        steps = load_script("script.json")
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"script file {os.fspath(path)!r} is not valid JSON ({error})") from None
    try:
        return parse_script(data)
    except ValueError as error:
        raise ValueError(f"script file {os.fspath(path)!r}: {error}") from None
