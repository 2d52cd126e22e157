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

In the process where the activity ran, the workflow can raise the very object the call
raised (its type, attributes and identity, as natively): the activity keeps it with
:func:`keep_original` (or awaits the call in :func:`failure_kept`) and :func:`raised_again`
finds it by run, type name and message.

A call that raises ``asyncio.CancelledError`` itself (a tool giving up, not the activity
being cancelled) would leave its activity unfinished; :func:`failure_kept` reports it as a
failure, which :func:`rebuilt` raises again as a ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from dapr.ext.workflow._durabletask.task import NonRetryableError

T = TypeVar("T")

CANCELLED = "CancelledError"
"""The type name an activity reports for a call that raised ``asyncio.CancelledError`` itself."""

_KEPT = 256
"""How many originals :func:`keep_original` keeps (the oldest go first)."""

_originals: OrderedDict[tuple[str, str, str], BaseException] = OrderedDict()
_originals_lock = threading.Lock()


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


def keep_original(run_id: str, exc: BaseException) -> None:
    """Keep ``exc``, raised by a call of run ``run_id`` in an activity of this process, for
    :func:`raised_again` (a ``NonRetryableError`` made from an exception keeps that one)."""
    if isinstance(exc, NonRetryableError) and exc.__cause__ is not None:
        exc = exc.__cause__
    key = (run_id, type(exc).__name__, str(exc))
    with _originals_lock:
        _originals[key] = exc
        _originals.move_to_end(key)
        while len(_originals) > _KEPT:
            _originals.popitem(last=False)


def raised_again(
    run_id: str,
    error_type: str,
    message: str,
    known: Mapping[str, type[Exception]] | None = None,
    *,
    fallback: type[CallFailed] = CallFailed,
) -> BaseException:
    """What to raise for a call of run ``run_id`` that failed with ``error_type: message`` (as the
    engine recorded it): the original object when it was raised in this process, else :func:`rebuilt`."""
    error_type, message = recorded(error_type, message)
    with _originals_lock:
        original = _originals.get((run_id, error_type, message))
    return original if original is not None else rebuilt(error_type, message, known, fallback=fallback)


def recorded(error_type: str, message: str) -> tuple[str, str]:
    """The type name and message an activity raised, as the engine recorded them.

    ``runtime.retries.fail_for_retry`` records a non-retryable failure as
    ``NonRetryableError("<type>: <message>")``; that is unwrapped, anything else kept.
    """
    if error_type == "NonRetryableError" and ": " in message:
        error_type, message = message.split(": ", 1)
    return error_type, message


async def failure_kept(run_id: str, call: Awaitable[T]) -> T:
    """Await ``call`` in an activity of run ``run_id``, keeping what it raises for :func:`raised_again`.

    A ``CancelledError`` it raises itself (while the activity is not being cancelled) fails
    the activity for good as :data:`CANCELLED`, with its text.
    """
    try:
        return await call
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # the activity itself is cancelled: let it end so
            raise
        keep_original(run_id, exc)
        raise NonRetryableError(f"{CANCELLED}: {exc}") from exc
    except BaseException as exc:
        keep_original(run_id, exc)
        raise
