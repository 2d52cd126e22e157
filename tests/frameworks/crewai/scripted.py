"""A scripted in-process CrewAI LLM and tool log shared by the CrewAI tests."""

from __future__ import annotations

import json
import threading
from typing import Any

from crewai.llms.base_llm import BaseLLM
from crewai.utilities.types import LLMMessage
from pydantic import PrivateAttr


class ScriptedLLM(BaseLLM):
    """Replies from a script (text or tool-call lists), records each call, counts tokens."""

    llm_type: str = "scripted"
    replies: list[Any] = []
    rule: Any = None
    """Instead of ``replies``: a function of the messages giving the reply."""
    native_tools: bool = True
    _calls: list[list[dict[str, Any]]] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def call(
        self,
        messages: str | list[LLMMessage],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        with self._lock:
            self._calls.append([dict(m) for m in messages])
            reply = self.rule(messages) if self.rule else self.replies[len(self._calls) - 1]
        self._track_token_usage_internal({"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13})
        if response_model is not None and isinstance(reply, str):
            return response_model.model_validate_json(reply)
        return reply

    def supports_function_calling(self) -> bool:
        return self.native_tools

    def get_context_window_size(self) -> int:
        return 8192

    @property
    def calls(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return list(self._calls)


def tool_call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


class ToolLog:
    """The arguments each real tool ran with, in order."""

    def __init__(self) -> None:
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def record(self, name: str, **arguments: Any) -> None:
        with self._lock:
            self._calls.append((name, arguments))

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._calls)
