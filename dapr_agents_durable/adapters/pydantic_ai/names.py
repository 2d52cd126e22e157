"""Workflow, activity and event names of the PydanticAI adapter.

They are persisted in every run's history: changing one breaks runs in flight.
Tests pin them.
"""

WORKFLOW = "pydantic_ai.run"
"""The workflow running one ``DaprAgent.run`` (the agent's name travels in its input)."""

DELEGATE_WORKFLOW = "pydantic_ai.delegate"
"""A ``DaprAgent.run`` called from a tool that runs in the workflow (agent delegation): a child
workflow of the calling run whose own history holds the delegate's model and tool calls."""

MODEL_ACTIVITY = "pydantic_ai.model"
"""One model request of an agent (``Model.request``, through the agent's own model)."""

TOOL_ACTIVITY = "pydantic_ai.tool"
"""One toolset call of an agent (a function tool, or a tool of an MCP server)."""

MCP_TOOLS_ACTIVITY = "pydantic_ai.mcp_tools"
"""Listing the tools (and reading the instructions) of one MCP server of an agent, for a run or a run step."""

DELEGATE_KIND = "delegate"
"""The kind in a delegated run's id: ``<run id>-delegate-<tool call id>-<n>``."""
