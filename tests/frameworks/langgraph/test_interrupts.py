"""interrupt() waits on a workflow event; resumed natively or through the runtime's approvals API."""

from __future__ import annotations

import json
import operator
from typing import Annotated, Any, NotRequired

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.types import Command, interrupt
from scripted import ScriptedChatModel, scripted, shape
from test_react import activities

from dapr_agents_durable.adapters.langgraph import StateGraph, UnfinishedRunError
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY
from dapr_agents_durable.runtime import RunIdInUse, get_runtime
from dapr_agents_durable.runtime.approvals import Decision


class ReviewState(MessagesState):
    verdict: NotRequired[str]


def review_graph(builder_type: Any, writer: ScriptedChatModel, **compile: Any) -> Any:
    def draft(state: ReviewState) -> dict[str, Any]:
        return {"messages": [writer.invoke(state["messages"])]}

    def review(state: ReviewState) -> dict[str, Any]:
        decision = interrupt({"draft": state["messages"][-1].content})
        return {"verdict": decision["verdict"]}

    def publish(state: ReviewState) -> dict[str, Any]:
        note = HumanMessage(f"The reviewer says: {state['verdict']}")
        return {"messages": [note, writer.invoke([*state["messages"], note])]}

    builder = builder_type(ReviewState)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_node("publish", publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=InMemorySaver(), **compile)


def replies() -> list[AIMessage]:
    return [AIMessage("A draft."), AIMessage("Published.")]


def test_interrupt_and_native_resume_match_native() -> None:
    native = review_graph(NativeStateGraph, scripted(*replies()))
    writer = scripted(*replies())
    graph = review_graph(StateGraph, writer, name="review-native")
    config = {"configurable": {"thread_id": "review-1"}}
    expected_first = native.invoke({"messages": [HumanMessage("Write.")]}, config)
    first = graph.invoke({"messages": [HumanMessage("Write.")]}, config)
    (pending,) = first["__interrupt__"]
    assert pending.value == expected_first["__interrupt__"][0].value == {"draft": "A draft."}
    assert shape(first["messages"]) == shape(expected_first["messages"])
    (listed,) = get_runtime().pending_approvals("review-1-1")
    assert (listed.call_id, listed.tool, json.loads(listed.arguments)) == (pending.id, "interrupt", pending.value)

    with pytest.raises(UnfinishedRunError, match="Command\\(resume"):
        graph.invoke({"messages": [HumanMessage("Something else.")]}, config)
    other = review_graph(StateGraph, scripted(*replies()), name="review-other")
    with pytest.raises(RunIdInUse, match="thread 'review-1' has an unfinished durable run 'review-1-1' of graph "
                                         "'review-native', not 'review-other'"):
        other.invoke(Command(resume={"verdict": "ship it"}), config)  # another graph may not resume this run

    expected = native.invoke(Command(resume={"verdict": "ship it"}), config)
    final = graph.invoke(Command(resume={"verdict": "ship it"}), config)
    assert final["verdict"] == expected["verdict"] == "ship it"
    assert shape(final["messages"]) == shape(expected["messages"])
    assert len(writer.seen) == 2


def test_interrupt_resumed_through_the_runtime_api() -> None:
    writer = scripted(*replies())
    graph = review_graph(StateGraph, writer, name="review-api")
    config = {"configurable": {"thread_id": "review-2"}}
    first = graph.invoke({"messages": [HumanMessage("Write.")]}, config)
    (pending,) = first["__interrupt__"]
    runtime = get_runtime()
    runtime.decide("review-2-1", Decision(pending.id, approved=True, arguments=json.dumps({"verdict": "fine"})))
    runtime.wait("review-2-1", timeout=120)
    state = graph.get_state(config)
    assert state.values["verdict"] == "fine"
    assert [m.content for m in state.values["messages"]] == ["Write.", "A draft.", "The reviewer says: fine", "Published."]
    assert not state.next


def yes_no_graph(builder_type: Any) -> Any:
    def ask(state: ReviewState) -> dict[str, Any]:
        return {"verdict": repr(interrupt("Publish?"))}

    builder = builder_type(ReviewState)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=InMemorySaver(), name="yes-no")


