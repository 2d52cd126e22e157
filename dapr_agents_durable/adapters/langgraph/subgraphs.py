"""Subgraphs as ``langgraph.subgraph`` child workflows.

A compiled graph run inside a durable run's node (added as a node, or called with
``invoke``/``ainvoke`` from a node) runs as a child workflow of the calling run, instance
id ``<run id>-subgraph-<task id>`` (``-<n>`` for the task's n-th call: a resumed task
calls its subgraph again). The child runs the subgraph's own Pregel loop as LangGraph
runs a nested graph (same thread, checkpoint namespace, resume values), so its model and
tool calls are activities of the child, and a retried or replayed parent attaches to the
child instead of paying again.

The child's input is the subgraph's input, the nested-run settings of the calling task
and the subgraph's saved checkpoints; its output is the subgraph's output (or its
interrupts, or a ``Command(graph=Command.PARENT)``), the stream chunks it sent the
parent (a child of a live ``subgraphs=True`` stream also publishes each as it is produced,
:mod:`.streams`), and its checkpoints, which the parent keeps as LangGraph would. An interrupt in
the subgraph interrupts the parent as natively; ``Command(resume=...)`` on the parent
runs the task again, and its subgraph resumes in a new child from those checkpoints.

Calls with keyword arguments (``stream_mode=``, ``context=``...), ``stream``/``astream``
inside a node, subgraphs compiled with a checkpointer of their own and inputs LangChain's
serializer does not load again (a pydantic or dataclass state object) run inline in the
calling run (their model and tool calls are activities of the calling run).
"""

from __future__ import annotations

import base64
import contextvars
import functools
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import dapr.ext.workflow as wf
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config
from langgraph._internal._constants import (
    CONF,
    CONFIG_KEY_CHECKPOINT_MAP,
    CONFIG_KEY_CHECKPOINT_NS,
    CONFIG_KEY_CHECKPOINTER,
    CONFIG_KEY_RESUME_MAP,
    CONFIG_KEY_RESUMING,
    CONFIG_KEY_RUNTIME,
    CONFIG_KEY_SCRATCHPAD,
    CONFIG_KEY_STREAM,
    CONFIG_KEY_TASK_ID,
    NS_SEP,
)
from langgraph._internal._config import recast_checkpoint_ns
from langgraph._internal._scratchpad import PregelScratchpad
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config
from langgraph.errors import GraphInterrupt, ParentCommand
from langgraph.pregel import Pregel
from langgraph.pregel._messages import StreamMessagesHandler
from langgraph.pregel.protocol import StreamProtocol
from langgraph.runtime import Runtime
from langgraph.types import Interrupt

from dapr_agents_durable.adapters.langgraph import streams
from dapr_agents_durable.adapters.langgraph import callbacks
from dapr_agents_durable.adapters.langgraph.calls import LOOKUP_TIMEOUT, forget
from dapr_agents_durable.adapters.langgraph.codec import decode_output, encode_output, from_data, to_data
from dapr_agents_durable.adapters.langgraph.names import SUBGRAPH_KIND, SUBGRAPH_WORKFLOW, WORKFLOW
from dapr_agents_durable.adapters.langgraph.scope import IN_DURABLE_RUN
from dapr_agents_durable.adapters.langgraph.threads import GRAPHS
from dapr_agents_durable.loop import DurableExecution, await_only, current_execution, drive, on_durable_loop
from dapr_agents_durable.loop.errors import ChildWorkflowError
from dapr_agents_durable.runtime import NotRegistered, Registry, get_runtime
from dapr_agents_durable.runtime.codec import JSONValue, checked
from dapr_agents_durable.runtime.outcomes import OUTCOMES, hand_over
from dapr_agents_durable.runtime.run_ids import derived_run_id

_original_ainvoke = Pregel.ainvoke
_original_invoke = Pregel.invoke
_installed = False


@dataclass
class _Call:
    """What a child needs from its calling task that is not JSON: the subgraph and the run's context."""

    graph: Pregel[Any, Any, Any, Any]
    runtime: Runtime[Any] | None


