"""Pinned threads: where the work items of an instance held by a suspended greenlet run.

Sync code the durable loop runs (a ``def`` node or tool, a sync model client) suspends in
a greenlet, and a greenlet only resumes on the thread that started it. The SDK runs each
work item on whichever thread of its pool is free, so the next work item of such an
instance usually lands elsewhere and would replay cold, from the first event: a run's CPU
would grow with the square of its length. Instead, a work item for an instance whose
parked execution is pinned to another thread runs on a thread of this module, waited for
by the SDK's thread: the one holding the execution when it is one of these, otherwise an
idle one (started when none is idle), where it replays cold once. From then on every
work item of the instance runs on that thread, after whatever it is running: where its
greenlet lives, and where the next one will (a node that suspends once usually does at
every step).

Example::

    held = warm.holder(instance_id)
    if held is not None and affinity.belongs_there(*held):
        return affinity.run(held[0], lambda: execute(instance_id, old_events, new_events))
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class _Thread:
    """A daemon thread running the work items handed to it, one at a time, in order."""

    def __init__(self, number: int) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.pending = 0
        self.thread = threading.Thread(target=self._serve, name=f"dapr-agents-durable-pinned-{number}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            self.jobs.get()()


_threads: dict[int, _Thread] = {}
_lock = threading.Lock()


def belongs_there(owner: int, pinned: bool) -> bool:
    """Whether a work item arriving on this thread runs on another: the instance's execution was last
    stepped on thread ``owner`` and, if ``pinned``, only that thread can step it.

    Work on one of this module's threads always runs in place.
    """
    here = threading.get_ident()
    with _lock:
        if here in _threads:
            return False
        return pinned or owner in _threads


def run(owner: int, work: Callable[[], T]) -> T:
    """``work()`` on thread ``owner`` if it is one of this module's, else on an idle one; its result."""
    with _lock:
        home = _threads.get(owner) or next((t for t in _threads.values() if t.pending == 0), None)
        if home is None:
            home = _Thread(len(_threads) + 1)
            assert home.thread.ident is not None
            _threads[home.thread.ident] = home
        home.pending += 1
    done: concurrent.futures.Future[T] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def job() -> None:
        try:
            done.set_result(context.run(work))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            done.set_exception(exc)
        finally:
            with _lock:
                home.pending -= 1

    home.jobs.put(job)
    return done.result()
