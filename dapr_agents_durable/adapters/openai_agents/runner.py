"""``Runner``: a drop-in for ``agents.Runner`` whose runs are durable workflows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from agents import Agent, RunConfig, RunErrorHandlers, RunHooks, RunResult, Session
from agents.run_config import DEFAULT_MAX_TURNS
from agents.run_state import RunState

from dapr_agents_durable.adapters.openai_agents import model_seam
from dapr_agents_durable.adapters.openai_agents.graph import register_graph
from dapr_agents_durable.adapters.openai_agents.hooks import make_replay_aware
from dapr_agents_durable.adapters.openai_agents.model_seam import model_activity
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY, TOOL_ACTIVITY, WORKFLOW
from dapr_agents_durable.adapters.openai_agents.runs import OUTCOMES, RUNS, RunSpec
from dapr_agents_durable.adapters.openai_agents.tool_seam import tool_activity
from dapr_agents_durable.adapters.openai_agents.workflow import run_workflow
from dapr_agents_durable.runtime import DurableRuntime, RunFailed, get_runtime
from dapr_agents_durable.runtime.codec import checked


def _ensure_registered(runtime: DurableRuntime) -> None:
    model_seam.install()
    runtime.register_workflow(WORKFLOW, run_workflow)
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)


class Runner:
    """Runs agents like ``agents.Runner``, durably: every model and tool call is an activity.

    ``run_id`` names the durable run: calling again with the same id attaches to a run
    still going, or returns the stored result of a finished one without any new model
    call. Without it every call is a new run.

    Example::

        from dapr_agents_durable.adapters.openai_agents import Runner

        result = await Runner.run(agent, "What is the weather in Paris?", run_id="ticket-42")
        print(result.final_output)
    """

    @classmethod
    async def run(
        cls,
        starting_agent: Agent[Any],
        input: str | list[Any] | RunState[Any],
        *,
        context: Any = None,
        max_turns: int | None = DEFAULT_MAX_TURNS,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        error_handlers: RunErrorHandlers[Any] | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        """Run ``starting_agent`` on ``input`` durably and return the SDK's ``RunResult``."""
        if isinstance(input, RunState):
            raise NotImplementedError("resuming from a RunState is not supported by durable runs yet")
        if not isinstance(starting_agent, Agent):
            raise TypeError(f"starting_agent must be an agents.Agent, got {type(starting_agent).__name__}")
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise ValueError("run_id must be a non-empty string (or None for a new run)")
        runtime = get_runtime()
        _ensure_registered(runtime)
        register_graph(starting_agent)
        run_id = run_id or uuid.uuid4().hex
        make_replay_aware(hooks)
        RUNS[run_id] = RunSpec(run_config or RunConfig(), context, hooks, error_handlers, session)
        request = checked(
            {
                "agent": starting_agent.name,
                "input": input,
                "max_turns": max_turns,
                "previous_response_id": previous_response_id,
                "auto_previous_response_id": auto_previous_response_id,
                "conversation_id": conversation_id,
            },
            what=f"input of agent {starting_agent.name!r}",
        )
        failure: RunFailed | None = None
        try:
            try:
                await runtime.arun(WORKFLOW, request, run_id)
            except RunFailed as exc:
                failure = exc
            return await asyncio.to_thread(_outcome, runtime, run_id, failure)
        finally:
            RUNS.pop(run_id, None)

    @classmethod
    def run_sync(cls, starting_agent: Agent[Any], input: str | list[Any], **kwargs: Any) -> RunResult:
        """:meth:`run` for synchronous code (not from inside a running event loop)."""
        return asyncio.run(cls.run(starting_agent, input, **kwargs))


def _outcome(runtime: DurableRuntime, run_id: str, failure: RunFailed | None) -> RunResult:
    """The run's real result (or the SDK's exception): handed over in-process, or rebuilt by
    replaying the run's history here (no model or tool is called again)."""
    outcome = OUTCOMES.pop(run_id)
    if outcome is None:
        runtime.replay(WORKFLOW, run_id)
        outcome = OUTCOMES.pop(run_id)
    if outcome is None:
        if failure is not None:
            raise failure
        raise LookupError(f"durable run {run_id!r} finished without a result")
    failed, value = outcome
    if failed:
        raise value
    return value  # type: ignore[no-any-return]