SUBGRAPHS: Registry[_Call] = Registry("LangGraph subgraph call")
"""The subgraph calls in flight, by child instance id (left by the calling run, replayed alike)."""

ROOT_GRAPH: contextvars.ContextVar[str | None] = contextvars.ContextVar("langgraph_root_graph", default=None)
"""The name of the durable graph whose run (or one of its subgraphs' children) the current code runs for."""

_CALLS: weakref.WeakKeyDictionary[DurableExecution, Counter[str]] = weakref.WeakKeyDictionary()


def install() -> None:
    """Route subgraph calls made in durable runs' nodes to child workflows (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True

    @functools.wraps(_original_ainvoke)
    async def ainvoke(self: Pregel[Any, Any, Any, Any], input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        nested = _nested_config(self, input, config, kwargs)
        if nested is None:
            return await _original_ainvoke(self, input, config, **kwargs)
        return await _call_child(self, *nested)

    @functools.wraps(_original_invoke)
    def invoke(self: Pregel[Any, Any, Any, Any], input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        nested = _nested_config(self, input, config, kwargs)
        if nested is None:
            return _original_invoke(self, input, config, **kwargs)
        return await_only(_call_child(self, *nested))

    Pregel.ainvoke = ainvoke  # type: ignore[method-assign,assignment]
    Pregel.invoke = invoke  # type: ignore[method-assign,assignment]


def in_durable_node() -> bool:
    """Whether the calling code runs in a node of a durable graph's run (on its durable loop)."""
    return IN_DURABLE_RUN.get() and on_durable_loop()


def _nested_config(
    graph: Pregel[Any, Any, Any, Any], input: Any, config: RunnableConfig | None, kwargs: dict[str, Any]
) -> tuple[Any, RunnableConfig] | None:
    """The input as JSON and the calling task's config when this call is a subgraph of a durable
    run's node that can run as a child, else None."""
    if kwargs or graph.checkpointer not in (None, False) or not on_durable_loop():
        return None
    if current_execution().workflow_name not in (WORKFLOW, SUBGRAPH_WORKFLOW):
        return None
    merged = ensure_config(config)
    conf = merged.get(CONF, {})
    if CONFIG_KEY_TASK_ID not in conf or not isinstance(conf.get(CONFIG_KEY_CHECKPOINTER), InMemorySaver):
        return None
    try:
        return _portable(input, "subgraph input"), merged
    except TypeError:  # a state object LangChain's serializer does not take (a pydantic or dataclass state)
        return None


def _child_id(execution: DurableExecution, task_id: str) -> str:
    calls = _CALLS.setdefault(execution, Counter())
    calls[task_id] += 1
    parts = (task_id,) if calls[task_id] == 1 else (task_id, str(calls[task_id]))
    return derived_run_id(execution.instance_id, SUBGRAPH_KIND, *parts)