@pytest.mark.parametrize("answer", [False, True, "later", {"when": "Monday"}])
def test_resume_values_reach_interrupt_as_natively(answer: Any) -> None:
    native, graph = yes_no_graph(NativeStateGraph), yes_no_graph(StateGraph)
    config = {"configurable": {"thread_id": f"yes-no-{answer!r}"}}
    for g in (native, graph):
        g.invoke({"messages": [HumanMessage("Go.")]}, config)
    expected = native.invoke(Command(resume=answer), config)
    assert graph.invoke(Command(resume=answer), config)["verdict"] == expected["verdict"] == repr(answer)


def test_a_resume_value_that_is_no_decision_is_refused_with_a_way_out() -> None:
    graph = yes_no_graph(StateGraph)
    config = {"configurable": {"thread_id": "yes-no-number"}}
    graph.invoke({"messages": [HumanMessage("Go.")]}, config)
    with pytest.raises(TypeError, match=r"got int .*Command\(resume=\{'value'"):
        graph.invoke(Command(resume=3), config)
    assert graph.invoke(Command(resume={"value": 3}), config)["verdict"] == repr({"value": 3})


class Both(MessagesState):
    answers: Annotated[list[str], operator.add]


def two_interrupts_graph(builder_type: Any) -> Any:
    def ask_a(state: Both) -> dict[str, Any]:
        return {"answers": [f"a={interrupt('A?')}"]}

    def ask_b(state: Both) -> dict[str, Any]:
        return {"answers": [f"b={interrupt('B?')}"]}

    builder = builder_type(Both)
    builder.add_node("ask_a", ask_a)
    builder.add_node("ask_b", ask_b)
    builder.add_edge(START, "ask_a")
    builder.add_edge(START, "ask_b")  # one super-step, two interrupts
    return builder.compile(checkpointer=InMemorySaver(), name="two-interrupts")


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_two_interrupts_in_one_super_step_resume_as_natively(one_at_a_time: bool) -> None:
    config = {"configurable": {"thread_id": f"two-{one_at_a_time}"}}
    seen = []
    for graph in (two_interrupts_graph(NativeStateGraph), two_interrupts_graph(StateGraph)):
        first = graph.invoke({"messages": [HumanMessage("Go.")]}, config)
        by_value = {i.value: i.id for i in first["__interrupt__"]}
        steps = [{by_value["A?"]: "yes"}, {by_value["B?"]: "no"}] if one_at_a_time else [
            {by_value["A?"]: "yes", by_value["B?"]: "no"}]
        outcomes = []
        for resume in steps:
            out = graph.invoke(Command(resume=resume), config)
            outcomes.append((sorted(out["answers"]), sorted(i.value for i in out.get("__interrupt__", ()))))
        seen.append((sorted(by_value), outcomes))
    assert seen[1] == seen[0]
    assert seen[0][1][-1] == (["a=yes", "b=no"], [])


def ask_after_drafting_graph(builder_type: Any, writer: ScriptedChatModel) -> Any:
    def draft_and_ask(state: ReviewState) -> dict[str, Any]:
        draft = writer.invoke(state["messages"])  # natively made again when the node resumes
        return {"messages": [draft], "verdict": interrupt({"draft": draft.content})}

    builder = builder_type(ReviewState)
    builder.add_node("draft_and_ask", draft_and_ask)
    builder.add_edge(START, "draft_and_ask")
    return builder.compile(checkpointer=InMemorySaver(), name="draft-and-ask")


def test_a_model_call_before_interrupt_in_the_same_node_is_not_paid_again() -> None:
    config = {"configurable": {"thread_id": "draft-and-ask"}}
    native_writer, writer = scripted(AIMessage("Draft one."), AIMessage("Draft two.")), scripted(AIMessage("Draft one."))
    native, graph = ask_after_drafting_graph(NativeStateGraph, native_writer), ask_after_drafting_graph(StateGraph, writer)
    for g in (native, graph):
        assert g.invoke({"messages": [HumanMessage("Write.")]}, config)["__interrupt__"][0].value == {"draft": "Draft one."}
    assert native.invoke(Command(resume="ok"), config)["messages"][-1].content == "Draft two."
    assert len(native_writer.seen) == 2  # natively the resumed node asks the model again
    out = graph.invoke(Command(resume="ok"), config)
    assert (out["messages"][-1].content, out["verdict"]) == ("Draft one.", "ok")
    assert len(writer.seen) == 1
    assert activities("draft-and-ask-1") == [MODEL_ACTIVITY]
