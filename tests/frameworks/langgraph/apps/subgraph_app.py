"""A durable LangGraph graph with subgraphs, for crash tests, against an OpenAI-compatible server.

Usage: python subgraph_app.py BASE_URL THREAD_ID TOOL_LOG [MODE]

MODE "desk" (the default): the graph (no checkpointer: the thread id names one run) plans
with one model call, then runs ``research``, a compiled ReAct subgraph added as a node
(ChatOpenAI + ToolNode calling ``record_step``), then ``report``, a node that looks a
writer graph up by name and invokes it. Both subgraphs are child workflows. MODE
"review": a graph compiled with an ``InMemorySaver`` whose ``check`` subgraph drafts with
a model call and then interrupts for a review, and whose ``publish`` node publishes with
another; the app prints ``waiting <id>`` when the run waits, then resumes it with
``Command(resume=VERDICT)`` once VERDICT is set (a run without it waits to be killed).
The engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY.
Prints one JSON line: the messages' contents and, for each child workflow of the run, its
name, instance id and activities.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, NotRequired

from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.runtime import get_runtime, idempotency_key

base_url, thread, tool_log = sys.argv[1:4]
mode = sys.argv[4] if len(sys.argv) > 4 else "desk"
model = ChatOpenAI(model="scripted", base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])


@tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    with open(tool_log, "a") as log:
        log.write(json.dumps({"n": n, "key": idempotency_key(), "pid": os.getpid()}) + "\n")
        log.flush()
        os.fsync(log.fileno())
    return f"step {n} recorded"


def research() -> Any:
    bound = model.bind_tools([record_step])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = NativeStateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([record_step]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(name="research")


def writer() -> Any:
    def write(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = NativeStateGraph(MessagesState)
    builder.add_node("write", write)
    builder.add_edge(START, "write")
    return builder.compile(name="writer")


BY_NAME = {"writer": writer()}  # looked up inside the node: LangGraph does not see it as the node's subgraph


def desk() -> Any:
    def plan(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def report(state: MessagesState) -> dict[str, Any]:
        out = BY_NAME["writer"].invoke({"messages": [HumanMessage(f"Write up: {state['messages'][-1].content}")]})
        return {"messages": [out["messages"][-1]]}

    builder = StateGraph(MessagesState)
    builder.add_node("plan", plan)
    builder.add_node("research", research())
    builder.add_node("report", report)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "research")
    builder.add_edge("research", "report")
    return builder.compile(name="desk")


class Review(MessagesState):
    verdict: NotRequired[str]


def review() -> Any:
    def draft(state: Review) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def ask(state: Review) -> dict[str, Any]:
        return {"verdict": interrupt({"draft": state["messages"][-1].content})}

    check = NativeStateGraph(Review)
    check.add_node("draft", draft)
    check.add_node("ask", ask)
    check.add_edge(START, "draft")
    check.add_edge("draft", "ask")

    def publish(state: Review) -> dict[str, Any]:
        note = HumanMessage(f"The reviewer says: {state['verdict']}")
        return {"messages": [note, model.invoke([*state["messages"], note])]}

    builder = StateGraph(Review)
    builder.add_node("check", check.compile(name="check"))
    builder.add_node("publish", publish)
    builder.add_edge(START, "check")
    builder.add_edge("check", "publish")
    return builder.compile(checkpointer=InMemorySaver(), name="review")


config = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
if mode == "desk":
    run_id = thread
    out = desk().invoke({"messages": [HumanMessage("Plan.")]}, config)
else:
    run_id = f"{thread}-1"
    graph = review()
    out = graph.invoke({"messages": [HumanMessage("Write a forecast.")]}, config)
    for pending in out.get("__interrupt__", ()):
        print(f"waiting {pending.id}", flush=True)
    if out.get("__interrupt__") and not os.environ.get("VERDICT"):
        time.sleep(600)  # until killed
    if out.get("__interrupt__"):
        out = graph.invoke(Command(resume=os.environ["VERDICT"]), config)
runtime = get_runtime()
children = [
    (e.childWorkflowInstanceCreated.name, e.childWorkflowInstanceCreated.instanceId)
    for e in runtime.raw_history(run_id)
    if e.HasField("childWorkflowInstanceCreated")
]
print(json.dumps({
    "messages": [m.content for m in out["messages"]],
    "verdict": out.get("verdict"),
    "children": [
        [name, child, [e.name for e in runtime.history(child) if e.event_type == EventType.TASK_SCHEDULED]]
        for name, child in children
    ],
}), flush=True)
