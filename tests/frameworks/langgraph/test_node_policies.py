"""Node retry policies, the recursion limit and node caching: durable runs end as native ones do."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.cache.memory import InMemoryCache
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.types import CachePolicy, Command, RetryPolicy, interrupt
from scripted import ScriptedChatModel, scripted, shape
from test_react import activities

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.adapters.langgraph.names import CACHE_ACTIVITY, MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime

lookups: Counter[str] = Counter()
FAILURES = 2


@tool
def lookup(city: str) -> str:
    """Look a city up; fails the first FAILURES times it is asked about each city."""
    lookups[city] += 1
    if lookups[city] <= FAILURES:
        raise ValueError(f"lookup of {city} unavailable (attempt {lookups[city]})")
    return f"{city}: 21 C"


def retrying(builder_type: Any, model: ScriptedChatModel, attempts: int, **compile: Any) -> Any:
    """A node that asks the model, then looks the city up (failing twice), retried on ValueError."""

    def research(state: MessagesState) -> dict[str, Any]:
        plan = model.invoke(state["messages"])
        return {"messages": [plan, AIMessage(lookup.invoke({"city": str(plan.content)}))]}

    builder = builder_type(MessagesState)
    builder.add_node("research", research, retry_policy=RetryPolicy(
        max_attempts=attempts, retry_on=ValueError, initial_interval=0.5, jitter=False))
    builder.add_edge(START, "research")
    builder.add_edge("research", END)
    return builder.compile(**compile)


def cities(n: int) -> ScriptedChatModel:
    return scripted(*[AIMessage("Paris") for _ in range(n)])


QUESTION = {"messages": [HumanMessage("Which city?")]}


def test_a_node_retried_on_its_policy_ends_as_natively_and_pays_its_model_call_once() -> None:
    lookups.clear()
    native_model, durable_model = cities(3), cities(3)
    native = retrying(NativeStateGraph, native_model, 3).invoke(QUESTION)
    assert len(native_model.seen) == 3 and lookups["Paris"] == 3  # natively the node runs again from its start
    lookups.clear()
    out = retrying(StateGraph, durable_model, 3, name="retry-node").invoke(
        QUESTION, {"configurable": {"thread_id": "retry-node"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert len(durable_model.seen) == 1  # the model call that succeeded is not made again on a retry
    assert lookups["Paris"] == 3
    assert activities("retry-node") == [MODEL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY]
    timers = [e for e in get_runtime().history("retry-node") if e.event_type == EventType.TIMER_CREATED]
    assert len(timers) == FAILURES  # the policy's waits between attempts are durable timers


def test_a_node_out_of_retries_raises_what_it_raises_natively() -> None:
    lookups.clear()
    with pytest.raises(ValueError) as native:
        retrying(NativeStateGraph, cities(2), 2).invoke(QUESTION)
    lookups.clear()
    with pytest.raises(ValueError) as durable:
        retrying(StateGraph, cities(2), 2, name="retry-out").invoke(QUESTION, {"configurable": {"thread_id": "retry-out"}})
    assert str(durable.value) == str(native.value) == "lookup of Paris unavailable (attempt 2)"


def looping(builder_type: Any, model: ScriptedChatModel) -> Any:
    def think(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("think", think)
    builder.add_edge(START, "think")
    builder.add_edge("think", "think")
    return builder.compile(name="forever")


def test_the_recursion_limit_raises_graph_recursion_error_as_natively() -> None:
    native_model, durable_model = cities(10), cities(10)
    with pytest.raises(GraphRecursionError) as native:
        looping(NativeStateGraph, native_model).invoke(QUESTION, {"recursion_limit": 3})
    with pytest.raises(GraphRecursionError) as durable:
        looping(StateGraph, durable_model).invoke(QUESTION, {"configurable": {"thread_id": "forever"}, "recursion_limit": 3})
    assert str(durable.value) == str(native.value)
    assert len(durable_model.seen) == len(native_model.seen) == 3


def cached(builder_type: Any, model: ScriptedChatModel, runs: Counter[str], **compile: Any) -> Any:
    def summarize(state: MessagesState) -> dict[str, Any]:
        runs["summarize"] += 1
        return {"messages": [model.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("summarize", summarize, cache_policy=CachePolicy(ttl=600))
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", END)
    return builder.compile(cache=InMemoryCache(), **compile)


def test_a_cached_node_answers_the_second_call_from_its_cache_as_natively() -> None:
    replies = [AIMessage("Short."), AIMessage("Another.")]
    native_runs, durable_runs = Counter[str](), Counter[str]()
    native_model, durable_model = scripted(*replies), scripted(*replies)
    native, graph = cached(NativeStateGraph, native_model, native_runs), cached(StateGraph, durable_model, durable_runs, name="cached")
    outs = []
    for n, text in enumerate(("Summarize.", "Summarize.", "Something else.")):
        question = {"messages": [HumanMessage(text, id=text)]}  # the cache key is the node's input
        expected = native.invoke(question)
        out = graph.invoke(question, {"configurable": {"thread_id": f"cached-{n}"}})
        assert shape(out["messages"]) == shape(expected["messages"])
        outs.append(out["messages"][-1].content)
    assert outs == ["Short.", "Short.", "Another."]
    assert len(durable_model.seen) == len(native_model.seen) == 2
    assert activities("cached-0") == [CACHE_ACTIVITY, MODEL_ACTIVITY]
    assert activities("cached-1") == [CACHE_ACTIVITY]  # the lookup is recorded, the hit skips the model


def cached_then_asked(builder_type: Any, model: ScriptedChatModel, cache: InMemoryCache) -> Any:
    def summarize(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def ask(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(str(interrupt("Publish?")))]}

    builder = builder_type(MessagesState)
    builder.add_node("summarize", summarize, cache_policy=CachePolicy(ttl=600))
    builder.add_node("ask", ask)
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", "ask")
    return builder.compile(cache=cache, checkpointer=InMemorySaver(), name="cached-ask")


def test_a_cache_hit_stays_a_hit_when_the_run_replays_after_the_cache_is_gone(cold_replay: None) -> None:
    question = {"messages": [HumanMessage("Summarize.", id="q")]}
    results = []
    for builder_type in (NativeStateGraph, StateGraph):
        cache, model = InMemoryCache(), scripted(AIMessage("Short."), AIMessage("Another."))
        graph = cached_then_asked(builder_type, model, cache)
        first = graph.invoke(question, {"configurable": {"thread_id": f"cache-fill-{builder_type.__name__}"}})
        config = {"configurable": {"thread_id": f"cache-hit-{builder_type.__name__}"}}
        paused = graph.invoke(question, config)
        cache.clear()  # a restarted process, or the entry's ttl passed, while the run waits
        out = graph.invoke(Command(resume="yes"), config)
        results.append(([m.content for m in first["messages"]], [m.content for m in paused["messages"]],
                         [m.content for m in out["messages"]], len(model.seen)))
    assert results[1] == results[0] == (["Summarize.", "Short."], ["Summarize.", "Short."],
                                        ["Summarize.", "Short.", "yes"], 1)
