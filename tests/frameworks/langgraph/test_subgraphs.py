"""Subgraphs are langgraph.subgraph child workflows; results, streams and interrupts as native."""

from __future__ import annotations

from typing import Any, NotRequired

import pytest

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt
from scripted import ScriptedChatModel, call, get_weather, scripted, shape, weather_runs
from test_react import activities

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY, SUBGRAPH_WORKFLOW, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime


def children(run_id: str) -> list[tuple[str, str]]:
    """The child workflows a run created, as (workflow name, instance id)."""
    return [
        (e.childWorkflowInstanceCreated.name, e.childWorkflowInstanceCreated.instanceId)
        for e in get_runtime().raw_history(run_id)
        if e.HasField("childWorkflowInstanceCreated")
    ]


class Models:
    """One scripted model per role, built alike for the native and the durable graph."""

    def __init__(self) -> None:
        self.planner = scripted(AIMessage("Plan: check Paris."))
        self.researcher = scripted(
            AIMessage("", tool_calls=[call("get_weather", "w1", city="Paris")]),
            AIMessage("Paris is sunny."),
        )
        self.writer = scripted(AIMessage("Summary: sunny Paris."))

    def seen(self) -> list[Any]:
        return [[shape(s) for s in m.seen] for m in (self.planner, self.researcher, self.writer)]


def research_graph(models: Models) -> Any:
    """A ReAct subgraph, compiled natively: it is added to the parent as a node."""
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [models.researcher.invoke(state["messages"])]}

    builder = NativeStateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(name="research")


def writer_graph(models: Models) -> Any:
    def write(state: MessagesState) -> dict[str, Any]:
        return {"messages": [models.writer.invoke(state["messages"])]}

    builder = NativeStateGraph(MessagesState)
    builder.add_node("write", write)
    builder.add_edge(START, "write")
    return builder.compile(name="writer")


def desk(builder_type: Any, models: Models, **compile: Any) -> Any:
    writer = writer_graph(models)

    def plan(state: MessagesState) -> dict[str, Any]:
        return {"messages": [models.planner.invoke(state["messages"])]}

    def summarise(state: MessagesState) -> dict[str, Any]:  # a graph invoked inside a node
        out = writer.invoke({"messages": [HumanMessage(f"Summarise: {state['messages'][-1].content}")]})
        return {"messages": [out["messages"][-1]]}

    builder = builder_type(MessagesState)
    builder.add_node("plan", plan)
    builder.add_node("research", research_graph(models))
    builder.add_node("summarise", summarise)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "research")
    builder.add_edge("research", "summarise")
    return builder.compile(**compile)


QUESTION = {"messages": [HumanMessage("Weather in Paris?")]}


