"""LangGraph's own Pregel loop (``ainvoke``), hosted by the durable loop on the engine.

Each workflow drives a real graph; the scripted chat model and the tools run only in
activities. The worker replays the graph from history on every work item, so a
completed run also shows that every replay requested the same activities with the
same inputs.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any, NotRequired

import pytest
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    messages_from_dict,
    messages_to_dict,
)
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import create_react_agent
from langgraph.types import Command, interrupt
from langgraph_seams import (
    MODEL_ACTIVITY,
    TOOL_ACTIVITY,
    DurableChatModel,
    chat_models,
    durable_tool_node,
)
from pydantic import Field

from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.runtime import DurableRuntime

WAIT_SECONDS = 120


class ScriptedChatModel(GenericFakeChatModel):
    """Answers from its script; records the conversations it gets and its tools."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        self.bound_tools = [schema["function"]["name"] for schema in tools]
        return self

    def _generate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(name: str, *replies: AIMessage) -> ScriptedChatModel:
    model = ScriptedChatModel(messages=iter(replies))
    chat_models.add(name, model)
    return model


weather_runs: Counter[str] = Counter()
weather_lock = threading.Lock()


@tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    with weather_lock:
        weather_runs[city] += 1
    return f"sunny in {city}"


# ---------------------------------------------------------------- a ReAct agent


react_agent = create_react_agent(
    DurableChatModel(model_name="react"), durable_tool_node([get_weather])
)


async def react_main(question: str) -> Any:
    out = await react_agent.ainvoke({"messages": [HumanMessage(question)]})
    return messages_to_dict(out["messages"])


def react_workflow(ctx: Any, question: str) -> Any:
    return (yield from drive(ctx, lambda: react_main(question), label="graph 'react'"))


# ---------------------------------------------------------------- interrupt and resume


class ReviewState(MessagesState):
    verdict: NotRequired[str]


writer = DurableChatModel(model_name="writer")


async def draft(state: ReviewState) -> dict[str, Any]:
    return {"messages": [await writer.ainvoke(state["messages"])]}


async def review(state: ReviewState) -> dict[str, Any]:
    decision = interrupt({"draft": state["messages"][-1].content})
    return {"verdict": decision["verdict"]}


async def publish(state: ReviewState) -> dict[str, Any]:
    note = HumanMessage(f"The reviewer says: {state['verdict']}")
    return {"messages": [note, await writer.ainvoke([*state["messages"], note])]}


review_graph = (
    StateGraph(ReviewState)
    .add_node("draft", draft)
    .add_node("review", review)
    .add_node("publish", publish)
    .add_edge(START, "draft")
    .add_edge("draft", "review")
    .add_edge("review", "publish")
    .add_edge("publish", END)
)

interrupt_ids: list[str] = []
interrupt_reached = threading.Event()


async def review_main(topic: str) -> dict[str, Any]:
    graph = review_graph.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {
        "configurable": {"thread_id": current_execution().instance_id}
    }
    first = await graph.ainvoke({"messages": [HumanMessage(topic)]}, config)
    (pending,) = first["__interrupt__"]
    interrupt_ids.append(pending.id)
    interrupt_reached.set()
    decision = await current_execution().wait_for_event("review")
    final = await graph.ainvoke(Command(resume={pending.id: decision}), config)
    return {
        "interrupt": {"id": pending.id, "value": pending.value},
        "verdict": final["verdict"],
        "messages": messages_to_dict(final["messages"]),
    }


def review_workflow(ctx: Any, topic: str) -> Any:
    return (yield from drive(ctx, lambda: review_main(topic), label="graph 'review'"))


# ---------------------------------------------------------------- sync def nodes


outliner = DurableChatModel(model_name="outliner")


def outline(state: MessagesState) -> dict[str, Any]:
    return {"messages": [outliner.invoke(state["messages"])]}


def expand(state: MessagesState) -> dict[str, Any]:
    return {
        "messages": [outliner.invoke([*state["messages"], HumanMessage("Expand it.")])]
    }


sync_graph = (
    StateGraph(MessagesState)
    .add_node("outline", outline)
    .add_node("expand", expand)
    .add_edge(START, "outline")
    .add_edge("outline", "expand")
    .add_edge("expand", END)
    .compile()
)


async def sync_main(topic: str) -> Any:
    out = await sync_graph.ainvoke({"messages": [HumanMessage(topic)]})
    return messages_to_dict(out["messages"])


