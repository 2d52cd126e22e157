"""``runs show`` / ``runs list`` of a real durable run: the timeline read from the run's history.

A ReAct graph with a ``durable_node`` first step, LangChain's own ``ChatOpenAI`` over HTTP
against the scripted server, and a ``ToolNode``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState
from langgraph.prebuilt import ToolNode, tools_condition
from scripted import get_weather

from dapr_agents_durable.adapters.langgraph import StateGraph, durable_node
from dapr_agents_durable.operator.summary import Timeline, summarize, timeline
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import ScriptedModelServer, text, tool_call
from dapr_agents_durable.testing.spans import captured_spans


class Trip(MessagesState):
    city: str


def _view(run_id: str) -> Timeline | None:
    runtime = get_runtime()
    state = runtime.state(run_id)
    return None if state is None else timeline(state, runtime.raw_history(run_id), _view)


def test_timeline_and_spans_name_the_model_its_tokens_the_tool_calls_and_the_node() -> None:
    spans = captured_spans()
    spans.clear()
    with ScriptedModelServer([tool_call("get_weather", {"city": "Paris"}), text("Sunny in Paris.")]) as server:
        model = ChatOpenAI(model="scripted", base_url=server.base_url, api_key="sk-test", max_retries=0)
        bound = model.bind_tools([get_weather])

        def locate(state: Trip) -> dict[str, Any]:
            return {"city": "Paris"}

        def agent(state: Trip) -> dict[str, Any]:
            return {"messages": [bound.invoke(state["messages"])]}

        builder = StateGraph(Trip)
        builder.add_node("locate", durable_node(locate))
        builder.add_node("agent", agent)
        builder.add_node("tools", ToolNode([get_weather]))
        builder.add_edge(START, "locate")
        builder.add_edge("locate", "agent")
        builder.add_conditional_edges("agent", tools_condition)
        builder.add_edge("tools", "agent")
        graph = builder.compile(name="trip-planner")
        out = graph.invoke({"messages": [HumanMessage("Weather here?")]}, {"configurable": {"thread_id": "view-lg"}})
    assert out["messages"][-1].content == "Sunny in Paris."

    view = _view("view-lg")
    assert view is not None and view.summary.agent == "trip-planner"
    assert [s.name for s in view.steps] == ["langgraph.node", "langgraph.model", "langgraph.tool", "langgraph.model"]
    answers = [m for m in out["messages"] if m.type == "ai"]
    usages = [m.usage_metadata for m in answers]
    assert usages[0]["input_tokens"] > 0 and usages[0]["output_tokens"] > 0
    assert [s.detail for s in view.steps if s.name == "langgraph.model"] == [
        f"scripted {u['input_tokens']} in / {u['output_tokens']} out tokens" for u in usages]
    assert view.steps[0].detail == 'locate -> {"city": "Paris"}'
    assert view.steps[2].detail == 'get_weather {"city": "Paris"} -> sunny in Paris'

    listed = summarize(get_runtime().state("view-lg"), get_runtime().raw_history("view-lg"))
    assert (listed.framework, listed.agent, listed.steps) == ("langgraph", "trip-planner", 4)
    assert view.to_json()["timeline"][2]["detail"] == view.steps[2].detail  # --json carries the detail
    assert spans.models() == [("scripted", u["input_tokens"], u["output_tokens"]) for u in usages]
    assert spans.tools() == ["get_weather"] and len(spans.trace_ids()) == 1
