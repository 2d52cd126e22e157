"""Failures crossing the boundaries of the CrewAI adapter's seams.

CrewAI catches ``Exception`` around tool calls and LLM calls (a failed tool becomes a
message to the agent; a failed task is retried). The durable loop's own control-flow
errors (non-determinism, a seam used off the loop) must end the run instead, so the
seams wrap them in :class:`DurableAbort`, a ``BaseException`` CrewAI lets through, and
the workflow unwraps it (:func:`unwrapped`).

A failed activity comes back as an :class:`~dapr_agents_durable.loop.ActivityError`;
:func:`as_raised` rebuilds the exception the LLM or tool raised, as close as it can.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dapr_agents_durable.loop.errors import DurableLoopError, DurableTaskError
from dapr_agents_durable.runtime.raised import CallFailed, rebuilt, recorded

__all__ = ["CallFailed", "DurableAbort", "aborting", "as_raised"]


class DurableAbort(BaseException):
    """Carries a durable-loop error through CrewAI's ``except Exception`` blocks."""

    def __init__(self, error: DurableLoopError) -> None:
        super().__init__(str(error))
        self.error = error


@contextlib.contextmanager
def aborting() -> Iterator[None]:
    """Within the block, durable-loop errors become :class:`DurableAbort`."""
    try:
        yield
    except DurableLoopError as exc:
        raise DurableAbort(exc) from exc


def as_raised(err: DurableTaskError) -> BaseException:
    """The exception the activity's LLM or tool raised: same type for built-ins, else :class:`CallFailed`."""
    return rebuilt(*recorded(err.error_type, err.error_message))
