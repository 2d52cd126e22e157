"""stream/astream give LangGraph's own chunks live, while the durable run executes, in the native order.

Liveness without timing: a node of the graph waits for the caller to have received the
chunks of the node before it (a gate the caller opens), so a stream that delivered its
chunks only at the end of the run would never open it; the wait is bounded and then fails
the run with a message saying so.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.types import Command, Interrupt, interrupt
from scripted import ScriptedChatModel, scripted

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.runtime import get_runtime

GATE_SECONDS = 60.0
QUESTION = {"messages": [HumanMessage("hello")]}
MODES: list[Any] = ["updates", "values", "messages", "custom", ["updates", "custom", "messages"]]


class Gate:
    """Opened by the caller once it received a chunk carrying ``mark``; a node waits for it."""

    def __init__(self, mark: str) -> None:
        self.mark = mark
        self._opened = threading.Event()

    def saw(self, chunk: Any) -> None:
        if self.mark in repr(chunk):
            self._opened.set()

    def wait(self) -> None:
        if not self._opened.wait(GATE_SECONDS):
            raise TimeoutError(f"the caller never received a chunk with {self.mark!r} while the run went on: the stream is not live")


def models() -> ScriptedChatModel:
    return scripted(AIMessage("ask-reply"), AIMessage("answer-reply"))


def pipeline(builder_type: Any, model: ScriptedChatModel, gate: Gate, **compile: Any) -> Any:
    """ask (a model call) -> wait (until the caller saw ask's chunk) -> answer (a model call); each writes custom."""

    def ask(state: MessagesState) -> dict[str, Any]:
        reply = model.invoke(state["messages"])
        get_stream_writer()({"done": reply.content})
        return {"messages": [reply]}

    def wait(state: MessagesState) -> dict[str, Any]:
        gate.wait()
        get_stream_writer()({"done": "wait"})
        return {"messages": [HumanMessage("go on")]}

    def answer(state: MessagesState) -> dict[str, Any]:
        reply = model.invoke(state["messages"])
        get_stream_writer()({"done": reply.content})
        return {"messages": [reply]}

    builder = builder_type(MessagesState)
    for node in (ask, wait, answer):
        builder.add_node(node.__name__, node)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "wait")
    builder.add_edge("wait", "answer")
    return builder.compile(**compile)


def consume(chunks: Iterable[Any], gate: Gate) -> list[Any]:
    received = []
    for chunk in chunks:
        received.append(chunk)
        gate.saw(chunk)
    return received


async def aconsume(chunks: Any, gate: Gate) -> list[Any]:
    received = []
    async for chunk in chunks:
        received.append(chunk)
        gate.saw(chunk)
    return received


def plain(value: Any) -> Any:
    """A payload without what differs run to run: message and interrupt ids."""
    if isinstance(value, BaseMessage):
        return (value.type, value.content)
    if isinstance(value, Interrupt):
        return ("interrupt", plain(value.value))
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    return value


def normal(chunks: list[Any], mode: Any, subgraphs: bool = False) -> list[Any]:
    """Chunks as ``[namespace, mode, payload]`` (the task ids left out of namespaces, message
    metadata but the node left out), each model response's message chunks joined into one."""
    out: list[Any] = []
    for chunk in chunks:
        path, rest = (chunk[0], chunk[1:]) if subgraphs else ((), chunk if isinstance(mode, list) else (chunk,))
        namespace = tuple(part.split(":")[0] for part in path)
        chunk_mode, payload = rest if isinstance(mode, list) else (mode, rest[0])
        if chunk_mode == "messages":
            message, metadata = payload
            key = (namespace, "messages", metadata["langgraph_node"], message.id)
            if out and out[-1][:4] == key:
                out[-1][4] += message.content
            else:
                out.append([*key, message.content])
        else:
            out.append([namespace, chunk_mode, plain(payload)])
    return [entry[:3] + entry[4:] if entry[1] == "messages" else entry for entry in out]


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_stream_is_live_and_gives_the_native_chunks(mode: Any) -> None:
    native_gate = Gate("ask-reply")
    native = consume(pipeline(NativeStateGraph, models(), native_gate).stream(QUESTION, stream_mode=mode), native_gate)
    gate, model = Gate("ask-reply"), models()
    name = f"live-{'-'.join(mode) if isinstance(mode, list) else mode}"
    graph = pipeline(StateGraph, model, gate, name=name)
    chunks = consume(graph.stream(QUESTION, {"configurable": {"thread_id": name}}, stream_mode=mode), gate)
    assert normal(chunks, mode) == normal(native, mode)
    assert "answer-reply" in repr(chunks[-1])
    assert len(model.seen) == 2

    again = list(graph.stream(QUESTION, {"configurable": {"thread_id": name}}, stream_mode=mode))  # finished: rebuilt
    assert normal(again, mode) == normal(native, mode)
    assert len(model.seen) == 2


