"""The in-process objects of a call made from a workflow: the model or tool and its arguments.

A node's chat model or tool is a live object (a client holding an API key); it never enters
the history. The workflow leaves it here under a key derived from the run id and the call's
position in the run, and the activity, running in the same app, takes it from here. A
workflow replayed after a restart leaves the same key again; the activity in flight at the
crash, dispatched again before its workflow has anything to replay for, wakes it first.

Example::

    key = leave(execution, (model, stop, kwargs))
    model, stop, kwargs = await take(key, run_id)
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

from dapr_agents_durable.loop.execution import DurableExecution
from dapr_agents_durable.runtime import Registry, get_runtime

LOOKUP_TIMEOUT = 60.0
"""Seconds an activity waits for its workflow (replaying after a restart) to leave its call here."""

CALLS: Registry[Any] = Registry("LangGraph call")
_counters: weakref.WeakKeyDictionary[DurableExecution, int] = weakref.WeakKeyDictionary()
_keys: dict[str, set[str]] = {}
_lock = threading.Lock()


def leave(execution: DurableExecution, item: Any) -> str:
    """Keep ``item`` for the activity of the execution's next call; its key."""
    index = _counters.get(execution, 0) + 1
    _counters[execution] = index
    key = f"{execution.instance_id}#{index}"
    with _lock:
        _keys.setdefault(execution.instance_id, set()).add(key)
    CALLS.add(key, item)
    return key


async def take(key: str, run_id: str) -> Any:
    """The item left under ``key``; after a restart, wakes run ``run_id`` to replay and leave it."""
    if CALLS.get(key) is None:
        await asyncio.to_thread(get_runtime().wake, run_id)
    return await asyncio.to_thread(CALLS.wait, key, LOOKUP_TIMEOUT)


def forget(run_id: str) -> None:
    """Drop the calls of a run whose workflow ended."""
    with _lock:
        keys = _keys.pop(run_id, set())
    for key in keys:
        CALLS.remove(key)
