"""``Runner``: a drop-in for ``agents.Runner`` whose runs are durable workflows."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agents import Agent, RunConfig, RunErrorHandlers, RunHooks, RunResult, Session
from agents.run_config import DEFAULT_MAX_TURNS
from agents.run_state import RunState

from dapr_agents_durable.adapters.openai_agents import approvals, model_seam, results, session_seam, spans, streaming
from dapr_agents_durable.adapters.openai_agents.agent_tool import (
    agent_tool_workflow,
    in_durable_run,
    run_on_durable_loop,
)
from dapr_agents_durable.adapters.openai_agents.graph import register_graph
from dapr_agents_durable.adapters.openai_agents.mcp_seam import mcp_activity
from dapr_agents_durable.adapters.openai_agents.model_seam import model_activity
from dapr_agents_durable.adapters.openai_agents.names import (
    AGENT_TOOL_WORKFLOW,
    MCP_ACTIVITY,
    MODEL_ACTIVITY,
    SESSION_ACTIVITY,
    TOOL_ACTIVITY,
    WORKFLOW,
)
from dapr_agents_durable.adapters.openai_agents.runs import RUNS, RunSpec
from dapr_agents_durable.adapters.openai_agents.tool_seam import tool_activity
from dapr_agents_durable.adapters.openai_agents.workflow import run_workflow
from dapr_agents_durable.loop.home import home_loop
from dapr_agents_durable.loop.replay_aware import make_replay_aware
from dapr_agents_durable.runtime import DurableRuntime, get_runtime
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.options import positive_seconds
from dapr_agents_durable.runtime.run_ids import next_nested_run_id
from dapr_agents_durable.runtime.waits import waited_in_thread


def _ensure_registered(runtime: DurableRuntime) -> None:
    model_seam.install()
    spans.install()
    runtime.register_workflow(WORKFLOW, run_workflow)
    runtime.register_workflow(AGENT_TOOL_WORKFLOW, agent_tool_workflow)
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)
    runtime.register_activity(SESSION_ACTIVITY, session_seam.session_activity)
    runtime.register_activity(MCP_ACTIVITY, mcp_activity)


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
        run_config: RunConfig | dict[str, Any] | None = None,
        error_handlers: RunErrorHandlers[Any] | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        run_id: str | None = None,
        approval_timeout: float | timedelta | None = None,
    ) -> RunResult:
        """Run ``starting_agent`` on ``input`` durably and return the SDK's ``RunResult``.

        A run whose tools need approval returns with ``interruptions`` while its
        workflow waits; pass ``result.to_state()`` with your decisions back with the
        same ``run_id`` to continue it. ``approval_timeout`` (seconds or a timedelta)
        rejects calls still undecided after that long.
        """
        if in_durable_run():  # called inside a durable run (a guardrail running an agent): inline there
            return await run_on_durable_loop(
                starting_agent, input, context=context, max_turns=max_turns, hooks=hooks, run_config=run_config,
                error_handlers=error_handlers, previous_response_id=previous_response_id,
                auto_previous_response_id=auto_previous_response_id, conversation_id=conversation_id, session=session,
            )
        prepared = _prepare(
            starting_agent, input, context=context, max_turns=max_turns, hooks=hooks, run_config=run_config,
            error_handlers=error_handlers, previous_response_id=previous_response_id,
            auto_previous_response_id=auto_previous_response_id, conversation_id=conversation_id, session=session,
            run_id=run_id, approval_timeout=approval_timeout,
        )
        runtime, run_id, request = prepared.runtime, prepared.run_id, prepared.request
        RUNS[run_id] = prepared.spec
        session_seam.register(run_id, session)
        paused = False
        try:
            result = await waited_in_thread(_run_to_rest, runtime, request, run_id, prepared.decisions)
            # A paused run keeps its objects here: an answer from another process resumes it with them.
            paused = bool(result.interruptions)
            return results.resumable(result, run_id)
        finally:
            prepared.spec.loop = None  # nobody awaits the run here now: its calls run on the worker's loop
            if not paused:
                RUNS.pop(run_id, None)
                session_seam.unregister(run_id)

    @classmethod
    def run_sync(cls, starting_agent: Agent[Any], input: str | list[Any] | RunState[Any], **kwargs: Any) -> RunResult:
        """:meth:`run` for synchronous code (not from inside a running event loop)."""
        return asyncio.run(cls.run(starting_agent, input, **kwargs))

    @classmethod
    def run_streamed(
        cls,
        starting_agent: Agent[Any],
        input: str | list[Any] | RunState[Any],
        context: Any = None,
        max_turns: int | None = DEFAULT_MAX_TURNS,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | dict[str, Any] | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        *,
        error_handlers: RunErrorHandlers[Any] | None = None,
        run_id: str | None = None,
        approval_timeout: float | timedelta | None = None,
    ) -> streaming.DurableRunResultStreaming:
        """Run ``starting_agent`` durably in streaming mode, like ``agents.Runner.run_streamed``.

        Returns at once (call it with an event loop running) the SDK's ``RunResultStreaming``
        (with ``run_id``); its ``stream_events()`` yields the SDK's own events and raises the
        SDK's exceptions (guardrail tripwires, ``MaxTurnsExceeded``). Once the stream is
        exhausted the result holds the final attributes, as ``Runner.run``'s does.

        Granularity: the model streams (``stream_response``) inside its ``openai_agents.model``
        activity, and its response arrives whole, as one ``response.output_text.delta`` per text
        part, one ``response.output_item.done`` per output item and one ``response.completed``; run item events (tool calls, tool
        outputs, handoffs, messages) and agent updates come as the SDK emits them.

        ``run_id`` as for :meth:`run`: a run still going is attached to and streams the steps
        it executes from then on (steps done before a crash are not re-sent); a finished run
        streams its recorded events again, rebuilt from its history without any model call.

        Approvals as the SDK's: when the run pauses for tools with ``needs_approval``, the
        stream ends after the steps so far and the result holds ``interruptions`` (with
        ``is_complete`` true) while the workflow waits. Pass ``result.to_state()`` with your
        decisions back with the same ``run_id``: the stream then holds the rest of the run,
        up to its end or its next pause. ``approval_timeout`` as for :meth:`run`.

        Example::

            result = Runner.run_streamed(agent, "Plan my trip", run_id="trip-7")
            async for event in result.stream_events():
                if event.type == "run_item_stream_event":
                    print(event.name)
            while result.interruptions:
                state = result.to_state()
                for item in result.interruptions:
                    state.approve(item)
                result = Runner.run_streamed(agent, state, run_id="trip-7")
                async for event in result.stream_events():
                    ...
            print(result.final_output)
        """
        prepared = _prepare(
            starting_agent, input, context=context, max_turns=max_turns, hooks=hooks,
            run_config=run_config, error_handlers=error_handlers, previous_response_id=previous_response_id,
            auto_previous_response_id=auto_previous_response_id, conversation_id=conversation_id, session=session,
            run_id=run_id, approval_timeout=approval_timeout, stream=True,
        )
        return streaming.run_streamed(
            starting_agent, input, prepared.spec.context, max_turns, prepared.runtime, prepared.run_id,
            prepared.request, prepared.spec, prepared.decisions,
        )


@dataclass(frozen=True)
class _Prepared:
    """A checked run request, ready to start: the runtime, the run id, the workflow input, the spec,
    and the approval decisions recorded on a ``RunState`` input."""

    runtime: DurableRuntime
    run_id: str
    request: dict[str, Any]
    spec: RunSpec
    decisions: list[approvals.Decision]


def _prepare(
    starting_agent: Agent[Any],
    input: str | list[Any] | RunState[Any],
    *,
    context: Any,
    max_turns: int | None,
    hooks: RunHooks[Any] | None,
    run_config: RunConfig | dict[str, Any] | None,
    error_handlers: RunErrorHandlers[Any] | None,
    previous_response_id: str | None,
    auto_previous_response_id: bool,
    conversation_id: str | None,
    session: Session | None,
    run_id: str | None,
    approval_timeout: float | timedelta | None = None,
    stream: bool = False,
) -> _Prepared:
    """Validate the arguments, register the agent graph and build the workflow input."""
    if not isinstance(starting_agent, Agent):
        raise TypeError(f"starting_agent must be an agents.Agent, got {type(starting_agent).__name__}")
    if run_id is not None and (not isinstance(run_id, str) or not run_id):
        raise ValueError("run_id must be a non-empty string (or None for a new run)")
    if run_id is None:
        # A RunState made from a durable result resumes that run; one from elsewhere starts a new run.
        run_id = results.run_id_of(input) if isinstance(input, RunState) else None
    if run_id is None and not isinstance(input, RunState):
        run_id = next_nested_run_id()  # inside a tool activity: derived from the tool call
    timeout = positive_seconds(approval_timeout, name="approval_timeout")
    if isinstance(run_config, dict):  # as the SDK's runner takes it (RunConfig's fields by name)
        run_config = RunConfig(**run_config)
    runtime = get_runtime()
    _ensure_registered(runtime)
    graph = register_graph(starting_agent)
    run_id = run_id or uuid.uuid4().hex
    make_replay_aware(hooks)
    if isinstance(input, RunState) and input._context is not None:
        context = input._context.context
    request = checked(
        {
            "agent": starting_agent.name,
            **_input_fields(input),
            "max_turns": max_turns,
            "previous_response_id": previous_response_id,
            "auto_previous_response_id": auto_previous_response_id,
            "conversation_id": conversation_id,
            "approval_timeout": timeout,
            "session": session_seam.describe(session),
            **({"stream": True} if stream else {}),
        },
        what=f"input of agent {starting_agent.name!r}",
    )
    spec = RunSpec(run_config or RunConfig(), context, hooks, error_handlers, session, graph, home_loop())
    decisions = approvals.decisions_in(input) if isinstance(input, RunState) else []
    return _Prepared(runtime, run_id, request, spec, decisions)


def _input_fields(input: str | list[Any] | RunState[Any]) -> dict[str, Any]:
    """The workflow input's part for ``input``: the conversation, or a ``RunState`` as JSON."""
    if isinstance(input, RunState):
        return {"state": input.to_json()}
    return {"input": input}


def _run_to_rest(
    runtime: DurableRuntime, request: dict[str, Any], run_id: str, decisions: list[approvals.Decision]
) -> RunResult:
    """Start or attach, deliver ``decisions``, and return the result once the run ends or waits for approvals."""
    rest = results.wait_at_rest(runtime, request, run_id, decisions)
    return results.result_at_rest(runtime, run_id, rest.state)  # type: ignore[no-any-return]
