"""What a committed write changes beyond the database, for the dispatcher to apply."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Effects:
    """Collected while a transaction runs; applied to in-memory state after it commits."""

    ready: set[str] = field(default_factory=set)
    """Instances that got an inbox event visible now."""
    timers: list[tuple[float, str]] = field(default_factory=list)
    """(due time, instance) of inbox events that become visible later."""
    activities: list[int] = field(default_factory=list)
    """New activity task rows to dispatch."""
    cancelled_activities: set[str] = field(default_factory=set)
    """Instances whose activity task rows were all deleted."""
    changed: set[str] = field(default_factory=set)
    """Instances whose status or metadata changed (wakes waiters)."""
