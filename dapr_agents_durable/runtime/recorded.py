"""A run's activities as its history recorded them: each call's input, matched to its result.

Read from the protocol's ``HistoryEvent`` messages (``DurableRuntime.raw_history``). A
call is a ``taskScheduled`` event, identified by its event id (the task id its activity
sees as ``ctx.task_id``); its result is the ``taskCompleted`` event whose
``taskScheduledId`` is that id or, for an activity retried under a retry policy (every
attempt is scheduled anew with the first attempt's ``taskExecutionId``), whose
``taskExecutionId`` is the call's.

Example::

    recorded = RecordedActivities(get_runtime().raw_history(run_id))
    recorded.inputs("openai_agents.model")      # every model request's input, oldest first
    name, input, result = recorded.call(13)     # activity 13 and its result
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Scheduled:
    name: str
    input: str | None
    execution_id: str


class RecordedActivities:
    """Index of one run's history: scheduled activities and the results recorded for them."""

    def __init__(self, events: Iterable[Any]) -> None:
        self._scheduled: dict[int, _Scheduled] = {}
        self._order: list[int] = []
        self._by_task: dict[int, str | None] = {}
        self._by_execution: dict[str, str | None] = {}
        for event in events:
            if event.HasField("taskScheduled"):
                scheduled = event.taskScheduled
                text = scheduled.input.value if scheduled.HasField("input") else None
                self._scheduled[event.eventId] = _Scheduled(scheduled.name, text, scheduled.taskExecutionId)
                self._order.append(event.eventId)
            elif event.HasField("taskCompleted"):
                completed = event.taskCompleted
                text = completed.result.value if completed.HasField("result") else None
                self._by_task[completed.taskScheduledId] = text
                if completed.taskExecutionId:
                    self._by_execution[completed.taskExecutionId] = text

    def inputs(self, name: str) -> list[Any]:
        """The decoded inputs of the run's ``name`` activities, in the order they were scheduled."""
        return [_decode(self._scheduled[i].input) for i in self._order if self._scheduled[i].name == name]

    def call(self, task_id: int) -> tuple[str, Any, Any]:
        """Activity ``task_id``'s name, input and result; ``LookupError`` when it has no result."""
        scheduled = self._scheduled.get(task_id)
        if scheduled is None:
            raise LookupError(f"the history has no activity with task id {task_id}")
        if task_id in self._by_task:
            result = self._by_task[task_id]
        elif scheduled.execution_id and scheduled.execution_id in self._by_execution:
            result = self._by_execution[scheduled.execution_id]
        else:
            raise LookupError(f"activity {task_id} ({scheduled.name!r}) has no recorded result")
        return scheduled.name, _decode(scheduled.input), _decode(result)


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)
