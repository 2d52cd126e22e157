"""Tools with ``needs_approval``: the workflow waits for a decision per call, the caller sees interruptions.

Inside the workflow, a run that ends with ``interruptions`` does not end the
workflow: it publishes the pending calls (custom status), hands the interrupted
``RunResult`` to a caller in this process, and waits for one approval event per
call. With every decision in, it applies them to ``result.to_state()`` as the
SDK's own resume pattern does and runs on. A caller that passes the SDK's
``RunState`` back (``Runner.run(agent, state, run_id=...)``) delivers the
decisions recorded in it; ``DurableRuntime.approve``/``reject`` do the same by
run id and call id from any process.

Example::

    result = await Runner.run(agent, "refund order 7", run_id="refund-7")
    state = result.to_state()
    state.approve(result.interruptions[0])
    result = await Runner.run(agent, state, run_id="refund-7")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeAlias

from agents import RunResult, RunResultStreaming, ToolApprovalItem
from agents.run_state import RunState

from dapr_agents_durable.loop import DurableExecution
from dapr_agents_durable.runtime.approvals import Decision, PendingApproval, collect_decisions, encode_status

AnyRunResult: TypeAlias = RunResult | RunResultStreaming
"""What a run of the workflow produces: ``Runner.run``'s result, or ``run_streamed``'s."""

_PROBE_CALL_ID = "dapr-agents-durable-probe"
"""A call id no model produces: asking the SDK about it reveals "always" decisions."""


def call_id(item: ToolApprovalItem) -> str:
    """The tool call id of an approval item (function call id, or the hosted request's id)."""
    raw = item.raw_item
    for key in ("call_id", "id"):
        value = raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)
        if isinstance(value, str) and value:
            return value
    raise ValueError(f"approval item for tool {item.tool_name!r} has no call id")


def pending_view(item: ToolApprovalItem) -> PendingApproval:
    """What a person needs to decide on ``item``, as plain data."""
    arguments = item.arguments if isinstance(item.arguments, str) else ""
    return PendingApproval(call_id(item), item.tool_name or "", item.agent.name, arguments)


async def settle(
    execution: DurableExecution,
    result: AnyRunResult,
    resume: Callable[[RunState[Any]], Awaitable[AnyRunResult]],
    *,
    on_pause: Callable[[AnyRunResult], None],
    timeout: timedelta | None,
) -> AnyRunResult:
    """Run on until ``result`` has no interruptions, waiting for a decision per interrupted call."""
    while result.interruptions:
        state = result.to_state()  # before the caller sees the result, whatever it does with it
        on_pause(result)
        pending = {call_id(item): pending_view(item) for item in state.get_interruptions()}
        decisions = await collect_decisions(execution, pending, timeout)
        for item in state.get_interruptions():
            decision = decisions[call_id(item)]
            if decision.approved:
                state.approve(item, always_approve=decision.always)
            else:
                state.reject(item, always_reject=decision.always, rejection_message=decision.message)
        execution.context.set_custom_status(encode_status([]))
        result = await resume(state)
    return result


def decisions_in(state: RunState[Any]) -> list[Decision]:
    """The decisions a caller recorded on ``state`` (``approve``/``reject``) for its pending calls."""
    context = state._context
    if context is None:
        return []
    decisions = []
    for item in state.get_interruptions():
        cid = call_id(item)
        tool = item.tool_name or ""
        approved = context.is_tool_approved(tool, cid)
        if approved is None:
            continue
        always = context.is_tool_approved(tool, _PROBE_CALL_ID) is approved
        message = None if approved else context.get_rejection_message(
            tool, cid, tool_namespace=item.tool_namespace, existing_pending=item
        )
        decisions.append(Decision(cid, approved, always, message))
    return decisions
