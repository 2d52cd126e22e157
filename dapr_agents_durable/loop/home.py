"""App objects bound to the event loop that opened them, callable from any activity.

Activities run on the workflow worker's own event loop, in its own thread. A connected
MCP server or an async database client belongs to the loop of the code that opened it
(typically the caller of ``Runner.run``); awaiting it from another loop fails or hangs.
:func:`on_loop` runs a call on the loop it belongs to; :class:`Homed` keeps an object
together with that loop and runs calls on it there.

Example::

    handle = Homed(session, home_loop())        # in Runner.run, on the caller's loop
    items = await handle.call(lambda s: s.get_items())   # in an activity, on the worker's loop
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dapr_agents_durable.loop.eventloop import DurableEventLoop

T = TypeVar("T")
R = TypeVar("R")


def home_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop of the caller, or None (no loop, or a workflow's durable loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return None if isinstance(loop, DurableEventLoop) else loop


@dataclass(frozen=True)
class Homed(Generic[T]):
    """``item`` and the loop its calls must run on (None: whichever loop calls it)."""

    item: T
    loop: asyncio.AbstractEventLoop | None

    async def call(self, use: Callable[[T], Awaitable[R]]) -> R:
        """``await use(item)`` on the item's loop; here when that loop is this one or gone."""
        return await on_loop(self.loop, lambda: use(self.item))


async def on_loop(loop: asyncio.AbstractEventLoop | None, call: Callable[[], Awaitable[R]]) -> R:
    """``await call()`` on ``loop`` (the caller's context variables with it), or here when
    ``loop`` is None, this one, closed or stopped. Cancelling the await cancels the call."""
    if loop is None or loop is asyncio.get_running_loop() or loop.is_closed() or not loop.is_running():
        return await call()
    future = asyncio.run_coroutine_threadsafe(_await(call), loop)
    return await asyncio.wrap_future(future)


async def _await(call: Callable[[], Awaitable[R]]) -> R:
    return await call()
