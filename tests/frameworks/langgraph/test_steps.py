"""A durable ReAct run's steps: each node runs once per step, and model requests store only their new messages."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, message_to_dict
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from scripted import ScriptedChatModel, call, get_weather, scripted, shape

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.adapters.langgraph.codec import MessageData
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.recorded import RecordedActivities

TURNS = 8
QUESTION = {"messages": [HumanMessage("Weather in every city, one at a time?")]}


def looping(turns: int) -> ScriptedChatModel:
    """One weather call per reply for ``turns`` replies, then an answer."""
    calls = [AIMessage("", tool_calls=[call("get_weather", f"c{n}", city=f"City{n}")]) for n in range(turns)]
    return scripted(*calls, AIMessage("Sunny everywhere."))


def counted_react(builder_type: Any, model: ScriptedChatModel, runs: Counter[str], **compile: Any) -> Any:
    """The ReAct graph with a sync model node that counts how often its code runs."""
    bound = model.bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, Any]:
        runs["agent"] += 1
        return {"messages": [bound.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(**compile)


def run_both(turns: int, thread: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Native and durable runs of the same script: their outputs, models and node counts."""
    native_model, durable_model = looping(turns), looping(turns)
    native_runs, durable_runs = Counter[str](), Counter[str]()
    native = counted_react(NativeStateGraph, native_model, native_runs).invoke(QUESTION, {"recursion_limit": 4 * turns + 10})
    out = counted_react(StateGraph, durable_model, durable_runs, name=f"steps-{thread}").invoke(
        QUESTION, {"configurable": {"thread_id": thread}, "recursion_limit": 4 * turns + 10}
    )
    assert shape(out["messages"]) == shape(native["messages"])
    assert [shape(seen) for seen in durable_model.seen] == [shape(seen) for seen in native_model.seen]
    return {"runs": native_runs["agent"]}, {"runs": durable_runs["agent"]}


@pytest.fixture(scope="module")
def warm_run() -> tuple[dict[str, Any], dict[str, Any]]:
    return run_both(TURNS, "steps-warm")


def test_a_sync_model_node_runs_once_per_step(warm_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    native, durable = warm_run
    assert native["runs"] == TURNS + 1
    # Once per step, live, plus at most one replay of the steps before the run first moved to
    # the thread holding its greenlet (replayed at every work item, it would run about TURNS²/2 times).
    assert TURNS + 1 <= durable["runs"] <= 2 * TURNS + 1


def test_model_requests_store_only_the_new_messages(warm_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    requests = RecordedActivities(get_runtime().raw_history("steps-warm")).inputs(MODEL_ACTIVITY)
    assert len(requests) == TURNS + 1
    first, *later = requests
    assert first["base"] is None and [m["type"] for m in first["set"]["messages"]] == ["human"]
    for seq, request in enumerate(later, start=2):
        assert (request["seq"], request["base"]) == (seq, seq - 1)
        assert "set" not in request and "drop" not in request
        assert [m["type"] for m in request["extend"]["messages"]] == ["ai", "tool"]


def test_each_message_object_is_encoded_once_and_a_new_or_replaced_one_again() -> None:
    question, answer = HumanMessage("Weather?", id="q"), AIMessage("Sunny.", id="a")
    encoded = MessageData()
    first, first_texts = encoded.encode([question])
    later, later_texts = encoded.encode([question, answer])
    assert later[0] is first[0] and later_texts[0] == first_texts[0]
    assert later == [message_to_dict(question), message_to_dict(answer)]
    replaced = AIMessage("Rainy.", id="a")  # an update replaces the message object
    again, again_texts = encoded.encode([question, replaced])
    assert again[1] == message_to_dict(replaced) and again_texts[1] != later_texts[1]
