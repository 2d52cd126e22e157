"""``DaprAgent``: a ``pydantic_ai.Agent`` whose runs are durable workflows.

Example::

    from pydantic_ai import Agent
    from dapr_agents_durable.adapters.pydantic_ai import DaprAgent

    agent = Agent("openai:gpt-5", name="support", instructions="Be brief.")
    support = DaprAgent(agent)
    result = await support.run("Where is my order?", run_id="ticket-7", deps=db)
    print(result.output, result.usage())
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pydantic_ai import Agent, DeferredToolResults
from dapr.ext.workflow.workflow_state import WorkflowState
from pydantic_ai.exceptions import UserError
from pydantic_ai.result import StreamedRunResult
from pydantic_ai.run import AgentRunResult

from dapr_agents_durable.adapters.pydantic_ai import approvals, arguments, streams
from dapr_agents_durable.adapters.pydantic_ai.deps import HAS_DEPS, PERSISTED_DEPS, check_persistable
from dapr_agents_durable.adapters.pydantic_ai.delegation import run_delegate
from dapr_agents_durable.adapters.pydantic_ai.mcp_seam import mcp_tools_activity
from dapr_agents_durable.adapters.pydantic_ai.model_seam import model_activity
from dapr_agents_durable.adapters.pydantic_ai.names import (
    DELEGATE_WORKFLOW,
    MCP_TOOLS_ACTIVITY,
    MODEL_ACTIVITY,
    TOOL_ACTIVITY,
    WORKFLOW,
)
from dapr_agents_durable.adapters.pydantic_ai.runs import AGENTS, DEPS_FACTORIES, SPECS, RunSpec, missing_message
from dapr_agents_durable.adapters.pydantic_ai.tool_seam import tool_activity
from dapr_agents_durable.adapters.pydantic_ai.workflow import run_workflow
from dapr_agents_durable.loop import on_durable_loop
from dapr_agents_durable.loop.framework_shims import pydantic_ai as pydantic_ai_shims
from dapr_agents_durable.runtime import DurableRuntime, get_runtime
from dapr_agents_durable.runtime.approvals import decode_status, pending_call_ids
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.durable_runtime import TERMINAL
from dapr_agents_durable.runtime.live import collecting_replayed
from dapr_agents_durable.runtime.options import positive_seconds
from dapr_agents_durable.runtime.outcomes import final_outcome, take_outcome, wait_at_rest
from dapr_agents_durable.runtime.run_ids import next_nested_run_id
from dapr_agents_durable.runtime.waits import waited_in_thread

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")


def _ensure_registered(runtime: DurableRuntime) -> None:
    pydantic_ai_shims.install()
    runtime.register_workflow(WORKFLOW, run_workflow)
    runtime.register_workflow(DELEGATE_WORKFLOW, run_workflow)
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)
    runtime.register_activity(MCP_TOOLS_ACTIVITY, mcp_tools_activity)


class DaprAgent(Generic[DepsT, OutputT]):
    """Runs a ``pydantic_ai.Agent`` durably: each model request and tool call is an activity.

    ``run_id`` names the durable run (it replaces PydanticAI's own, non-durable ``run_id``,
    and is the run's ``ctx.run_id``): calling again with the same id attaches to a run still
    going, or returns the stored result of a finished one without any model or tool call,
    also in another process. Without it every call is a new run. Every other keyword
    argument is ``Agent.run``'s own.

    ``deps`` stay in this process; a run continued in another process gets them from that
    process's ``run(..., run_id=same, deps=...)``, from ``deps_factory(run_id)``, or, with
    ``persist_deps=True``, from the workflow input (encoded by the agent's ``deps_type``).
    """

    def __init__(
        self,
        agent: Agent[DepsT, OutputT],
        *,
        deps_factory: Callable[[str], DepsT] | None = None,
        persist_deps: bool = False,
    ) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"DaprAgent wraps a pydantic_ai.Agent, got {type(agent).__name__}")
        if not agent.name:
            raise UserError(
                "A durable agent needs a name: Agent(..., name='...'). Workflows and activities find it "
                "by that name in every process, so it must stay the same while runs are in flight."
            )
        self.agent = agent
        self.persist_deps = persist_deps
        existing = AGENTS.get(agent.name)
        if existing is not None and existing is not agent:
            raise UserError(
                f"Another agent named {agent.name!r} is already durable in this process; give each "
                "agent its own name"
            )
        AGENTS.add(agent.name, agent)
        if deps_factory is not None:
            DEPS_FACTORIES[agent.name] = deps_factory

    @property
    def name(self) -> str:
        return self.agent.name or ""

    async def run(
        self,
        user_prompt: str | Sequence[Any] | None = None,
        *,
        run_id: str | None = None,
        approval_timeout: float | timedelta | None = None,
        **kwargs: Any,
    ) -> AgentRunResult[Any]:
        """Run the agent durably on ``user_prompt`` and return PydanticAI's ``AgentRunResult``.

        A run whose tools need approval returns ``DeferredToolRequests`` as its output while its
        workflow waits; pass PydanticAI's ``DeferredToolResults`` back with the same ``run_id``
        (``message_history=result.all_messages(), deferred_tool_results=...``) to continue it; without
        a run id, that resume finds the paused run from the messages' ``run_id``. As natively, the
        results must decide every call the run still waits for (else ``UserError``, nothing delivered).
        ``approval_timeout`` (seconds or a timedelta) denies calls still undecided after that long.
        ``event_stream_handler`` is called in this process with each node's events (:mod:`.streams`).
        """
        arguments.check_names(kwargs)
        if on_durable_loop():  # a workflow-side tool delegating to this agent: a child workflow
            return await run_delegate(self, user_prompt, run_id, kwargs)
        handler = kwargs.pop("event_stream_handler", None)
        start = await self._start(user_prompt, run_id, approval_timeout, kwargs, mode="run", events=handler is not None)
        return await self._execute(start, kwargs, streams.Follower(handler, None) if handler is not None else None)

    @asynccontextmanager
    async def run_stream(
        self,
        user_prompt: str | Sequence[Any] | None = None,
        *,
        run_id: str | None = None,
        approval_timeout: float | timedelta | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[StreamedRunResult[Any, Any]]:
        """``Agent.run_stream`` as a durable run: PydanticAI's ``StreamedRunResult``, one model response a stream.

        The run stops at the first final output, as natively; its model response arrives whole (the
        model activity streams it from the provider and stores it complete), so ``stream_text`` /
        ``stream_output`` yield it once and the block is entered once the run has its output. ``run_id``, ``approval_timeout`` and ``event_stream_handler``
        as for :meth:`run`.
        """
        arguments.check_names(kwargs, method="run_stream")
        _not_in_workflow(self.name, "run_stream")
        handler = kwargs.pop("event_stream_handler", None)
        start = await self._start(
            user_prompt, run_id, approval_timeout, kwargs, mode="stream", events=handler is not None
        )
        result = await self._execute(start, kwargs, streams.Follower(handler, None) if handler is not None else None)
        messages = result.all_messages()
        yield StreamedRunResult(messages, len(messages) - len(result.new_messages()), run_result=result)

    @asynccontextmanager
    async def iter(
        self,
        user_prompt: str | Sequence[Any] | None = None,
        *,
        run_id: str | None = None,
        approval_timeout: float | timedelta | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[streams.DurableAgentRun]:
        """``Agent.iter`` as a durable run: ``async for node in run`` yields each graph node as the workflow reaches it.

        The workflow drives the graph (``run.next(node)`` raises ``UserError``); leaving the block
        early waits for the durable run to come to rest (it is not cancelled). ``run.result`` is the
        ``AgentRunResult`` once the run ended. ``run_id`` and ``approval_timeout`` as for :meth:`run`.
        """
        arguments.check_names(kwargs, arguments.ITER_PARAMETERS, "iter")
        _not_in_workflow(self.name, "iter")
        start = await self._start(user_prompt, run_id, approval_timeout, kwargs, mode="iter", events=False)
        run = streams.DurableAgentRun(start.run_id, len(kwargs.get("message_history") or ()))
        task = asyncio.ensure_future(self._execute(start, kwargs, streams.Follower(None, run.receive)))

        def rested(done: asyncio.Future[AgentRunResult[Any]]) -> None:
            if done.cancelled():
                run.rested(None, asyncio.CancelledError())
            else:
                error = done.exception()
                run.rested(done.result() if error is None else None, error)

        task.add_done_callback(rested)
        try:
            yield run
        finally:
            await asyncio.wait([task])
        error = run.unraised_error()
        if error is not None:
            raise error

    def run_stream_events(self, *args: Any, **kwargs: Any) -> Any:
        """Not durable: use :meth:`run` with ``event_stream_handler=`` (called in this process with
        the run's events) or :meth:`iter`."""
        raise UserError(
            f"DaprAgent.run_stream_events() of agent {self.name!r} is not durable: its background run is "
            "cancelled when the consumer stops, which a durable run cannot honour. Use "
            "`await DaprAgent(agent).run(..., event_stream_handler=handler)`, which calls handler in this "
            "process with each node's events, or `async with DaprAgent(agent).iter(...)`."
        )

    def run_stream_sync(self, *args: Any, **kwargs: Any) -> Any:
        """Not durable: use ``async with`` :meth:`run_stream`, or :meth:`run_sync` with ``event_stream_handler=``."""
        raise UserError(
            f"DaprAgent.run_stream_sync() of agent {self.name!r} is not durable: use "
            "`async with DaprAgent(agent).run_stream(...)` from async code, or "
            "`DaprAgent(agent).run_sync(..., event_stream_handler=handler)`."
        )

    async def _start(
        self,
        user_prompt: Any,
        run_id: str | None,
        approval_timeout: float | timedelta | None,
        kwargs: dict[str, Any],
        *,
        mode: str,
        events: bool,
    ) -> _Start:
        """The run this call starts or continues: its id, workflow input and the decisions it delivers."""
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise ValueError("run_id must be a non-empty string (or None for a new run)")
        timeout = positive_seconds(approval_timeout, name="approval_timeout")
        runtime = get_runtime()
        _ensure_registered(runtime)
        run_id = (
            run_id
            or next_nested_run_id()
            or await asyncio.to_thread(self._paused_run, runtime, kwargs)
            or uuid.uuid4().hex
        )
        state = await asyncio.to_thread(runtime.state, run_id)
        decisions = []
        if state is not None:
            self._check_resumable(run_id, json.loads(state.serialized_input or "{}"), kwargs)
            results = kwargs.get("deferred_tool_results")
            if results is not None:
                if state.runtime_status not in TERMINAL:
                    approvals.check_covers([p.call_id for p in decode_status(state.serialized_custom_status)], results)
                decisions = approvals.as_decisions(results)
            request: dict[str, Any] = {}
        else:
            request = self.request(user_prompt, kwargs, timeout, mode=mode, events=events)
        return _Start(runtime, run_id, request, state, decisions)

    async def _execute(
        self, start: _Start, kwargs: dict[str, Any], follower: streams.Follower | None
    ) -> AgentRunResult[Any]:
        """Run ``start`` to rest with this caller's in-process arguments; ``follower`` sees its live items."""
        run_id, state = start.run_id, start.state
        in_process = arguments.split(kwargs)[1]
        if kwargs.get("deps") is not None:
            in_process["deps"] = kwargs["deps"]
        SPECS.add(run_id, RunSpec(in_process))
        paused = False
        try:
            with streams.following(run_id, follower):
                result, error, replayed = await waited_in_thread(
                    self._rest_and_replayed, start.runtime, start.request, run_id, start.decisions
                )
            if follower is not None:
                if follower.listener.delivered == 0:  # nothing live: what the replay of its history published
                    for item in replayed:
                        follower.receive(item)
                await follower.finish()
            if error is not None:
                raise error
            assert result is not None
            results = kwargs.get("deferred_tool_results")
            if state is not None and state.runtime_status in TERMINAL and isinstance(results, DeferredToolResults):
                approvals.check_not_ended_with_calls(result, results, run_id)
            paused = approvals.awaiting_approval(result)
            arguments.hold_total_usage(kwargs, result.usage)
            return result
        finally:
            if not paused:
                SPECS.remove(run_id)

    def run_sync(
        self, user_prompt: str | Sequence[Any] | None = None, *, run_id: str | None = None, **kwargs: Any
    ) -> AgentRunResult[Any]:
        """:meth:`run` for synchronous code (not from inside a running event loop)."""
        return asyncio.run(self.run(user_prompt, run_id=run_id, **kwargs))

    def request(
        self, user_prompt: Any, kwargs: dict[str, Any], timeout: float | None, *, mode: str = "run", events: bool = False
    ) -> dict[str, Any]:
        """The workflow input of a new run: the agent's name, the persisted arguments, the names of the others."""
        persisted, in_process = arguments.split(kwargs)
        deps = kwargs.get("deps")
        request: dict[str, Any] = {
            "agent": self.name,
            "prompt": arguments.PROMPT.encode(user_prompt, what=f"prompt of agent {self.name!r}"),
            "kwargs": persisted,
            "in_process": sorted(name for name in in_process if name != "deps"),
            HAS_DEPS: deps is not None,
            "approval_timeout": timeout,
        }
        if mode != "run":
            request["mode"] = mode
        if events:
            request["events"] = True
        if deps is not None and self.persist_deps:
            request[PERSISTED_DEPS] = check_persistable(self.agent, deps)
        return checked(request, what=f"input of agent {self.name!r}")

    def _paused_run(self, runtime: DurableRuntime, kwargs: dict[str, Any]) -> str | None:
        """The durable run a resume without a run id continues: the one that paused ``message_history``.

        PydanticAI's own resume (``message_history=result.all_messages(), deferred_tool_results=...``)
        carries the run id in its messages; when that run of this agent waits for the calls the
        results decide, it goes on (else a new run starts, as natively).
        """
        results, history = kwargs.get("deferred_tool_results"), kwargs.get("message_history")
        if not isinstance(results, DeferredToolResults) or not history:
            return None
        candidate = getattr(history[-1], "run_id", None)
        if not isinstance(candidate, str) or not candidate:
            return None
        for durable_id in approvals.durable_run_ids(candidate):
            state = runtime.state(durable_id)
            if state is None or state.runtime_status in TERMINAL:
                continue
            if json.loads(state.serialized_input or "{}").get("agent") != self.name:
                continue
            waiting = pending_call_ids(state.serialized_custom_status)
            if waiting and waiting <= {*results.approvals, *results.calls}:
                return durable_id
        return None

    def _check_resumable(self, run_id: str, stored: dict[str, Any], kwargs: dict[str, Any]) -> None:
        """A run that exists needs its in-process arguments from this caller (or a factory)."""
        if stored.get("agent") not in (None, self.name):
            raise UserError(f"durable run {run_id!r} belongs to agent {stored.get('agent')!r}, not {self.name!r}")
        missing = [name for name in stored.get("in_process", ()) if kwargs.get(name) is None]
        if (
            stored.get(HAS_DEPS)
            and kwargs.get("deps") is None
            and self.name not in DEPS_FACTORIES
            and PERSISTED_DEPS not in stored
        ):
            missing.append("deps")
        if missing and SPECS.get(run_id) is None:
            raise UserError(missing_message(self.name, run_id, missing))

    @classmethod
    def _rest_and_replayed(
        cls, runtime: DurableRuntime, request: dict[str, Any], run_id: str, decisions: list[Any]
    ) -> tuple[AgentRunResult[Any] | None, Exception | None, list[Any]]:
        """``(result, error, items a local replay published)`` of the run at rest."""
        with collecting_replayed(run_id) as replayed:
            try:
                return cls._run_to_rest(runtime, request, run_id, decisions), None, replayed
            except Exception as exc:  # noqa: BLE001 - raised in the caller once its handler saw the events
                return None, exc, replayed

    @staticmethod
    def _run_to_rest(
        runtime: DurableRuntime, request: dict[str, Any], run_id: str, decisions: list[Any]
    ) -> AgentRunResult[Any]:
        rest = wait_at_rest(runtime, WORKFLOW, request, run_id, decisions)
        if rest.state.runtime_status in TERMINAL:
            return final_outcome(  # type: ignore[no-any-return]
                runtime, WORKFLOW, run_id, rest.state, usable=lambda handed: not _paused(handed)
            )
        waiting = pending_call_ids(rest.state.serialized_custom_status)

        def lists_pending(handed: tuple[bool, Any]) -> bool:
            return _paused(handed) and waiting <= {p.tool_call_id for p in handed[1].output.approvals}

        handed = take_outcome(runtime, WORKFLOW, run_id, usable=lists_pending)
        if handed is None or not lists_pending(handed):
            raise LookupError(f"durable run {run_id!r} waits for approvals but its paused result was not rebuilt")
        return handed[1]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Start:
    """A run a caller starts or continues."""

    runtime: DurableRuntime
    run_id: str
    request: dict[str, Any]
    state: WorkflowState | None
    decisions: list[Any]


def _not_in_workflow(name: str, method: str) -> None:
    if on_durable_loop():
        raise UserError(
            f"DaprAgent.{method}() of agent {name!r} was called inside a durable run; delegate with "
            "`await DaprAgent(...).run(...)` from a workflow-side tool instead (its run is a child workflow)."
        )


def _paused(handed: tuple[bool, Any]) -> bool:
    failed, value = handed
    return not failed and isinstance(value, AgentRunResult) and approvals.awaiting_approval(value)
