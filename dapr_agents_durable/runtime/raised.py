"""Exceptions raised in an activity, raised again on the workflow's side as close to the original as possible.

An activity's failure reaches the workflow as a type name and a message. Built-in
exceptions and a framework's message-only exceptions (``known``) are rebuilt with
their own type, so a run behaves as natively; any other type becomes a
:class:`CallFailed` (or an adapter's subclass of it) carrying the type's name.

Example::

    rebuilt("ValueError", "bad city")                         # ValueError('bad city')
    rebuilt("UserError", "no model", {"UserError": UserError})  # the framework's UserError
    rebuilt("StripeError", "card declined").error_type        # 'StripeError'
    recorded("NonRetryableError", "ValueError: bad city")        # ('ValueError', 'bad city')

A call that raises ``asyncio.CancelledError`` itself (a tool giving up, not the activity
being cancelled) would leave its activity unfinished; :func:`own_cancellation_reported`
reports it as a failure, which :func:`rebuilt` raises again as a ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from dapr.ext.workflow._durabletask.task import NonRetryableError

T = TypeVar("T")

CANCELLED = "CancelledError"
"""The type name an activity reports for a call that raised ``asyncio.CancelledError`` itself."""


class CallFailed(Exception):
    """A call raised an exception type that cannot be rebuilt here; its text is the original's,
    ``error_type`` its class name."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def rebuilt(
    error_type: str,
    message: str,
    known: Mapping[str, type[Exception]] | None = None,
    *,
    fallback: type[CallFailed] = CallFailed,
) -> BaseException:
    """An exception of type name ``error_type`` with ``message``: one of ``known``, a built-in,
    ``asyncio.CancelledError`` for :data:`CANCELLED`, else ``fallback``."""
    if error_type == CANCELLED:
        return asyncio.CancelledError(message)
    kind = (known or {}).get(error_type) or getattr(builtins, error_type, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:  # a built-in with another constructor
            pass
    return fallback(error_type, message)


def recorded(error_type: str, message: str) -> tuple[str, str]:
    """The type name and message an activity raised, as the engine recorded them.

    ``runtime.retries.fail_for_retry`` records a non-retryable failure as
    ``NonRetryableError("<type>: <message>")``; that is unwrapped, anything else kept.
    """
    if error_type == "NonRetryableError" and ": " in message:
        error_type, message = message.split(": ", 1)
    return error_type, message


async def own_cancellation_reported(call: Awaitable[T]) -> T:
    """Await ``call`` in an activity; a ``CancelledError`` it raises itself (while the activity
    is not being cancelled) fails the activity for good as :data:`CANCELLED`, with its text."""
    try:
        return await call
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # the activity itself is cancelled: let it end so
            raise
        raise NonRetryableError(f"{CANCELLED}: {exc}") from exc
