"""A streamed run's model call, made in its activity the way the SDK's streamed run loop makes it.

In a streamed run (``Runner.run_streamed``) the SDK asks the model for
``stream_response()``, not ``get_response()``: models that only stream, and the
provider's streaming endpoint, stay what a streamed run uses. The activity consumes the
stream and assembles its response as the SDK's streamed loop does (the terminal
``response.completed`` event, its usage, the output items done when the terminal
response holds none; ``response.failed``/``incomplete``/``error`` events raise the SDK's
errors), so the response stored in history is the one the native run would have used.

Example::

    response = await streamed_response(model, model_codec.decode_request(agent, request))
"""

from __future__ import annotations

from typing import Any

from agents import ModelBehaviorError
from agents.items import ModelResponse
from agents.models._response_terminal import response_error_event_failure_error, response_terminal_failure_error
from agents.models.interface import Model
from agents.usage import Usage, _requests_for_response_without_usage, _response_usage_to_usage
from openai.types.responses import Response, ResponseCompletedEvent, ResponseOutputItemDoneEvent


async def streamed_response(model: Model, arguments: dict[str, Any]) -> ModelResponse:
    """``model.stream_response(**arguments)``, consumed, as one ``ModelResponse``."""
    final: ModelResponse | None = None
    done_items: list[Any] = []
    async for event in model.stream_response(**arguments):
        kind = getattr(event, "type", None)
        if isinstance(event, ResponseCompletedEvent):
            final = _completed(event.response, done_items)
        elif kind in {"response.incomplete", "response.failed"}:
            response = getattr(event, "response", None)
            raise response_terminal_failure_error(kind, response if isinstance(response, Response) else None)
        elif kind in {"error", "response.error"}:
            raise response_error_event_failure_error(kind, event)
        elif isinstance(event, ResponseOutputItemDoneEvent):
            done_items.append(event.item)
    if final is None:
        raise ModelBehaviorError("Model did not produce a final response!")
    return final


def _completed(response: Response, done_items: list[Any]) -> ModelResponse:
    usage = (
        _response_usage_to_usage(response.usage)
        if response.usage
        else Usage(requests=_requests_for_response_without_usage(response))
    )
    return ModelResponse(
        output=list(response.output or done_items),
        usage=usage,
        response_id=response.id,
        request_id=getattr(response, "_request_id", None),
    )
