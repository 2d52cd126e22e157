"""PydanticAI's exceptions across the activity boundary: encoded in the activity, raised again
in the workflow with the same type and message.

A model or tool call that fails for good (not transiently) returns its exception as data
instead of failing the activity, so the workflow raises the very type the native run would
(``ModelHTTPError`` with its status code and body, ``UnexpectedModelBehavior``, ``UserError``,
a built-in exception), without retries.

Example::

    data = encode_error(ModelHTTPError(400, "gpt-x", {"error": "bad"}))
    raise decode_error(data)          # ModelHTTPError(400, 'gpt-x', {'error': 'bad'})
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_ai import exceptions

from dapr_agents_durable.runtime import raised
from dapr_agents_durable.runtime.codec import CodecError, checked
from dapr_agents_durable.runtime.raised import CallFailed


class StepFailed(CallFailed):
    """A model or tool call raised an exception type that cannot be rebuilt here; its text is the original's
    (``error_type`` names the type). Not PydanticAI's ``ToolFailed``, a failed result the model sees."""


_MESSAGE_ONLY: dict[str, type[Exception]] = {
    **{kind.__name__: kind for kind in (exceptions.UserError, exceptions.AgentRunError, exceptions.UsageLimitExceeded)},
    CodecError.__name__: exceptions.UserError,  # a result that cannot be stored: the fix is the user's
}


def encode_error(exc: BaseException) -> dict[str, Any]:
    """``exc`` as plain JSON: its type name, message and the fields its type is rebuilt from."""
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, exceptions.ModelHTTPError):
        data.update(status_code=exc.status_code, model_name=exc.model_name, body=_plain(exc.body))
    elif isinstance(exc, exceptions.ModelAPIError):
        data.update(model_name=exc.model_name, message=exc.message)
    elif isinstance(exc, exceptions.UnexpectedModelBehavior):
        data.update(message=exc.message, body=exc.body)
    return checked(data, what=f"{type(exc).__name__} raised in a durable step")


def decode_error(data: dict[str, Any]) -> BaseException:
    """The exception :func:`encode_error` encoded, as close as it can be rebuilt."""
    kind, message = data["type"], data["message"]
    if kind == "ModelHTTPError":
        return exceptions.ModelHTTPError(data["status_code"], data["model_name"], data.get("body"))
    if kind == "ModelAPIError":
        return exceptions.ModelAPIError(data["model_name"], message)
    if kind == "UnexpectedModelBehavior":
        return exceptions.UnexpectedModelBehavior(message, data.get("body"))
    return rebuilt(kind, message)


_HTTP_ERROR = re.compile(r"status_code: (\d+), model_name: (.*?), body: (.*)", re.DOTALL)


def exhausted(error_type: str, message: str, model_name: str) -> BaseException:
    """The model's last transient error, once its durable retries are spent, as PydanticAI would raise it.

    Only its type name and text cross back; a ``ModelHTTPError`` keeps its status code
    and model name, its body becomes the body's text.
    """
    if error_type == "ModelHTTPError" and (match := _HTTP_ERROR.fullmatch(message)):
        return exceptions.ModelHTTPError(int(match[1]), match[2], match[3])
    if error_type == "ModelAPIError":
        return exceptions.ModelAPIError(model_name, message)
    return rebuilt(error_type, message)


def rebuilt(kind: str, message: str) -> BaseException:
    """An exception of type name ``kind`` (PydanticAI's message-only ones, built-ins) with ``message``."""
    return raised.rebuilt(kind, message, _MESSAGE_ONLY, fallback=StepFailed)


def _plain(body: Any) -> Any:
    try:
        return checked(body, what="error body")
    except TypeError:
        return str(body)
