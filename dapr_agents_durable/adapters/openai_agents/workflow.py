"""The ``openai_agents.run`` workflow: the SDK's own ``Runner.run`` on the durable loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
from agents.run import Runner as SdkRunner  # the SDK's own, even where agents.Runner is swapped
from agents.run_state import RunState

from dapr_agents_durable.adapters.openai_agents import approvals, streaming
from dapr_agents_durable.adapters.openai_agents.graph import AGENTS, find_agent
from dapr_agents_durable.adapters.openai_agents.session_seam import durable_session
from dapr_agents_durable.adapters.openai_agents.runs import RUNS, RunSpec
from dapr_agents_durable.adapters.openai_agents.tracing import tracing_enabled
from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.outcomes import hand_over


def run_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Run one agent run; the real ``RunResult`` is handed to a caller in this process."""
    agent = find_agent(ctx.instance_id, request["agent"])
    while agent is None:  # registering the agent in this process wakes the run up
        yield get_runtime().park(ctx, AGENTS, request["agent"])
        agent = find_agent(ctx.instance_id, request["agent"])
    spec = RUNS.get(ctx.instance_id) or RunSpec()
    run_config = spec.run_config
    if not run_config.tracing_disabled and not tracing_enabled():
        run_config = dataclasses.replace(run_config, tracing_disabled=True)

    async def run(input: Any, **first: Any) -> approvals.AnyRunResult:
        # A streamed run (``Runner.run_streamed``) runs the SDK's run_streamed, publishing its events.
        runner = streaming.streamed_run if request.get("stream") else SdkRunner.run
        return await runner(
            agent, input, hooks=spec.hooks, run_config=run_config, error_handlers=spec.error_handlers,
            session=durable_session(request.get("session")), **first
        )

    async def main() -> approvals.AnyRunResult:
        if "state" in request:
            state = await RunState.from_json(agent, request["state"], context_override=spec.context)
            result = await run(state)
        else:
            result = await run(
                request["input"],
                context=spec.context,
                max_turns=request["max_turns"],
                previous_response_id=request.get("previous_response_id"),
                auto_previous_response_id=request.get("auto_previous_response_id", False),
                conversation_id=request.get("conversation_id"),
            )
        timeout = request.get("approval_timeout")
        return await approvals.settle(
            current_execution(),
            result,
            run,
            on_pause=lambda paused: hand_over(ctx.instance_id, paused),
            timeout=None if timeout is None else timedelta(seconds=timeout),
        )

    try:
        result = yield from drive(ctx, main, label=f"agent {agent.name!r}")
    except Exception as exc:
        hand_over(ctx.instance_id, exc, failed=True)
        raise
    hand_over(ctx.instance_id, result)
    return {"last_agent": result.last_agent.name, "final_output": _summary(result.final_output)}


def _summary(output: Any) -> Any:
    """The final output as JSON for readers of the workflow state (the caller gets the real object)."""
    if hasattr(output, "model_dump"):
        output = output.model_dump(mode="json")
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        output = dataclasses.asdict(output)
    try:
        return checked(output, what="final output")
    except TypeError:
        return str(output)
