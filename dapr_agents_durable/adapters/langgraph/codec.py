"""Graph values as JSON through LangChain's own serializer (messages keep their types).

Node and tool outputs (a ``ToolMessage``, a ``Command`` with node names, any value) cross
activity boundaries with :func:`encode_output` / :func:`decode_output`; the messages of
a run's model calls are encoded once per message object (:class:`MessageData`).

Example::

    data = to_data({"messages": [AIMessage("hi")]})
    assert from_data(data)["messages"][0].content == "hi"
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core._api import LangChainBetaWarning
from langchain_core.load import dumpd, load
from langchain_core.messages import BaseMessage, ToolMessage, message_to_dict, messages_from_dict
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


class MessageData:
    """Messages as ``message_to_dict`` data and JSON text, each message object encoded once.

    A graph's ``messages`` channel hands its nodes the same message objects at every step
    (a node updates one by returning a new message, not by changing it in place, which no
    checkpointer would keep either), so one run's model calls share the encoding of the
    conversation so far and encode only its new messages.
    """

    def __init__(self) -> None:
        self._kept: dict[int, tuple[BaseMessage, dict[str, Any], str]] = {}

    def encode(self, messages: Sequence[BaseMessage]) -> tuple[list[dict[str, Any]], list[str]]:
        """Each message's ``message_to_dict`` data and its JSON text (keys sorted)."""
        data, texts = [], []
        for message in messages:
            kept = self._kept.get(id(message))
            if kept is None or kept[0] is not message:
                encoded = message_to_dict(message)
                kept = self._kept[id(message)] = (message, encoded, json.dumps(encoded, sort_keys=True, default=repr))
            data.append(kept[1])
            texts.append(kept[2])
        return data, texts
