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
