"""A durable crew for fault injection: a manager delegates a 14-step tool loop, then waits for human input.

Usage: python chaos_app.py BASE_URL RUN_ID TOOL_LOG
(the engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY).
A hierarchical crew with one task (``human_input=True``) and one coworker, the recorder.
The task runs as the ``<run id>-task-0`` child workflow; its manager (model ``OUTER_MODEL``)
delegates the recording to the recorder, a ``crewai.delegate`` child workflow of the task
whose conversation is the recorder's own: one ``record_step`` call per turn, then the
answer. The manager answers with the recorder's result and the task waits for feedback on
it; a thread of the app finds the pending feedback request, calls ``hold_approval`` and
accepts the answer. Started again with the same arguments, the app attaches to the run
(and accepts the answer if the run still waits). Prints one JSON line with the crew output.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from crewai import LLM, Agent, Process, Task
from crewai.tools import tool

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.runtime import get_runtime, idempotency_key
from dapr_agents_durable.testing.chaos import OUTER_MODEL, hold_approval, recorded_step

base_url, run_id, tool_log = sys.argv[1:4]


@tool("record_step")
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


def llm(model: str) -> LLM:
    return LLM(model=f"openai/{model}", base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])


recorder = Agent(role="recorder", goal="record every step", backstory="a careful clerk", llm=llm("scripted"),
                 tools=[record_step], max_iter=30)
task = Task(description="Have the recorder record the 14 steps.", expected_output="a summary", human_input=True)
crew = Crew(name="chaos-crew", agents=[recorder], tasks=[task], process=Process.hierarchical,
            manager_llm=llm(OUTER_MODEL))


def accept_feedback() -> None:
    """Accept the manager's answer once the task waits for feedback on it (after ``hold_approval``)."""
    runtime, review, answered = get_runtime(), f"{run_id}-task-0", set()
    # Polling starts the runtime before the kickoff registers the crew's names: the worker
    # learns each of them in place (a restarted worker would drop a redelivered step).
    while True:
        try:
            pending = runtime.pending_approvals(review) if runtime.state(review) is not None else []
        except LookupError:  # the task's workflow is not there yet
            pending = []
        for request in pending:
            if request.call_id not in answered:
                hold_approval()
                try:
                    runtime.approve(review, request.call_id)
                except ValueError:  # it no longer waits for this one
                    pass
                answered.add(request.call_id)
        time.sleep(0.05)


threading.Thread(target=accept_feedback, daemon=True).start()
output = crew.kickoff(run_id=run_id)
print(json.dumps({"raw": output.raw, "tasks": [t.raw for t in output.tasks_output],
                  "requests": output.token_usage.successful_requests}), flush=True)
