"""The ``crewai.flow`` workflow: CrewAI's own ``Flow.kickoff_async`` on the durable loop.

CrewAI's flow loop runs unchanged in the workflow: starts, listeners, routers,
``or_`` / ``and_``, state. What a method does at its seams is durable: an LLM call is a
``crewai.model`` activity, a tool call a ``crewai.tool`` activity, and a crew kicked off
in a method (``kickoff``, ``kickoff_async``, ``akickoff``, ``crewai.Crew`` or the
adapter's) a ``crewai.run`` child workflow with the id ``<run id>-crew-<n>``, the n-th crew
the run kicks off. The rest of a method is workflow code: a replay after a restart runs
it again, its durable calls answered from history.

The workflow's stored output is the flow's result and its final state, as JSON; a
finished run is answered from it (see :mod:`.flow`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import crewai
import dapr.ext.workflow as wf
from crewai.crews.crew_output import CrewOutput
from crewai.flow.flow import Flow
from pydantic import BaseModel

from dapr_agents_durable.adapters.crewai import scope
from dapr_agents_durable.adapters.crewai.crew import prepare_crew
from dapr_agents_durable.adapters.crewai.errors import DurableAbort, aborting, as_raised
from dapr_agents_durable.adapters.crewai.llm_seam import LIVE_LLMS
from dapr_agents_durable.adapters.crewai.names import FLOW_WORKFLOW, WORKFLOW
from dapr_agents_durable.adapters.crewai.outputs import decode_crew_output, encode_crew_output
from dapr_agents_durable.adapters.crewai.runs import RUNS, CrewRun
from dapr_agents_durable.adapters.crewai.tool_seam import LIVE_TOOLS
from dapr_agents_durable.loop import ChildWorkflowError, await_only, current_execution, drive, on_durable_loop
from dapr_agents_durable.runtime import Registry
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.outcomes import OUTCOMES, hand_over
from dapr_agents_durable.runtime.registry import REGISTRATION_WAIT_SECONDS
from dapr_agents_durable.runtime.run_ids import derived_run_id


@dataclass
class FlowRun:
    """A run's flow and its state as it was kicked off (every execution starts from it)."""

    flow: Flow[Any]
    initial: dict[str, Any]
    counted: set[str] = field(default_factory=set)
    """The token usage already counted on the flow's LLMs in this process (see :mod:`.llm_seam`)."""


FLOW_RUNS: Registry[FlowRun] = Registry("CrewAI flow run")
"""By run id."""

FLOWS: Registry[Flow[Any]] = Registry("CrewAI flow")
"""By flow name: the flow a resume in another process runs with."""


def flow_name(flow: Flow[Any]) -> str:
    """The name a flow's runs carry: its ``name``, else its class name (as CrewAI names it)."""
    return flow.name or type(flow).__name__


def _flow_run(root: str, name: str) -> FlowRun:
    run = FLOW_RUNS.get(root)
    if run is None:
        flow = FLOWS.wait(name, REGISTRATION_WAIT_SECONDS)
        run = FlowRun(flow, flow._copy_and_serialize_state())
        FLOW_RUNS.add(root, run)
    return run


def encode_result(result: Any, name: str) -> dict[str, Any]:
    """A flow's result as JSON: a ``CrewOutput``, a pydantic model (with its class) or plain JSON."""
    what = f"result of flow {name!r}"
    if isinstance(result, CrewOutput):
        return {"crew_output": encode_crew_output(result)}
    if isinstance(result, BaseModel):
        model = type(result)
        return {"model": f"{model.__module__}:{model.__qualname__}", "data": checked(result.model_dump(mode="json"), what=what)}
    return {"json": checked(result, what=what)}


def flow_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """One kickoff of a flow: its result and final state."""
    name = request["flow"]
    entered: list[scope.FlowScope] = []

    async def main() -> Any:
        run = await asyncio.to_thread(_flow_run, ctx.instance_id, name)
        run.flow._restore_state(dict(run.initial))
        entered.append(scope.enter(ctx.instance_id, scope.FlowScope(ctx.instance_id, name, run.counted)))
        try:
            result = await Flow.kickoff_async(run.flow, inputs=request.get("inputs") or None)
        except DurableAbort as abort:
            raise abort.error from abort
        return result, run.flow._copy_and_serialize_state()

    try:
        result, state = yield from drive(ctx, main, label=f"flow {name!r}")
    except Exception as exc:
        _forget_live(ctx.instance_id)
        hand_over(ctx.instance_id, exc, failed=True)
        raise
    finally:
        scope.leave(ctx.instance_id, entered[0] if entered else None)
    _forget_live(ctx.instance_id)
    hand_over(ctx.instance_id, result)
    return {"result": encode_result(result, name), "state": checked(state, what=f"state of flow {name!r}")}


def _forget_live(root: str) -> None:
    """Drop the LLMs and tools the ended run ``root`` registered for its activities."""
    for registry in (LIVE_LLMS, LIVE_TOOLS):
        for key in registry.names():
            if key.startswith(f"{root}/"):
                registry.remove(key)


# ------------------------------------------------------------ crews in a flow's methods

_native_kickoff = crewai.Crew.kickoff
_native_akickoff = crewai.Crew.akickoff


def _in_flow() -> bool:
    return on_durable_loop() and current_execution().workflow_name == FLOW_WORKFLOW


async def child_crew(crew: crewai.Crew, inputs: dict[str, Any] | None) -> CrewOutput:
    """Kick ``crew`` off as a ``crewai.run`` child of the flow's run; its ``CrewOutput``."""
    with aborting():
        execution = current_execution()
        flow = scope.flow_scope()
        if flow is None:
            raise LookupError(f"workflow instance {execution.instance_id!r} is not a CrewAI durable flow run")
        run_id = derived_run_id(execution.instance_id, "crew", str(next(flow.crews)))
        prepare_crew(crew, inputs, None, None)
        name = crew.name or "crew"
        RUNS.add(run_id, CrewRun(crew, dict(inputs or {})))
        request = checked({"crew": name, "inputs": inputs or {}, "parent": execution.instance_id}, what=f"inputs of crew {name!r}")
        try:
            data = await execution.call_child_workflow(WORKFLOW, request, instance_id=run_id)
        except ChildWorkflowError as err:
            RUNS.remove(run_id)
            raise as_raised(err) from err
        RUNS.remove(run_id)
        OUTCOMES.pop(run_id)  # the child's real output: the flow reads the recorded one, live or replayed
        return decode_crew_output(data, crew.tasks)


def _kickoff(self: crewai.Crew, inputs: dict[str, Any] | None = None, input_files: Any = None, from_checkpoint: Any = None) -> Any:
    if not _in_flow():
        return _native_kickoff(self, inputs, input_files, from_checkpoint)
    scope.check_suspendable(f"crew {self.name!r}", "`await crew.akickoff(...)`")
    return await_only(child_crew(self, inputs))


async def _akickoff(self: crewai.Crew, inputs: dict[str, Any] | None = None, input_files: Any = None, from_checkpoint: Any = None) -> Any:
    if not _in_flow():
        return await _native_akickoff(self, inputs, input_files, from_checkpoint)
    return await child_crew(self, inputs)


def install() -> None:
    """Route crew kickoffs in a flow's methods to child runs (idempotent)."""
    crewai.Crew.kickoff = _kickoff  # type: ignore[method-assign]
    crewai.Crew.akickoff = _akickoff  # type: ignore[method-assign]
