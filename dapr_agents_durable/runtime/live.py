"""Live items of a running workflow, handed to callers in this process; replayed ones to a local replay.

A workflow's framework code runs on a worker thread; a caller streaming that run waits on
its own event loop. :func:`publish` (workflow side) hands an item to every caller
listening to the run through :data:`CHANNELS`, but only for steps the workflow executes
now: steps it merely replays (after a restart, on a cold replay) are not sent again. While
a caller rebuilds a finished run by replaying it locally (:func:`collecting_replayed`), the
items that replay publishes are collected instead.

Example::

    listener = Listener(asyncio.get_running_loop(), queue.put_nowait)
    CHANNELS.add("r1", listener)          # caller side, before starting the run
    publish("r1", node)                   # workflow side, on the durable loop
    with collecting_replayed("r1") as items:
        runtime.replay("pydantic_ai.run", "r1")   # items: what the replay published
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from dapr_agents_durable.loop import current_execution


class Listener:
    """One caller's end of a run's channel: items sent from any thread reach ``receive`` on its loop
    (with no loop: at once, on the sending thread; ``receive`` must then be thread-safe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, receive: Callable[[Any], None]) -> None:
        self._loop = loop
        self._receive = receive
        self.delivered = 0

    def send(self, item: Any) -> None:
        if self._loop is None:
            self._deliver(item)
            return
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody listens
            self._loop.call_soon_threadsafe(self._deliver, item)

    def _deliver(self, item: Any) -> None:
        self.delivered += 1
        self._receive(item)


class Channels:
    """The listeners of each run streamed in this process, by run id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}

    def add(self, run_id: str, listener: Listener) -> None:
        with self._lock:
            self._listeners.setdefault(run_id, []).append(listener)

    def remove(self, run_id: str, listener: Listener) -> None:
        with self._lock:
            listeners = self._listeners.get(run_id, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._listeners.pop(run_id, None)

    def send(self, run_id: str, item: Any) -> None:
        with self._lock:
            listeners = list(self._listeners.get(run_id, ()))
        for listener in listeners:
            listener.send(item)


CHANNELS = Channels()
_replay = threading.local()
"""``sink``: (run id, items) while this thread replays that run to rebuild what it published."""


@contextlib.contextmanager
def collecting_replayed(run_id: str) -> Iterator[list[Any]]:
    """Collect the items a local replay of ``run_id`` on this thread publishes."""
    items: list[Any] = []
    previous = getattr(_replay, "sink", None)
    _replay.sink = (run_id, items)
    try:
        yield items
    finally:
        _replay.sink = previous


def publish(run_id: str, item: Any, *, live: bool = True) -> None:
    """Hand a workflow-side item over: live ones to the run's listeners, replayed ones to a local replay.

    ``live=False``: the item reached the run's listeners another way; only a local replay collects it.
    """
    execution = current_execution()
    if execution.is_tearing_down:
        return
    if not execution.is_replaying:
        if live:
            CHANNELS.send(run_id, item)
        return
    sink = getattr(_replay, "sink", None)
    if sink is not None and sink[0] == run_id:
        sink[1].append(item)
