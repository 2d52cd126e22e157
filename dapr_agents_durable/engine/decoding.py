"""Requests whose bytes do not parse get INVALID_ARGUMENT instead of gRPC's INTERNAL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


class _Undecodable:
    def __init__(self, error: Exception) -> None:
        self.error = error


def _lenient(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def run(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's malformed input
            return _Undecodable(exc)

    return run


def _guarded(behavior: Callable[[Any, grpc.ServicerContext], Any], expected: str) -> Callable[..., Any]:
    def run(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is not a valid {expected} message: {request.error}",
            )
        return behavior(request, context)

    return run


class DecodeInterceptor(grpc.ServerInterceptor):
    """Answers INVALID_ARGUMENT, naming the expected message type, to undecodable requests.

    Example::

        grpc.server(pool, interceptors=[DecodeInterceptor()])
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        parse = handler.request_deserializer if handler is not None else None
        if handler is None or parse is None or handler.request_streaming:
            return handler
        expected = getattr(getattr(parse, "__self__", None), "__name__", "protobuf")
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                _guarded(handler.unary_stream, expected), _lenient(parse), handler.response_serializer
            )
        return grpc.unary_unary_rpc_method_handler(
            _guarded(handler.unary_unary, expected), _lenient(parse), handler.response_serializer
        )
