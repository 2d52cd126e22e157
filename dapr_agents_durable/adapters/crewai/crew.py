"""``Crew``: a drop-in for ``crewai.Crew`` whose kickoffs are durable workflows."""

from __future__ import annotations

import uuid
from typing import Any

import crewai
from crewai.crews.crew_output import CrewOutput

from dapr_agents_durable.adapters.crewai import events, llm_seam, rpm, task_seam, tool_seam
from dapr_agents_durable.adapters.crewai.llm_seam import model_activity
from dapr_agents_durable.adapters.crewai.names import DELEGATE_WORKFLOW, MODEL_ACTIVITY, TASK_WORKFLOW, TOOL_ACTIVITY, WORKFLOW
from dapr_agents_durable.adapters.crewai.runs import CREWS, RUNS, CrewRun
from dapr_agents_durable.adapters.crewai.task_seam import delegate_workflow, task_workflow
from dapr_agents_durable.adapters.crewai.tool_seam import tool_activity
from dapr_agents_durable.adapters.crewai.workflow import each_run_id, run_workflow
from dapr_agents_durable.loop import on_durable_loop
from dapr_agents_durable.loop.replay_aware import replay_aware
from dapr_agents_durable.runtime import DurableRuntime, get_runtime
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.outcomes import final_outcome
from dapr_agents_durable.runtime.run_ids import next_nested_run_id
from dapr_agents_durable.runtime.waits import waited_in_thread


def ensure_registered(runtime: DurableRuntime) -> None:
    """Install the seams and register the crew workflows and activities (idempotent)."""
    llm_seam.install()
    tool_seam.install()
    task_seam.install()
    events.install()
    rpm.install()
    runtime.register_workflow(WORKFLOW, run_workflow)
    runtime.register_workflow(TASK_WORKFLOW, task_workflow)
    runtime.register_workflow(DELEGATE_WORKFLOW, delegate_workflow)
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)


class Crew(crewai.Crew):
    """CrewAI's ``Crew``, durably: every task a child workflow, every LLM and tool call an activity.

    Constructed exactly like ``crewai.Crew``. ``run_id`` names the durable run: calling
    again with the same id attaches to a run still going (after a crash: resumes where it
    stopped), or returns the stored result of a finished one without any LLM or tool
    call, also in another process. Without it every kickoff is a new run.

    Example::

        from dapr_agents_durable.adapters.crewai import Crew

        crew = Crew(agents=[researcher, writer], tasks=[research, write])
        output = crew.kickoff(inputs={"topic": "durable agents"}, run_id="post-42")
        print(output.raw, output.token_usage)
    """

    def kickoff(  # type: ignore[override]
        self,
        inputs: dict[str, Any] | None = None,
        input_files: Any = None,
        from_checkpoint: Any = None,
        *,
        run_id: str | None = None,
    ) -> CrewOutput:
        """Run the crew durably and return CrewAI's ``CrewOutput`` (blocks, human input included)."""
        if on_durable_loop():  # a crew kicked off inside a durable run's code: part of that run
            return super().kickoff(inputs, input_files, from_checkpoint)  # type: ignore[return-value]
        runtime, run_id = self._prepare(inputs, input_files, from_checkpoint, run_id)
        request = checked({"crew": self.name, "inputs": inputs or {}}, what=f"inputs of crew {self.name!r}")
        RUNS.add(run_id, CrewRun(self, dict(inputs or {})))
        try:
            return self._outcome(runtime, request, run_id)  # type: ignore[no-any-return]
        finally:
            RUNS.remove(run_id)

    async def kickoff_async(  # type: ignore[override]
        self, inputs: dict[str, Any] | None = None, input_files: Any = None, *, run_id: str | None = None
    ) -> CrewOutput:
        """:meth:`kickoff` for async code (the wait runs in a worker thread)."""
        return await waited_in_thread(self.kickoff, inputs, input_files, run_id=run_id)

    async def akickoff(  # type: ignore[override]
        self,
        inputs: dict[str, Any] | None = None,
        input_files: Any = None,
        from_checkpoint: Any = None,
        *,
        run_id: str | None = None,
    ) -> CrewOutput:
        """:meth:`kickoff` for async code, like ``crewai.Crew.akickoff``."""
        return await waited_in_thread(self.kickoff, inputs, input_files, from_checkpoint, run_id=run_id)

    def kickoff_for_each(  # type: ignore[override]
        self, inputs: list[dict[str, Any]], input_files: Any = None, *, run_id: str | None = None
    ) -> list[CrewOutput]:
        """One durable child run per input, all at once, each on a copy of the crew (as CrewAI does).

        The child runs' ids are ``<run id>-each-<index>``.
        """
        if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
            raise TypeError("kickoff_for_each needs a list of input dicts, one per run")
        runtime, run_id = self._prepare(None, input_files, None, run_id)
        request = checked({"crew": self.name, "each": inputs}, what=f"inputs of crew {self.name!r}")
        children = [each_run_id(run_id, index) for index in range(len(inputs))]
        for child, item in zip(children, inputs, strict=True):
            RUNS.add(child, CrewRun(self.copy(), dict(item)))
        try:
            runtime.start_or_attach(WORKFLOW, request, run_id, owner="crew")
            runtime.wait_until(run_id, lambda state: False)
            return [self._outcome(runtime, None, child) for child in children]
        finally:
            for child in children:
                RUNS.remove(child)

    async def kickoff_for_each_async(  # type: ignore[override]
        self, inputs: list[dict[str, Any]], input_files: Any = None, *, run_id: str | None = None
    ) -> list[CrewOutput]:
        """:meth:`kickoff_for_each` for async code."""
        return await waited_in_thread(self.kickoff_for_each, inputs, input_files, run_id=run_id)

    async def akickoff_for_each(  # type: ignore[override]
        self, inputs: list[dict[str, Any]], input_files: Any = None, *, run_id: str | None = None
    ) -> list[CrewOutput]:
        """:meth:`kickoff_for_each` for async code."""
        return await waited_in_thread(self.kickoff_for_each, inputs, input_files, run_id=run_id)

    # ------------------------------------------------------------------ internals

    def _prepare(
        self, inputs: Any, input_files: Any, from_checkpoint: Any, run_id: str | None
    ) -> tuple[DurableRuntime, str]:
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise ValueError("run_id must be a non-empty string (or None for a new run)")
        prepare_crew(self, inputs, input_files, from_checkpoint)
        runtime = get_runtime()
        ensure_registered(runtime)
        return runtime, run_id or next_nested_run_id() or uuid.uuid4().hex

    def _outcome(self, runtime: DurableRuntime, request: dict[str, Any] | None, run_id: str) -> Any:
        """Start (when ``request`` is given) or attach, wait for the end; the real result or CrewAI's exception."""
        if request is not None:
            runtime.start_or_attach(WORKFLOW, request, run_id, owner="crew")
        state = runtime.wait_until(run_id, lambda state: False)
        return final_outcome(runtime, WORKFLOW, run_id, state)


