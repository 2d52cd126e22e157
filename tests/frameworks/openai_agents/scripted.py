"""A scripted in-process ``Model`` for the adapter's tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents import Usage
from agents.items import ModelResponse
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseUsage,
)
from pydantic_core import to_jsonable_python


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
    """Answers each call with ``rule(input_items)``; counts calls and records each request."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.calls = 0
        self.streamed = 0
        """How many of the calls came through ``stream_response``."""
        self.inputs: list[Any] = []
        self.requests: list[dict[str, Any]] = []

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs,
                           tracing, *, previous_response_id=None, conversation_id=None, prompt=None) -> ModelResponse:
        self.calls += 1
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        self.inputs.append(items)
        self.requests.append(request_view(system_instructions, items, model_settings, tools, output_schema, handoffs))
        return ModelResponse(output=self.rule(items), usage=Usage(requests=1, input_tokens=10, output_tokens=5,
                                                                    total_tokens=15), response_id=None)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """The same answer, streamed as a real model ends its stream: one ``response.completed``."""
        self.streamed += 1
        answer = await self.get_response(*args, **kwargs)
        usage = ResponseUsage(
            input_tokens=answer.usage.input_tokens, output_tokens=answer.usage.output_tokens,
            total_tokens=answer.usage.total_tokens, input_tokens_details=answer.usage.input_tokens_details,
            output_tokens_details=answer.usage.output_tokens_details,
        )
        response = Response(id="scripted", created_at=0, model="scripted", object="response", output=answer.output,
                            tool_choice="none", tools=[], top_p=None, parallel_tool_calls=False, status="completed",
                            usage=usage)
        object.__setattr__(response, "id", answer.response_id)  # a model may give no response id
        yield ResponseCompletedEvent(type="response.completed", sequence_number=0, response=response)


def outputs(items: list[Any]) -> list[Any]:
    """The tool outputs present in a model input."""
    return [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]


def request_view(system_instructions: str | None, items: list[Any], model_settings: Any, tools: list[Any],
                 output_schema: Any, handoffs: list[Any]) -> dict[str, Any]:
    """What a model call was asked, as plain JSON (to compare the requests of two runs)."""
    schema = None
    if output_schema is not None:
        schema = {"name": output_schema.name(), "plain_text": output_schema.is_plain_text(),
                  "json_schema": None if output_schema.is_plain_text() else output_schema.json_schema()}
    return {
        "system_instructions": system_instructions,
        "input": to_jsonable_python(items, fallback=repr),
        "model_settings": model_settings.to_json_dict(),
        "tools": [{"name": t.name, "parameters": getattr(t, "params_json_schema", None)} for t in tools],
        "handoffs": [{"name": h.tool_name, "parameters": h.input_json_schema} for h in handoffs],
        "output_schema": schema,
    }


def two_refunds(items: list[Any]) -> list[Any]:
    """Ask for two ``refund`` calls (c1: 5, c2: 7), then report their outputs."""
    done = outputs(items)
    if not done:
        return [tool_call("refund", {"amount": 5}, "c1"), tool_call("refund", {"amount": 7}, "c2")]
    return [message("; ".join(o["output"] for o in done))]


def one_refund(items: list[Any]) -> list[Any]:
    """Ask for one ``refund`` call (c1: 5), then report its output."""
    done = outputs(items)
    return [message(done[0]["output"])] if done else [tool_call("refund", {"amount": 5}, "c1")]