def test_subgraphs_are_child_workflows_with_their_own_activities() -> None:
    native_models, durable_models = Models(), Models()
    native = desk(NativeStateGraph, native_models).invoke(QUESTION)
    weather_runs.clear()
    graph = desk(StateGraph, durable_models, name="desk")
    out = graph.invoke(QUESTION, {"configurable": {"thread_id": "desk-1"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert durable_models.seen() == native_models.seen()
    assert weather_runs == {"Paris": 1}

    kids = children("desk-1")
    assert [name for name, _ in kids] == [SUBGRAPH_WORKFLOW, SUBGRAPH_WORKFLOW]
    assert all(child.startswith("desk-1-subgraph-") for _, child in kids)
    assert activities("desk-1") == [MODEL_ACTIVITY]  # the planner; the subgraphs' calls are their children's
    research, writer = (child for _, child in kids)
    assert activities(research) == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
    assert activities(writer) == [MODEL_ACTIVITY]
    assert {research, writer} <= set(get_runtime().list_runs())

    again = graph.invoke(QUESTION, {"configurable": {"thread_id": "desk-1"}})
    assert shape(again["messages"]) == shape(native["messages"])
    assert len(durable_models.researcher.seen) == 2 and weather_runs == {"Paris": 1}  # nothing paid again


def _events(chunks: list[Any]) -> list[Any]:
    """Stream events with the task ids left out of their namespaces (they differ run to run)."""
    return [
        (tuple(part.split(":")[0] for part in namespace), {node: shape(update["messages"]) for node, update in data.items()})
        for namespace, data in chunks
    ]


def test_stream_with_subgraphs_matches_native() -> None:
    native = list(desk(NativeStateGraph, Models()).stream(QUESTION, stream_mode="updates", subgraphs=True))
    graph = desk(StateGraph, Models(), name="desk-stream")
    chunks = list(graph.stream(QUESTION, {"configurable": {"thread_id": "desk-2"}}, stream_mode="updates", subgraphs=True))
    assert _events(chunks) == _events(native)
    assert ("research",) in [e[0] for e in _events(chunks)] and ("summarise",) in [e[0] for e in _events(chunks)]
    research, _ = (child for _, child in children("desk-2"))
    assert research.endswith(chunks[1][0][0].split(":")[1])  # the child id names the subgraph's task

    plain = list(desk(StateGraph, Models(), name="desk-plain").stream(
        QUESTION, {"configurable": {"thread_id": "desk-3"}}, stream_mode="updates"))
    assert [list(c) for c in plain] == [["plan"], ["research"], ["summarise"]]  # no subgraph events unless asked


class Checked(MessagesState):
    verdict: NotRequired[str]


def checked_graph(builder_type: Any, writer: ScriptedChatModel) -> Any:
    """A parent whose compiled subgraph drafts with a model, then interrupts for a review."""
    def draft(state: Checked) -> dict[str, Any]:
        return {"messages": [writer.invoke(state["messages"])]}

    def review(state: Checked) -> dict[str, Any]:
        return {"verdict": interrupt({"draft": state["messages"][-1].content})["verdict"]}

    inner = NativeStateGraph(Checked)
    inner.add_node("draft", draft)
    inner.add_node("review", review)
    inner.add_edge(START, "draft")
    inner.add_edge("draft", "review")

    def publish(state: Checked) -> dict[str, Any]:
        return {"messages": [AIMessage(f"Published with verdict {state['verdict']}.")]}

    builder = builder_type(Checked)
    builder.add_node("check", inner.compile(name="check"))
    builder.add_node("publish", publish)
    builder.add_edge(START, "check")
    builder.add_edge("check", "publish")
    return builder.compile(checkpointer=InMemorySaver(), **({"name": "checked"} if builder_type is StateGraph else {}))


def test_an_interrupt_inside_a_subgraph_pauses_and_resumes_the_parent_as_natively() -> None:
    native_writer, writer = scripted(AIMessage("A draft.")), scripted(AIMessage("A draft."))
    native, graph = checked_graph(NativeStateGraph, native_writer), checked_graph(StateGraph, writer)
    config = {"configurable": {"thread_id": "checked-1"}}
    expected_first = native.invoke({"messages": [HumanMessage("Write.")]}, config)
    first = graph.invoke({"messages": [HumanMessage("Write.")]}, config)
    (pending,) = first["__interrupt__"]
    assert pending.value == expected_first["__interrupt__"][0].value == {"draft": "A draft."}
    assert shape(first["messages"]) == shape(expected_first["messages"])
    (listed,) = get_runtime().pending_approvals("checked-1-1")
    assert listed.call_id == pending.id

    expected = native.invoke(Command(resume={"verdict": "ship it"}), config)
    final = graph.invoke(Command(resume={"verdict": "ship it"}), config)
    assert final["verdict"] == expected["verdict"] == "ship it"
    assert shape(final["messages"]) == shape(expected["messages"])
    assert len(writer.seen) == len(native_writer.seen) == 1  # the draft, before the interrupt, is not asked again

    first_child, resumed_child = (child for _, child in children("checked-1-1"))
    assert resumed_child == f"{first_child}-2"  # the resumed task's second call of its subgraph
    assert activities(first_child) == [MODEL_ACTIVITY] and activities(resumed_child) == []


@pytest.mark.usefixtures("cold_replay")
def test_subgraphs_replayed_cold_call_nothing_twice() -> None:
    """Every work item replays the parent and its children from scratch: the same child ids, no call made twice."""
    native_models, durable_models = Models(), Models()
    native = desk(NativeStateGraph, native_models).invoke(QUESTION)
    weather_runs.clear()
    out = desk(StateGraph, durable_models, name="desk-cold").invoke(QUESTION, {"configurable": {"thread_id": "desk-cold"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert durable_models.seen() == native_models.seen()
    assert weather_runs == {"Paris": 1}
    assert len(children("desk-cold")) == 2
