"""Durable OpenAI Agents SDK runs: replace ``from agents import Runner`` with this import.

Example::

    from agents import Agent, function_tool
    from dapr_agents_durable.adapters.openai_agents import Runner

    result = await Runner.run(agent, "Plan my trip", run_id="trip-7")
"""

from dapr_agents_durable.adapters.openai_agents.options import durable_options
from dapr_agents_durable.adapters.openai_agents.runner import Runner
from dapr_agents_durable.adapters.openai_agents.tracing import enable_tracing
from dapr_agents_durable.runtime import idempotency_key

__all__ = ["Runner", "durable_options", "enable_tracing", "idempotency_key"]
