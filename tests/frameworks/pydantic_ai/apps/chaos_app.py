"""A durable PydanticAI app for fault injection: a delegated tool loop (a child workflow) behind one approval.

Usage: python chaos_app.py BASE_URL RUN_ID TOOL_LOG
(the engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY, read by
PydanticAI's OpenAI provider). The planner (model name ``OUTER_MODEL``) calls ``record_plan``,
a tool that needs approval and runs in the workflow (``durable_options(..., activity=False)``),
delegating to the recorder, a ``DaprAgent``: its run is a ``pydantic_ai.delegate`` child
workflow whose ``record_step`` tool records the steps. The app approves every pending call
with PydanticAI's own pattern (``message_history`` and ``deferred_tool_results``, the same run
id) after ``hold_approval``. Started again with the same arguments, it attaches to the run
(getting the pending calls again if the run still waits). Prints one JSON line with the output.
"""

from __future__ import annotations

import json
import sys

from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, RunContext
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, durable_options, idempotency_key
from dapr_agents_durable.testing.chaos import OUTER_MODEL, hold_approval, recorded_step

base_url, run_id, tool_log = sys.argv[1:4]

recorder = Agent(
    OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=base_url)),
    name="recorder",
    instructions="Record every step of the plan, one tool call per turn.",
)


@recorder.tool_plain
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


planner = Agent(
    OpenAIChatModel(OUTER_MODEL, provider=OpenAIProvider(base_url=base_url)),
    name="planner",
    instructions="Have the recorder record the plan.",
    output_type=[str, DeferredToolRequests],
)
durable_recorder = DaprAgent(recorder)


@planner.tool(requires_approval=True, retries=0)
async def record_plan(ctx: RunContext[None], task: str) -> str:
    """Have the recorder record every step of a plan."""
    result = await durable_recorder.run(task, usage=ctx.usage)
    return result.output


durable_options(planner, tool="record_plan", activity=False)
durable = DaprAgent(planner)
result = durable.run_sync("Record the 14 steps.", run_id=run_id)
while isinstance(result.output, DeferredToolRequests):
    hold_approval()
    approvals = DeferredToolResults(approvals={call.tool_call_id: True for call in result.output.approvals})
    result = durable.run_sync(message_history=result.all_messages(), deferred_tool_results=approvals, run_id=run_id)
print(json.dumps({"output": result.output, "requests": result.usage.requests,
                  "tool_calls": result.usage.tool_calls}), flush=True)
