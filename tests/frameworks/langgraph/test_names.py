"""The persisted names of the LangGraph adapter are compatibility data."""

from dapr_agents_durable.adapters.langgraph import names


def test_names_are_pinned() -> None:
    assert names.WORKFLOW == "langgraph.run"
    assert names.MODEL_ACTIVITY == "langgraph.model"
    assert names.TOOL_ACTIVITY == "langgraph.tool"
    assert names.NODE_ACTIVITY == "langgraph.node"
    assert names.CACHE_ACTIVITY == "langgraph.cache"
    assert names.INTERRUPT_TOOL == "interrupt"
    assert names.SUBGRAPH_WORKFLOW == "langgraph.subgraph"
    assert names.SUBGRAPH_KIND == "subgraph"
