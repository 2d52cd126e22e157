"""Which failed model or tool calls a durable retry can fix, and how long to wait first.

Only transient failures are retried: connection errors, timeouts, and HTTP 408, 409,
429 and 5xx answers (waiting for the provider's ``Retry-After`` first). Everything else
(a 400 for a bad schema, an authentication error, a framework's own exception) fails
the activity at once as a :class:`NonRetryableError`, so the caller sees it as it would
natively instead of after a minute of backoff. Frameworks' and provider clients' own
retries stay off inside activities: the durable retry policy is the only one.

Example::

    try:
        response = await model.request(...)
    except Exception as exc:
        await fail_for_retry(exc)   # raises: NonRetryableError, or the exception after Retry-After
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from datetime import timedelta
from typing import TypeVar

import dapr.ext.workflow as wf
from dapr.ext.workflow._durabletask.task import NonRetryableError

from dapr_agents_durable.runtime.codec import CodecError

T = TypeVar("T")

MODEL_RETRY_POLICY = wf.RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    max_number_of_attempts=6,
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=60),
)
"""Default retries of a model call that failed transiently."""

MAX_RETRY_AFTER_SECONDS = 60.0
"""The longest ``Retry-After`` honoured before the durable retry's own backoff."""

_TRANSIENT_STATUS = frozenset({408, 409, 429})
_TRANSIENT_NAMES = frozenset(
    {
        # openai, anthropic and other Stainless clients
        "APIConnectionError", "APITimeoutError", "InternalServerError", "RateLimitError",
        # httpx / httpcore transport errors
        "TransportError", "TimeoutException", "ConnectError", "ConnectTimeout", "ReadTimeout",
        "WriteTimeout", "PoolTimeout", "ReadError", "WriteError", "RemoteProtocolError",
        # aiohttp, requests
        "ClientConnectionError", "ServerDisconnectedError", "ConnectionError",
        # litellm (CrewAI)
        "ServiceUnavailableError",
    }
)


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (``status_code``, or its response's), if any."""
    for holder in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status"):
            value = getattr(holder, attr, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
                return value
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the call that raised ``exc`` can succeed (see the module docstring).

    The exception's cause chain is followed, since frameworks wrap provider errors.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = status_code(current)
        if status is not None:
            return status >= 500 or status in _TRANSIENT_STATUS
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        if any(kind.__name__ in _TRANSIENT_NAMES for kind in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_after(exc: BaseException) -> float:
    """Seconds a rate-limited or unavailable provider asked to wait (``Retry-After``), capped."""
    current: BaseException | None = exc
    while current is not None:
        headers = getattr(getattr(current, "response", None), "headers", None) or {}
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = headers.get(name)
            if value is not None:
                try:
                    return min(max(float(value) * scale, 0.0), MAX_RETRY_AFTER_SECONDS)
                except ValueError:
                    continue
        current = current.__cause__
    return 0.0


async def fail_for_retry(exc: Exception) -> None:
    """Re-raise ``exc`` from an activity: after ``Retry-After`` when transient, else as non-retryable.

    The non-retryable error's text is ``"<type>: <message>"`` of the original, which the
    workflow side reads back to raise the framework's own exception type.
    """
    if not is_transient(exc):
        raise NonRetryableError(f"{type(exc).__name__}: {exc}") from exc
    await asyncio.sleep(retry_after(exc))
    raise exc


@contextlib.contextmanager
def stored_once_paid() -> Iterator[None]:
    """Encode a paid call's result inside this block: a result that cannot be stored fails the activity for good.

    A retry would call the model or run the tool again for a result that would be refused
    again (too large for one durable step, not JSON, holding a secret), so the
    :class:`CodecError` becomes a non-retryable failure whose text (``"CodecError: <message>"``)
    names what to change.
    """
    try:
        yield
    except CodecError as exc:
        raise NonRetryableError(f"{type(exc).__name__}: {exc}") from exc


async def within(call: Awaitable[T], timeout: float | None, *, what: str) -> T:
    """Await ``call`` for at most ``timeout`` seconds (None: no limit); ``what`` names it in the error."""
    if timeout is None:
        return await call
    try:
        return await asyncio.wait_for(call, timeout)
    except asyncio.TimeoutError as exc:
        raise TimeoutError(f"{what} did not answer within {timeout} s") from exc
