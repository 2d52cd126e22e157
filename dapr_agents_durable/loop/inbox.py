"""A thread-safe inbox of callbacks that foreign threads hand to the durable loop.

Frameworks complete loop futures from their own threads (an event bus, a worker pool)
through ``loop.call_soon_threadsafe``. Those callbacks land here; the loop thread drains
them into its ready queue, and the driver can block on the inbox while it waits for such
work to arrive.

Example::

    inbox = Inbox()
    inbox.put(handle)                   # any thread
    if inbox.wait(timeout=5.0):         # loop thread
        ready.extend(inbox.drain())
"""

from __future__ import annotations

import asyncio
import collections
import threading


class Inbox:
    """A FIFO of handles, filled from any thread and drained by the loop thread."""

    def __init__(self) -> None:
        self._items: collections.deque[asyncio.Handle] = collections.deque()
        self._arrived = threading.Condition(threading.Lock())

    def put(self, handle: asyncio.Handle) -> None:
        """Queue a handle and wake a waiting driver."""
        with self._arrived:
            self._items.append(handle)
            self._arrived.notify_all()

    def drain(self) -> list[asyncio.Handle]:
        """Take every queued handle, oldest first."""
        with self._arrived:
            items = list(self._items)
            self._items.clear()
        return items

    def wait(self, timeout: float) -> bool:
        """Block until a handle is queued or ``timeout`` seconds pass; True if one is queued."""
        with self._arrived:
            return self._arrived.wait_for(lambda: bool(self._items), timeout)

    def clear(self) -> None:
        """Drop every queued handle."""
        with self._arrived:
            self._items.clear()
