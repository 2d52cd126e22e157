"""The timer heap of the durable loop: asyncio timers ordered by deadline, then by creation.

Deadlines are in workflow time (seconds since the epoch, as the orchestration's history
says), so the same timers come due at the same points on every replay.

Example::

    heap = TimerHeap()
    heap.push(handle)                 # an asyncio.TimerHandle
    due = heap.pop_due(now=loop.time())
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class TimerHeap:
    """Timer handles by (deadline, creation order); cancelled handles are dropped lazily."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.TimerHandle]] = []
        self._order = itertools.count()

    def push(self, handle: asyncio.TimerHandle) -> None:
        """Add a scheduled timer handle."""
        heapq.heappush(self._heap, (handle.when(), next(self._order), handle))

    def pop_due(self, now: float) -> list[asyncio.TimerHandle]:
        """Remove and return the live handles whose deadline is at or before ``now``."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            handle = heapq.heappop(self._heap)[2]
            if not handle.cancelled():
                due.append(handle)
        return due

    def next_deadline(self) -> float | None:
        """The earliest deadline among live handles, or None when there are none."""
        while self._heap and self._heap[0][2].cancelled():
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def clear(self) -> None:
        """Forget every handle."""
        self._heap.clear()
