"""``durable(compiled_graph)`` and the drop-in ``StateGraph``: a compiled graph whose calls are durable runs.

A durable run is one ``invoke``/``stream`` call on a thread (``config={"configurable":
{"thread_id": T}}``):

==============================  ==========================================================
graph compiled ...              a call on thread ``T`` ...
==============================  ==========================================================
with a checkpointer             runs the next turn (run id ``T-<turn>``), seeded with the
                                thread's state from the durable history (it survives a
                                restart even when the checkpointer does not)
without a checkpointer          names one run (run id ``T``); once it finished, a call
                                returns its stored final state, calling no model or tool
either, latest run unfinished   attaches to it (crashed or still running) and resumes it;
                                ``Command(resume=...)`` answers its interrupts
==============================  ==========================================================

Example::

    from dapr_agents_durable.adapters.langgraph import StateGraph

    builder = StateGraph(MessagesState)
    ...
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke({"messages": [("user", "hi")]}, {"configurable": {"thread_id": "t1"}})
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.pregel import Pregel
from langgraph.types import Command

from dapr_agents_durable.adapters.langgraph import interrupts, model_seam, streams, subgraphs, tool_seam
from dapr_agents_durable.adapters.langgraph.cache import cache_activity
from dapr_agents_durable.adapters.langgraph.callbacks import report_to
from dapr_agents_durable.adapters.langgraph.model_seam import model_activity
from dapr_agents_durable.adapters.langgraph.names import (
    CACHE_ACTIVITY,
    MODEL_ACTIVITY,
    NODE_ACTIVITY,
    SUBGRAPH_WORKFLOW,
    TOOL_ACTIVITY,
    WORKFLOW,
)
from dapr_agents_durable.adapters.langgraph.node_activity import node_activity
from dapr_agents_durable.adapters.langgraph.tool_seam import tool_activity
from dapr_agents_durable.adapters.langgraph.threads import GRAPHS, on_saver, seeded_saver
from dapr_agents_durable.adapters.langgraph.workflow import Outcome, encode_input, run_workflow
from dapr_agents_durable.loop.framework_shims import langgraph as langgraph_shims
from dapr_agents_durable.runtime import DurableRuntime, RunIdInUse, get_runtime
from dapr_agents_durable.runtime.approvals import pending_call_ids
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.durable_runtime import TERMINAL
from dapr_agents_durable.runtime.options import positive_seconds
from dapr_agents_durable.runtime.outcomes import final_outcome, take_outcome, wait_at_rest

_STREAM_DEFAULT = "updates"


class UnfinishedRunError(RuntimeError):
    """A call sent a different input to a thread whose latest run has not finished."""


def _ensure_registered(runtime: DurableRuntime) -> None:
    langgraph_shims.install()
    model_seam.install()
    tool_seam.install()
    subgraphs.install()
    runtime.register_workflow(WORKFLOW, run_workflow)
    runtime.register_workflow(SUBGRAPH_WORKFLOW, subgraphs.subgraph_workflow)
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)
    runtime.register_activity(NODE_ACTIVITY, node_activity)
    runtime.register_activity(CACHE_ACTIVITY, cache_activity)


class DurableGraph:
    """A compiled LangGraph graph whose ``invoke``/``stream`` calls are durable workflow runs.

    Every other attribute is the compiled graph's own. Example::

        agent = durable(create_react_agent(model, tools), name="support")
        agent.invoke({"messages": [("user", "hi")]}, {"configurable": {"thread_id": "t1"}})
    """

    def __init__(
        self, graph: Pregel[Any, Any, Any, Any], *, name: str | None = None, interrupt_timeout: float | timedelta | None = None
    ) -> None:
        if not isinstance(graph, Pregel):
            raise TypeError(f"durable() takes a compiled LangGraph graph (builder.compile()), got {type(graph).__name__}")
        self.graph = graph
        self.name = name or graph.name
        self.interrupt_timeout = positive_seconds(interrupt_timeout, name="interrupt_timeout")
        self.keeps_threads = graph.checkpointer not in (None, False)
        GRAPHS.add(self.name, graph)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)

    # --- calls -------------------------------------------------------------------------

    def invoke(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``graph.invoke`` as a durable run on the config's thread (in a durable run's node: a subgraph)."""
        if subgraphs.in_durable_node():
            return self.graph.invoke(input, config, **kwargs)
        return self._run("invoke", input, config, kwargs).value

    async def ainvoke(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``graph.ainvoke`` as a durable run on the config's thread (in a durable run's node: a subgraph)."""
        if subgraphs.in_durable_node():
            return await self.graph.ainvoke(input, config, **kwargs)
        outcome = await asyncio.to_thread(self._run, "invoke", input, config, kwargs)
        return outcome.value

    def stream(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[Any]:
        """``graph.stream``'s chunks (any ``stream_mode``, ``subgraphs=``) of a durable run, live as it executes."""
        if subgraphs.in_durable_node():
            yield from self.graph.stream(input, config, **kwargs)
            return
        yield from streams.follow(*self._prepared("stream", input, config, kwargs))

    async def astream(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        """``graph.astream``'s chunks of a durable run, live as it executes."""
        if subgraphs.in_durable_node():
            async for chunk in self.graph.astream(input, config, **kwargs):
                yield chunk
            return
        run_id, rest = await asyncio.to_thread(self._prepared, "stream", input, config, kwargs)
        async for chunk in streams.afollow(run_id, rest):
            yield chunk

    def get_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> Any:
        """The thread's state (``StateSnapshot``) after its latest run, from the durable history."""
        thread = _thread_id(config, required=True)
        assert thread is not None  # required=True raises for a config without a thread id
        runtime = get_runtime()
        _ensure_registered(runtime)
        run_id, _ = self._latest(runtime, thread)
        encoded = self._checkpoint_of(runtime, run_id) if run_id else None
        local = on_saver(self.graph, seeded_saver(thread, encoded))
        return local.get_state({"configurable": {"thread_id": thread}}, subgraphs=subgraphs)

    async def aget_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> Any:
        return await asyncio.to_thread(self.get_state, config, subgraphs=subgraphs)

    def get_state_history(
        self, config: dict[str, Any], *, filter: dict[str, Any] | None = None, before: Any = None, limit: int | None = None
    ) -> Iterator[Any]:
        """The thread's state after each of its finished durable runs (``StateSnapshot``), newest first.

        One snapshot per run (turn), not per super-step: a run's inner checkpoints are not kept.
        """
        thread = self._checkpointed_thread(config)
        if filter is not None or before is not None:
            raise ValueError("a durable graph's get_state_history takes config and limit; filter and before are not supported")
        runtime = get_runtime()
        _ensure_registered(runtime)
        latest, _ = self._latest(runtime, thread)
        turns = int(latest.rsplit("-", 1)[1]) if latest else 0
        snapshots = 0
        for turn in range(turns, 0, -1):
            if limit is not None and snapshots >= limit:
                return
            encoded = self._checkpoint_of(runtime, f"{thread}-{turn}")
            if encoded is None:
                continue
            snapshots += 1
            yield on_saver(self.graph, seeded_saver(thread, encoded)).get_state({"configurable": {"thread_id": thread}})

    def update_state(self, config: dict[str, Any], values: Any, as_node: str | None = None, task_id: str | None = None) -> Any:
        """``graph.update_state`` as a durable run of its own: the thread's next turn starts from the update."""
        self._checkpointed_thread(config)
        if task_id is not None:
            raise ValueError("a durable graph's update_state does not take task_id")
        return self._run("update", values, config, {"as_node": as_node}).value

    async def aupdate_state(self, config: dict[str, Any], values: Any, as_node: str | None = None, task_id: str | None = None) -> Any:
        return await asyncio.to_thread(self.update_state, config, values, as_node, task_id)

    def _checkpointed_thread(self, config: dict[str, Any]) -> str:
        if not self.keeps_threads:
            raise ValueError("No checkpointer set: compile the graph with a checkpointer to keep a thread's history")
        thread = _thread_id(config, required=True)
        assert thread is not None  # required=True raises for a config without a thread id
        return thread

    # --- runs --------------------------------------------------------------------------

    def _run(self, call: str, input: Any, config: dict[str, Any] | None, kwargs: dict[str, Any]) -> Outcome:
        return self._prepared(call, input, config, kwargs)[1]()

    def _prepared(
        self, call: str, input: Any, config: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> tuple[str, Callable[[], Outcome]]:
        """The run this call starts or attaches to, and the (blocking) wait for its outcome."""
        thread = _thread_id(config, required=False) or uuid.uuid4().hex
        report_to(thread, (config or {}).get("callbacks"))  # before the worker may replay the thread's run
        runtime = get_runtime()
        _ensure_registered(runtime)
        run_id, state = self._latest(runtime, thread)
        decisions = []
        request: dict[str, Any] = {}
        if state is not None and state.runtime_status not in TERMINAL:
            owner = json.loads(state.serialized_input or "{}").get("graph")
            if owner not in (None, self.name):
                raise RunIdInUse(f"thread {thread!r} has an unfinished durable run {run_id!r} of graph {owner!r}, "
                                 f"not {self.name!r}: finish it with that graph, or use a new thread_id")
            waiting = sorted(pending_call_ids(state.serialized_custom_status))
            if isinstance(input, Command) and input.resume is not None:
                if not waiting:
                    raise UnfinishedRunError(f"durable run {run_id!r} of thread {thread!r} waits on no interrupt; call again with the same input to attach to it")
                decisions = interrupts.decisions_for(input.resume, waiting)
            elif json.loads(state.serialized_input or "{}").get("input") != encode_input(input):
                raise UnfinishedRunError(
                    f"thread {thread!r} has an unfinished durable run {run_id!r} started with another input. "
                    + ("Resume its interrupts with invoke(Command(resume=...), config)" if waiting else "Call again with the same input to attach to it and let it finish")
                    + ", or use a new thread_id."
                )
        elif state is None or self.keeps_threads:
            prior = self._checkpoint_of(runtime, run_id) if state is not None and run_id else None
            run_id = self._next_run_id(thread, run_id)
            request = self._request(call, input, thread, prior, config or {}, kwargs)
        assert run_id is not None
        return run_id, functools.partial(_outcome, runtime, run_id, request, decisions)

    def _request(
        self, call: str, input: Any, thread: str, prior: Any, config: dict[str, Any], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        allowed = ("as_node",) if call == "update" else ("stream_mode", "subgraphs")
        unknown = set(kwargs) - set(allowed)
        if unknown:
            raise TypeError(f"a durable graph {call} takes config, {' and '.join(allowed)}; not {', '.join(sorted(unknown))}")
        if (config.get("configurable") or {}).get("checkpoint_id"):
            raise ValueError("a durable graph runs from its thread's latest state; a config with checkpoint_id "
                             "(time travel) is not supported")
        if isinstance(input, Command) and input.resume is not None:
            raise UnfinishedRunError(f"thread {thread!r} has no run waiting on an interrupt; Command(resume=...) has nothing to resume")
        run_config = {key: config[key] for key in ("recursion_limit", "tags", "metadata") if key in config}
        return checked(
            {
                "graph": self.name,
                "thread_id": thread,
                "call": call,
                "input": encode_input(input),
                "stream_mode": kwargs.get("stream_mode", _STREAM_DEFAULT),
                "subgraphs": bool(kwargs.get("subgraphs", False)),
                "as_node": kwargs.get("as_node"),
                "prior": prior,
                "config": run_config,
                "interrupt_timeout": self.interrupt_timeout,
            },
            what=f"input of graph {self.name!r}",
        )

    def _latest(self, runtime: DurableRuntime, thread: str) -> tuple[str | None, Any]:
        """The thread's latest run id and state (None, None before its first run)."""
        if not self.keeps_threads:
            return thread, runtime.state(thread)
        latest: tuple[str | None, Any] = (None, None)
        turn = 1
        while (state := runtime.state(f"{thread}-{turn}")) is not None:
            latest = (f"{thread}-{turn}", state)
            turn += 1
        return latest

    def _next_run_id(self, thread: str, latest: str | None) -> str:
        if not self.keeps_threads:
            return thread
        turn = 1 if latest is None else int(latest.rsplit("-", 1)[1]) + 1
        return f"{thread}-{turn}"

    @staticmethod
    def _checkpoint_of(runtime: DurableRuntime, run_id: str) -> Any:
        state = runtime.state(run_id)
        if state is None or not state.serialized_output:
            return None
        return json.loads(state.serialized_output).get("checkpoint")


def _outcome(runtime: DurableRuntime, run_id: str, request: dict[str, Any], decisions: list[Any]) -> Outcome:
    """Start or attach the run, deliver the decisions, wait until it rests: its outcome (or exception)."""
    rest = wait_at_rest(runtime, WORKFLOW, request, run_id, decisions)
    if rest.ended:
        return final_outcome(runtime, WORKFLOW, run_id, rest.state, usable=lambda handed: not _paused(handed))  # type: ignore[no-any-return]
    waiting_now = pending_call_ids(rest.state.serialized_custom_status)

    def lists_pending(handed: tuple[bool, Any]) -> bool:
        return _paused(handed) and waiting_now <= {i.id for i in handed[1].interrupts}

    handed = take_outcome(runtime, WORKFLOW, run_id, usable=lists_pending)
    if handed is None or not lists_pending(handed):
        raise LookupError(f"durable run {run_id!r} waits on interrupts but its interrupted result was not rebuilt")
    return handed[1]  # type: ignore[no-any-return]


def _paused(handed: tuple[bool, Any]) -> bool:
    failed, value = handed
    return not failed and isinstance(value, Outcome) and bool(value.interrupts)


def _thread_id(config: dict[str, Any] | None, *, required: bool) -> str | None:
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    if thread is None:
        if required:
            raise ValueError('pass config={"configurable": {"thread_id": ...}} to name the durable thread')
        return None
    if not isinstance(thread, str) or not thread:
        raise ValueError(f"thread_id must be a non-empty string, got {thread!r}")
    return thread


def durable(graph: Pregel[Any, Any, Any, Any], *, name: str | None = None, interrupt_timeout: float | timedelta | None = None) -> DurableGraph:
    """Make a compiled graph (yours, ``create_react_agent``'s, ``create_agent``'s) durable.

    ``name`` (default the graph's own name) finds the graph in every process; give each
    durable graph its own. Example::

        agent = durable(create_react_agent(model, tools), name="support")
    """
    return DurableGraph(graph, name=name, interrupt_timeout=interrupt_timeout)


class StateGraph(NativeStateGraph):  # type: ignore[type-arg]
    """``langgraph.graph.StateGraph`` whose ``compile(...)`` returns a :class:`DurableGraph`.

    Example::

        builder = StateGraph(MessagesState)
        builder.add_node("agent", call_model)
        graph = builder.compile(checkpointer=InMemorySaver(), name="support")
    """

    def compile(self, *args: Any, **kwargs: Any) -> DurableGraph:  # type: ignore[override]
        return durable(super().compile(*args, **kwargs))

    def add_node(self, node: Any, action: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """``add_node``; a durable graph added as a node is its compiled graph, a subgraph."""
        return super().add_node(_compiled(node), _compiled(action), **kwargs)


def _compiled(node: Any) -> Any:
    return node.graph if isinstance(node, DurableGraph) else node