def test_astream_is_live_and_gives_the_native_chunks() -> None:
    mode = ["values", "messages", "custom"]
    native_gate = Gate("ask-reply")
    native = asyncio.run(aconsume(pipeline(NativeStateGraph, models(), native_gate).astream(QUESTION, stream_mode=mode), native_gate))
    gate = Gate("ask-reply")
    graph = pipeline(StateGraph, models(), gate, name="live-async")
    chunks = asyncio.run(aconsume(graph.astream(QUESTION, {"configurable": {"thread_id": "live-async"}}, stream_mode=mode), gate))
    assert normal(chunks, mode) == normal(native, mode)


def test_chunks_of_replayed_steps_are_not_sent_again(cold_replay: None) -> None:
    """Warm executions off: every step replays the run's earlier steps, whose chunks the caller already has."""
    mode = ["updates", "custom", "messages"]
    native_gate = Gate("ask-reply")
    native = consume(pipeline(NativeStateGraph, models(), native_gate).stream(QUESTION, stream_mode=mode), native_gate)
    gate = Gate("ask-reply")
    graph = pipeline(StateGraph, models(), gate, name="live-cold")
    chunks = consume(graph.stream(QUESTION, {"configurable": {"thread_id": "live-cold"}}, stream_mode=mode), gate)
    assert normal(chunks, mode) == normal(native, mode)


def desk(builder_type: Any, model: ScriptedChatModel, gate: Gate, **compile: Any) -> Any:
    """A parent whose second node is a subgraph (a child workflow) holding the pipeline."""
    def plan(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"done": "plan"})
        return {"messages": [AIMessage("planned")]}

    builder = builder_type(MessagesState)
    builder.add_node("plan", plan)
    builder.add_node("work", pipeline(NativeStateGraph, model, gate, name="work"))
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "work")
    return builder.compile(**compile)


@pytest.mark.parametrize("mode", ["updates", ["updates", "values", "custom", "messages"]], ids=str)
def test_subgraph_chunks_reach_the_caller_live_with_their_namespaces(mode: Any) -> None:
    """The subgraph's node waits for the caller to have its sibling node's chunk, sent from the child workflow."""
    native_gate = Gate("ask-reply")
    native = consume(desk(NativeStateGraph, models(), native_gate).stream(QUESTION, stream_mode=mode, subgraphs=True), native_gate)
    gate = Gate("ask-reply")
    name = f"live-desk-{len(mode)}"
    graph = desk(StateGraph, models(), gate, name=name)
    chunks = consume(graph.stream(QUESTION, {"configurable": {"thread_id": name}}, stream_mode=mode, subgraphs=True), gate)
    assert normal(chunks, mode, subgraphs=True) == normal(native, mode, subgraphs=True)
    assert ("work",) in [entry[0] for entry in normal(chunks, mode, subgraphs=True)]

    again = list(graph.stream(QUESTION, {"configurable": {"thread_id": name}}, stream_mode=mode, subgraphs=True))
    assert normal(again, mode, subgraphs=True) == normal(native, mode, subgraphs=True)


