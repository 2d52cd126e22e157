"""A durable LangGraph graph for fault injection: a plan approved at an ``interrupt()``, then carried out by a subgraph.

Usage: python chaos_app.py BASE_URL THREAD_ID TOOL_LOG
(the engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY).

The graph asks for approval of the plan with ``interrupt()`` in its ``approve`` node; once
approved, its ``record`` node is ``recorder``, a compiled ReAct subgraph (ChatOpenAI +
ToolNode calling ``record_step``): a child workflow holding every model request and tool
call of the run. The app approves with LangGraph's own pattern,
``invoke(Command(resume=True), config)``, after ``hold_approval``. The graph has no
checkpointer, so the thread id names one run (the durable run keeps its own state across
the interrupt): started again with the same arguments, the app attaches to that run,
waiting for the approval again if the run still waits, or gets its stored final state once
it has finished. (With a checkpointer a call after the run finished would be the thread's
next turn, and a restarted process's worker may finish the run while the app looks.)
Prints one JSON line: the messages' contents, the approval, and each child workflow of the
run (its workflow name and the names of the activities it scheduled). For fault injection
the tool's body is ``recorded_step`` (dapr_agents_durable.testing.chaos).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NotRequired

from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.runtime import get_runtime, idempotency_key
from dapr_agents_durable.testing.chaos import hold_approval, recorded_step

QUESTION = "Record the 14 steps, one tool call per turn."

base_url, thread, tool_log = sys.argv[1:4]
model = ChatOpenAI(model="scripted", base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])


@tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


def recorder() -> Any:
    bound = model.bind_tools([record_step])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = NativeStateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([record_step]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(name="recorder")


class Plan(MessagesState):
    approved: NotRequired[bool]


def approve(state: Plan) -> dict[str, Any]:
    return {"approved": interrupt({"approve": state["messages"][-1].content})}


def planned() -> Any:
    builder = StateGraph(Plan)
    builder.add_node("approve", approve)
    builder.add_node("record", recorder())
    builder.add_edge(START, "approve")
    builder.add_conditional_edges("approve", lambda state: "record" if state["approved"] else END, ["record", END])
    builder.add_edge("record", END)
    return builder.compile(name="chaos-plan")


graph = planned()
config: dict[str, Any] = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
out = graph.invoke({"messages": [HumanMessage(QUESTION)]}, config)  # starts the run, or attaches to it
while out.get("__interrupt__"):
    hold_approval()
    out = graph.invoke(Command(resume=True), config)
runtime = get_runtime()
children = [(e.childWorkflowInstanceCreated.name, e.childWorkflowInstanceCreated.instanceId)
            for e in runtime.raw_history(thread) if e.HasField("childWorkflowInstanceCreated")]
print(json.dumps({
    "messages": [m.content for m in out["messages"]],
    "approved": out.get("approved"),
    "children": [[name, [e.name for e in runtime.history(child) if e.event_type == EventType.TASK_SCHEDULED]]
                 for name, child in children],
}), flush=True)
