"""A durable LangGraph ReAct agent whose table bookings wait for a person's approval.

Offline (no OPENAI_API_KEY): a scripted OpenAI-compatible model server stands in for the
LLM and the embedded engine runs in this process::

    python examples/langgraph/app.py --thread trip-1

Against a real model, with a Dapr sidecar (the runtime finds it via DAPR_GRPC_PORT)::

    export OPENAI_API_KEY=sk-...
    dapr run --app-id langgraph-trip --resources-path ./components -- \\
        python examples/langgraph/app.py --thread trip-1

The graph is LangGraph's own (``StateGraph``, ``ToolNode``, ``interrupt()``, an
``InMemorySaver``); only its import changed. Every model and tool call is a durable step.
Before ``book_table`` runs, the ``approve`` node interrupts: the run waits for the decision
as a workflow event. This app asks on its terminal; any other process can answer instead
(``dapr-agents-durable approvals list``, then ``approvals approve trip-1-1 <call id>``).
Kill the app while it waits and start it again with the same ``--thread``: it attaches to the
unfinished run and asks again, calling no model for what already happened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from dapr_agents_durable.adapters.langgraph import StateGraph  # was: from langgraph.graph import StateGraph
from dapr_agents_durable.runtime import serve

QUESTION = "Is it nice in Paris tonight? If so, book a table at Chez Nous for 19:00."


@tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    return f"sunny and 22 C in {city}"


@tool
def book_table(restaurant: str, time: str) -> str:
    """Book a table at a restaurant."""
    return f"table booked at {restaurant} for {time}"


TOOLS = [get_weather, book_table]
NEEDS_APPROVAL = {"book_table"}


@contextlib.contextmanager
def offline_model() -> Iterator[Callable[[], ChatOpenAI]]:
    """A scripted model server: check the weather, propose the booking, then answer."""
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, text, tool_call

    def answer(request: RecordedRequest):
        done = request.tool_outputs
        if not done:
            return tool_call("get_weather", {"city": "Paris"})
        if len(done) == 1:
            return tool_call("book_table", {"restaurant": "Chez Nous", "time": "19:00"})
        if done[-1].startswith("table booked"):
            return text("Sunny and 22 C: your table at Chez Nous is booked for 19:00.")
        return text("Sunny and 22 C; I did not book the table.")

    with ScriptedModelServer(rule=answer) as server:
        yield lambda: ChatOpenAI(model="scripted", base_url=server.base_url, api_key="sk-offline-example")


def build_graph(model: ChatOpenAI) -> Any:
    bound = model.bind_tools(TOOLS)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    def route(state: MessagesState) -> Literal["approve", "__end__"]:
        last = state["messages"][-1]
        return "approve" if isinstance(last, AIMessage) and last.tool_calls else END

    def approve(state: MessagesState) -> Command[Literal["tools", "agent"]]:
        calls = state["messages"][-1].tool_calls  # type: ignore[attr-defined]
        for call in calls:
            if call["name"] in NEEDS_APPROVAL and not interrupt({"tool": call["name"], "args": call["args"]}):
                refused = [ToolMessage("the user declined this call", tool_call_id=c["id"]) for c in calls]
                return Command(goto="agent", update={"messages": refused})
        return Command(goto="tools")

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("approve", approve)
    builder.add_node("tools", ToolNode(TOOLS))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=InMemorySaver(), name="trip-planner")


def main() -> None:
    parser = argparse.ArgumentParser(description="a durable LangGraph agent with an approval step")
    parser.add_argument("--thread", default="trip-1", help="LangGraph thread id (the durable run is <thread>-<turn>)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--serve", action="store_true",
                        help="then keep serving durable runs until SIGTERM, as a replica under a Dapr sidecar does")
    args = parser.parse_args()
    models = (contextlib.nullcontext(lambda: ChatOpenAI(model="gpt-4o-mini"))
              if os.environ.get("OPENAI_API_KEY") else offline_model())
    config = {"configurable": {"thread_id": args.thread}}
    with models as model:
        graph = build_graph(model())
        result = graph.invoke({"messages": [HumanMessage(args.question)]}, config)
        while result.get("__interrupt__"):
            (pending,) = result["__interrupt__"]
            print(f"approve {pending.value['tool']}({pending.value['args']})?")
            try:
                answer = input("approve? [y/N] ").strip().lower() == "y"
            except EOFError:  # no terminal (a container): the run keeps waiting for any process to answer
                print(f"no terminal here: answer with `dapr-agents-durable approvals approve|reject` (call {pending.id})",
                      flush=True)
                break
            result = graph.invoke(Command(resume=answer), config)
        else:
            replies = sum(isinstance(m, AIMessage) for m in result["messages"])
            print(f"\nthread {args.thread}: {result['messages'][-1].content} ({replies} model replies)", flush=True)
        if args.serve:
            serve()


if __name__ == "__main__":
    main()
