"""The ``openai_agents.run`` workflow: the SDK's own ``Runner.run`` on the durable loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import agents
import dapr.ext.workflow as wf

from dapr_agents_durable.adapters.openai_agents.graph import AGENTS
from dapr_agents_durable.adapters.openai_agents.runs import OUTCOMES, RUNS, RunSpec
from dapr_agents_durable.loop import drive
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.codec import checked


def run_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Run one agent run; the real ``RunResult`` is handed to a caller in this process."""
    agent = AGENTS.get(request["agent"])
    if agent is None:
        yield get_runtime().park(ctx, AGENTS, request["agent"])
    spec = RUNS.get(ctx.instance_id) or RunSpec()
    run_config = spec.run_config
    if not run_config.tracing_disabled:
        run_config = dataclasses.replace(run_config, tracing_disabled=True)

    async def main() -> agents.RunResult:
        return await agents.Runner.run(
            agent,
            request["input"],
            context=spec.context,
            max_turns=request["max_turns"],
            hooks=spec.hooks,
            run_config=run_config,
            error_handlers=spec.error_handlers,
            previous_response_id=request.get("previous_response_id"),
            auto_previous_response_id=request.get("auto_previous_response_id", False),
            conversation_id=request.get("conversation_id"),
        )

    try:
        result = yield from drive(ctx, main, label=f"agent {agent.name!r}")
    except Exception as exc:
        OUTCOMES.put(ctx.instance_id, exc, failed=True)
        raise
    OUTCOMES.put(ctx.instance_id, result)
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