async def _call_child(graph: Pregel[Any, Any, Any, Any], input: Any, config: RunnableConfig) -> Any:
    """Run the subgraph call (``input`` already JSON) as a child workflow; its output, or what it raised."""
    conf = config[CONF]
    execution = current_execution()
    namespace = conf[CONFIG_KEY_CHECKPOINT_NS]
    scratchpad = conf.get(CONFIG_KEY_SCRATCHPAD)
    if isinstance(scratchpad, PregelScratchpad) and (count := scratchpad.subgraph_counter()):
        namespace = NS_SEP.join((namespace, str(count)))  # the task's second call of a subgraph, as LangGraph names it
    saver: InMemorySaver = conf[CONFIG_KEY_CHECKPOINTER]
    thread = str(conf.get("thread_id", ""))
    stream = conf.get(CONFIG_KEY_STREAM)
    live = streams.LIVE.get() if stream is not None else None
    request = {
        "parent": execution.instance_id,
        "graph": graph.get_name(),
        "root": ROOT_GRAPH.get(),
        "input": input,
        "thread_id": thread,
        "checkpoint_ns": namespace,
        "task_id": conf[CONFIG_KEY_TASK_ID],
        "resuming": conf.get(CONFIG_KEY_RESUMING),
        "resume_map": _encode(conf.get(CONFIG_KEY_RESUME_MAP)),
        "checkpoint_map": conf.get(CONFIG_KEY_CHECKPOINT_MAP),
        "stream_modes": sorted(stream.modes) if stream is not None else None,
        "recursion_limit": config.get("recursion_limit"),
        "run_name": config.get("run_name"),
        "parent_run": callbacks.parent_run(config),
        "saved": export_saved(saver, thread, namespace),
    }
    if live is not None:  # the child publishes its chunks to the streaming caller itself, as it produces them
        request["live"] = list(live)
    child_id = _child_id(execution, conf[CONFIG_KEY_TASK_ID])
    runtime = conf.get(CONFIG_KEY_RUNTIME)
    # Kept until the child's result is in (a replay of this run leaves it again): the child finds it on every replay.
    SUBGRAPHS.add(child_id, _Call(graph, runtime if isinstance(runtime, Runtime) else None))
    try:
        result = await execution.call_child_workflow(
            SUBGRAPH_WORKFLOW, checked(request, what=f"input of subgraph {graph.get_name()!r}"), instance_id=child_id
        )
    except ChildWorkflowError:
        SUBGRAPHS.remove(child_id)
        handed = OUTCOMES.pop(child_id)
        if handed is not None and handed[0]:
            raise handed[1] from None  # the subgraph's own exception, raised in this process
        raise
    SUBGRAPHS.remove(child_id)
    import_saved(saver, thread, result["saved"])
    if stream is not None:
        chunks = _decode(result["chunks"])
        _already_streamed(config, chunks)
        if live is not None:
            streams.forwarded(payload for _, _, payload in chunks)
        for namespace_parts, mode, payload in chunks:
            stream((tuple(namespace_parts), mode, payload))
    if "interrupts" in result:
        raise GraphInterrupt(_decode(result["interrupts"]))
    if "command" in result:
        raise ParentCommand(decode_output(result["command"]))
    return _decode(result["output"])


def _already_streamed(config: RunnableConfig, chunks: list[Any]) -> None:
    """Tell the parent's ``messages`` stream handler which messages the child streamed, so that it
    does not stream them again from the subgraph's output, as natively."""
    streamed = {payload[0].id for _, mode, payload in chunks if mode == "messages"}
    callbacks = config.get("callbacks")
    for handler in getattr(callbacks, "handlers", None) or ():
        if isinstance(handler, StreamMessagesHandler):
            handler.seen.update(streamed)


def subgraph_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Run one subgraph call: the subgraph's Pregel loop, nested as its calling task would run it."""
    call = _call_of(ctx.instance_id, request)
    try:
        outcome = yield from drive(ctx, _main(call, request), label=f"subgraph {request['graph']!r}")
    except Exception as exc:
        forget(ctx.instance_id)
        hand_over(ctx.instance_id, exc, failed=True)
        raise
    forget(ctx.instance_id)  # only when the child ended: a torn-down replay leaves the calls to the live execution
    return outcome


def _call_of(child_id: str, request: dict[str, Any]) -> _Call:
    """The subgraph of a child: left by the calling run, else the durable graph's subgraph at the
    child's namespace, else (after a restart) left again by the calling run's replay, woken for it."""
    call = SUBGRAPHS.get(child_id)
    if call is not None:
        return call
    root = GRAPHS.get(request["root"]) if request["root"] else None
    if root is not None:
        path = recast_checkpoint_ns(request["checkpoint_ns"])
        for _, graph in root.get_subgraphs(namespace=path, recurse=True):
            if graph.get_name() == request["graph"]:
                return _Call(graph, Runtime(store=root.store))
    threading.Thread(target=get_runtime().wake, args=(request["parent"],), daemon=True).start()
    try:
        return SUBGRAPHS.wait(child_id, LOOKUP_TIMEOUT)
    except NotRegistered:
        raise NotRegistered(
            f"subgraph {request['graph']!r} of run {request['parent']!r} is not defined in this process: define "
            "the durable graph that calls it, or add the subgraph to it as a node"
        ) from None


