"""A durable agent app for crash tests: a tool loop against an OpenAI-compatible server.

Usage: python tool_loop_app.py BASE_URL RUN_ID TOOL_LOG
(the engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY).
Prints one JSON line with the final output. For fault injection the tool's body is
``recorded_step`` (see dapr_agents_durable.testing.chaos).
"""

from __future__ import annotations

import json
import os
import sys

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner, idempotency_key
from dapr_agents_durable.testing.chaos import recorded_step

base_url, run_id, tool_log = sys.argv[1:4]


@function_tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


client = AsyncOpenAI(base_url=base_url, api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
agent = Agent(
    name="planner",
    instructions="Record every step of the plan, one tool call per turn.",
    tools=[record_step],
    model=OpenAIChatCompletionsModel(model="scripted", openai_client=client),
)
result = Runner.run_sync(agent, "Record the 14 steps.", run_id=run_id, max_turns=30)
print(json.dumps({"final_output": result.final_output, "turns": len(result.raw_responses)}), flush=True)
