"""OpenAI wire shapes: Chat Completions and Responses payloads, SSE streams, errors.

Everything here is a pure function of a script step and the recorded request, so the
same request number always yields the same bytes. Ids derive from the request number
*n*: ``chatcmpl-n``, ``resp_n``, ``msg_n_k``, ``fc_n_k`` and ``call_n_k`` (the *k*-th
tool call of the answer, unless the step names its own ``call_id``). Token usage is a
deterministic estimate of about four characters per token.

Example::

    payload = chat_completion(text("hi"), request, model="scripted-model")
    assert payload["id"] == f"chatcmpl-{request.number}"
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from dapr_agents_durable.testing.recording import RecordedRequest
from dapr_agents_durable.testing.script import TextStep, ToolCall, ToolCallsStep

Answer = TextStep | ToolCallsStep
"""A step that produces a model answer (errors are sent by the server directly)."""

CREATED_BASE = 1_700_000_000
SYSTEM_FINGERPRINT = "fp_scripted"
ARGUMENT_PIECE_CHARS = 8

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def error_payload(status: int, message: str) -> dict[str, Any]:
    """OpenAI's error body for an HTTP ``status``.

    Example::

        error_payload(429, "slow down")["error"]["code"]  # "rate_limit_exceeded"
    """
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def models_list(model: str) -> dict[str, Any]:
    """The ``GET /v1/models`` body listing the single scripted model.

    Example::

        models_list("scripted-model")["data"][0]["id"]  # "scripted-model"
    """
    return {"object": "list",
            "data": [{"id": model, "object": "model", "created": CREATED_BASE, "owned_by": "scripted-model-server"}]}


def sse_data(payload: dict[str, Any] | str, event: str | None = None) -> bytes:
    """One server-sent event: an optional ``event:`` line and a ``data:`` line."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _estimate_tokens(value: str) -> int:
    return max(1, math.ceil(len(value) / 4))


def _prompt_tokens(request: RecordedRequest) -> int:
    body = request.body
    parts = [body.get(key) for key in ("instructions", "messages", "input", "tools")]
    return _estimate_tokens(json.dumps(parts, sort_keys=True))


def _completion_tokens(step: Answer) -> int:
    if isinstance(step, TextStep):
        return _estimate_tokens(step.content)
    return _estimate_tokens("".join(call.name + call.arguments_json() for call in step.calls))


def _call_id(call: ToolCall, request: RecordedRequest, position: int) -> str:
    return call.call_id or f"call_{request.number}_{position}"


def _model(request: RecordedRequest, default: str) -> str:
    model = request.body.get("model")
    return model if isinstance(model, str) and model else default


# Chat Completions ------------------------------------------------------------------


def _chat_usage(step: Answer, request: RecordedRequest) -> dict[str, Any]:
    prompt, completion = _prompt_tokens(request), _completion_tokens(step)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _finish_reason(step: Answer) -> str:
    return "stop" if isinstance(step, TextStep) else "tool_calls"


def chat_completion(step: Answer, request: RecordedRequest, model: str) -> dict[str, Any]:
    """The ``chat.completion`` body answering ``request`` with ``step``.

    Example::

        chat_completion(tool_call("f", {}), request, "m")["choices"][0]["finish_reason"]  # "tool_calls"
    """
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if isinstance(step, TextStep):
        message["content"] = step.content
    else:
        message["tool_calls"] = [
            {"id": _call_id(call, request, k), "type": "function",
             "function": {"name": call.name, "arguments": call.arguments_json()}}
            for k, call in enumerate(step.calls, start=1)]
    return {"id": f"chatcmpl-{request.number}", "object": "chat.completion",
            "created": CREATED_BASE + request.number, "model": _model(request, model),
            "system_fingerprint": SYSTEM_FINGERPRINT, "service_tier": "default",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(step)}],
            "usage": _chat_usage(step, request)}


def _text_pieces(content: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", content)


def _argument_pieces(arguments: str) -> list[str]:
    return [arguments[i:i + ARGUMENT_PIECE_CHARS] for i in range(0, len(arguments), ARGUMENT_PIECE_CHARS)]


def _chat_deltas(step: Answer, request: RecordedRequest) -> Iterator[dict[str, Any]]:
    if isinstance(step, TextStep):
        yield {"role": "assistant", "content": "", "refusal": None}
        for piece in _text_pieces(step.content):
            yield {"content": piece}
        return
    yield {"role": "assistant", "content": None, "refusal": None}
    for index, call in enumerate(step.calls):
        yield {"tool_calls": [{"index": index, "id": _call_id(call, request, index + 1), "type": "function",
                               "function": {"name": call.name, "arguments": ""}}]}
        for piece in _argument_pieces(call.arguments_json()):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def chat_stream(step: Answer, request: RecordedRequest, model: str) -> Iterator[bytes]:
    """The SSE byte stream of ``chat.completion.chunk`` events, ending with ``data: [DONE]``.

    A usage chunk (empty ``choices``) comes last when the request sets
    ``stream_options.include_usage``, as the OpenAI API does.

    Example::

        body = b"".join(chat_stream(text("hi"), request, "m"))
    """
    options = request.body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    base: dict[str, Any] = {"id": f"chatcmpl-{request.number}", "object": "chat.completion.chunk",
                            "created": CREATED_BASE + request.number, "model": _model(request, model),
                            "system_fingerprint": SYSTEM_FINGERPRINT, "service_tier": "default"}
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse_data({**base, "choices": [choice]})

    for delta in _chat_deltas(step, request):
        yield chunk(delta)
    yield chunk({}, _finish_reason(step))
    if include_usage:
        yield sse_data({**base, "choices": [], "usage": _chat_usage(step, request)})
    yield sse_data("[DONE]")


# Responses -------------------------------------------------------------------------


def _responses_usage(step: Answer, request: RecordedRequest) -> dict[str, Any]:
    prompt, completion = _prompt_tokens(request), _completion_tokens(step)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion}


