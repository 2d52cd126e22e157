"""Durability options shared by every adapter: retry policy and per-attempt timeout.

Each adapter's ``durable_options(...)`` checks its framework's objects and stores the
values here: :class:`StepOptions` for an agent's model calls, :class:`ToolOptions` for
a tool's calls. They are process configuration, like the agents themselves: a worker
in another process uses the options its own code set.

Example::

    table: OptionsTable[StepOptions] = OptionsTable(StepOptions())
    table.set("triage", StepOptions(retry_policy=policy, timeout=positive_seconds(30, name="timeout")))
    table.get("triage").timeout   # 30.0
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

import dapr.ext.workflow as wf

O = TypeVar("O")


@dataclass(frozen=True)
class StepOptions:
    """How an agent's model calls run as activities: ``None`` keeps the adapter's default."""

    retry_policy: wf.RetryPolicy | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class ToolOptions:
    """How a tool's calls run: as activities (with ``retry_policy``), or in the workflow."""

    activity: bool = True
    retry_policy: wf.RetryPolicy | None = None
    timeout: float | None = None


class OptionsTable(Generic[O]):
    """Options by name (agent or tool name), thread-safe, with a default for names never set."""

    def __init__(self, default: O) -> None:
        self._default = default
        self._lock = threading.Lock()
        self._items: dict[str, O] = {}

    def set(self, name: str, options: O) -> None:
        with self._lock:
            self._items[name] = options

    def get(self, name: str) -> O:
        with self._lock:
            return self._items.get(name, self._default)


def checked_retry_policy(value: Any) -> wf.RetryPolicy | None:
    """``value`` if it is a Dapr ``RetryPolicy`` (or None); anything else raises ``TypeError``."""
    if value is not None and not isinstance(value, wf.RetryPolicy):
        raise TypeError(f"retry_policy must be a dapr.ext.workflow.RetryPolicy, got {type(value).__name__}")
    return value


def positive_seconds(value: float | timedelta | None, *, name: str) -> float | None:
    """``value`` (seconds or a timedelta) as seconds; anything but a positive duration names ``name``."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)
