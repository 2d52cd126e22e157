"""durable_node(fn): a whole node as one activity, for nodes doing their own I/O or threads."""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from scripted import ScriptedChatModel, scripted, shape
from test_react import activities

from dapr_agents_durable.adapters.langgraph import EscapedDurability, StateGraph, durable_node
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY, NODE_ACTIVITY

runs: Counter[str] = Counter()


def threaded_graph(builder_type: Any, model: ScriptedChatModel, wrap: Any, name: str) -> Any:
    def ask_on_a_thread(state: MessagesState) -> dict[str, Any]:
        runs[name] += 1
        box: list[Any] = []
        context = contextvars.copy_context()  # as LangGraph's and asyncio's executors do
        worker = threading.Thread(target=lambda: box.append(context.run(_call, model, state)))
        worker.start()
        worker.join()
        if isinstance(box[0], Exception):
            raise box[0]
        return {"messages": [box[0]]}

    def summarise(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("ask", wrap(ask_on_a_thread))
    builder.add_node("summarise", summarise)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "summarise")
    return builder.compile(name=name)


def _call(model: ScriptedChatModel, state: MessagesState) -> Any:
    try:
        return model.invoke(state["messages"])
    except Exception as exc:  # handed back to the node, which raises it
        return exc


def replies() -> list[AIMessage]:
    return [AIMessage("Fetched."), AIMessage("Summary.")]


def test_a_durable_node_runs_once_as_one_activity_and_matches_native() -> None:
    native = threaded_graph(NativeStateGraph, scripted(*replies()), lambda fn: fn, "native-node").invoke(
        {"messages": [HumanMessage("Go.")]})
    graph = threaded_graph(StateGraph, scripted(*replies()), durable_node, "durable-node")
    config = {"configurable": {"thread_id": "node-1"}}
    out = graph.invoke({"messages": [HumanMessage("Go.")]}, config)
    assert shape(out["messages"]) == shape(native["messages"])
    assert activities("node-1") == [NODE_ACTIVITY, MODEL_ACTIVITY]  # the node's own model call is part of its step
    graph.invoke({"messages": [HumanMessage("Go.")]}, config)
    assert runs["durable-node"] == 1


def test_a_model_call_escaping_the_durable_loop_fails_and_names_durable_node() -> None:
    graph = threaded_graph(StateGraph, scripted(*replies()), lambda fn: fn, "escaping-node")
    with pytest.raises(EscapedDurability, match=r"durable_node\(fn\)"):
        graph.invoke({"messages": [HumanMessage("Go.")]}, {"configurable": {"thread_id": "node-2"}})


def test_durable_node_refuses_what_is_not_a_function() -> None:
    with pytest.raises(TypeError, match="takes a node function, got str"):
        durable_node("fetch")  # type: ignore[arg-type]
