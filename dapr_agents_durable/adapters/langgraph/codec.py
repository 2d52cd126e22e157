"""Graph values as JSON through LangChain's own serializer (messages keep their types).

Node and tool outputs (a ``ToolMessage``, a ``Command`` with node names, any value) cross
activity boundaries with :func:`encode_output` / :func:`decode_output`.

Example::

    data = to_data({"messages": [AIMessage("hi")]})
    assert from_data(data)["messages"][0].content == "hi"
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core._api import LangChainBetaWarning
from langchain_core.load import dumpd, load
from langchain_core.messages import ToolMessage, message_to_dict, messages_from_dict
from langgraph.types import Command

from dapr_agents_durable.runtime.codec import JSONValue, checked


def to_data(value: Any) -> Any:
    """``value`` as LangChain's JSON-ready data (``dumpd``)."""
    return dumpd(value)


def from_data(data: Any) -> Any:
    """The value :func:`to_data` encoded; only LangChain message classes are revived."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangChainBetaWarning)  # load() is marked beta; the format is stable
        return load(data, allowed_objects="messages")


def encode_output(output: Any) -> JSONValue:
    """A tool's or node's output as JSON: a ``ToolMessage``, a ``Command`` or any LangChain-serializable value."""
    if isinstance(output, ToolMessage):
        return checked({"message": message_to_dict(output)}, what="tool or node message")
    if isinstance(output, Command):
        if any(not isinstance(goto, str) for goto in ([output.goto] if isinstance(output.goto, str) else output.goto)):
            raise TypeError("a tool or node run as an activity can return Command(goto=...) with node names only, not Send")
        parts = {"graph": output.graph, "goto": output.goto, "update": to_data(output.update), "resume": to_data(output.resume)}
        return checked({"command": parts}, what="tool or node command")
    return checked({"value": to_data(output)}, what="tool or node output")


def decode_output(data: Any) -> Any:
    """The output encoded by :func:`encode_output`."""
    if "message" in data:
        return messages_from_dict([data["message"]])[0]
    if "command" in data:
        parts = data["command"]
        return Command(
            graph=parts["graph"],
            goto=parts["goto"],
            update=from_data(parts["update"]),
            resume=from_data(parts["resume"]),
        )
    return from_data(data["value"])
