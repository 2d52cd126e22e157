"""The greenlet bridge: synchronous code that the durable loop runs in place of a thread.

Frameworks push sync work (a ``def`` tool, a sync model client) to
``loop.run_in_executor`` or ``asyncio.to_thread``. The durable loop runs that function in
a greenlet on its own thread instead, so a sync seam inside it can suspend on a durable
request with :func:`await_only` and resume when the request completes. A function that
never calls ``await_only`` simply runs to completion.

Inside the greenlet no event loop is running, exactly as on a worker thread.

Example::

    def sync_model_call(prompt: str) -> dict:
        durable = current_execution()
        return await_only(durable.call_activity("model", {"prompt": prompt}))

    reply = await asyncio.to_thread(sync_model_call, "hi")
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import greenlet

from dapr_agents_durable.loop.errors import DurableLoopError

T = TypeVar("T")


class BridgeGreenlet(greenlet.greenlet):  # type: ignore[misc]
    """A greenlet running synchronous code on behalf of a durable loop."""


async def run_sync_in_greenlet(
    loop: asyncio.AbstractEventLoop,
    bridges: weakref.WeakSet[BridgeGreenlet],
    fn: Callable[..., T],
    args: tuple[Any, ...],
) -> T:
    """Run ``fn(*args)`` in a greenlet, awaiting whatever it hands to :func:`await_only`.

    ``bridges`` collects the live greenlets so the loop can end them on teardown.
    """
    bridge = BridgeGreenlet(fn)
    bridges.add(bridge)

    def start() -> Any:
        return bridge.switch(*args)

    step: Callable[[], Any] = start
    while True:
        bridge.parent = greenlet.getcurrent()
        asyncio._set_running_loop(None)
        try:
            requested = step()
        finally:
            asyncio._set_running_loop(loop)
        if bridge.dead:
            return cast(T, requested)
        try:
            value = await requested
        except BaseException as exc:  # noqa: BLE001 - the sync code receives it and decides
            step = _throw(bridge, exc)
        else:
            step = _send(bridge, value)


def _send(bridge: BridgeGreenlet, value: Any) -> Callable[[], Any]:
    return lambda: bridge.switch(value)


def _throw(bridge: BridgeGreenlet, exc: BaseException) -> Callable[[], Any]:
    return lambda: bridge.throw(exc)


def await_only(awaitable: Awaitable[T]) -> T:
    """Suspend synchronous code until ``awaitable`` completes on the durable loop.

    Only valid inside a function that the durable loop runs through
    ``run_in_executor`` / ``asyncio.to_thread``.

    Example::

        result = await_only(current_execution().call_activity("tool", {"x": 1}))
    """
    current = greenlet.getcurrent()
    if not isinstance(current, BridgeGreenlet):
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        raise DurableLoopError(
            "await_only() was called outside synchronous code run by the durable loop. "
            "It only works inside a function the durable loop runs through "
            "loop.run_in_executor() or asyncio.to_thread(); from a coroutine, use "
            "'await' instead."
        )
    assert current.parent is not None
    return cast(T, current.parent.switch(awaitable))


def end_bridges(bridges: weakref.WeakSet[BridgeGreenlet]) -> None:
    """Kill every greenlet still suspended in ``bridges`` (GreenletExit runs their finally blocks)."""
    for bridge in list(bridges):
        if not bridge.dead:
            bridge.parent = greenlet.getcurrent()
            bridge.throw()
    bridges.clear()
