"""Waits for a durable run in a worker thread that end when their async caller is cancelled.

Async entry points wait for a run in a thread (the workflow client blocks). Cancelling
the caller (``asyncio.wait_for``, a cancelled task, an event loop shutting down) cancels
the await at once, but a thread cannot be stopped from outside: it would keep polling the
run, and ``asyncio.run()`` would hang at exit waiting for it. :func:`waited_in_thread`
gives the thread a flag that :meth:`DurableRuntime.wait_until` checks on every poll, so it
stops within one poll interval. The run itself goes on: it is durable, and the same run
id attaches to it again.

Example::

    state = await waited_in_thread(runtime.wait, run_id)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_GONE: ContextVar[threading.Event | None] = ContextVar("dapr_agents_durable_caller_gone", default=None)


class CallerGone(Exception):
    """Raised in a waiting thread whose async caller was cancelled (nobody reads it)."""


async def waited_in_thread(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``await asyncio.to_thread(call, *args, **kwargs)``; cancelling it also ends the runtime's
    waits inside ``call``."""
    gone = threading.Event()
    token = _GONE.set(gone)  # copied into the thread's context by to_thread
    try:
        return await asyncio.to_thread(call, *args, **kwargs)
    except asyncio.CancelledError:
        gone.set()
        raise
    finally:
        _GONE.reset(token)


def check_caller() -> None:
    """Raise :class:`CallerGone` in a thread of :func:`waited_in_thread` whose caller was cancelled."""
    gone = _GONE.get()
    if gone is not None and gone.is_set():
        raise CallerGone("the caller waiting for this durable run was cancelled")
