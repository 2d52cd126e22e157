"""Deferred tool calls: the native pattern for the caller, one approval event per call in the workflow.

A run whose output is PydanticAI's ``DeferredToolRequests`` with calls awaiting approval
(``requires_approval=True``, ``ApprovalRequired``) does not end its workflow: the workflow
hands that result to the caller (who sees it exactly as natively), publishes the calls in its
custom status and waits for one approval event per call (``runtime/approvals.py``: from
``DaprAgent.run(..., deferred_tool_results=..., run_id=same)``, ``DurableRuntime.approve``, or
``dapr-agents-durable approvals``). With every decision in, it continues as the native resume
does: ``agent.run(message_history=..., deferred_tool_results=...)``, with PydanticAI's ``run_id``
``<run id>-resumed-<round>`` (PydanticAI wants a distinct one per agent run), so the messages
still name the durable run for a resume that passes no run id.

Example::

    result = await dagent.run("refund order 7", run_id="refund-7")
    requests = result.output                      # DeferredToolRequests
    results = DeferredToolResults(approvals={requests.approvals[0].tool_call_id: True})
    result = await dagent.run(message_history=result.all_messages(),
                              deferred_tool_results=results, run_id="refund-7")
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_ai import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied
from pydantic_ai.exceptions import UserError
from pydantic_ai.run import AgentRunResult

from dapr_agents_durable.runtime.approvals import Decision, PendingApproval


def awaiting_approval(result: AgentRunResult[Any]) -> bool:
    """Whether the run stopped for approvals only (calls run elsewhere end the run, as natively)."""
    output = result.output
    return isinstance(output, DeferredToolRequests) and bool(output.approvals) and not output.calls


def pending(result: AgentRunResult[Any], agent_name: str) -> dict[str, PendingApproval]:
    """The calls awaiting approval, as a person needs to see them."""
    requests = result.output
    assert isinstance(requests, DeferredToolRequests)
    return {
        part.tool_call_id: PendingApproval(part.tool_call_id, part.tool_name, agent_name, part.args_as_json_str())
        for part in requests.approvals
    }


def as_results(decisions: dict[str, Decision]) -> DeferredToolResults:
    """PydanticAI's ``DeferredToolResults`` for the decisions, as the native resume passes them."""
    approvals: dict[str, Any] = {}
    for call_id, decision in decisions.items():
        if decision.approved:
            edited = None if decision.arguments is None else json.loads(decision.arguments)
            approvals[call_id] = True if edited is None else ToolApproved(override_args=edited)
        else:
            approvals[call_id] = ToolDenied(decision.message) if decision.message else False
    return DeferredToolResults(approvals=approvals)


_RESUMED = re.compile(r"(?P<run_id>.+)-resumed-[0-9]+")


def resumed_run_id(run_id: str, rounds: int) -> str:
    """PydanticAI's ``run_id`` for the agent run continuing durable run ``run_id`` after approval round ``rounds``.

    PydanticAI wants a distinct id per agent run; this one still names the durable run, so a
    resume without a run id finds it from the messages (:func:`durable_run_ids`).
    """
    return f"{run_id}-resumed-{rounds}"


def durable_run_ids(message_run_id: str) -> list[str]:
    """The durable run ids a message's PydanticAI ``run_id`` may belong to, most likely first."""
    found = _RESUMED.fullmatch(message_run_id)
    return [message_run_id] if found is None else [message_run_id, found["run_id"]]


def check_covers(waiting: list[str], results: DeferredToolResults) -> None:
    """Raise PydanticAI's own ``UserError`` when ``results`` leave calls the run waits for undecided.

    A native resume needs a result for every deferred call; durably the calls decided
    elsewhere (``DurableRuntime.approve``) no longer count. Nothing is delivered on error.
    """
    given = set(results.approvals) | set(results.calls)
    expected = set(waiting)
    if not expected <= given:
        raise UserError(
            "Tool call results need to be provided for all deferred tool calls. "
            f"Expected: {expected}, got: {given}"
        )


def check_not_ended_with_calls(result: AgentRunResult[Any], results: DeferredToolResults, run_id: str) -> None:
    """Refuse results for external calls (``CallDeferred``) of a run that ended with them.

    Such a run ends as natively (its output lists the calls), so the same run id answers with
    that stored result; the calls' results belong to a new run, as in PydanticAI.
    """
    output = result.output
    if not isinstance(output, DeferredToolRequests) or not output.calls:
        return
    if not {call.tool_call_id for call in output.calls} <= {*results.calls, *results.approvals}:
        return
    raise UserError(
        f"durable run {run_id!r} ended with deferred external calls (CallDeferred) and cannot take their "
        "results; pass them to a new run: DaprAgent.run(message_history=result.all_messages(), "
        "deferred_tool_results=..., run_id=<a new id>, or no run_id)"
    )


def as_decisions(results: DeferredToolResults) -> list[Decision]:
    """The caller's ``DeferredToolResults`` approvals as decisions for the waiting workflow."""
    decisions = []
    for call_id, value in results.approvals.items():
        if isinstance(value, ToolApproved):
            arguments = None if value.override_args is None else json.dumps(value.override_args)
            decisions.append(Decision(call_id, approved=True, arguments=arguments))
        elif isinstance(value, ToolDenied):
            decisions.append(Decision(call_id, approved=False, message=value.message))
        else:
            decisions.append(Decision(call_id, approved=bool(value)))
    return decisions
