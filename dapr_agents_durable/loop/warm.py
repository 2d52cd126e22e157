"""Warm executions: each instance's live execution, kept between its work items.

The SDK builds a new context and replays an orchestrator from its first event on
every work item, so a framework's whole loop would run again on every step (CPU
growing with the square of a run's length). Instead, when a work item ends with its
execution waiting on the engine, the execution is parked here by instance id,
together with the orchestrator generator, the SDK's orchestration context holding
them and a :class:`HistoryMark` of the history consumed so far. If the instance's next
work item in this process brings exactly that history, followed only by the engine's
confirmations of the actions the work item returned, the kept context processes those
confirmations and the new events, and nothing else: neither the SDK nor the framework
replays anything, and the framework's code runs once per step. Anything else replays
cold, from scratch: a new process, another replica having run the instance meanwhile,
a different history, an evicted entry, or another thread while sync code is suspended
in a greenlet.

Threads: the SDK (dapr 1.19) runs orchestrator work items on a thread pool of its own
(``maximum_thread_pool_workers`` threads, ``cpu_count + 4`` by default), on whichever
thread is free, so consecutive work items of one instance may run on different
threads. An execution follows them, except while sync code is suspended in one of
its greenlets: a greenlet cannot change threads, so the work item is handed to a
pinned thread (:mod:`~dapr_agents_durable.loop.affinity`). The first time, the
execution is on a pool thread: it replays cold on a pinned thread, and the parked
execution is torn down when its own thread runs its next work item (a thread that
never runs one again keeps it until the process ends); after that, every work item of
the instance runs warm on that pinned thread, with or without a suspended greenlet.

Nothing the workflow's code does runs twice because of this: it runs once per step,
live (``is_replaying`` is false), where a cold replay would run it again with
``is_replaying`` true. A dropped execution is torn down like any other: on its thread,
with side effects suppressed.

At most 256 executions are kept (the least recently parked are evicted first). The
environment variable ``DAPR_AGENTS_DURABLE_WARM_EXECUTIONS`` or :func:`configure`
sets the bound; 0 turns warm executions off.

Example::

    from dapr_agents_durable.loop import warm
    warm.configure(0)       # replay every work item from scratch
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dapr_agents_durable.loop import _sdk

if TYPE_CHECKING:
    from dapr_agents_durable.loop.execution import DurableExecution

_log = logging.getLogger("dapr_agents_durable.loop")

ENV_VAR = "DAPR_AGENTS_DURABLE_WARM_EXECUTIONS"
DEFAULT_CAPACITY = 256


@dataclass(frozen=True)
class HistoryMark:
    """The history a parked execution has consumed, by the few facts that identify it.

    The engine's history only ever grows, so the same start, the same length and the
    same last event identify it (the SDK's own history cache trusts the length alone);
    after it, the next work item may only bring the engine's confirmations of the
    actions the last one returned (the scheduling events with exactly their ids).
    """

    registry: object
    consumed: int
    started: _sdk.HistoryEvent | None
    last: _sdk.HistoryEvent
    confirmations: tuple[tuple[int, str], ...]

    def continued_by(
        self, registry: object, old_events: Sequence[_sdk.HistoryEvent]
    ) -> bool:
        """True when ``old_events`` are this history plus the confirmations of its actions."""
        consumed = self.consumed
        return (
            registry is self.registry
            and len(old_events) == consumed + len(self.confirmations)
            and _sdk.confirmed(old_events[consumed:]) == self.confirmations
            and old_events[consumed - 1] == self.last
            and _sdk.execution_started(old_events) == self.started
        )


@dataclass(frozen=True)
class Parked:
    """A warm execution with the SDK state that continues it, and the history consumed."""

    execution: DurableExecution
    context: _sdk.RuntimeContext
    suspension: _sdk.Suspension
    mark: HistoryMark


class _Cache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.parked: collections.OrderedDict[str, Parked] = collections.OrderedDict()
        self.lock = threading.Lock()


def _capacity_from_env() -> int:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_CAPACITY
    try:
        capacity = int(raw)
    except ValueError:
        raise ValueError(
            f"{ENV_VAR} must be a whole number of executions (0 turns warm executions "
            f"off), got {raw!r}."
        ) from None
    return max(capacity, 0)


_cache = _Cache(_capacity_from_env())
_leftovers: dict[int, list[Parked]] = {}
_leftovers_lock = threading.Lock()


def configure(capacity: int) -> None:
    """Keep at most ``capacity`` warm executions (0 turns them off); evicts the excess now."""
    if capacity < 0:
        raise ValueError(f"capacity must be 0 or more, got {capacity}")
    with _cache.lock:
        _cache.capacity = capacity
        evicted = _evict_excess()
    for parked in evicted:
        discard(parked)


def capacity() -> int:
    """How many warm executions are kept at most (0: warm executions are off)."""
    return _cache.capacity


def parked_instances() -> list[str]:
    """Ids of the instances whose execution is parked, least recently parked first."""
    with _cache.lock:
        return list(_cache.parked)


def park(instance_id: str, parked: Parked) -> None:
    """Keep ``parked`` for the instance's next work item (or tear it down when off)."""
    if _cache.capacity == 0:
        discard(parked)
        return
    parked.execution.park()
    with _cache.lock:
        replaced = _cache.parked.pop(instance_id, None)
        _cache.parked[instance_id] = parked
        evicted = _evict_excess()
    for dropped in [replaced, *evicted]:
        if dropped is not None:
            discard(dropped)


def holder(instance_id: str) -> tuple[int, bool] | None:
    """The thread that last stepped the instance's parked execution, and whether a suspended
    greenlet keeps it from running on this one (None when nothing is parked)."""
    with _cache.lock:
        parked = _cache.parked.get(instance_id)
    if parked is None:
        return None
    return parked.execution.owner, not parked.execution.can_run_here()


def claim(
    instance_id: str, registry: object, old_events: Sequence[_sdk.HistoryEvent]
) -> Parked | None:
    """Take the instance's parked execution if it can continue on ``old_events`` here."""
    with _cache.lock:
        parked = _cache.parked.pop(instance_id, None)
    if parked is None:
        return None
    if (
        parked.mark.continued_by(registry, old_events)
        and parked.execution.can_run_here()
    ):
        return parked
    discard(parked)
    return None


def clear() -> None:
    """Drop every warm execution, as a restart would: the next work items replay cold."""
    with _cache.lock:
        dropped = list(_cache.parked.values())
        _cache.parked.clear()
    for parked in dropped:
        discard(parked)


def discard(parked: Parked) -> None:
    """Tear it down now, or on its own thread's next work item if a greenlet pins it there."""
    if parked.execution.can_run_here():
        parked.execution.move_here()
        _tear_down(parked)
        return
    with _leftovers_lock:
        _leftovers.setdefault(parked.execution.owner, []).append(parked)


def tear_down_leftovers() -> None:
    """Tear down the executions discarded elsewhere that only this thread can step."""
    with _leftovers_lock:
        mine = _leftovers.pop(threading.get_ident(), [])
    for parked in mine:
        _tear_down(parked)


def _tear_down(parked: Parked) -> None:
    """Close the orchestrator generator (drive() tears its execution down), then the execution."""
    try:
        _sdk.close_orchestrator(parked.context)
    except Exception:  # noqa: BLE001 - teardown must never fail a work item
        _log.debug("Closing the orchestrator of a warm execution raised", exc_info=True)
    parked.execution.close()


def _evict_excess() -> list[Parked]:
    evicted = []
    while len(_cache.parked) > _cache.capacity:
        evicted.append(_cache.parked.popitem(last=False)[1])
    return evicted
