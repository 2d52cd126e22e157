"""Orchestrator work items: the history each one replays, and what happens at its end.

The SDK re-runs an orchestrator from scratch for every work item and then abandons its
generator. A hook around the SDK's work-item entry point gives the loop three things:

* the history being replayed, so each durable request can be checked against what was
  recorded at its action id (kind, name *and* input);
* warm executions: an execution still waiting on the engine when its work item ends is
  parked with its generator and context, and the instance's next work item feeds them
  its new events instead of replaying everything from scratch, when the history shows
  nothing else happened (see :mod:`~dapr_agents_durable.loop.warm`); an instance whose
  execution a suspended greenlet pins to a thread runs there
  (see :mod:`~dapr_agents_durable.loop.affinity`);
* a deterministic end for every other execution started during the work item: it is
  torn down on the worker thread right after the work item's actions are computed,
  instead of whenever the garbage collector finds the abandoned generator, on whatever
  thread.

Example::

    install()                       # once per process; importing the loop package does it
    item = current_work_item()      # inside an orchestrator: the history being replayed
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dapr_agents_durable.loop import _sdk, affinity, stalls, warm
from dapr_agents_durable.loop.errors import nondeterminism_message
from dapr_agents_durable.loop.requests import HistoryStep

if TYPE_CHECKING:
    from dapr_agents_durable.loop.execution import DurableExecution

_local = threading.local()
_OUR_MARK = "is not deterministic"


class WorkItem:
    """One orchestrator work item being executed on this thread.

    ``continues`` is the warm execution this work item continues, if any; its context
    has processed the history the instance's previous work item saw.
    """

    def __init__(
        self,
        instance_id: str,
        old_events: Sequence[_sdk.HistoryEvent],
        new_events: Sequence[_sdk.HistoryEvent],
        *,
        registry: object = None,
        continues: warm.Parked | None = None,
    ) -> None:
        self.instance_id = instance_id
        self._events = [*old_events, *new_events]
        self.workflow_name = _sdk.workflow_name(self._events)
        self.parent_instance_id = _sdk.parent_instance_id(self._events)
        self._registry = registry
        # A continued context created every action the history records: none above this id.
        self._recorded_up_to = (
            None if continues is None else _sdk.sequence_number(continues.context)
        )
        self._scheduling: dict[int, _sdk.HistoryEvent] | None = None
        self._executions: list[DurableExecution] = []

    def recorded(self, event_id: int) -> HistoryStep | None:
        """What the history recorded at action ``event_id``, or None if it is new."""
        if self._recorded_up_to is not None and event_id > self._recorded_up_to:
            return None
        event = self._scheduling_events().get(event_id)
        return None if event is None else _sdk.history_step(event)

    def first_recorded_after(self, event_id: int) -> tuple[int, HistoryStep] | None:
        """The earliest recorded action with an id above ``event_id``, if any."""
        if self._recorded_up_to is not None and event_id >= self._recorded_up_to:
            return None
        scheduling = self._scheduling_events()
        later = [key for key in scheduling if key > event_id]
        if not later:
            return None
        first = min(later)
        return first, _sdk.history_step(scheduling[first])

    def adopt(self, execution: DurableExecution) -> None:
        """Park or tear down ``execution`` when this work item ends."""
        self._executions.append(execution)

    def finish(self, results: _sdk.ExecutionResults | None, executor: Any) -> None:
        """Park the execution still waiting on the engine, if it can continue; close the rest.

        ``results`` is None when the SDK's executor raised.
        """
        parked = self._parkable(results, executor)
        for execution in reversed(self._executions):
            if parked is None or execution is not parked.execution:
                execution.close()
        if parked is not None:
            warm.park(self.instance_id, parked)

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

    def _scheduling_events(self) -> dict[int, _sdk.HistoryEvent]:
        if self._scheduling is None:
            self._scheduling = _sdk.scheduling_events(self._events)
        return self._scheduling

    def _parkable(
        self, results: _sdk.ExecutionResults | None, executor: Any
    ) -> warm.Parked | None:
        """The single waiting execution, its context and the history mark, if all fit."""
        if results is None or self._registry is None or warm.capacity() == 0:
            return None
        waiting = [execution for execution in self._executions if execution.is_waiting]
        confirmations = _sdk.confirmations(results)
        if len(waiting) != 1 or confirmations is None:
            return None
        context = _sdk.runtime_context(waiting[0].context)
        if context is None:
            return None
        return warm.Parked(
            waiting[0], context, _sdk.suspension(executor), self._mark(confirmations)
        )

    def _mark(self, confirmations: tuple[tuple[int, str], ...]) -> warm.HistoryMark:
        started = _sdk.execution_started(self._events)
        return warm.HistoryMark(
            registry=self._registry,
            consumed=len(self._events),
            started=None if started is None else _sdk.detached(started),
            last=_sdk.detached(self._events[-1]),
            confirmations=confirmations,
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
        warm.tear_down_leftovers()
        held = warm.holder(instance_id) if new_events else None
        if held is not None and affinity.belongs_there(*held):
            return affinity.run(
                held[0],
                lambda: execute_work_item(
                    executor, instance_id, old_events, new_events, *args, **kwargs
                ),
            )
        registry = _sdk.registry_of(executor)
        parked = warm.claim(instance_id, registry, old_events) if new_events else None
        item = WorkItem(
            instance_id,
            old_events,
            new_events,
            registry=registry,
            continues=parked,
        )
        stack: list[WorkItem] = _local.__dict__.setdefault("stack", [])
        stack.append(item)
        results: _sdk.ExecutionResults | None = None
        try:
            if parked is None:
                results = execute(
                    executor, instance_id, old_events, new_events, *args, **kwargs
                )
            else:
                propagated = kwargs.get("propagated_history", args[0] if args else None)
                results = _continue(
                    parked, item, executor, old_events, new_events, propagated
                )
        finally:
            stack.pop()
            item.finish(results, executor)
        item.explain(results)
        stalls.hold(results, len(old_events) + len(new_events))
        return results

    return execute_work_item


def _continue(
    parked: warm.Parked,
    item: WorkItem,
    executor: Any,
    old_events: Sequence[_sdk.HistoryEvent],
    new_events: Sequence[_sdk.HistoryEvent],
    propagated_history: Any,
) -> _sdk.ExecutionResults:
    """Run the work item on the warm execution's kept context: only what it has not seen."""
    parked.execution.continue_in(item)
    return _sdk.continue_orchestration(
        executor,
        parked.context,
        parked.suspension,
        old_events[parked.mark.consumed :],
        new_events,
        propagated_history,
    )
