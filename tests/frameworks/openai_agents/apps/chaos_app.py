"""A durable agent app for fault injection: an agent tool (a child workflow) running a tool loop with one approval.

Usage: python chaos_app.py BASE_URL RUN_ID TOOL_LOG
(the engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY).
The planner calls the recorder as a tool (``Agent.as_tool``: a child workflow), whose tool
records the steps; that call needs approval, which the app gives with the SDK's own resume
pattern after ``hold_approval``. Started again with the same arguments, it attaches to
the run (waiting for the approval again if the run still waits). Prints one JSON line
with the final output.
"""

from __future__ import annotations

import json
import os
import sys

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner, idempotency_key
from dapr_agents_durable.testing.chaos import OUTER_MODEL, hold_approval, recorded_step

base_url, run_id, tool_log = sys.argv[1:4]


@function_tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


client = AsyncOpenAI(base_url=base_url, api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
recorder = Agent(name="recorder", instructions="Record every step, one tool call per turn.", tools=[record_step],
                 model=OpenAIChatCompletionsModel(model="scripted", openai_client=client))
planner = Agent(name="planner", instructions="Have the recorder record the plan.",
                tools=[recorder.as_tool("record_plan", "Record every step of a plan.",
                                         needs_approval=True, max_turns=30)],
                model=OpenAIChatCompletionsModel(model=OUTER_MODEL, openai_client=client))

result = Runner.run_sync(planner, "Record the 14 steps.", run_id=run_id, max_turns=30)
while result.interruptions:
    hold_approval()
    state = result.to_state()
    for item in result.interruptions:
        state.approve(item)
    result = Runner.run_sync(planner, state, run_id=run_id, max_turns=30)
print(json.dumps({"final_output": result.final_output, "turns": len(result.raw_responses)}), flush=True)
