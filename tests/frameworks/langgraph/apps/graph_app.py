"""Durable LangGraph graphs for crash tests, against an OpenAI-compatible server.

Usage: python graph_app.py BASE_URL THREAD_ID TOOL_LOG MODE [TEXT]
MODE "loop": a hand-built ReAct graph (ChatOpenAI + ToolNode) without a checkpointer,
the thread id naming one run. MODE "fanout": a planning model call, then ``Send`` to one
branch per city, each branch a model call, in one super-step. MODE "turns": a ReAct graph
compiled with an ``InMemorySaver``; each process runs one turn saying TEXT. MODE "review":
a draft, an ``interrupt()`` for review, then publishing; the app prints ``waiting <id>``
when the run waits, then resumes it with ``Command(resume=VERDICT)`` or, without
``VERDICT``, waits for the run to be decided elsewhere (or killed) and prints its state.
The engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY. With
CALLBACK_LOG set, a callback handler passed in the config logs each model, tool and chain
event it hears there (one JSON line each, with this process's pid).
Prints one JSON line: the messages' contents and the number of model requests the graph saw.
For fault injection the tool's body is ``recorded_step`` (dapr_agents_durable.testing.chaos).
"""

from __future__ import annotations

import json
import operator
import os
import sys
from typing import Annotated, Any, NotRequired

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, Send, interrupt

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.runtime import get_runtime, idempotency_key
from dapr_agents_durable.testing.chaos import recorded_step

base_url, thread, tool_log, mode = sys.argv[1:5]
model = ChatOpenAI(model="scripted", base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])


@tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


def react(**compile: Any) -> Any:
    bound = model.bind_tools([record_step])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([record_step]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(**compile)


class Forecast(MessagesState):
    reports: Annotated[list[str], operator.add]


def fanout() -> Any:
    def plan(state: Forecast) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def spread(state: Forecast) -> list[Send]:
        return [Send("report", {"city": city}) for city in state["messages"][-1].content.split(",")]

    def report(branch: dict[str, str]) -> dict[str, Any]:
        return {"reports": [str(model.invoke(f"Report the weather in {branch['city']}.").content)]}

    builder = StateGraph(Forecast)
    builder.add_node("plan", plan)
    builder.add_node("report", report)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", spread, ["report"])
    return builder.compile(name="fanout")


class Review(MessagesState):
    verdict: NotRequired[str]


def review() -> Any:
    def draft(state: Review) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def ask(state: Review) -> dict[str, Any]:
        return {"verdict": interrupt({"draft": state["messages"][-1].content})}

    def publish(state: Review) -> dict[str, Any]:
        note = HumanMessage(f"The reviewer says: {state['verdict']}")
        return {"messages": [note, model.invoke([*state["messages"], note])]}

    builder = StateGraph(Review)
    builder.add_node("draft", draft)
    builder.add_node("ask", ask)
    builder.add_node("publish", publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "ask")
    builder.add_edge("ask", "publish")
    return builder.compile(checkpointer=InMemorySaver(), name="review")


class EventLog(BaseCallbackHandler):
    """Logs the events it hears to CALLBACK_LOG."""

    def _log(self, event: str, run_id: Any, **fields: Any) -> None:
        with open(os.environ["CALLBACK_LOG"], "a") as log:
            log.write(json.dumps({"event": event, "run": str(run_id), "pid": os.getpid(), **fields}) + "\n")

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._log("chain", run_id, name=kwargs.get("name"))

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._log("chain end", run_id)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._log("model", run_id, messages=len(messages[0]))

    def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._log("model end", run_id)

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: Any, **kwargs: Any) -> None:
        self._log("tool", run_id, input=input_str)

    def on_tool_end(self, output: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._log("tool end", run_id)


config: dict[str, Any] = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
if os.environ.get("CALLBACK_LOG"):
    config["callbacks"] = [EventLog()]
if mode == "loop":
    out = react(name="loop").invoke({"messages": [HumanMessage("Record the 14 steps, one tool call per turn.")]}, config)
elif mode == "fanout":
    out = fanout().invoke({"messages": [HumanMessage("Which cities?")]}, config)
elif mode == "turns":
    out = react(checkpointer=InMemorySaver(), name="turns").invoke({"messages": [HumanMessage(sys.argv[5])]}, config)
else:
    graph = review()
    out = graph.invoke({"messages": [HumanMessage("Write a forecast.")]}, config)
    for pending in out.get("__interrupt__", ()):
        print(f"waiting {pending.id}", flush=True)
    if out.get("__interrupt__") and os.environ.get("VERDICT"):
        out = graph.invoke(Command(resume=os.environ["VERDICT"]), config)
    elif out.get("__interrupt__"):  # wait for a decision from elsewhere (or a kill)
        get_runtime().wait(f"{thread}-1", timeout=None)
        out = graph.get_state(config).values
print(json.dumps({"messages": [m.content for m in out["messages"]], "reports": sorted(out.get("reports", [])),
                  "verdict": out.get("verdict")}), flush=True)
