"""Named in-process objects (agents, models, tools) that workflows and activities look up.

Workflow and activity names registered with Dapr are fixed when the worker starts,
so adapters register a few generic names and carry the agent or tool name in the
input; the object itself never leaves the process. A work item can arrive before
the app has registered its agent (right after a restart): activities wait for it,
workflows park until it appears (see :meth:`DurableRuntime.park`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

REGISTRATION_WAIT_SECONDS = 30.0
"""How long an activity waits for the app to register what it names (right after a restart)."""


class NotRegistered(LookupError):
    """Nothing was registered under the name in time."""


class Registry(Generic[T]):
    """A thread-safe name -> object map with waiting lookups.

    Example::

        agents: Registry[Agent] = Registry("agent")
        agents.add("triage", triage_agent)
        agents.wait("triage", timeout=5.0)
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._changed = threading.Condition()
        self._listeners: list[Callable[[str], None]] = []

    def add(self, name: str, item: T) -> None:
        """Register (or replace) ``item`` under ``name`` and wake whoever waits for it."""
        if not name:
            raise ValueError(f"a {self.kind} needs a non-empty name to be durable")
        with self._changed:
            self._items[name] = item
            self._changed.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(name)

    def remove(self, name: str) -> None:
        """Forget ``name`` (nothing happens if it was never registered)."""
        with self._changed:
            self._items.pop(name, None)

    def get(self, name: str) -> T | None:
        with self._changed:
            return self._items.get(name)

    def names(self) -> list[str]:
        with self._changed:
            return sorted(self._items)

    def wait(self, name: str, timeout: float) -> T:
        """The object under ``name``, waiting up to ``timeout`` seconds for it to be registered."""
        with self._changed:
            if not self._changed.wait_for(lambda: name in self._items, timeout):
                known = ", ".join(sorted(self._items)) or "none"
                raise NotRegistered(
                    f"no {self.kind} named {name!r} is registered in this process (known: {known}); "
                    f"every worker of this app must define the same {self.kind}s before running them"
                )
            return self._items[name]

    def on_added(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(name)`` after every :meth:`add`."""
        with self._changed:
            self._listeners.append(listener)


async def registered(registry: Registry[T], name: str, timeout: float = REGISTRATION_WAIT_SECONDS) -> T:
    """For activities: the object under ``name``, waiting up to ``timeout``; if it never
    appears the activity fails without retries (retrying cannot register it)."""
    from dapr.ext.workflow._durabletask.task import NonRetryableError

    try:
        return await asyncio.to_thread(registry.wait, name, timeout)
    except NotRegistered as exc:
        raise NonRetryableError(str(exc)) from exc
