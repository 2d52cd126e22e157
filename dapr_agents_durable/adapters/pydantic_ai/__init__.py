"""Durable PydanticAI runs: wrap the agent in ``DaprAgent`` and run it as before.

Example::

    from pydantic_ai import Agent
    from dapr_agents_durable.adapters.pydantic_ai import DaprAgent

    agent = Agent("openai:gpt-5", name="support")
    result = await DaprAgent(agent).run("Where is my order?", run_id="ticket-7")
"""

from dapr_agents_durable.adapters.pydantic_ai.agent import DaprAgent
from dapr_agents_durable.adapters.pydantic_ai.capability import DaprDurability
from dapr_agents_durable.adapters.pydantic_ai.options import durable_options
from dapr_agents_durable.runtime import idempotency_key

__all__ = ["DaprAgent", "DaprDurability", "durable_options", "idempotency_key"]
