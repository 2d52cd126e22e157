"""The caller's side of a durable run: wait until it rests, then take its SDK result.

A run rests when its workflow has ended or waits for approvals on calls the caller
did not just decide (:func:`dapr_agents_durable.runtime.outcomes.wait_at_rest`). Its
result is the one the workflow handed over in this process or, when there is none,
the one a local replay of its history rebuilds (no model or tool is called again).
``Runner.run`` and ``Runner.run_streamed`` both go through :func:`wait_at_rest` and
:func:`result_at_rest`.

Example::

    rest = wait_at_rest(runtime, request, "refund-7", decisions)
    result = result_at_rest(runtime, "refund-7", rest.state)  # final, or with interruptions
"""

from __future__ import annotations

import copy
from typing import Any

from dapr.ext.workflow.workflow_state import WorkflowState

from dapr_agents_durable.adapters.openai_agents import approvals
from dapr_agents_durable.adapters.openai_agents.names import WORKFLOW
from dapr_agents_durable.runtime import DurableRuntime
from dapr_agents_durable.runtime.approvals import pending_call_ids
from dapr_agents_durable.runtime.durable_runtime import TERMINAL
from dapr_agents_durable.runtime.outcomes import Rest, final_outcome, take_outcome
from dapr_agents_durable.runtime.outcomes import wait_at_rest as _wait_at_rest


def wait_at_rest(
    runtime: DurableRuntime, request: dict[str, Any], run_id: str, decisions: list[approvals.Decision]
) -> Rest:
    """Start or attach, deliver the ``decisions`` on calls still pending, and wait until the run rests.

    Blocking: call it from a worker thread in async code. A run id of a run of another
    starting agent is refused (a resume from a ``RunState`` may name its current agent).
    """
    owner = None if "state" in request else "agent"
    return _wait_at_rest(runtime, WORKFLOW, request, run_id, decisions, owner=owner)


def result_at_rest(runtime: DurableRuntime, run_id: str, state: WorkflowState) -> Any:
    """The SDK result of a run at rest: the final one, or the interrupted one; raises the SDK's exception.

    The result is a ``RunResult`` or, for a streamed run, the workflow's ``RunResultStreaming``.
    """
    if state.runtime_status in TERMINAL:
        return outcome(runtime, run_id, state)
    return interrupted(runtime, run_id, pending_call_ids(state.serialized_custom_status))


def interrupted(runtime: DurableRuntime, run_id: str, pending: set[str]) -> Any:
    """The interrupted result of a run waiting for approvals, listing the calls still pending."""

    def lists_pending(handed: tuple[bool, Any]) -> bool:
        return _is_interrupted(handed) and pending <= {approvals.call_id(i) for i in handed[1].interruptions}

    handed = take_outcome(runtime, WORKFLOW, run_id, usable=lists_pending)
    if handed is None or not _is_interrupted(handed):
        raise LookupError(f"durable run {run_id!r} waits for approvals but its interrupted result was not rebuilt")
    result = handed[1]
    view = copy.copy(result)
    view.interruptions = [i for i in result.interruptions if approvals.call_id(i) in pending]
    return view


def outcome(runtime: DurableRuntime, run_id: str, state: WorkflowState) -> Any:
    """The ended run's real result (or the SDK's exception): handed over in-process, or rebuilt by
    replaying the run's history here (no model or tool is called again)."""
    return final_outcome(runtime, WORKFLOW, run_id, state, usable=lambda handed: not _is_interrupted(handed))


_RUN_ID_ATTR = "_dapr_agents_durable_run_id"


def resumable(result: Any, run_id: str) -> Any:
    """``result``, whose ``to_state()`` now makes a ``RunState`` that resumes durable run ``run_id``.

    The SDK's own pattern then continues the same durable run without naming it:
    ``state = result.to_state(); state.approve(item); await Runner.run(agent, state)``.
    """
    to_state = result.to_state

    def to_state_of_run(*args: Any, **kwargs: Any) -> Any:
        state = to_state(*args, **kwargs)
        setattr(state, _RUN_ID_ATTR, run_id)
        return state

    result.to_state = to_state_of_run
    return result


def run_id_of(state: Any) -> str | None:
    """The durable run a ``RunState`` resumes (made by a :func:`resumable` result), or None."""
    run_id = getattr(state, _RUN_ID_ATTR, None)
    return run_id if isinstance(run_id, str) else None


def _is_interrupted(handed: tuple[bool, Any]) -> bool:
    failed, value = handed
    return not failed and bool(getattr(value, "interruptions", None))
