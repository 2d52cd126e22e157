"""A replica of a durable agent app: runs one tool loop, then (with --serve) keeps serving runs.

Usage: python serving_app.py BASE_URL RUN_ID TOOL_LOG [--serve]
(the engine comes from DAPR_GRPC_PORT, as under a sidecar; the key from OPENAI_API_KEY).
Prints one JSON line with the run's output, then serves until SIGTERM when asked to.
"""

from __future__ import annotations

import json
import os
import sys

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner, idempotency_key
from dapr_agents_durable.runtime import serve

base_url, run_id, tool_log = sys.argv[1:4]


@function_tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    with open(tool_log, "a") as log:
        log.write(json.dumps({"n": n, "key": idempotency_key(), "pid": os.getpid()}) + "\n")
    return f"step {n} recorded"


client = AsyncOpenAI(base_url=base_url, api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
agent = Agent(
    name="stepper",
    instructions="Record every step of the plan, one tool call per turn.",
    tools=[record_step],
    model=OpenAIChatCompletionsModel(model="scripted", openai_client=client),
)
result = Runner.run_sync(agent, f"Record the steps of {run_id}.", run_id=run_id)
print(json.dumps({"run_id": run_id, "final_output": result.final_output}), flush=True)
if "--serve" in sys.argv[4:]:
    serve()
