"""Comparing a durable run with a native one on what a user reads back.

Messages are compared as PydanticAI's own JSON form, with what differs from run to run by
design replaced by placeholders: timestamps and durations, run and conversation ids (as PydanticAI's own
tests do with ``IsNow``/``IsStr``), and generated tool call ids (numbered in order of first
appearance, so a call and its return still have to match).
"""

from __future__ import annotations

from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

_VOLATILE = {
    "timestamp": "<time>",
    "request_timestamp": "<time>",
    "duration": "<duration>",
    "run_id": "<run id>",
    "conversation_id": "<conversation id>",
}


def normalized(messages: list[ModelMessage]) -> list[Any]:
    """The messages as JSON, with per-run values replaced by placeholders."""
    data = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    call_ids: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key in _VOLATILE and item is not None:
                    out[key] = _VOLATILE[key]
                elif key == "tool_call_id" and isinstance(item, str) and item.startswith("pyd_ai_"):
                    out[key] = call_ids.setdefault(item, f"<call {len(call_ids) + 1}>")
                else:
                    out[key] = walk(item)
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(data)  # type: ignore[no-any-return]


def same_run(native: Any, durable: Any) -> None:
    """Assert a durable ``AgentRunResult`` reads back as the native one."""
    assert type(durable) is type(native)
    assert durable.output == native.output
    assert normalized(durable.all_messages()) == normalized(native.all_messages())
    assert normalized(durable.new_messages()) == normalized(native.new_messages())
    assert durable.usage == native.usage
