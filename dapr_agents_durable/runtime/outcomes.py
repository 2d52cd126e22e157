"""The caller's side of a durable run: start or attach, wait until it rests, take its result.

A workflow that runs a framework's loop hands the framework's real result object (or
its exception) to a caller waiting in the same process through :data:`OUTCOMES`; a
caller in another process, or one that arrives after the run ended, gets the result
rebuilt by replaying the run's history locally (no model or tool is called again).

A run *rests* when its workflow has ended or waits for human decisions on calls the
caller did not just decide, and has handled every decision raised before the caller
came (a barrier event makes sure: see :mod:`dapr_agents_durable.runtime.approvals`).

Example::

    hand_over("r1", result)                                 # in the workflow, at its end
    rest = wait_at_rest(runtime, "pydantic_ai.run", request, "r1", decisions=[])
    value = final_outcome(runtime, "pydantic_ai.run", "r1", rest.state)   # in the caller
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dapr.ext.workflow.workflow_state import WorkflowState, WorkflowStatus

from dapr_agents_durable.runtime.approvals import (
    APPROVAL_EVENT,
    Decision,
    barrier_event,
    barrier_seen,
    pending_call_ids,
    waits_for_others,
)
from dapr_agents_durable.runtime.durable_runtime import TERMINAL, DurableRuntime, RunFailed, get_runtime


class Outcomes:
    """Results (or exceptions) of runs whose workflow finished or paused in this process, by run id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[bool, Any]] = {}

    def put(self, run_id: str, value: Any, *, failed: bool = False) -> None:
        with self._lock:
            self._items[run_id] = (failed, value)

    def pop(self, run_id: str) -> tuple[bool, Any] | None:
        with self._lock:
            return self._items.pop(run_id, None)


OUTCOMES = Outcomes()


def hand_over(run_id: str, outcome: Any, *, failed: bool = False) -> None:
    """Give a caller waiting in this process the real result (or exception) of ``run_id``, and wake it."""
    OUTCOMES.put(run_id, outcome, failed=failed)
    get_runtime().notify()


@dataclass(frozen=True)
class Rest:
    """Where a run came to rest: its workflow state, and the calls this caller decided on the way."""

    state: WorkflowState
    answered: frozenset[str]

    @property
    def ended(self) -> bool:
        """The workflow has ended (completed, failed or terminated)."""
        return self.state.runtime_status in TERMINAL


def wait_at_rest(
    runtime: DurableRuntime,
    workflow: str,
    request: Any,
    run_id: str,
    decisions: list[Decision],
    *,
    settled: Callable[[frozenset[str]], Callable[[WorkflowState], bool]] = waits_for_others,
    owner: str | None = None,
) -> Rest:
    """Start or attach ``workflow`` as ``run_id``, deliver the ``decisions`` on calls still pending,
    and wait until the run rests. Blocking: call it from a worker thread in async code.

    ``settled(answered)`` builds the test of "at rest" besides the end of the workflow; the
    default is "waits for decisions, none of them one just delivered". ``owner`` as for
    :meth:`DurableRuntime.start_or_attach`.
    """
    runtime.start_or_attach(workflow, request, run_id, owner=owner)
    answered = frozenset(deliver(runtime, run_id, decisions))
    at_rest = settled(answered)
    # A decision just delivered is itself behind any queued one: only a caller that
    # delivered none needs a barrier.
    nonce = None if answered else raise_barrier(runtime, run_id)
    state = runtime.wait_until(
        run_id, lambda s: at_rest(s) and (nonce is None or barrier_seen(s.serialized_custom_status, nonce))
    )
    return Rest(state, answered)


def raise_barrier(runtime: DurableRuntime, run_id: str) -> str | None:
    """If ``run_id`` says it waits for decisions, raise a barrier behind any decision still
    queued for it (given while no worker ran); the barrier's nonce, else None."""
    state = runtime.state(run_id)
    if state is None or state.runtime_status in TERMINAL or not pending_call_ids(state.serialized_custom_status):
        return None
    nonce = uuid.uuid4().hex
    runtime.raise_event(run_id, APPROVAL_EVENT, barrier_event(nonce))
    return nonce


def deliver(runtime: DurableRuntime, run_id: str, decisions: list[Decision]) -> set[str]:
    """Raise one approval event per decision whose call the run still waits for; their call ids."""
    if not decisions:
        return set()
    pending = {call.call_id for call in runtime.pending_approvals(run_id)}
    answered: set[str] = set()
    for decision in decisions:
        if decision.call_id in pending:
            runtime.raise_event(run_id, APPROVAL_EVENT, decision.to_json())
            answered.add(decision.call_id)
    return answered


def take_outcome(
    runtime: DurableRuntime,
    workflow: str,
    run_id: str,
    *,
    usable: Callable[[tuple[bool, Any]], bool] = lambda handed: True,
) -> tuple[bool, Any] | None:
    """The outcome handed over for ``run_id`` if ``usable``, else the one a local replay hands over.

    Returns ``(failed, value)`` or None when even the replay handed nothing over.
    """
    handed = OUTCOMES.pop(run_id)
    if handed is None or not usable(handed):
        runtime.replay(workflow, run_id)
        handed = OUTCOMES.pop(run_id)
    return handed


def final_outcome(
    runtime: DurableRuntime,
    workflow: str,
    run_id: str,
    state: WorkflowState,
    *,
    usable: Callable[[tuple[bool, Any]], bool] = lambda handed: True,
) -> Any:
    """The ended run's real result, or its exception raised (the framework's own type).

    A run that failed outside the framework's loop (terminated, or a failure the replay
    does not reproduce) raises :class:`RunFailed`.
    """
    failure = None if state.runtime_status == WorkflowStatus.COMPLETED else RunFailed(run_id, state)
    handed = take_outcome(runtime, workflow, run_id, usable=usable)
    if handed is None:
        if failure is not None:
            raise failure
        raise LookupError(f"durable run {run_id!r} finished without a result")
    failed, value = handed
    if failed:
        raise value
    return value
