"""The ``pydantic_ai.run`` and ``pydantic_ai.delegate`` workflows: the agent's own ``agent.run`` on the durable loop.

Both run the same body: ``agent.run`` (``agent.iter`` or ``agent.run_stream`` for a run started
with ``DaprAgent.iter`` / ``run_stream``, :mod:`.streams`) with the caller's arguments (persisted ones from the
workflow input, in-process ones from the caller's registration) and a bound
:class:`~dapr_agents_durable.adapters.pydantic_ai.capability.DaprDurability`. A run that stops
for approvals waits for decisions and continues (:mod:`.approvals`). The real
``AgentRunResult`` (or exception) is handed to a caller in this process; the workflow output
is a JSON record of it (output, messages, usage) for readers of the run and for a delegating
run that rebuilds the result in another process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
from pydantic_ai import Agent
from pydantic_ai.exceptions import UserError
from pydantic_ai.run import AgentRunResult

from dapr_agents_durable.adapters.pydantic_ai import approvals, streams
from dapr_agents_durable.adapters.pydantic_ai.arguments import PROMPT, restore
from dapr_agents_durable.adapters.pydantic_ai.capability import DaprDurability
from dapr_agents_durable.adapters.pydantic_ai.codec import JSON_VALUE, MESSAGES, USAGE
from dapr_agents_durable.adapters.pydantic_ai.deps import deps_in_process
from dapr_agents_durable.adapters.pydantic_ai.runs import AGENTS, SPECS, missing_message
from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.approvals import collect_decisions, encode_status
from dapr_agents_durable.runtime.outcomes import hand_over
from dapr_agents_durable.runtime.registry import REGISTRATION_WAIT_SECONDS, NotRegistered

_RESUME_DROPS = ("message_history", "deferred_tool_results", "usage", "conversation_id")
"""Arguments of the first ``agent.run`` that the native resume after approvals does not repeat."""


def run_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Run one agent run; its real result is handed to a caller in this process."""
    agent = AGENTS.get(request["agent"])
    while agent is None:  # registering the agent (DaprAgent(agent)) in this process wakes the run up
        yield get_runtime().park(ctx, AGENTS, request["agent"])
        agent = AGENTS.get(request["agent"])
    kwargs = _in_process_arguments(ctx.instance_id, agent, request)
    if kwargs is None and ctx.is_replaying:
        kwargs = _awaited_arguments(ctx.instance_id, agent, request)
    while kwargs is None:  # arguments that never cross processes: their caller here wakes the run up
        yield get_runtime().park(ctx, SPECS, ctx.instance_id)
        kwargs = _in_process_arguments(ctx.instance_id, agent, request)
    timeout = request.get("approval_timeout")
    main = _main(ctx.instance_id, agent, request, kwargs, None if timeout is None else timedelta(seconds=timeout))
    try:
        result = yield from drive(ctx, main, label=f"agent {agent.name!r}")
    except Exception as exc:
        hand_over(ctx.instance_id, exc, failed=True)
        raise
    hand_over(ctx.instance_id, result)
    return record(result)


def _awaited_arguments(run_id: str, agent: Agent[Any, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The in-process arguments of a run that replays its history, waited for here.

    Such a run cannot park (its replay must reproduce the steps it recorded). Its caller in this
    process registers them in a moment; a delegated run's caller is its parent's tool, so the
    parent is woken up, and its replay, reaching the tool, registers them.
    """
    parent = request.get("parent")
    if parent:
        get_runtime().wake(parent)
    with contextlib.suppress(NotRegistered):
        SPECS.wait(run_id, REGISTRATION_WAIT_SECONDS)
    kwargs = _in_process_arguments(run_id, agent, request)
    if kwargs is None:
        spec = SPECS.get(run_id)
        missing = set(request.get("in_process", ())) - set(spec.kwargs if spec is not None else ())
        if not deps_in_process(run_id, agent, request)[0]:
            missing.add("deps")
        raise UserError(missing_message(agent.name or "", run_id, sorted(missing)))
    return kwargs


def _in_process_arguments(run_id: str, agent: Agent[Any, Any], request: dict[str, Any]) -> dict[str, Any] | None:
    """``agent.run``'s keyword arguments for this run, or None while in-process ones are missing here."""
    kwargs = restore(request.get("kwargs", {}))
    spec = SPECS.get(run_id)
    needed = set(request.get("in_process", ()))
    if spec is not None:
        kwargs.update(spec.kwargs)
    found, deps = deps_in_process(run_id, agent, request)
    if not found:
        return None
    if request.get("has_deps"):
        kwargs["deps"] = deps
    if not needed <= set(kwargs):
        return None
    return kwargs


def _main(
    run_id: str, agent: Agent[Any, Any], request: dict[str, Any], kwargs: dict[str, Any], timeout: timedelta | None
) -> Any:
    capabilities = [*(kwargs.pop("capabilities", None) or []), DaprDurability()]
    mode = request.get("mode", "run")
    if request.get("events"):
        kwargs["event_stream_handler"] = streams.publishing_handler(run_id)

    async def once(prompt: Any, **arguments: Any) -> AgentRunResult[Any]:
        if mode == "iter":
            return await streams.iterate(agent, run_id, prompt, **arguments)
        if mode == "stream":
            return await streams.stream_to_end(agent, prompt, **arguments)
        return await agent.run(prompt, **arguments)

    async def main() -> AgentRunResult[Any]:
        prompt = PROMPT.decode(request.get("prompt"))
        result = await once(prompt, run_id=run_id, capabilities=capabilities, **kwargs)
        execution = current_execution()
        rest = {name: value for name, value in kwargs.items() if name not in _RESUME_DROPS}
        rounds = 0
        while approvals.awaiting_approval(result):
            hand_over(run_id, result)  # the caller sees the paused result, as a native run returns it
            decisions = await collect_decisions(execution, approvals.pending(result, agent.name or ""), timeout)
            execution.context.set_custom_status(encode_status([]))
            result = await once(
                None,
                message_history=result.all_messages(),
                deferred_tool_results=approvals.as_results(decisions),
                run_id=approvals.resumed_run_id(run_id, rounds := rounds + 1),
                capabilities=capabilities,
                **rest,
            )
        return result

    return main


def record(result: AgentRunResult[Any]) -> dict[str, Any]:
    """The run's result as JSON: its output, all its messages, where its new ones start, its usage."""
    messages = result.all_messages()
    return {
        "output": _summary(result.output),
        "messages": MESSAGES.encode(messages),
        "new_index": len(messages) - len(result.new_messages()),
        "usage": USAGE.encode(result.usage),
    }


def _summary(output: Any) -> Any:
    try:
        return JSON_VALUE.encode(output)
    except TypeError:
        return str(output)
