"""Scripted chat models and graphs built the same way natively and durably."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.tools import tool
from pydantic import Field


class ScriptedChatModel(GenericFakeChatModel):
    """Answers from its script; records the conversations it gets."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(*replies: AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(replies))


def call(name: str, call_id: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


weather_runs: Counter[str] = Counter()
_lock = threading.Lock()


@tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    with _lock:
        weather_runs[city] += 1
    return f"sunny in {city}"


def shape(messages: list[BaseMessage]) -> list[tuple[Any, ...]]:
    """Messages without their random ids: type, content, tool calls, tool call id, usage."""
    return [
        (
            m.type,
            m.content,
            [(c["name"], c["args"], c["id"]) for c in getattr(m, "tool_calls", [])],
            getattr(m, "tool_call_id", None),
            getattr(m, "usage_metadata", None),
        )
        for m in messages
    ]
