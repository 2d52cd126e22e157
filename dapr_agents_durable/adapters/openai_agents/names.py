"""Workflow and activity names of the OpenAI Agents adapter.

They are persisted in every run's history: changing one breaks runs in flight.
Tests pin them.
"""

WORKFLOW = "openai_agents.run"
"""The workflow running one ``Runner.run`` (the agent's name travels in its input)."""

MODEL_ACTIVITY = "openai_agents.model"
"""One model call of an agent (``Model.get_response``)."""

TOOL_ACTIVITY = "openai_agents.tool"
"""One function-tool call of an agent."""

SESSION_ACTIVITY = "openai_agents.session"
"""One read or write of the run's ``Session`` (``get_items``, ``add_items``, ``pop_item``,
``clear_session``), on the session object the caller of ``Runner.run`` passed."""

MCP_ACTIVITY = "openai_agents.mcp"
"""One call to an agent's MCP server: listing its tools, or calling one of them."""

AGENT_TOOL_WORKFLOW = "openai_agents.agent_tool"
"""One call of an agent used as a tool (``Agent.as_tool``): a child workflow of the calling run
whose own history holds the nested agent's model and tool calls."""
