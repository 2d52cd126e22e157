"""Live ``stream``/``astream`` chunks of durable graph runs, through :mod:`dapr_agents_durable.runtime.live`.

Workflow side: the run publishes every chunk its own ``astream`` yields, on the run's
channel. A subgraph child of a ``subgraphs=True`` stream is given that channel
(:data:`LIVE`) and publishes each chunk it produces itself, shaped as the root's stream
yields it; its parent still sends the child's chunks through its stream at the child's
end (so a local replay rebuilds them), marked :func:`forwarded`, and publishes them for a
local replay only. Only steps executed now publish: replayed ones are not sent again.

Caller side: :func:`follow` and :func:`afollow` listen to the run while it comes to rest
on a thread of their own and yield each chunk as it arrives; a caller that received none
(the run finished before, or ran in another process) gets the chunks of the run's
outcome, or those a local replay of a failed run published, then its exception.

Example::

    publish_chunk("t1", chunk, subgraphs=False)     # workflow side, for each chunk astream yields
    for chunk in follow("t1", rest):                # caller side; rest() waits until run t1 rests
        print(chunk)
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from dapr_agents_durable.loop import DurableExecution, current_execution, on_durable_loop
from dapr_agents_durable.runtime.live import CHANNELS, Listener, collecting_replayed, publish


class Live(NamedTuple):
    """Where subgraph chunks go live: the root run's channel, and whether its ``stream_mode`` is a list."""

    channel: str
    listed: bool


LIVE: contextvars.ContextVar[Live | None] = contextvars.ContextVar("langgraph_live_stream", default=None)
"""The live stream the subgraph chunks of the code running now reach (None: no caller sees them live)."""

_FORWARDED: weakref.WeakKeyDictionary[DurableExecution, dict[int, Any]] = weakref.WeakKeyDictionary()
_UNMARKED = object()


# ---------------------------------------------------------------------------- workflow side


def forwarded(payloads: Iterable[Any]) -> None:
    """Mark the payloads of chunks a live child published itself, before they go through its parent's stream."""
    marked = _FORWARDED.setdefault(current_execution(), {})
    marked.update((id(payload), payload) for payload in payloads)


def _was_forwarded(payload: Any) -> bool:
    return _FORWARDED.get(current_execution(), {}).pop(id(payload), _UNMARKED) is not _UNMARKED


def publish_chunk(run_id: str, chunk: Any, subgraphs: bool) -> None:
    """Publish one chunk the run's ``astream`` yielded (for a local replay only if a child published it live)."""
    publish(run_id, chunk, live=not (subgraphs and _was_forwarded(chunk[-1])))


def child_sink(chunks: list[Any], live: Live | None) -> Callable[[Any], None]:
    """Where a subgraph child's ``(namespace, mode, payload)`` chunks go: its result, and live to ``live``'s caller."""

    def put(chunk: Any) -> None:
        chunks.append(chunk)
        if live is None or not on_durable_loop() or _was_forwarded(chunk[2]):
            return
        namespace, mode, payload = chunk
        publish(live.channel, (namespace, mode, payload) if live.listed else (namespace, payload))

    return put


# ---------------------------------------------------------------------------- caller side


@dataclass(frozen=True)
class _End:
    """The run came to rest: its outcome or exception, and what a local replay of it published."""

    outcome: Any
    error: Exception | None
    replayed: list[Any]


def _rest_on_thread(run_id: str, rest: Callable[[], Any], ended: Listener) -> None:
    """Wait for the run to rest on a daemon thread (a caller leaving early leaves it alone); send the end."""

    def wait() -> None:
        with collecting_replayed(run_id) as replayed:
            try:
                end = _End(rest(), None, replayed)
            except Exception as exc:  # noqa: BLE001 - raised in the caller after the chunks before it
                end = _End(None, exc, replayed)
        ended.send(end)

    threading.Thread(target=wait, name=f"langgraph-stream-{run_id}", daemon=True).start()


def _rebuilt(end: _End, live: Listener) -> list[Any]:
    """The chunks a caller that received none live gets at the end."""
    if live.delivered:
        return []
    return list(end.outcome.chunks) if end.error is None else end.replayed


def follow(run_id: str, rest: Callable[[], Any]) -> Iterator[Any]:
    """The chunks of run ``run_id`` as it executes, while ``rest()`` brings it to rest; then its exception."""
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()
    live = Listener(None, items.put)
    CHANNELS.add(run_id, live)
    try:
        _rest_on_thread(run_id, rest, Listener(None, items.put))
        while not isinstance(item := items.get(), _End):
            yield item
    finally:
        CHANNELS.remove(run_id, live)
    yield from _rebuilt(item, live)
    if item.error is not None:
        raise item.error


async def afollow(run_id: str, rest: Callable[[], Any]) -> AsyncIterator[Any]:
    """:func:`follow` for async callers: chunks arrive on the caller's event loop."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()
    live = Listener(loop, items.put_nowait)
    CHANNELS.add(run_id, live)
    try:
        _rest_on_thread(run_id, rest, Listener(loop, items.put_nowait))
        while not isinstance(item := await items.get(), _End):
            yield item
    finally:
        CHANNELS.remove(run_id, live)
    for chunk in _rebuilt(item, live):
        yield chunk
    if item.error is not None:
        raise item.error