def sync_workflow(ctx: Any, topic: str) -> Any:
    return (yield from drive(ctx, lambda: sync_main(topic), label="graph 'sync'"))


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def durable(runtime: DurableRuntime) -> DurableRuntime:
    runtime.register_workflow("langgraph_smoke.react", react_workflow)
    runtime.register_workflow("langgraph_smoke.review", review_workflow)
    runtime.register_workflow("langgraph_smoke.sync", sync_workflow)
    return runtime


def output_of(durable: DurableRuntime, run_id: str) -> Any:
    state = durable.wait(run_id, timeout=WAIT_SECONDS)
    return json.loads(state.serialized_output)


def events(durable: DurableRuntime, run_id: str, kind: EventType) -> list[str]:
    return [event.name for event in durable.history(run_id) if event.event_type == kind]


def conversation(data: Any) -> list[tuple[str, Any]]:
    return [(message.type, message.content) for message in messages_from_dict(data)]


# ---------------------------------------------------------------- tests


def test_react_agent_runs_model_and_parallel_tool_calls_as_activities(durable) -> None:
    model = scripted(
        "react",
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_paris"},
                {"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_oslo"},
            ],
        ),
        AIMessage("Paris and Oslo are sunny."),
    )

    out = output_of(
        durable, durable.start_or_attach("langgraph_smoke.react", "Weather?", "react-1")
    )

    assert conversation(out) == [
        ("human", "Weather?"),
        ("ai", ""),
        ("tool", "sunny in Paris"),
        ("tool", "sunny in Oslo"),
        ("ai", "Paris and Oslo are sunny."),
    ]
    assert len(model.seen) == 2 and model.bound_tools == ["get_weather"]
    assert [m.type for m in model.seen[1]] == ["human", "ai", "tool", "tool"]
    assert weather_runs == Counter({"Paris": 1, "Oslo": 1})
    assert events(durable, "react-1", EventType.TASK_SCHEDULED) == [
        MODEL_ACTIVITY,
        TOOL_ACTIVITY,
        TOOL_ACTIVITY,
        MODEL_ACTIVITY,
    ]
    assert len(events(durable, "react-1", EventType.WORKFLOW_STARTED)) >= 3


@pytest.mark.usefixtures("cold_replay")
def test_interrupt_waits_for_an_event_and_keeps_its_id_across_replays(durable) -> None:
    model = scripted(
        "writer",
        AIMessage("Rain on the roof."),
        AIMessage("Published: Rain on the roof."),
    )

    run_id = durable.start_or_attach(
        "langgraph_smoke.review", "A haiku about rain, please.", "review-1"
    )
    assert interrupt_reached.wait(WAIT_SECONDS)
    durable.raise_event(run_id, "review", {"verdict": "approved"})
    out = output_of(durable, run_id)

    assert out["interrupt"]["value"] == {"draft": "Rain on the roof."}
    assert out["verdict"] == "approved"
    assert conversation(out["messages"])[-2:] == [
        ("human", "The reviewer says: approved"),
        ("ai", "Published: Rain on the roof."),
    ]
    assert len(interrupt_ids) >= 2
    assert set(interrupt_ids) == {out["interrupt"]["id"]}
    assert len(model.seen) == 2
    assert events(durable, run_id, EventType.TASK_SCHEDULED) == [
        MODEL_ACTIVITY,
        MODEL_ACTIVITY,
    ]
    assert events(durable, run_id, EventType.EVENT_RAISED) == ["review"]


def test_sync_nodes_call_the_model_through_the_greenlet_bridge(durable) -> None:
    model = scripted(
        "outliner",
        AIMessage("1. Clouds 2. Rain"),
        AIMessage("Clouds gather, then it rains."),
    )

    out = output_of(
        durable,
        durable.start_or_attach("langgraph_smoke.sync", "Outline rain.", "sync-1"),
    )

    assert conversation(out) == [
        ("human", "Outline rain."),
        ("ai", "1. Clouds 2. Rain"),
        ("ai", "Clouds gather, then it rains."),
    ]
    assert [[m.content for m in seen] for seen in model.seen] == [
        ["Outline rain."],
        ["Outline rain.", "1. Clouds 2. Rain", "Expand it."],
    ]
    assert events(durable, "sync-1", EventType.TASK_SCHEDULED) == [
        MODEL_ACTIVITY,
        MODEL_ACTIVITY,
    ]
    assert len(events(durable, "sync-1", EventType.WORKFLOW_STARTED)) >= 3
