"""Durable LangGraph graphs: import ``StateGraph`` from here, or wrap a compiled graph in ``durable``.

Example::

    from dapr_agents_durable.adapters.langgraph import StateGraph, durable

    graph = StateGraph(MessagesState).add_node(...).compile(checkpointer=InMemorySaver())
    agent = durable(create_react_agent(model, tools), name="support")
"""

from dapr_agents_durable.adapters.langgraph.graph import DurableGraph, StateGraph, UnfinishedRunError, durable
from dapr_agents_durable.adapters.langgraph.node_activity import durable_node
from dapr_agents_durable.adapters.langgraph.scope import EscapedDurability
from dapr_agents_durable.runtime import idempotency_key

__all__ = ["DurableGraph", "EscapedDurability", "StateGraph", "UnfinishedRunError", "durable", "durable_node",
           "idempotency_key"]
