"""CrewAI's event bus, quiet while a durable run replays.

Everything CrewAI reports (its telemetry spans, execution tracing, your own event
listeners, ``verbose`` console output) hangs off ``crewai_event_bus.emit``. Code that a
durable run replays from history (after a restart, or to rebuild a finished run's
result) would emit every event of the replayed steps again; :func:`install` makes
``emit`` prepare the event (ids and ordering stay as in the live run) and skip the
handlers while side effects are suppressed. Live steps emit as CrewAI does natively.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from crewai.events.event_bus import CrewAIEventsBus

from dapr_agents_durable.loop import side_effects_suppressed

_native_emit = CrewAIEventsBus.emit


def _emit(self: CrewAIEventsBus, source: Any, event: Any) -> Future[None] | None:
    if side_effects_suppressed():
        self._prepare_event(source, event)
        return None
    return _native_emit(self, source, event)


def install() -> None:
    """Gate the event bus on replay (idempotent)."""
    CrewAIEventsBus.emit = _emit  # type: ignore[method-assign]
