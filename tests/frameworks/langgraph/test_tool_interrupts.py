"""interrupt() inside a tool called by ToolNode: the run pauses and resumes as natively."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt
from scripted import ScriptedChatModel, call, scripted, shape
from test_react import activities

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.approvals import Decision

bookings: Counter[str] = Counter()


@tool
def book(city: str) -> str:
    """Book a trip to a city once a person approves it."""
    answer = interrupt({"book": city})
    bookings[city] += 1
    return f"booked {city}" if answer == "yes" else f"not booked: {answer}"


@tool
def book_twice_checked(city: str) -> str:
    """Book a trip after two approvals: the dates, then the price."""
    dates = interrupt({"dates for": city})
    price = interrupt({"price for": city})
    return f"{city}: {dates} at {price}"


def booking(builder_type: Any, model: ScriptedChatModel, tool_: Any, **compile: Any) -> Any:
    bound = model.bind_tools([tool_])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([tool_]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=InMemorySaver(), **compile)


def script(name: str) -> ScriptedChatModel:
    return scripted(AIMessage("", tool_calls=[call(name, "b1", city="Paris")]), AIMessage("Done."))


QUESTION = {"messages": [HumanMessage("Book Paris.")]}


def test_a_tool_interrupts_its_run_and_a_native_resume_runs_it_again_with_the_value() -> None:
    config = {"configurable": {"thread_id": "tool-interrupt"}}
    native_model, durable_model = script("book"), script("book")
    native = booking(NativeStateGraph, native_model, book)
    graph = booking(StateGraph, durable_model, book, name="tool-interrupt")
    bookings.clear()
    expected_first = native.invoke(QUESTION, config)
    first = graph.invoke(QUESTION, config)
    (pending,) = first["__interrupt__"]
    (expected_pending,) = expected_first["__interrupt__"]
    assert pending.value == expected_pending.value == {"book": "Paris"}
    assert shape(first["messages"]) == shape(expected_first["messages"])
    (listed,) = get_runtime().pending_approvals("tool-interrupt-1")
    assert (listed.call_id, listed.tool, json.loads(listed.arguments)) == (pending.id, "interrupt", {"book": "Paris"})
    assert bookings["Paris"] == 0

    expected = native.invoke(Command(resume="yes"), config)
    out = graph.invoke(Command(resume="yes"), config)
    assert shape(out["messages"]) == shape(expected["messages"])
    assert out["messages"][-2].content == "booked Paris"
    assert bookings["Paris"] == 2  # once natively, once durably: the tool runs again on resume as natively
    assert len(durable_model.seen) == len(native_model.seen) == 2
    assert activities("tool-interrupt-1") == [MODEL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]


def test_a_tool_interrupting_twice_resumes_each_in_order_as_natively() -> None:
    config = {"configurable": {"thread_id": "tool-twice"}}
    native = booking(NativeStateGraph, script("book_twice_checked"), book_twice_checked)
    graph = booking(StateGraph, script("book_twice_checked"), book_twice_checked, name="tool-twice")
    seen = []
    for g in (native, graph):
        out = g.invoke(QUESTION, config)
        asked: list[Any] = []
        ids: list[str] = []
        for answer in ("May 1-3", "900 EUR"):
            (pending,) = out["__interrupt__"]
            asked.append(pending.value)
            ids.append(pending.id)
            if g is graph:
                assert [p.call_id for p in get_runtime().pending_approvals("tool-twice-1")] == [pending.id]
            out = g.invoke(Command(resume=answer), config)
        seen.append((asked, shape(out["messages"])))
    assert seen[1] == seen[0]
    assert len(set(ids)) == 2  # the tool's second interrupt has an id of its own, as natively
    assert seen[0][1][-2][1] == "Paris: May 1-3 at 900 EUR"


def test_a_tool_interrupt_is_answered_from_the_approvals_api() -> None:
    config = {"configurable": {"thread_id": "tool-api"}}
    graph = booking(StateGraph, script("book"), book, name="tool-api")
    (pending,) = graph.invoke(QUESTION, config)["__interrupt__"]
    runtime = get_runtime()
    runtime.decide("tool-api-1", Decision(pending.id, approved=True, message="yes"))
    runtime.wait("tool-api-1", timeout=120)
    assert [m.content for m in graph.get_state(config).values["messages"]][-2:] == ["booked Paris", "Done."]


def test_a_tool_interrupting_twice_resumes_the_same_when_every_step_replays(cold_replay: None) -> None:
    config = {"configurable": {"thread_id": "tool-cold"}}
    graph = booking(StateGraph, script("book_twice_checked"), book_twice_checked, name="tool-cold")
    out = graph.invoke(QUESTION, config)
    for answer in ("May 1-3", "900 EUR"):
        out = graph.invoke(Command(resume=answer), config)
    assert [m.content for m in out["messages"]][-2:] == ["Paris: May 1-3 at 900 EUR", "Done."]
    assert activities("tool-cold-1") == [MODEL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
