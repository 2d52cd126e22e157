"""``Flow``: a drop-in for ``crewai.flow.Flow`` whose kickoffs are durable workflows."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from crewai.flow.flow import Flow as CrewFlow
from dapr.ext.workflow.workflow_state import WorkflowStatus
from pydantic import BaseModel

from dapr_agents_durable.adapters.crewai import flow_workflow
from dapr_agents_durable.adapters.crewai.crew import ensure_registered
from dapr_agents_durable.adapters.crewai.flow_workflow import FLOW_RUNS, FLOWS, FlowRun, flow_name
from dapr_agents_durable.adapters.crewai.llm_seam import model_class
from dapr_agents_durable.adapters.crewai.names import FLOW_WORKFLOW
from dapr_agents_durable.adapters.crewai.outputs import decode_crew_output
from dapr_agents_durable.adapters.crewai.scope import check_suspendable
from dapr_agents_durable.loop import await_only, on_durable_loop
from dapr_agents_durable.runtime import DurableRuntime, get_runtime
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.outcomes import OUTCOMES, final_outcome
from dapr_agents_durable.runtime.run_ids import next_nested_run_id
from dapr_agents_durable.runtime.waits import waited_in_thread

T = TypeVar("T", bound=dict[str, Any] | BaseModel)


class Flow(CrewFlow[T]):
    """CrewAI's ``Flow``, durably: its own flow loop runs in the workflow ``crewai.flow``.

    Written exactly like a ``crewai.flow.Flow`` (``@start``, ``@listen``, ``@router``,
    ``or_`` / ``and_``, dict or structured state). Inside its methods every LLM call is a
    ``crewai.model`` activity, every tool call a ``crewai.tool`` activity, and every crew
    kicked off a ``crewai.run`` child workflow. ``run_id`` names the durable run: the same
    id attaches to a run still going (after a crash: resumes where it stopped), or returns
    the stored result of a finished one, its final state in ``flow.state``, without
    running any method, also in another process. Without it every kickoff is a new run.

    Example::

        from dapr_agents_durable.adapters.crewai import Flow

        class Trip(Flow[TripState]):
            @start()
            def plan(self):
                return crew.kickoff(inputs={"city": self.state.city}).raw

        result = Trip().kickoff(inputs={"city": "Paris"}, run_id="trip-7")
    """

    def kickoff(  # type: ignore[override]
        self,
        inputs: dict[str, Any] | None = None,
        input_files: Any = None,
        from_checkpoint: Any = None,
        restore_from_state_id: str | None = None,
        *,
        run_id: str | None = None,
    ) -> Any:
        """Run the flow durably and return its result, as ``crewai.flow.Flow.kickoff`` does (blocks)."""
        if on_durable_loop():  # a flow kicked off inside a durable run's code: part of that run
            check_suspendable(f"flow {flow_name(self)!r}", "`await flow.kickoff_async(...)`")
            return await_only(super().kickoff_async(inputs, input_files, from_checkpoint, restore_from_state_id))
        self._refuse_unsupported(inputs, input_files, from_checkpoint, restore_from_state_id)
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise ValueError("run_id must be a non-empty string (or None for a new run)")
        runtime = get_runtime()
        _ensure_registered(runtime)
        name = flow_name(self)
        run_id = run_id or next_nested_run_id() or uuid.uuid4().hex
        request = checked({"flow": name, "inputs": inputs or {}}, what=f"inputs of flow {name!r}")
        FLOWS.add(name, self)
        FLOW_RUNS.add(run_id, FlowRun(self, self._copy_and_serialize_state()))
        try:
            runtime.start_or_attach(FLOW_WORKFLOW, request, run_id, owner="flow")
            return self._outcome(runtime, run_id)
        finally:
            FLOW_RUNS.remove(run_id)

    async def kickoff_async(  # type: ignore[override]
        self,
        inputs: dict[str, Any] | None = None,
        input_files: Any = None,
        from_checkpoint: Any = None,
        restore_from_state_id: str | None = None,
        *,
        run_id: str | None = None,
    ) -> Any:
        """:meth:`kickoff` for async code (the wait runs in a worker thread)."""
        if on_durable_loop():
            return await super().kickoff_async(inputs, input_files, from_checkpoint, restore_from_state_id)
        return await waited_in_thread(
            self.kickoff, inputs, input_files, from_checkpoint, restore_from_state_id, run_id=run_id
        )

    async def akickoff(  # type: ignore[override]
        self,
        inputs: dict[str, Any] | None = None,
        input_files: Any = None,
        from_checkpoint: Any = None,
        restore_from_state_id: str | None = None,
        *,
        run_id: str | None = None,
    ) -> Any:
        """:meth:`kickoff` for async code, like ``crewai.flow.Flow.akickoff``."""
        return await self.kickoff_async(inputs, input_files, from_checkpoint, restore_from_state_id, run_id=run_id)

    # ------------------------------------------------------------------ internals

    def _refuse_unsupported(self, inputs: Any, input_files: Any, from_checkpoint: Any, restore_from_state_id: Any) -> None:
        """Clear errors for what a durable flow run cannot do (yet)."""
        if inputs is not None and not isinstance(inputs, dict):
            raise TypeError(f"inputs must be a dict of state values, got {type(inputs).__name__}")
        problems = []
        if input_files:
            problems.append("input_files (files are not carried through the run's history)")
        if from_checkpoint is not None or restore_from_state_id is not None:
            problems.append("from_checkpoint / restore_from_state_id (the durable run is its own checkpoint: "
                            "kick off again with the same run_id)")
        if self.persistence is not None:
            problems.append("persistence / @persist (the durable run persists the flow: kick off again with "
                            "the same run_id)")
        if self.stream:
            problems.append("stream=True (durable flows do not stream yet)")
        asking = sorted(name for name, method in self._definition.methods.items() if method.human_feedback is not None)
        if asking:
            problems.append(f"@human_feedback on {', '.join(asking)} (feedback is not a durable wait yet)")
        if problems:
            raise ValueError(f"flow {flow_name(self)!r} cannot run durably with " + "; ".join(problems))

    def _outcome(self, runtime: DurableRuntime, run_id: str) -> Any:
        """Wait for the end; the real result (or the flow's exception), else the stored one."""
        state = runtime.wait_until(run_id, lambda state: False)
        handed = OUTCOMES.pop(run_id)
        if handed is not None:
            failed, value = handed
            if failed:
                raise value
            return value
        if state.runtime_status != WorkflowStatus.COMPLETED:
            return final_outcome(runtime, FLOW_WORKFLOW, run_id, state)  # the failure, as the flow raised it
        stored = json.loads(state.serialized_output or "null")
        self._restore_state(stored["state"])
        return _decoded(stored["result"])


def _decoded(data: dict[str, Any]) -> Any:
    if "crew_output" in data:
        return decode_crew_output(data["crew_output"], [])
    if "model" in data:
        return model_class(data["model"]).model_validate(data["data"])
    return data["json"]


def _ensure_registered(runtime: DurableRuntime) -> None:
    ensure_registered(runtime)
    flow_workflow.install()
    runtime.register_workflow(FLOW_WORKFLOW, flow_workflow.flow_workflow)
