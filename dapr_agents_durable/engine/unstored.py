"""Activity results the database refused (disk full, I/O error), held until a write succeeds.

The SDK drops a result whose ``CompleteActivityTask`` fails, so the engine accepts it,
keeps it in memory and stores it as soon as the database takes writes again. A result
held when the engine process dies is lost; its task row is still in the database, so
the activity runs again after the restart (at-least-once, as for any crash).
"""

from __future__ import annotations

from dapr_agents_durable.engine import protos as pb

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 2.0


class UnstoredResults:
    """Held results plus the backoff of their next store attempt.

    Example::

        held = UnstoredResults()
        held.hold(response, now=time.time())
        if held.due(time.time()):
            ...  # store each of held.results, calling held.done(r); held.failed(now) on an error
    """

    def __init__(self) -> None:
        self.results: list[pb.service.ActivityResponse] = []
        self._delay = FIRST_RETRY_SECONDS
        self._next_at = 0.0

    def hold(self, response: pb.service.ActivityResponse, now: float) -> None:
        if not self.results:
            self._delay = FIRST_RETRY_SECONDS
            self._next_at = now + self._delay
        self.results.append(response)

    def due(self, now: float) -> bool:
        return bool(self.results) and now >= self._next_at

    def done(self, response: pb.service.ActivityResponse) -> None:
        """``response`` was stored (or turned out stale): stop holding it."""
        self.results.remove(response)
        self._delay = FIRST_RETRY_SECONDS

    def failed(self, now: float) -> None:
        """A store attempt failed: wait longer (doubling, at most ``MAX_RETRY_SECONDS``)."""
        self._delay = min(self._delay * 2, MAX_RETRY_SECONDS)
        self._next_at = now + self._delay