def prepare_crew(crew: crewai.Crew, inputs: Any, input_files: Any, from_checkpoint: Any) -> None:
    """Check a crew about to run durably, make its callbacks replay-aware and register it by name."""
    if inputs is not None and not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict of template values, got {type(inputs).__name__}")
    _refuse_unsupported(crew, input_files, from_checkpoint)
    _make_callbacks_replay_aware(crew)
    CREWS.add(crew.name or "crew", crew)


def _refuse_unsupported(crew: crewai.Crew, input_files: Any, from_checkpoint: Any) -> None:
    """Clear errors for what a durable run cannot do (yet)."""
    problems = []
    if input_files:
        problems.append("input_files (files are not carried through the run's history)")
    if from_checkpoint is not None:
        problems.append("from_checkpoint (the durable run is its own checkpoint: kick off again with the same run_id)")
    if crew.stream:
        problems.append("stream=True (durable crews do not stream yet)")
    if crew.memory:
        problems.append("memory=True (memory does embedding I/O inside the run; set memory=False)")
    if crew.knowledge_sources or any(getattr(agent, "knowledge_sources", None) for agent in crew.agents):
        problems.append("knowledge_sources (knowledge retrieval does embedding I/O inside the run; remove them)")
    if crew.planning:
        problems.append("planning=True (the planner's LLM call is not durable yet)")
    if problems:
        raise ValueError(f"crew {crew.name!r} cannot run durably with " + "; ".join(problems))


def _make_callbacks_replay_aware(crew: crewai.Crew) -> None:
    """step_callback and task_callback (crew, agents, tasks) fire once per live step, not on replay."""
    if crew.step_callback is not None:
        crew.step_callback = replay_aware(crew.step_callback)
    if crew.task_callback is not None:
        crew.task_callback = replay_aware(crew.task_callback)
    for agent in crew.agents:
        if getattr(agent, "step_callback", None) is not None:
            agent.step_callback = replay_aware(agent.step_callback)
    for task in crew.tasks:
        if task.callback is not None:
            task.callback = replay_aware(task.callback)
