"""A hand-built ReAct graph and create_react_agent, durable vs native under the same script."""

from __future__ import annotations

from typing import Any

import pytest

from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, create_react_agent, tools_condition
from scripted import ScriptedChatModel, call, get_weather, scripted, shape, weather_runs

from dapr_agents_durable.adapters.langgraph import StateGraph, durable
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime


def script() -> ScriptedChatModel:
    return scripted(
        AIMessage("", tool_calls=[call("get_weather", "c1", city="Paris"), call("get_weather", "c2", city="Oslo")],
                  usage_metadata={"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}),
        AIMessage("Sunny in both.", usage_metadata={"input_tokens": 9, "output_tokens": 4, "total_tokens": 13}),
    )


def react(builder_type: Any, model: ScriptedChatModel, **compile: Any) -> Any:
    bound = model.bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(**compile)


def activities(run_id: str) -> list[str]:
    return [
        e.name for e in get_runtime().history(run_id) if e.event_type == EventType.TASK_SCHEDULED
    ]


def test_hand_built_react_graph_matches_native() -> None:
    question = {"messages": [HumanMessage("Weather in Paris and Oslo?")]}
    native_model, durable_model = script(), script()
    native = react(NativeStateGraph, native_model).invoke(question)
    weather_runs.clear()
    graph = react(StateGraph, durable_model, name="react-hand")
    out = graph.invoke(question, {"configurable": {"thread_id": "react-1"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert [shape(seen) for seen in durable_model.seen] == [shape(seen) for seen in native_model.seen]
    assert weather_runs == {"Paris": 1, "Oslo": 1}
    assert activities("react-1") == [MODEL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
    again = graph.invoke(question, {"configurable": {"thread_id": "react-1"}})
    assert shape(again["messages"]) == shape(native["messages"])
    assert len(durable_model.seen) == 2  # a finished run without a checkpointer calls nothing again
    assert weather_runs == {"Paris": 1, "Oslo": 1}


def test_create_react_agent_through_durable_matches_native_stream() -> None:
    question = {"messages": [HumanMessage("Weather in Paris and Oslo?")]}
    native = list(create_react_agent(script(), [get_weather]).stream(question, stream_mode="updates"))
    agent = durable(create_react_agent(script(), [get_weather]), name="react-prebuilt")
    chunks = list(agent.stream(question, {"configurable": {"thread_id": "react-2"}}, stream_mode="updates"))
    assert [list(c) for c in chunks] == [list(c) for c in native]

    def updates(stream: list[Any]) -> list[str]:  # the two tool calls run concurrently: either may finish first
        return sorted(repr(shape(next(iter(c.values()))["messages"])) for c in stream)

    assert updates(chunks) == updates(native)
    assert shape(next(iter(chunks[-1].values()))["messages"]) == shape(next(iter(native[-1].values()))["messages"])


def test_conversation_turns_on_a_checkpointed_thread() -> None:
    replies = [AIMessage("Hello!"), AIMessage("You said hi before.")]
    native_model, durable_model = scripted(*replies), scripted(*replies)
    native = react(NativeStateGraph, native_model, checkpointer=InMemorySaver())
    graph = react(StateGraph, durable_model, checkpointer=InMemorySaver(), name="react-turns")
    config = {"configurable": {"thread_id": "chat-1"}}
    for text in ("hi", "what did I say?"):
        expected = native.invoke({"messages": [HumanMessage(text)]}, config)
        out = graph.invoke({"messages": [HumanMessage(text)]}, config)
        assert shape(out["messages"]) == shape(expected["messages"])
    assert len(out["messages"]) == 4
    assert shape(graph.get_state(config).values["messages"]) == shape(out["messages"])


def test_update_state_and_state_history_on_a_checkpointed_thread() -> None:
    replies = [AIMessage("Hello!"), AIMessage("Noted: you are Ada.")]
    native = react(NativeStateGraph, scripted(*replies), checkpointer=InMemorySaver())
    graph = react(StateGraph, scripted(*replies), checkpointer=InMemorySaver(), name="react-update")
    config = {"configurable": {"thread_id": "update-1"}}
    for g in (native, graph):
        g.invoke({"messages": [HumanMessage("hi")]}, config)
        g.update_state(config, {"messages": [HumanMessage("I am Ada.")]}, as_node="agent")
        g.invoke({"messages": [HumanMessage("remember me?")]}, config)
    expected = native.get_state(config).values["messages"]
    assert shape(graph.get_state(config).values["messages"]) == shape(expected)
    history = list(graph.get_state_history(config))
    assert [len(s.values["messages"]) for s in history] == [5, 3, 2]  # newest first: one snapshot per durable run
    assert shape(history[1].values["messages"]) == shape(expected[:3])
    assert len(list(graph.get_state_history(config, limit=1))) == 1
    earlier = {"configurable": {**history[1].config["configurable"], "thread_id": "update-1"}}
    with pytest.raises(ValueError, match="checkpoint_id"):
        graph.invoke({"messages": [HumanMessage("again")]}, earlier)


def test_state_history_needs_a_checkpointer_as_natively() -> None:
    graph = react(StateGraph, script(), name="react-no-history")
    config = {"configurable": {"thread_id": "no-history"}}
    with pytest.raises(ValueError, match="No checkpointer set"):
        list(graph.get_state_history(config))
    with pytest.raises(ValueError, match="No checkpointer set"):
        graph.update_state(config, {"messages": []})
