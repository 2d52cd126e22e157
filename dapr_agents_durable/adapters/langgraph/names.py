"""Workflow and activity names of the LangGraph adapter.

They are persisted in every run's history: changing one breaks runs in flight.
Tests pin them.
"""

WORKFLOW = "langgraph.run"
"""The workflow running one ``invoke``/``stream`` call of a durable graph on a thread."""

MODEL_ACTIVITY = "langgraph.model"
"""One chat-model call (``BaseChatModel`` generate, any provider) made inside a node."""

TOOL_ACTIVITY = "langgraph.tool"
"""One tool call (``BaseTool.invoke``/``ainvoke``, as ``ToolNode`` makes it) made inside a node."""

NODE_ACTIVITY = "langgraph.node"
"""One whole node wrapped in ``durable_node(fn)``."""

CACHE_ACTIVITY = "langgraph.cache"
"""One lookup of a graph's node cache (``compile(cache=...)``) for a super-step's cached nodes."""

INTERRUPT_TOOL = "interrupt"
"""The ``tool`` of a pending approval that stands for a LangGraph ``interrupt()``."""

SUBGRAPH_WORKFLOW = "langgraph.subgraph"
"""The child workflow running one subgraph call (a compiled graph as a node, or invoked in a node)."""

SUBGRAPH_KIND = "subgraph"
"""The ``<kind>`` in a subgraph child's instance id, ``<run id>-subgraph-<task id>``."""
