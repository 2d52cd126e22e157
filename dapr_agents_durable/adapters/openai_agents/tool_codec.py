"""Tool results across the activity boundary, keeping the objects tools return.

A tool may return text, JSON values, pydantic models (the SDK's ``ToolOutputText``
and friends included), dataclasses or lists of them; the SDK then decides what the
model sees from that object (and ``stop_on_first_tool`` makes it the final output).
Plain JSON crosses as itself; any other object crosses as its type's import path,
its JSON (through the type's ``TypeAdapter``) and its ``str()``, and is rebuilt on the
workflow side, so the SDK gets an equal object. A type that cannot be imported there
(defined inside a function) comes back as its ``str()``, which is what the SDK would
show the model for an unknown object anyway.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import TypeAdapter

from dapr_agents_durable.runtime.codec import checked

_MARK = "__dapr_agents_durable_object__"
_JSON_SCALARS = (str, int, float, bool, type(None))


def encode_output(output: Any, *, what: str) -> Any:
    """The tool's return value as checked JSON."""
    return checked(_encode(output), what=what)


def _encode(value: Any) -> Any:
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value) and _MARK not in value:
        return {k: _encode(v) for k, v in value.items()}
    kind = type(value)
    try:
        data = TypeAdapter(kind).dump_python(value, mode="json")
    except Exception:  # not describable by pydantic: only its text survives
        data = None
    return {_MARK: {"type": f"{kind.__module__}:{kind.__qualname__}", "data": data, "text": str(value)}}


def decode_output(data: Any) -> Any:
    """The object a tool returned, rebuilt from :func:`encode_output`'s JSON."""
    if isinstance(data, list):
        return [decode_output(item) for item in data]
    if isinstance(data, dict):
        if _MARK in data:
            return _rebuild(data[_MARK])
        return {k: decode_output(v) for k, v in data.items()}
    return data


def _rebuild(record: dict[str, Any]) -> Any:
    module_name, _, qualname = record["type"].partition(":")
    if record["data"] is None or "<locals>" in qualname:
        return record["text"]
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        return TypeAdapter(target).validate_python(record["data"])
    except Exception:  # the type moved or no longer validates this data
        return record["text"]
