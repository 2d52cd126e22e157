"""The ``crewai.run`` workflow: CrewAI's own ``Crew.akickoff`` on the durable loop.

The real ``CrewOutput`` (or CrewAI's exception) is handed to a caller in this process;
the workflow's stored output is the same ``CrewOutput`` as JSON. A ``kickoff_for_each``
run starts one ``crewai.run`` child per input, all at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import crewai
import dapr.ext.workflow as wf

from dapr_agents_durable.adapters.crewai import runs
from dapr_agents_durable.adapters.crewai.body import run_in_scope
from dapr_agents_durable.adapters.crewai.names import WORKFLOW
from dapr_agents_durable.adapters.crewai.outputs import encode_crew_output
from dapr_agents_durable.adapters.crewai.scope import RunScope
from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.runtime.outcomes import hand_over
from dapr_agents_durable.runtime.run_ids import derived_run_id


def each_run_id(run_id: str, index: int) -> str:
    """The id of the child run of ``kickoff_for_each`` run ``run_id`` for input ``index``."""
    return derived_run_id(run_id, "each", str(index))


def run_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """One kickoff of a crew (or, with ``"each"``, one child kickoff per input)."""
    if "each" in request:
        return (yield from _each(ctx, request))
    inputs = request.get("inputs") or {}

    async def make_scope() -> RunScope:
        run = await asyncio.to_thread(runs.crew_run, ctx.instance_id, request["crew"], inputs, copy=request.get("copy", False))
        run.prepared = True  # by akickoff, below
        return RunScope(ctx.instance_id, request["crew"], inputs, run.crew)

    async def main(scope: RunScope) -> Any:
        return await crewai.Crew.akickoff(scope.crew, inputs=inputs or None)

    try:
        output = yield from run_in_scope(ctx, make_scope, main, label=f"crew {request['crew']!r}")
    except Exception as exc:
        hand_over(ctx.instance_id, exc, failed=True)
        raise
    hand_over(ctx.instance_id, output)
    return encode_crew_output(output)


def _each(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    async def main() -> list[Any]:
        execution = current_execution()
        children = [
            execution.call_child_workflow(
                WORKFLOW, {"crew": request["crew"], "inputs": inputs, "copy": True}, instance_id=each_run_id(ctx.instance_id, index)
            )
            for index, inputs in enumerate(request["each"])
        ]
        return list(await asyncio.gather(*children))

    return (yield from drive(ctx, main, label=f"crew {request['crew']!r} for each input"))
