"""``runs show`` / ``runs list`` of a real durable run: the timeline read from the run's history.

One agent, one task with a tool, CrewAI's own OpenAI LLM over HTTP against the scripted
server. The task is a child workflow of the crew's run; its timeline holds the LLM and tool calls.
"""

from __future__ import annotations

import re

import pytest

from crewai import LLM, Agent, Task
from crewai.tools import tool

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.operator.summary import Timeline, summarize, timeline
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import ScriptedModelServer, text, tool_call
from dapr_agents_durable.testing.spans import captured_spans


@tool("get_weather")
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    return f"sunny in {city}"


def _view(run_id: str) -> Timeline | None:
    runtime = get_runtime()
    state = runtime.state(run_id)
    return None if state is None else timeline(state, runtime.raw_history(run_id), _view)


def test_timeline_and_spans_name_the_model_its_tokens_and_the_tool_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SDK_DISABLED")  # this suite's switch for CrewAI's own telemetry; ours is wanted here
    spans = captured_spans()
    spans.clear()
    with ScriptedModelServer([tool_call("get_weather", {"city": "Paris"}), text("Sunny in Paris.")]) as server:
        llm = LLM(model="openai/scripted", base_url=server.base_url, api_key="sk-test")
        forecaster = Agent(role="forecaster", goal="tell the weather", backstory="a meteorologist", llm=llm,
                           tools=[get_weather])
        task = Task(description="What is the weather in Paris?", expected_output="one sentence", agent=forecaster)
        output = Crew(name="weather-crew", agents=[forecaster], tasks=[task]).kickoff(run_id="view-crew")
    assert output.raw == "Sunny in Paris."

    view = _view("view-crew")
    assert view is not None and view.summary.agent == "weather-crew"
    [step] = view.steps
    assert (step.name, step.kind, step.detail) == ("crewai.task", "child", "task 0 forecaster -> Sunny in Paris.")
    assert step.child is not None and step.child.summary.agent == "weather-crew"
    steps = step.child.steps
    assert [s.name for s in steps] == ["crewai.model", "crewai.tool", "crewai.model"]
    assert steps[1].detail == 'get_weather {"city": "Paris"} -> sunny in Paris'
    tokens = [re.fullmatch(r"(\S+) (\d+) in / (\d+) out tokens", s.detail) for s in steps if s.name == "crewai.model"]
    assert all(tokens), [s.detail for s in steps]
    assert {t[1] for t in tokens if t} == {"scripted"}  # the name CrewAI gives "openai/scripted"
    assert sum(int(t[2]) for t in tokens if t) == output.token_usage.prompt_tokens > 0
    assert sum(int(t[3]) for t in tokens if t) == output.token_usage.completion_tokens > 0

    listed = summarize(get_runtime().state("view-crew"), get_runtime().raw_history("view-crew"))
    assert (listed.framework, listed.agent, listed.steps) == ("crewai", "weather-crew", 0)
    assert view.to_json()["timeline"][0]["child"]["timeline"][1]["detail"] == steps[1].detail  # --json has it
    assert spans.models() == [("scripted", int(t[2]), int(t[3])) for t in tokens if t]
    assert spans.tools() == ["get_weather"] and len(spans.trace_ids()) == 1  # the task's spans join the crew's trace
