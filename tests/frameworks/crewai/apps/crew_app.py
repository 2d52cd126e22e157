"""A durable crew for crash tests, against an OpenAI-compatible server.

Usage: python crew_app.py BASE_URL RUN_ID TOOL_LOG MODE
MODE "loop": one agent, one task, a tool loop. MODE "three": three tasks in a row, each
one tool call and an answer. MODE "feedback": one task with human input; the app prints
``waiting <call id>`` for each feedback request and, when ``FEEDBACK`` is set, answers the
first with it and accepts the next. The engine database comes from DAPR_AGENTS_DURABLE_DB, the
key from OPENAI_API_KEY. Prints one JSON line with the crew output.
For fault injection the tool's body is ``recorded_step`` (dapr_agents_durable.testing.chaos).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from crewai import LLM, Agent, Task
from crewai.tools import tool

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.runtime import Decision, get_runtime, idempotency_key
from dapr_agents_durable.testing.chaos import recorded_step

base_url, run_id, tool_log, mode = sys.argv[1:5]


@tool("record_step")
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


llm = LLM(model="openai/scripted", base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])
planner = Agent(role="planner", goal="record every step", backstory="a careful clerk", llm=llm, tools=[record_step],
                max_iter=30)
if mode == "loop":
    tasks = [Task(description="Record the 14 steps, one tool call per turn.", expected_output="a summary", agent=planner)]
elif mode == "three":
    tasks = [Task(description=f"Record step {n}.", expected_output="a summary", agent=planner) for n in (1, 2, 3)]
else:
    tasks = [Task(description="Record step 1.", expected_output="a summary", agent=planner, human_input=True)]


def answer_feedback() -> None:
    runtime, review, seen = get_runtime(), f"{run_id}-task-0", set()
    while True:
        for pending in runtime.pending_approvals(review) if runtime.state(review) else []:
            if pending.call_id not in seen:
                seen.add(pending.call_id)
                print(f"waiting {pending.call_id}", flush=True)
                if os.environ.get("FEEDBACK"):
                    message = os.environ["FEEDBACK"] if len(seen) == 1 else None
                    runtime.decide(review, Decision(pending.call_id, approved=True, message=message))
        time.sleep(0.1)


if mode == "feedback":
    threading.Thread(target=answer_feedback, daemon=True).start()
output = Crew(name="planner-crew", agents=[planner], tasks=tasks).kickoff(run_id=run_id)
print(json.dumps({"raw": output.raw, "tasks": [t.raw for t in output.tasks_output],
                  "requests": output.token_usage.successful_requests}), flush=True)
