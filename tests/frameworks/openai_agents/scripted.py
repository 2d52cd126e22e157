"""A scripted in-process ``Model`` for the adapter's tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agents import Usage
from agents.items import ModelResponse
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText


def tool_call(name: str, args: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", name=name, arguments=json.dumps(args), call_id=call_id, id=f"fc_{call_id}", status="completed"
    )


def message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        type="message",
        id="msg_1",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


Rule = Callable[[list[Any]], list[Any]]


class ScriptedModel(Model):
    """Answers each call with ``rule(input_items)``; counts calls."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.calls = 0
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs,
                           tracing, *, previous_response_id=None, conversation_id=None, prompt=None) -> ModelResponse:
        self.calls += 1
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        self.inputs.append(items)
        return ModelResponse(output=self.rule(items), usage=Usage(requests=1, input_tokens=10, output_tokens=5,
                                                                    total_tokens=15), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any):
        raise NotImplementedError


def outputs(items: list[Any]) -> list[Any]:
    """The tool outputs present in a model input."""
    return [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
