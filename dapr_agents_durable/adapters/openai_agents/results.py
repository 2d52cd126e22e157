"""The caller's side of a durable run: wait until it rests, then take its SDK result.

A run rests when its workflow has ended or waits for approvals on calls the caller
did not just decide. Its result is the one the workflow handed over in this process
(``OUTCOMES``) or, when there is none, the one a local replay of its history rebuilds
(no model or tool is called again). ``Runner.run`` and ``Runner.run_streamed`` both
go through :func:`wait_at_rest` and :func:`result_at_rest`.

Example::

    rest = wait_at_rest(runtime, request, "refund-7", decisions)
    result = result_at_rest(runtime, "refund-7", rest.state)  # final, or with interruptions
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dapr.ext.workflow.workflow_state import WorkflowState, WorkflowStatus

from dapr_agents_durable.adapters.openai_agents import approvals
from dapr_agents_durable.adapters.openai_agents.names import WORKFLOW
from dapr_agents_durable.adapters.openai_agents.runs import OUTCOMES
from dapr_agents_durable.runtime import APPROVAL_EVENT, DurableRuntime, RunFailed
from dapr_agents_durable.runtime.durable_runtime import TERMINAL


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
    runtime: DurableRuntime, request: dict[str, Any], run_id: str, decisions: list[approvals.Decision]
) -> Rest:
    """Start or attach, deliver the ``decisions`` on calls still pending, and wait until the run rests.

    Blocking: call it from a worker thread in async code.
    """
    runtime.start_or_attach(WORKFLOW, request, run_id)
    answered = _deliver(runtime, run_id, decisions)
    state = runtime.wait_until(run_id, approvals.waits_for_others(answered))
    return Rest(state, frozenset(answered))


def _deliver(runtime: DurableRuntime, run_id: str, decisions: list[approvals.Decision]) -> set[str]:
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


def result_at_rest(runtime: DurableRuntime, run_id: str, state: WorkflowState) -> Any:
    """The SDK result of a run at rest: the final one, or the interrupted one; raises the SDK's exception.

    The result is a ``RunResult`` or, for a streamed run, the workflow's ``RunResultStreaming``.
    """
    if state.runtime_status == WorkflowStatus.COMPLETED:
        return outcome(runtime, run_id, None)
    if state.runtime_status in TERMINAL:
        return outcome(runtime, run_id, RunFailed(run_id, state))
    return interrupted(runtime, run_id, approvals.pending_call_ids(state.serialized_custom_status))


def interrupted(runtime: DurableRuntime, run_id: str, pending: set[str]) -> Any:
    """The interrupted result of a run waiting for approvals, listing the calls still pending."""
    result = _take_interrupted(run_id)
    if result is None or not pending <= {approvals.call_id(i) for i in result.interruptions}:
        runtime.replay(WORKFLOW, run_id)
        result = _take_interrupted(run_id)
    if result is None:
        raise LookupError(f"durable run {run_id!r} waits for approvals but its interrupted result was not rebuilt")
    view = copy.copy(result)
    view.interruptions = [i for i in result.interruptions if approvals.call_id(i) in pending]
    return view


def outcome(runtime: DurableRuntime, run_id: str, failure: RunFailed | None) -> Any:
    """The ended run's real result (or the SDK's exception): handed over in-process, or rebuilt by
    replaying the run's history here (no model or tool is called again)."""
    handed = OUTCOMES.pop(run_id)
    if handed is None or _is_interrupted(handed):
        runtime.replay(WORKFLOW, run_id)
        handed = OUTCOMES.pop(run_id)
    if handed is None:
        if failure is not None:
            raise failure
        raise LookupError(f"durable run {run_id!r} finished without a result")
    failed, value = handed
    if failed:
        raise value
    return value


def _take_interrupted(run_id: str) -> Any:
    """The interrupted result handed over for ``run_id``, if that is what was handed over."""
    handed = OUTCOMES.pop(run_id)
    return handed[1] if handed is not None and _is_interrupted(handed) else None


def _is_interrupted(handed: tuple[bool, Any]) -> bool:
    failed, value = handed
    return not failed and bool(getattr(value, "interruptions", None))