def _output_text(content: str) -> dict[str, Any]:
    return {"type": "output_text", "text": content, "annotations": [], "logprobs": []}


def _message_item(request: RecordedRequest, content: str | None) -> dict[str, Any]:
    """The assistant message item: completed with ``content``, or just added when it is None."""
    return {"id": f"msg_{request.number}_1", "type": "message", "role": "assistant",
            "status": "in_progress" if content is None else "completed",
            "content": [] if content is None else [_output_text(content)]}


def _function_item(call: ToolCall, request: RecordedRequest, position: int, done: bool) -> dict[str, Any]:
    return {"id": f"fc_{request.number}_{position}", "type": "function_call",
            "status": "completed" if done else "in_progress", "call_id": _call_id(call, request, position),
            "name": call.name, "arguments": call.arguments_json() if done else ""}


def _output_items(step: Answer, request: RecordedRequest) -> list[dict[str, Any]]:
    if isinstance(step, TextStep):
        return [_message_item(request, step.content)]
    return [_function_item(call, request, k, done=True) for k, call in enumerate(step.calls, start=1)]


def _response(step: Answer, request: RecordedRequest, model: str, done: bool) -> dict[str, Any]:
    body = request.body
    created = CREATED_BASE + request.number
    return {"id": f"resp_{request.number}", "object": "response", "created_at": created,
            "status": "completed" if done else "in_progress", "background": False,
            "completed_at": created if done else None, "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None, "model": _model(request, model),
            "output": _output_items(step, request) if done else [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None}, "service_tier": "default",
            "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
            "text": body.get("text", {"format": {"type": "text"}, "verbosity": "medium"}),
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0), "truncation": body.get("truncation", "disabled"),
            "usage": _responses_usage(step, request) if done else None, "user": None,
            "metadata": body.get("metadata", {})}


def response_object(step: Answer, request: RecordedRequest, model: str) -> dict[str, Any]:
    """The completed ``response`` body answering ``request`` with ``step``.

    Example::

        response_object(text("hi"), request, "m")["output"][0]["content"][0]["text"]  # "hi"
    """
    return _response(step, request, model, done=True)


def _item_events(step: Answer, request: RecordedRequest) -> Iterator[dict[str, Any]]:
    if isinstance(step, TextStep):
        item_id = f"msg_{request.number}_1"
        where = {"item_id": item_id, "output_index": 0, "content_index": 0}
        yield {"type": "response.output_item.added", "output_index": 0, "item": _message_item(request, None)}
        yield {"type": "response.content_part.added", **where, "part": _output_text("")}
        for piece in _text_pieces(step.content):
            yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **where, "text": step.content, "logprobs": []}
        yield {"type": "response.content_part.done", **where, "part": _output_text(step.content)}
        yield {"type": "response.output_item.done", "output_index": 0,
               "item": _message_item(request, step.content)}
        return
    for index, call in enumerate(step.calls):
        position = index + 1
        where = {"item_id": f"fc_{request.number}_{position}", "output_index": index}
        yield {"type": "response.output_item.added", "output_index": index,
               "item": _function_item(call, request, position, done=False)}
        for piece in _argument_pieces(call.arguments_json()):
            yield {"type": "response.function_call_arguments.delta", **where, "delta": piece}
        yield {"type": "response.function_call_arguments.done", **where, "name": call.name,
               "arguments": call.arguments_json()}
        yield {"type": "response.output_item.done", "output_index": index,
               "item": _function_item(call, request, position, done=True)}


def response_stream(step: Answer, request: RecordedRequest, model: str) -> Iterator[bytes]:
    """The SSE byte stream of Responses API events, from ``response.created`` to ``response.completed``.

    Example::

        body = b"".join(response_stream(tool_call("f", {"x": 1}), request, "m"))
    """
    started = _response(step, request, model, done=False)
    events = [{"type": "response.created", "response": started},
              {"type": "response.in_progress", "response": started},
              *_item_events(step, request),
              {"type": "response.completed", "response": _response(step, request, model, done=True)}]
    for sequence_number, event in enumerate(events):
        yield sse_data({**event, "sequence_number": sequence_number}, event=event["type"])
