"""``Task(human_input=True)``: feedback rounds as approval events on the task's workflow."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from crewai import Agent, Task
from dapr.ext.workflow import WorkflowHistoryEventType
from scripted import ScriptedLLM, ToolLog, tool_call
from test_fidelity import weather_tools

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.adapters.crewai.names import HUMAN_INPUT_TOOL
from dapr_agents_durable.runtime import APPROVAL_EVENT, Decision, PendingApproval, get_runtime


def wait_for_pending(run_id: str, answered: set[str]) -> PendingApproval:
    deadline = time.monotonic() + 60
    runtime = get_runtime()
    while True:
        pending = runtime.pending_approvals(run_id) if runtime.state(run_id) is not None else []
        if pending and pending[0].call_id not in answered:
            return pending[0]
        assert time.monotonic() < deadline, f"no new feedback request on {run_id}"
        time.sleep(0.05)


def test_feedback_rounds_arrive_as_approval_events() -> None:
    log = ToolLog()
    get_weather, _ = weather_tools(log)
    llm = ScriptedLLM(
        model="scripted",
        replies=[[tool_call("call_1", "get_weather", city="Paris")], "It is sunny in Paris.",
                 "It is sunny and 21 degrees in Paris."],
    )
    agent = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=llm, tools=[get_weather])
    task = Task(description="Weather in {city}?", expected_output="one sentence", agent=agent, human_input=True)
    crew = Crew(name="feedback-desk", agents=[agent], tasks=[task])
    result: dict[str, Any] = {}
    kickoff = threading.Thread(target=lambda: result.update(out=crew.kickoff(inputs={"city": "Paris"}, run_id="feedback")))
    kickoff.start()

    runtime = get_runtime()
    first = wait_for_pending("feedback-task-0", set())
    assert first.tool == HUMAN_INPUT_TOOL and first.agent == "reporter"
    assert json.loads(first.arguments) == {"task": "Weather in Paris?", "answer": "It is sunny in Paris."}
    runtime.decide("feedback-task-0", Decision(first.call_id, approved=True, message="Add the temperature."))

    second = wait_for_pending("feedback-task-0", {first.call_id})
    assert json.loads(second.arguments)["answer"] == "It is sunny and 21 degrees in Paris."
    runtime.approve("feedback-task-0", second.call_id)
    kickoff.join(timeout=60)

    assert result["out"].raw == "It is sunny and 21 degrees in Paris."
    assert len(llm.calls) == 3
    assert log.calls == [("get_weather", {"city": "Paris"})]
    revised = llm.calls[2]
    assert revised[-2] == {"role": "assistant", "content": "It is sunny in Paris."}
    assert revised[-1]["role"] == "user" and "Add the temperature." in revised[-1]["content"]
    raised = [e.name for e in runtime.history("feedback-task-0") if e.event_type == WorkflowHistoryEventType.EVENT_RAISED]
    assert [name.lower() for name in raised] == [APPROVAL_EVENT.lower()] * 2
    assert runtime.pending_approvals("feedback-task-0") == []
