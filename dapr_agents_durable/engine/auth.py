"""API-token check, the way the Dapr sidecar does it (``dapr-api-token`` metadata)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

TOKEN_HEADER = "dapr-api-token"


def _deny(request: Any, context: grpc.ServicerContext) -> None:
    context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        f"missing or wrong '{TOKEN_HEADER}' metadata; set DAPR_API_TOKEN to the engine's token",
    )


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects every call whose ``dapr-api-token`` does not match ``token``.

    Example::

        grpc.server(pool, interceptors=[TokenInterceptor("s3cret")])
    """

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        sent = dict(handler_call_details.invocation_metadata or ()).get(TOKEN_HEADER, "")
        if isinstance(sent, str):
            sent = sent.encode()
        if hmac.compare_digest(sent, self._token):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is not None and handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                _deny, request_deserializer=handler.request_deserializer
            )
        return grpc.unary_unary_rpc_method_handler(
            _deny, request_deserializer=handler.request_deserializer if handler else None
        )
