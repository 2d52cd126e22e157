"""A durable agent app whose tool needs approval, for crash tests.

Usage: python approval_app.py BASE_URL RUN_ID TOOL_LOG (ask|approve)
``ask`` starts the run and prints the pending call ids, then waits to be killed;
``approve`` attaches to the run, approves what it waits for with the SDK's own
resume pattern and prints the final output.
"""

from __future__ import annotations

import json
import os
import sys
import time

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner, idempotency_key

base_url, run_id, tool_log, mode = sys.argv[1:5]


@function_tool(needs_approval=True)
def wire_money(amount: int) -> str:
    """Wire an amount to the supplier."""
    with open(tool_log, "a") as log:
        log.write(json.dumps({"amount": amount, "key": idempotency_key(), "pid": os.getpid()}) + "\n")
    return f"wired {amount}"


client = AsyncOpenAI(base_url=base_url, api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
agent = Agent(
    name="treasurer",
    instructions="Pay the supplier.",
    tools=[wire_money],
    model=OpenAIChatCompletionsModel(model="scripted", openai_client=client),
)
result = Runner.run_sync(agent, "Pay the supplier 120.", run_id=run_id)
print(json.dumps({"pending": [item.raw_item.call_id for item in result.interruptions]}), flush=True)
if mode == "ask":
    time.sleep(600)
    sys.exit(1)
state = result.to_state()
for item in result.interruptions:
    state.approve(item)
result = Runner.run_sync(agent, state, run_id=run_id)
print(json.dumps({"final_output": result.final_output, "pending": len(result.interruptions)}), flush=True)