def _main(call: _Call, request: dict[str, Any]) -> Any:
    async def main() -> JSONValue:
        IN_DURABLE_RUN.set(True)
        ROOT_GRAPH.set(request["root"])
        thread, namespace = request["thread_id"], request["checkpoint_ns"]
        saver = InMemorySaver()
        import_saved(saver, thread, request["saved"])
        chunks: list[Any] = []
        live = streams.Live(*request["live"]) if request.get("live") else None
        streams.LIVE.set(live)
        sink = streams.child_sink(chunks, live)
        modes = set(request["stream_modes"] or ())
        conf: dict[str, Any] = {
            "thread_id": thread,
            CONFIG_KEY_CHECKPOINT_NS: namespace,
            CONFIG_KEY_TASK_ID: request["task_id"],
            CONFIG_KEY_CHECKPOINTER: saver,
            CONFIG_KEY_CHECKPOINT_MAP: request["checkpoint_map"] or {},
            CONFIG_KEY_RUNTIME: _runtime(call.runtime, sink, "custom" in modes),
        }
        if request["resuming"] is not None:
            conf[CONFIG_KEY_RESUMING] = request["resuming"]
        if request["resume_map"] is not None:
            conf[CONFIG_KEY_RESUME_MAP] = _decode(request["resume_map"])
        if modes:
            conf[CONFIG_KEY_STREAM] = StreamProtocol(sink, modes)
        config: dict[str, Any] = {"configurable": conf}
        if "messages" in modes:  # the child's model messages, as the parent's handler would stream them
            config["callbacks"] = [StreamMessagesHandler(sink, True)]
        if request["recursion_limit"] is not None:
            config["recursion_limit"] = request["recursion_limit"]
        config["callbacks"] = callbacks.for_child(thread, config.get("callbacks") or [], request.get("parent_run"))
        if request.get("run_name"):
            config["run_name"] = request["run_name"]
        result: dict[str, Any] = {}
        name = request["graph"]
        try:
            output = await _original_ainvoke(call.graph, _decode(request["input"]), config)  # type: ignore[arg-type]
            result["output"] = _portable(output, f"output of subgraph {name!r}")
        except GraphInterrupt as exc:
            result["interrupts"] = _portable(tuple(exc.args[0]), f"interrupt value of subgraph {name!r}")
        except ParentCommand as exc:
            result["command"] = encode_output(exc.args[0])
        result["chunks"] = _portable(chunks, f"stream chunks of subgraph {name!r}")
        result["saved"] = export_saved(saver, thread, namespace)
        return checked(result, what=f"result of subgraph {request['graph']!r}")

    return main


def _runtime(parent: Runtime[Any] | None, sink: Callable[[Any], None], custom: bool) -> Runtime[Any]:
    """The calling run's context and store; ``custom`` stream writes go to the child's chunks."""

    def write(chunk: Any) -> None:
        namespace = get_config()[CONF][CONFIG_KEY_CHECKPOINT_NS].split(NS_SEP)[:-1]
        sink((tuple(namespace), "custom", chunk))

    runtime: Runtime[Any] = Runtime(
        context=parent.context if parent else None,
        store=parent.store if parent else None,
        previous=parent.previous if parent else None,
    )
    return runtime.override(stream_writer=write) if custom else runtime


# ---------------------------------------------------------------------------- values


_TUPLE, _INTERRUPT = "__durable_tuple__", "__durable_interrupt__"


