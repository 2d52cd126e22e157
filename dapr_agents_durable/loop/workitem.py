"""Orchestrator work items: the history each one replays, and teardown at its end.

The SDK re-runs an orchestrator from scratch for every work item and then abandons its
generator. A hook around the SDK's work-item entry point gives the loop two things:

* the history being replayed, so each durable request can be checked against what was
  recorded at its action id (kind, name *and* input);
* a deterministic end: every durable execution started during the work item is torn down
  on the worker thread right after the work item's actions are computed, instead of
  whenever the garbage collector finds the abandoned generator, on whatever thread.

Example::

    install()                       # once per process; importing the loop package does it
    item = current_work_item()      # inside an orchestrator: the history being replayed
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dapr_agents_durable.loop import _sdk
from dapr_agents_durable.loop.errors import nondeterminism_message
from dapr_agents_durable.loop.requests import HistoryStep

if TYPE_CHECKING:
    from dapr_agents_durable.loop.execution import DurableExecution

_local = threading.local()
_OUR_MARK = "is not deterministic"


class WorkItem:
    """One orchestrator work item being executed on this thread."""

    def __init__(self, instance_id: str, events: Sequence[_sdk.HistoryEvent]) -> None:
        self.instance_id = instance_id
        self.workflow_name = _sdk.workflow_name(events)
        self._scheduling = _sdk.scheduling_events(events)
        self._executions: list[DurableExecution] = []

    def recorded(self, event_id: int) -> HistoryStep | None:
        """What the history recorded at action ``event_id``, or None if it is new."""
        event = self._scheduling.get(event_id)
        return None if event is None else _sdk.history_step(event)

    def first_recorded_after(self, event_id: int) -> tuple[int, HistoryStep] | None:
        """The earliest recorded action with an id above ``event_id``, if any."""
        later = [key for key in self._scheduling if key > event_id]
        if not later:
            return None
        first = min(later)
        return first, _sdk.history_step(self._scheduling[first])

    def adopt(self, execution: DurableExecution) -> None:
        """Tear ``execution`` down when this work item ends."""
        self._executions.append(execution)

    def close_executions(self) -> None:
        """Tear down the adopted executions, newest first."""
        for execution in reversed(self._executions):
            execution.close()

    def explain(self, results: _sdk.ExecutionResults) -> None:
        """Add the likely cause and fix to the SDK's own non-determinism failure."""
        details = _sdk.failed_with_sdk_nondeterminism(results)
        if (
            details is not None
            and self._executions
            and _OUR_MARK not in details.errorMessage
        ):
            subject = self._executions[0].describe()
            details.errorMessage = nondeterminism_message(
                subject, f"on replay: {details.errorMessage}"
            )


def current_work_item() -> WorkItem | None:
    """The work item this thread is executing, or None outside the SDK's executor."""
    stack: list[WorkItem] = getattr(_local, "stack", [])
    return stack[-1] if stack else None


def install() -> None:
    """Hook the SDK's orchestrator work-item entry point (idempotent)."""
    _sdk.install_execute_hook(_wrap_execute)


def _wrap_execute(execute: _sdk.Execute) -> _sdk.Execute:
    @functools.wraps(execute)
    def execute_work_item(
        executor: Any,
        instance_id: str,
        old_events: Sequence[_sdk.HistoryEvent],
        new_events: Sequence[_sdk.HistoryEvent],
        *args: Any,
        **kwargs: Any,
    ) -> _sdk.ExecutionResults:
        item = WorkItem(instance_id, [*old_events, *new_events])
        stack: list[WorkItem] = _local.__dict__.setdefault("stack", [])
        stack.append(item)
        try:
            results = execute(
                executor, instance_id, old_events, new_events, *args, **kwargs
            )
        finally:
            stack.pop()
            item.close_executions()
        item.explain(results)
        return results

    return execute_work_item
