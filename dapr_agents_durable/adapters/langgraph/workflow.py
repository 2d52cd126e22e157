"""The ``langgraph.run`` workflow: the graph's own Pregel loop (``ainvoke``/``astream``) on the durable loop.

One run is one ``invoke``/``stream`` call on a thread. The graph checkpoints into an
``InMemorySaver`` living in the workflow, seeded with the thread's previous checkpoint. A
run that stops on ``interrupt()`` hands its interrupted result to the caller, waits for a
decision on at least one interrupt (:mod:`.interrupts`) and continues with
``Command(resume={id: value})`` for those decided, as a native caller would (the others
stay interrupted). The real result (and stream chunks) are handed to a caller in this
process, and each stream chunk is published live as the graph yields it (:mod:`.streams`);
the workflow output is the thread's last checkpoint and values as JSON.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
from langgraph.types import Command

from dapr_agents_durable.adapters.langgraph import interrupts, resumes, streams
from dapr_agents_durable.adapters.langgraph.callbacks import callbacks_of, forget_thread
from dapr_agents_durable.adapters.langgraph.calls import forget
from dapr_agents_durable.adapters.langgraph.codec import from_data, to_data
from dapr_agents_durable.adapters.langgraph.scope import IN_DURABLE_RUN
from dapr_agents_durable.adapters.langgraph.subgraphs import ROOT_GRAPH
from dapr_agents_durable.adapters.langgraph.threads import GRAPHS, encode_checkpoint, on_saver, seeded_saver
from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.approvals import collect_decisions, encode_status
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.outcomes import hand_over


@dataclass
class Outcome:
    """What one durable call gives its caller: ``invoke``'s value, ``stream``'s chunks, the interrupts."""

    value: Any
    chunks: list[Any] = field(default_factory=list)
    interrupts: tuple[Any, ...] = ()
    checkpoint: dict[str, Any] | None = None


def encode_input(value: Any) -> Any:
    """A graph input (or ``Command``) as LangChain JSON."""
    if isinstance(value, Command):
        return {"command": {"resume": to_data(value.resume), "update": to_data(value.update), "goto": to_data(value.goto)}}
    return {"value": to_data(value)}


def decode_input(data: Any) -> Any:
    if "command" in data:
        parts = {name: from_data(part) for name, part in data["command"].items()}
        return Command(resume=parts["resume"], update=parts["update"], goto=parts["goto"] or ())
    return from_data(data["value"])


def run_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Run one call of the named graph on its thread; the real outcome is handed to a caller here."""
    graph = GRAPHS.get(request["graph"])
    while graph is None:  # defining the durable graph in this process wakes the run up
        yield get_runtime().park(ctx, GRAPHS, request["graph"])
        graph = GRAPHS.get(request["graph"])
    run_id = ctx.instance_id
    timeout = request.get("interrupt_timeout")
    main = _main(run_id, graph, request, None if timeout is None else timedelta(seconds=timeout))
    try:
        outcome = yield from drive(ctx, main, label=f"graph {request['graph']!r}")
    except Exception as exc:
        forget(run_id)
        forget_thread(request["thread_id"])
        hand_over(run_id, exc, failed=True)
        raise
    forget(run_id)  # only when the run ended: a torn-down replay leaves the calls to the live execution
    forget_thread(request["thread_id"])
    hand_over(run_id, outcome)
    return checked({"checkpoint": outcome.checkpoint, "values": to_data(outcome.value)}, what="graph result")


def _main(run_id: str, graph: Any, request: dict[str, Any], timeout: timedelta | None) -> Any:
    async def main() -> Outcome:
        IN_DURABLE_RUN.set(True)
        ROOT_GRAPH.set(request["graph"])
        if request["call"] == "stream" and request["subgraphs"]:
            streams.LIVE.set(streams.Live(run_id, isinstance(request["stream_mode"], list)))
        thread = request["thread_id"]
        saver = seeded_saver(thread, request.get("prior"))
        local = on_saver(graph, saver)
        config: dict[str, Any] = {**request.get("config", {}), "configurable": {"thread_id": thread}}
        value = decode_input(request["input"])
        execution = current_execution()
        while True:
            config["callbacks"] = callbacks_of(thread)  # each call and resume reports to the latest caller's handlers
            outcome = await _call(run_id, local, request, value, config)
            outcome.checkpoint = encode_checkpoint(saver, thread)
            if not outcome.interrupts:
                return outcome
            hand_over(run_id, outcome)  # the caller sees the interrupted result, as natively
            waiting = interrupts.pending(outcome.interrupts, request["graph"])
            decisions = await collect_decisions(execution, waiting, timeout, at_least=1)  # as natively: resume what is answered
            execution.context.set_custom_status(encode_status([]))
            value = Command(resume={cid: interrupts.resume_value(d) for cid, d in decisions.items()})
            resumes.resumed(execution)

    return main


async def _call(run_id: str, graph: Any, request: dict[str, Any], value: Any, config: dict[str, Any]) -> Outcome:
    if request["call"] == "update":
        return Outcome(await graph.aupdate_state(config, value, as_node=request.get("as_node")))
    if request["call"] == "stream":
        chunks = []
        async for chunk in graph.astream(value, config, stream_mode=request["stream_mode"], subgraphs=request["subgraphs"]):
            chunks.append(chunk)
            streams.publish_chunk(run_id, chunk, request["subgraphs"])  # live to a caller here, as LangGraph yields it
        state = await graph.aget_state(config)
        return Outcome(state.values, chunks, tuple(state.interrupts))
    result = await graph.ainvoke(value, config)
    state = await graph.aget_state(config)
    return Outcome(result, [], tuple(state.interrupts))
