"""Model requests that refer to earlier activity results instead of repeating them.

The SDK appends each model response's output items, then each tool call's
``function_call_output`` item, to the next model request's input. Both are already in
the run's history as activity results, so model requests name them by reference (format:
:mod:`dapr_agents_durable.runtime.deltas`). A reference to activity ``n`` stands for:

- an ``openai_agents.model`` activity: its result's ``"output"`` list, as recorded;
- an ``openai_agents.tool`` activity whose result's ``"output"`` is a string:
  ``[{"call_id": <its input's "call_id">, "output": <that string>, "type": "function_call_output"}]``.

The workflow side offers every such result to the run's encoder (:func:`offer_result`)
and only refers to it where the new input items are exactly those items; the activity
side keeps the results it produced (:func:`remember_result`) and expands requests from
them or from the run's history (:func:`expand_request`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dapr.ext.workflow as wf

from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.loop import DurableExecution
from dapr_agents_durable.loop.requests import canonical_json
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.deltas import DeltaCache, DeltaEncoder, RecordedRun
from dapr_agents_durable.runtime.recorded import RecordedActivities


def result_items(activity: str, request: Any, result: Any) -> list[Any] | None:
    """The input items activity ``activity``'s result stands for, or None when it has none."""
    if not isinstance(result, dict):
        return None
    if activity == MODEL_ACTIVITY and isinstance(result.get("output"), list):
        return result["output"]  # type: ignore[no-any-return]
    if activity == TOOL_ACTIVITY and isinstance(result.get("output"), str) and isinstance(request, dict):
        return [{"call_id": request["call_id"], "output": result["output"], "type": "function_call_output"}]
    return None


_REFERABLE = frozenset({MODEL_ACTIVITY, TOOL_ACTIVITY})


@dataclass
class _RunRefs:
    """Workflow side, per durable execution: the request encoder and the journal's task ids."""

    encoder: DeltaEncoder = field(default_factory=DeltaEncoder)
    seen: int = 0
    task_ids: dict[tuple[str, str], int | None] = field(default_factory=dict)

    def task_id(self, execution: DurableExecution, activity: str, request: Any) -> int | None:
        """The task id of the one activity ``activity`` scheduled with ``request`` (None if not unique)."""
        journal = execution.journal
        for step in journal[self.seen :]:
            if step.kind == "activity" and step.name in _REFERABLE and step.event_id is not None and step.input_json:
                key = (step.name, step.input_json)
                self.task_ids[key] = None if key in self.task_ids else step.event_id
        self.seen = len(journal)
        return self.task_ids.get((activity, canonical_json(request)))


_RUNS: weakref.WeakKeyDictionary[DurableExecution, _RunRefs] = weakref.WeakKeyDictionary()


def encoder_for(execution: DurableExecution) -> DeltaEncoder:
    """The execution's model-request encoder (workflow side)."""
    return _refs_of(execution).encoder


def offer_result(execution: DurableExecution, activity: str, request: Any, result: Any) -> None:
    """Workflow side: let later model requests refer to this activity result."""
    items = result_items(activity, request, result)
    if not items:
        return
    state = _refs_of(execution)
    task_id = state.task_id(execution, activity, request)
    if task_id is not None:
        state.encoder.offer(task_id, items)


def _refs_of(execution: DurableExecution) -> _RunRefs:
    state = _RUNS.get(execution)
    if state is None:
        state = _RUNS[execution] = _RunRefs()
    return state


EXPANDED = DeltaCache()
"""Activity side: recent full model requests and activity results per run."""


def remember_result(ctx: wf.WorkflowActivityContext, activity: str, request: Any, result: Any) -> None:
    """Activity side: keep this activity's result for the model requests that will refer to it."""
    items = result_items(activity, request, result)
    if items:
        EXPANDED.remember(ctx.workflow_id, ctx.task_id, items)


def expand_request(ctx: wf.WorkflowActivityContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Activity side: the full model request ``payload`` encodes (blocking: may read the history)."""
    run_id = ctx.workflow_id
    return EXPANDED.expand(run_id, payload, lambda: recorded_run(run_id))


class _RecordedRun:
    """The run's history as :class:`~dapr_agents_durable.runtime.deltas.RecordedRun`."""

    def __init__(self, activities: RecordedActivities) -> None:
        self._activities = activities

    def requests(self) -> Iterable[dict[str, Any]]:
        return self._activities.inputs(MODEL_ACTIVITY)  # type: ignore[no-any-return]

    def items(self, task_id: int) -> list[Any]:
        activity, request, result = self._activities.call(task_id)
        items = result_items(activity, request, result)
        if items is None:
            raise LookupError(f"the result of activity {task_id} ({activity!r}) stands for no input items")
        return items


def recorded_run(run_id: str) -> RecordedRun:
    """What run ``run_id``'s history recorded, read once."""
    return _RecordedRun(RecordedActivities(get_runtime().raw_history(run_id)))
