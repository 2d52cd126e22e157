"""Durable crews against native ones under the same scripted LLMs.

Each test builds the same crew twice from the same script, kicks one off with
``crewai.Crew`` and the other with the adapter's ``Crew``, and compares everything a
user reads back: outputs, tasks_output, token usage, the messages each agent's LLM saw,
and the tools that ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import crewai
import pytest
from crewai import Agent, Process, Task
from crewai.events.event_bus import crewai_event_bus
from crewai.events.types.crew_events import CrewKickoffCompletedEvent
from crewai.tools import tool
from dapr.ext.workflow import WorkflowHistoryEventType
from pydantic import BaseModel
from scripted import ScriptedLLM, ToolLog, tool_call

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.adapters.crewai.names import MODEL_ACTIVITY, TASK_WORKFLOW, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime


def weather_tools(log: ToolLog) -> list[Any]:
    @tool("get_weather")
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        log.record("get_weather", city=city)
        return f"sunny in {city}"

    @tool("get_time")
    def get_time(city: str) -> str:
        """Return the local time in a city."""
        log.record("get_time", city=city)
        return f"noon in {city}"

    return [get_weather, get_time]


Build = Callable[[type[crewai.Crew], ToolLog], tuple[crewai.Crew, list[ScriptedLLM]]]


def compare(build: Build, run_id: str, inputs: dict[str, Any]) -> tuple[Any, Any, list[ScriptedLLM], list[ScriptedLLM], ToolLog, ToolLog]:
    native_log, durable_log = ToolLog(), ToolLog()
    native_crew, native_llms = build(crewai.Crew, native_log)
    durable_crew, durable_llms = build(Crew, durable_log)
    native = native_crew.kickoff(inputs=inputs)
    durable = durable_crew.kickoff(inputs=inputs, run_id=run_id)
    assert durable.raw == native.raw
    assert durable.json_dict == native.json_dict
    assert durable.pydantic == native.pydantic
    assert [t.model_dump() for t in durable.tasks_output] == [t.model_dump() for t in native.tasks_output]
    assert durable.token_usage == native.token_usage
    assert [llm.calls for llm in durable_llms] == [llm.calls for llm in native_llms]
    # Natively the tool calls of one response run on a thread pool, in no fixed order: compare them as a set.
    assert sorted(map(repr, durable_log.calls)) == sorted(map(repr, native_log.calls))
    return native, durable, native_llms, durable_llms, native_log, durable_log


def scheduled(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def children(run_id: str) -> list[str]:
    return [
        e.name for e in get_runtime().history(run_id)
        if e.event_type == WorkflowHistoryEventType.CHILD_WORKFLOW_INSTANCE_CREATED
    ]


def two_agent_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, get_time = weather_tools(log)
    reporter_llm = ScriptedLLM(
        model="scripted",
        replies=[
            [tool_call("call_1", "get_weather", city="Paris"), tool_call("call_2", "get_time", city="Paris")],
            "Sunny at noon in Paris.",
        ],
    )
    writer_llm = ScriptedLLM(model="scripted", replies=["Paris: a sunny noon."])
    reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=reporter_llm,
                     tools=[get_weather, get_time])
    writer = Agent(role="writer", goal="write headlines", backstory="an editor", llm=writer_llm)
    report = Task(description="Weather and time in {city}?", expected_output="one sentence", agent=reporter)
    headline = Task(description="A headline from the report.", expected_output="a headline", agent=writer, context=[report])
    crew = crew_class(name="weather-desk", agents=[reporter, writer], tasks=[report, headline], process=Process.sequential)
    return crew, [reporter_llm, writer_llm]


def test_sequential_crew_with_two_native_tool_calls_in_one_response() -> None:
    native, durable, _, durable_llms, _, durable_log = compare(two_agent_crew, "fidelity-sequential", {"city": "Paris"})

    assert durable.raw == "Paris: a sunny noon."
    assert durable_log.calls == [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"})]
    assert durable.token_usage.successful_requests == 3
    # The writer saw the reporter's answer as its task context.
    assert "Sunny at noon in Paris." in durable_llms[1].calls[0][-1]["content"]
    assert children("fidelity-sequential") == [TASK_WORKFLOW, TASK_WORKFLOW]
    assert scheduled("fidelity-sequential-task-0") == [MODEL_ACTIVITY, TOOL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
    assert scheduled("fidelity-sequential-task-1") == [MODEL_ACTIVITY]


def test_finished_run_returns_its_stored_result_without_calls() -> None:
    log = ToolLog()
    completed: list[str] = []

    @crewai_event_bus.on(CrewKickoffCompletedEvent)
    def count(source: Any, event: CrewKickoffCompletedEvent) -> None:
        completed.append(event.crew_name or "")

    crew, llms = two_agent_crew(Crew, log)
    first = crew.kickoff(inputs={"city": "Paris"}, run_id="fidelity-again")
    crewai_event_bus.flush()
    assert completed == ["weather-desk"]  # the live run emits as natively
    again_crew, again_llms = two_agent_crew(Crew, log)
    again = again_crew.kickoff(inputs={"city": "Paris"}, run_id="fidelity-again")
    crewai_event_bus.flush()
    assert completed == ["weather-desk"]  # rebuilding the result by replay emits nothing

    assert again.raw == first.raw
    assert [t.raw for t in again.tasks_output] == [t.raw for t in first.tasks_output]
    assert [llm.calls for llm in again_llms] == [[], []]
    assert len(log.calls) == 2


def react_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, _ = weather_tools(log)
    llm = ScriptedLLM(
        model="scripted",
        native_tools=False,
        replies=[
            'Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "Oslo"}',
            "Thought: I know it.\nFinal Answer: Sunny in Oslo.",
        ],
    )
    agent = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=llm, tools=[get_weather])
    task = Task(description="Weather in {city}?", expected_output="one sentence", agent=agent)
    return crew_class(name="react-desk", agents=[agent], tasks=[task]), [llm]


def test_react_text_path() -> None:
    _, durable, _, _, _, log = compare(react_crew, "fidelity-react", {"city": "Oslo"})

    assert durable.raw == "Sunny in Oslo."
    assert log.calls == [("get_weather", {"city": "Oslo"})]
    assert scheduled("fidelity-react-task-0") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]


class Forecast(BaseModel):
    city: str
    sunny: bool


def structured_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    llm = ScriptedLLM(
        model="scripted",
        replies=['{"city": "Rome", "sunny": true}', '{"city": "Rome", "sunny": true}', '{"city": "Rome", "sunny": true}'],
    )
    agent = Agent(role="forecaster", goal="forecast", backstory="a meteorologist", llm=llm)
    task = Task(description="Forecast for {city}.", expected_output="a forecast", agent=agent, output_pydantic=Forecast)
    return crew_class(name="structured-desk", agents=[agent], tasks=[task]), [llm]


def test_structured_output() -> None:
    _, durable, *_ = compare(structured_crew, "fidelity-structured", {"city": "Rome"})

    assert durable.pydantic == Forecast(city="Rome", sunny=True)
    assert durable.tasks_output[0].pydantic == Forecast(city="Rome", sunny=True)


def guarded_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    llm = ScriptedLLM(model="scripted", replies=["too short", "A long enough answer about Rome."])

    def long_enough(output):  # noqa: ANN001, ANN202 - CrewAI checks the annotation as written
        if len(output.raw) < 20:
            return False, "Write at least 20 characters."
        return True, output.raw

    agent = Agent(role="writer", goal="write", backstory="an editor", llm=llm)
    task = Task(description="Describe {city}.", expected_output="a sentence", agent=agent, guardrail=long_enough,
                guardrail_max_retries=2)
    return crew_class(name="guarded-desk", agents=[agent], tasks=[task]), [llm]


def test_function_guardrail_retries_with_feedback() -> None:
    _, durable, _, llms, _, _ = compare(guarded_crew, "fidelity-guardrail", {"city": "Rome"})

    assert durable.raw == "A long enough answer about Rome."
    assert "Write at least 20 characters." in llms[0].calls[1][-1]["content"]
    assert scheduled("fidelity-guardrail-task-0") == [MODEL_ACTIVITY, MODEL_ACTIVITY]


def hierarchical_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, _ = weather_tools(log)
    manager_llm = ScriptedLLM(
        model="scripted",
        replies=[
            [tool_call("call_1", "delegate_work_to_coworker", task="Find the weather in Lima", context="for a report",
                       coworker="reporter")],
            "Lima is sunny.",
        ],
    )
    reporter_llm = ScriptedLLM(
        model="scripted",
        replies=[[tool_call("call_9", "get_weather", city="Lima")], "It is sunny in Lima."],
    )
    reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=reporter_llm,
                     tools=[get_weather])
    task = Task(description="Report the weather in {city}.", expected_output="one sentence")
    crew = crew_class(name="managed-desk", agents=[reporter], tasks=[task], process=Process.hierarchical,
                      manager_llm=manager_llm)
    return crew, [manager_llm, reporter_llm]


def test_hierarchical_crew_delegates_as_a_child_workflow() -> None:
    _, durable, _, _, _, log = compare(hierarchical_crew, "fidelity-managed", {"city": "Lima"})

    assert durable.raw == "Lima is sunny."
    assert log.calls == [("get_weather", {"city": "Lima"})]
    assert children("fidelity-managed-task-0") == ["crewai.delegate"]
    assert scheduled("fidelity-managed-task-0-delegate-delegate-1") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]


@pytest.mark.parametrize("bad", [["not", "a", "dict"], "text"])
def test_bad_inputs_name_the_problem(bad: Any) -> None:
    crew, _ = two_agent_crew(Crew, ToolLog())
    with pytest.raises(TypeError, match="inputs must be a dict"):
        crew.kickoff(inputs=bad, run_id="fidelity-bad")
    assert get_runtime().state("fidelity-bad") is None


def one_agent_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, _ = weather_tools(log)
    def rule(messages: list[dict[str, Any]]) -> Any:
        if any(m["role"] == "tool" for m in messages):
            return "Sunny."
        city = "Oslo" if "Oslo" in messages[-1]["content"] else "Paris"
        return [tool_call("call_1", "get_weather", city=city)]

    llm = ScriptedLLM(model="scripted", rule=rule)
    agent = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=llm, tools=[get_weather])
    task = Task(description="Weather in {city}?", expected_output="one sentence", agent=agent)
    return crew_class(name="each-desk", agents=[agent], tasks=[task]), [llm]


def test_kickoff_for_each_runs_one_child_run_per_input() -> None:
    inputs = [{"city": "Paris"}, {"city": "Oslo"}]
    native_log, durable_log = ToolLog(), ToolLog()
    native_crew, _ = one_agent_crew(crewai.Crew, native_log)
    durable_crew, _ = one_agent_crew(Crew, durable_log)
    native = native_crew.kickoff_for_each(inputs=inputs)
    durable = durable_crew.kickoff_for_each(inputs=inputs, run_id="fidelity-each")

    assert [o.raw for o in durable] == [o.raw for o in native] == ["Sunny.", "Sunny."]
    # The copies share the agent's LLM, whose counters CrewAI reports: cumulative natively
    # (one run after the other), the same total when the durable runs go in parallel.
    total = max(o.token_usage.successful_requests for o in native)
    assert total == 4 and max(o.token_usage.successful_requests for o in durable) == total
    assert sorted(durable_log.calls, key=str) == sorted(native_log.calls, key=str)
    assert children("fidelity-each") == ["crewai.run", "crewai.run"]
    assert scheduled("fidelity-each-each-1-task-0") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