def _plain(value: Any) -> Any:
    if isinstance(value, Interrupt):
        return {_INTERRUPT: {"value": _plain(value.value), "id": value.id}}
    if isinstance(value, tuple):
        return {_TUPLE: [_plain(item) for item in value]}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _revived(value: Any) -> Any:
    if isinstance(value, list):
        return [_revived(item) for item in value]
    if isinstance(value, dict):
        if _TUPLE in value and len(value) == 1:
            return tuple(_revived(item) for item in value[_TUPLE])
        if _INTERRUPT in value and len(value) == 1:
            return Interrupt(value=_revived(value[_INTERRUPT]["value"]), id=value[_INTERRUPT]["id"])
        return {key: _revived(item) for key, item in value.items()}
    return value


def _encode(value: Any) -> Any:
    """A subgraph value (state, interrupts, stream chunks) as LangChain JSON, tuples and interrupts kept."""
    return None if value is None else to_data(_plain(value))


def _portable(value: Any, what: str) -> Any:
    """:func:`_encode`'s JSON, or ``TypeError`` naming ``what`` when part of it would not load again."""
    data = _encode(value)
    unloadable = _unloadable(data)
    if unloadable is not None:
        raise TypeError(f"the {what} holds {unloadable}, which LangChain's serializer cannot load again; "
                        "use LangChain messages, dicts, lists and JSON values in subgraph state")
    return data


def _unloadable(data: Any) -> str | None:
    if isinstance(data, list):
        return next((found for item in data if (found := _unloadable(item)) is not None), None)
    if isinstance(data, dict):
        if data.get("lc") == 1 and data.get("type") == "not_implemented":
            return str(data.get("repr") or data.get("id"))
        return next((found for item in data.values() if (found := _unloadable(item)) is not None), None)
    return None


def _decode(data: Any) -> Any:
    return None if data is None else _revived(from_data(data))


# ---------------------------------------------------------------------------- checkpoints


def _typed(value: tuple[str, bytes]) -> list[str]:
    return [value[0], base64.b64encode(value[1]).decode("ascii")]


def _untyped(data: list[str]) -> tuple[str, bytes]:
    return data[0], base64.b64decode(data[1])


def _under(namespace: str, prefix: str) -> bool:
    return namespace == prefix or namespace.startswith(prefix + NS_SEP)


def export_saved(saver: InMemorySaver, thread: str, prefix: str) -> dict[str, Any]:
    """The saver's checkpoints, writes and channel values of ``thread`` at namespace ``prefix`` and below, as JSON."""
    checkpoints = [
        [namespace, checkpoint_id, _typed(checkpoint), _typed(metadata), parent]
        for namespace, by_id in saver.storage.get(thread, {}).items()
        if _under(namespace, prefix)
        for checkpoint_id, (checkpoint, metadata, parent) in by_id.items()
    ]
    writes = [
        [namespace, checkpoint_id, task_id, index, channel, _typed(value), path]
        for (written_thread, namespace, checkpoint_id), stored in saver.writes.items()
        if written_thread == thread and _under(namespace, prefix)
        for (task_id, index), (_, channel, value, path) in stored.items()
    ]
    blobs = [
        [namespace, channel, version, _typed(value)]
        for (blob_thread, namespace, channel, version), value in saver.blobs.items()
        if blob_thread == thread and _under(namespace, prefix)
    ]
    return {"checkpoints": checkpoints, "writes": writes, "blobs": blobs}


def import_saved(saver: InMemorySaver, thread: str, saved: dict[str, Any]) -> None:
    """Put what :func:`export_saved` exported into ``saver``."""
    for namespace, checkpoint_id, checkpoint, metadata, parent in saved["checkpoints"]:
        saver.storage[thread][namespace][checkpoint_id] = (_untyped(checkpoint), _untyped(metadata), parent)
    for namespace, checkpoint_id, task_id, index, channel, value, path in saved["writes"]:
        stored = saver.writes.setdefault((thread, namespace, checkpoint_id), {})
        stored[(task_id, index)] = (task_id, channel, _untyped(value), path)
    for namespace, channel, version, value in saved["blobs"]:
        saver.blobs[(thread, namespace, channel, version)] = _untyped(value)
