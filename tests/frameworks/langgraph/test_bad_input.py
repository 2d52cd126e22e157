"""Bad input in a durable graph: a result that cannot be stored fails at once, naming what and the fix,
without paying the model again."""

from __future__ import annotations

from typing import Any

import pytest
from dapr.ext.workflow import WorkflowStatus
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState
from scripted import scripted

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.runtime import get_runtime


def test_a_model_reply_too_large_to_store_fails_at_once_without_asking_the_model_again() -> None:
    model = scripted(AIMessage("y" * 4_000_000), AIMessage("a second, paid reply"))

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    graph = builder.compile(name="bad-huge")
    with pytest.raises(Exception, match=r"chat model result: \d+ bytes encoded, more than the \d+-byte limit for one "
                                        r"durable step; return less data"):
        graph.invoke({"messages": [HumanMessage("Talk.")]}, {"configurable": {"thread_id": "bad-huge-1"}})
    assert len(model.seen) == 1  # not retried: a retry would pay for the same refusal
    state = get_runtime().state("bad-huge-1")
    assert state is not None and state.runtime_status == WorkflowStatus.FAILED
