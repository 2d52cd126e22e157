"""The model call's arguments and answer as explicit JSON.

Tools, handoffs and the output schema hold callables and agents; only what a
model needs of them crosses the activity boundary (names, descriptions, JSON
schemas), and schema-only stand-ins are rebuilt on the activity side.

A model response is stored as the SDK's ``ModelResponse`` JSON with its output
items as set by the model client (unset fields left out), its usage without the
counters and details still at their defaults, and without null top-level fields::

    {"output": [{"type": "function_call", "name": "note", ...}], "usage": {"requests": 1, "input_tokens": 812}}
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from agents import Agent, FunctionTool, Handoff, ModelSettings, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.items import ModelResponse
from agents.models.interface import ModelTracing
from pydantic import TypeAdapter, ValidationError

from dapr_agents_durable.runtime.codec import Codec, checked

MODEL_RESPONSE = Codec(TypeAdapter(ModelResponse), what="model response", compact=True)
_SETTINGS = TypeAdapter(ModelSettings)
_USAGE = TypeAdapter(Usage)


def _null_when_missing() -> frozenset[str]:
    """``ModelResponse`` fields a missing key stands for as None: default None, or no default and nullable."""
    hints = typing.get_type_hints(ModelResponse)
    names = set()
    for spec in dataclasses.fields(ModelResponse):
        if spec.default_factory is not dataclasses.MISSING:
            continue
        if spec.default is dataclasses.MISSING:
            try:
                TypeAdapter(hints[spec.name]).validate_python(None)
            except ValidationError:
                continue
        elif spec.default is not None:
            continue
        names.add(spec.name)
    return frozenset(names)


_NULL_WHEN_MISSING = _null_when_missing()


def encode_response(response: ModelResponse, *, what: str) -> dict[str, Any]:
    """A model response as checked JSON (see the module docstring)."""
    data: dict[str, Any] = MODEL_RESPONSE.encode(response, what=what)  # type: ignore[assignment]
    data["usage"] = _USAGE.dump_python(response.usage, mode="json", exclude_defaults=True)
    return {key: value for key, value in data.items() if value is not None or key not in _NULL_WHEN_MISSING}


def decode_response(data: dict[str, Any], *, what: str) -> ModelResponse:
    """The ``ModelResponse`` :func:`encode_response` encoded (full encodings decode too)."""
    missing = {name: None for name in _NULL_WHEN_MISSING if name not in data}
    return MODEL_RESPONSE.decode({**data, **missing}, what=what)


@dataclass(frozen=True)
class OutputSchemaStub(AgentOutputSchemaBase):
    """The output schema as the model sees it (validation stays in the workflow)."""

    schema_name: str
    schema: dict[str, Any]
    strict: bool
    plain_text: bool

    def is_plain_text(self) -> bool:
        return self.plain_text

    def name(self) -> str:
        return self.schema_name

    def json_schema(self) -> dict[str, Any]:
        return self.schema

    def is_strict_json_schema(self) -> bool:
        return self.strict

    def validate_json(self, json_str: str) -> Any:
        raise RuntimeError("output validation runs in the workflow, not in the model activity")


async def _not_invoked(*_: Any) -> Any:
    raise RuntimeError("tools and handoffs run in the workflow, not in the model activity")


def encode_request(
    agent_name: str,
    system_instructions: str | None,
    input: str | list[Any],
    model_settings: ModelSettings,
    tools: list[Any],
    output_schema: AgentOutputSchemaBase | None,
    handoffs: list[Handoff[Any, Any]],
    tracing: ModelTracing,
    previous_response_id: str | None,
    conversation_id: str | None,
    prompt: Any,
) -> dict[str, Any]:
    """The JSON input of one model activity."""
    what = f"model input of agent {agent_name!r}"
    return checked(
        {
            "agent": agent_name,
            "system_instructions": system_instructions,
            "input": input,
            "model_settings": _SETTINGS.dump_python(model_settings, mode="json", exclude_none=True),
            "tools": [_encode_tool(tool) for tool in tools],
            "output_schema": None
            if output_schema is None
            else {
                "name": output_schema.name(),
                "schema": output_schema.json_schema() if not output_schema.is_plain_text() else {},
                "strict": output_schema.is_strict_json_schema(),
                "plain_text": output_schema.is_plain_text(),
            },
            "handoffs": [
                {
                    "tool_name": h.tool_name,
                    "tool_description": h.tool_description,
                    "input_json_schema": h.input_json_schema,
                    "strict_json_schema": h.strict_json_schema,
                    "agent_name": h.agent_name,
                }
                for h in handoffs
            ],
            "tracing": tracing.value,
            "previous_response_id": previous_response_id,
            "conversation_id": conversation_id,
            "prompt": prompt,
        },
        what=what,
    )  # type: ignore[return-value]


def _encode_tool(tool: Any) -> dict[str, Any]:
    if isinstance(tool, FunctionTool):
        return {
            "function": {
                "name": tool.name,
                "description": tool.description,
                "params_json_schema": tool.params_json_schema,
                "strict_json_schema": tool.strict_json_schema,
            }
        }
    return {"agent_tool": getattr(tool, "name", type(tool).__name__)}


def decode_request(agent: Agent[Any], data: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``Model.get_response`` rebuilt from :func:`encode_request`'s output."""
    schema = data["output_schema"]
    return {
        "system_instructions": data["system_instructions"],
        "input": data["input"],
        "model_settings": _SETTINGS.validate_python(data["model_settings"]),
        "tools": [_decode_tool(agent, tool) for tool in data["tools"]],
        "output_schema": None
        if schema is None
        else OutputSchemaStub(schema["name"], schema["schema"], schema["strict"], schema["plain_text"]),
        "handoffs": [Handoff(on_invoke_handoff=_not_invoked, **h) for h in data["handoffs"]],
        "tracing": ModelTracing(data["tracing"]),
        "previous_response_id": data["previous_response_id"],
        "conversation_id": data["conversation_id"],
        "prompt": data["prompt"],
    }


def _decode_tool(agent: Agent[Any], data: dict[str, Any]) -> Any:
    if "function" in data:
        return FunctionTool(on_invoke_tool=_not_invoked, **data["function"])
    name = data["agent_tool"]
    for tool in agent.tools:
        if getattr(tool, "name", type(tool).__name__) == name:
            return tool
    raise LookupError(f"agent {agent.name!r} has no tool named {name!r} in this process")