def reviewed(builder_type: Any, model: ScriptedChatModel, **compile: Any) -> Any:
    def draft(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def review(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(str(interrupt({"draft": state["messages"][-1].content})))]}

    builder = builder_type(MessagesState)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    return builder.compile(checkpointer=InMemorySaver(), **compile)


def test_an_interrupt_ends_the_stream_with_its_chunk_and_the_resume_streams_on() -> None:
    native_graph = reviewed(NativeStateGraph, scripted(AIMessage("a draft"), AIMessage("another draft")))
    graph = reviewed(StateGraph, scripted(AIMessage("a draft"), AIMessage("another draft")), name="live-review")
    native_config, config = {"configurable": {"thread_id": "n"}}, {"configurable": {"thread_id": "live-review"}}
    for mode in ("updates", "values"):
        native = list(native_graph.stream(QUESTION, native_config, stream_mode=mode))
        chunks = list(graph.stream(QUESTION, config, stream_mode=mode))
        assert normal(chunks, mode) == normal(native, mode)
        if mode == "updates":
            assert "__interrupt__" in chunks[-1]
        native = list(native_graph.stream(Command(resume="fine"), native_config, stream_mode=mode))
        chunks = list(graph.stream(Command(resume="fine"), config, stream_mode=mode))
        assert normal(chunks, mode) == normal(native, mode)
        assert "fine" in repr(chunks[-1])


def failing(builder_type: Any, **compile: Any) -> Any:
    def first(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"done": "first"})
        return {"messages": [AIMessage("first")]}

    def boom(state: MessagesState) -> dict[str, Any]:
        raise ValueError(f"no luck with {len(state['messages'])} messages")

    builder = builder_type(MessagesState)
    builder.add_node("first", first)
    builder.add_node("boom", boom)
    builder.add_edge(START, "first")
    builder.add_edge("first", "boom")
    return builder.compile(**compile)


def chunks_and_error(chunks: Iterable[Any]) -> tuple[list[Any], str]:
    received = []
    with pytest.raises(ValueError) as raised:
        for chunk in chunks:
            received.append(chunk)
    return received, str(raised.value)


def test_an_error_ends_the_stream_after_the_chunks_before_it_as_natively() -> None:
    mode = ["updates", "custom"]
    native = chunks_and_error(failing(NativeStateGraph).stream(QUESTION, stream_mode=mode))
    graph = failing(StateGraph, name="live-failing")
    config = {"configurable": {"thread_id": "live-failing"}}
    live = chunks_and_error(graph.stream(QUESTION, config, stream_mode=mode))
    assert (normal(live[0], mode), live[1]) == (normal(native[0], mode), native[1]) == (
        [[(), "custom", {"done": "first"}], [(), "updates", {"first": {"messages": [("ai", "first")]}}]],
        "no luck with 2 messages",
    )
    rebuilt = chunks_and_error(graph.stream(QUESTION, config, stream_mode=mode))  # the failed run, from its history
    assert (normal(rebuilt[0], mode), rebuilt[1]) == (normal(native[0], mode), native[1])


def test_a_caller_leaving_early_leaves_the_run_to_finish() -> None:
    opened = Gate("")
    opened.saw("")
    native = pipeline(NativeStateGraph, models(), opened).invoke(QUESTION)
    model = models()
    gate = Gate("ask-reply")
    graph = pipeline(StateGraph, model, gate, name="live-leaving")
    config = {"configurable": {"thread_id": "live-leaving"}}
    for chunk in graph.stream(QUESTION, config, stream_mode="updates"):
        assert "ask" in chunk
        break
    gate.saw("ask-reply")  # the caller is gone: the run goes on
    out = graph.invoke(QUESTION, config)
    assert plain(out) == plain(native)
    assert len(model.seen) == 2
    assert get_runtime().state("live-leaving").runtime_status.name == "COMPLETED"
