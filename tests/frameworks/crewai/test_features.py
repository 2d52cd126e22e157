"""More of CrewAI, durable and compared with native crews under the same scripted LLMs:
concurrent tasks, callbacks, LLM guardrails, ``output_json``, coworker questions, ``max_rpm``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import crewai
import pytest
from crewai import Agent, Process, Task
from crewai.agents.parser import AgentFinish
from crewai.tasks.task_output import TaskOutput
from crewai.utilities import rpm_controller
from pydantic import BaseModel
from scripted import ScriptedLLM, ToolLog, tool_call
from test_fidelity import children, compare, scheduled, weather_tools

from dapr_agents_durable.adapters.crewai import Crew, rpm, runs
from dapr_agents_durable.adapters.crewai.names import DELEGATE_WORKFLOW, MODEL_ACTIVITY, TASK_WORKFLOW, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime


def concurrent_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, get_time = weather_tools(log)
    weather_llm = ScriptedLLM(model="scripted", replies=[[tool_call("call_1", "get_weather", city="Oslo")], "Sunny in Oslo."])
    time_llm = ScriptedLLM(model="scripted", replies=[[tool_call("call_2", "get_time", city="Oslo")], "Noon in Oslo."])
    writer_llm = ScriptedLLM(model="scripted", replies=["Oslo: sunny at noon."])
    meteorologist = Agent(role="meteorologist", goal="report weather", backstory="forecasts", llm=weather_llm,
                          tools=[get_weather])
    clock = Agent(role="clock", goal="report the time", backstory="keeps time", llm=time_llm, tools=[get_time])
    writer = Agent(role="writer", goal="write headlines", backstory="an editor", llm=writer_llm)
    weather = Task(description="Weather in {city}?", expected_output="one sentence", agent=meteorologist,
                   async_execution=True)
    local_time = Task(description="Time in {city}?", expected_output="one sentence", agent=clock, async_execution=True)
    headline = Task(description="A headline from both reports.", expected_output="a headline", agent=writer,
                    context=[weather, local_time])
    crew = crew_class(name="concurrent-desk", agents=[meteorologist, clock, writer], tasks=[weather, local_time, headline])
    return crew, [weather_llm, time_llm, writer_llm]


def test_async_execution_tasks_run_as_concurrent_task_children() -> None:
    _, durable, _, llms, _, log = compare(concurrent_crew, "features-concurrent", {"city": "Oslo"})

    assert durable.raw == "Oslo: sunny at noon."
    assert [t.raw for t in durable.tasks_output] == ["Sunny in Oslo.", "Noon in Oslo.", "Oslo: sunny at noon."]
    assert sorted(log.calls) == [("get_time", {"city": "Oslo"}), ("get_weather", {"city": "Oslo"})]
    headline_prompt = llms[2].calls[0][-1]["content"]
    assert "Sunny in Oslo." in headline_prompt and "Noon in Oslo." in headline_prompt
    assert children("features-concurrent") == [TASK_WORKFLOW] * 3
    for index in (0, 1):
        assert scheduled(f"features-concurrent-task-{index}") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]


class Calls:
    """What each callback was called with: (callback, type of its argument, its text)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def recorder(self, name: str) -> Any:
        def record(argument: Any) -> None:
            text = argument.raw if isinstance(argument, TaskOutput) else getattr(argument, "output", "") or ""
            self.seen.append((name, type(argument).__name__, str(text)))

        return record


def callback_crew(crew_class: type[crewai.Crew], calls: Calls) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, _ = weather_tools(ToolLog())
    reporter_llm = ScriptedLLM(model="scripted", replies=[[tool_call("call_1", "get_weather", city="Rome")], "Sunny."])
    writer_llm = ScriptedLLM(model="scripted", replies=["Rome: sunny."])
    reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=reporter_llm,
                     tools=[get_weather], step_callback=calls.recorder("agent step"))
    writer = Agent(role="writer", goal="write headlines", backstory="an editor", llm=writer_llm, tools=[get_weather])
    report = Task(description="Weather in {city}?", expected_output="one sentence", agent=reporter)
    headline = Task(description="A headline.", expected_output="a headline", agent=writer, context=[report],
                    callback=calls.recorder("task"))
    crew = crew_class(name="callback-desk", agents=[reporter, writer], tasks=[report, headline],
                      step_callback=calls.recorder("crew step"), task_callback=calls.recorder("crew task"))
    return crew, [reporter_llm, writer_llm]


@pytest.mark.usefixtures("cold_replay")
def test_callbacks_fire_as_natively_and_never_from_replayed_code() -> None:
    native_calls, durable_calls = Calls(), Calls()
    native_crew, _ = callback_crew(crewai.Crew, native_calls)
    durable_crew, llms = callback_crew(Crew, durable_calls)
    native = native_crew.kickoff(inputs={"city": "Rome"})
    durable = durable_crew.kickoff(inputs={"city": "Rome"}, run_id="features-callbacks")

    assert durable.raw == native.raw == "Rome: sunny."
    assert durable.token_usage == native.token_usage
    assert durable_calls.seen == native_calls.seen == [
        ("agent step", AgentFinish.__name__, "Sunny."),
        ("crew task", TaskOutput.__name__, "Sunny."),
        ("crew step", AgentFinish.__name__, "Rome: sunny."),
        ("task", TaskOutput.__name__, "Rome: sunny."),
        ("crew task", TaskOutput.__name__, "Rome: sunny."),
    ]
    # Cold replay: every step re-ran the task's code from its start; the callbacks did not.
    assert len(scheduled("features-callbacks-task-0")) == 3

    again_calls = Calls()
    again_crew, again_llms = callback_crew(Crew, again_calls)
    assert again_crew.kickoff(inputs={"city": "Rome"}, run_id="features-callbacks").raw == durable.raw
    assert again_calls.seen == [] and [llm.calls for llm in again_llms] == [[], []]


def llm_guarded_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    def rule(messages: list[dict[str, Any]]) -> Any:
        prompt = messages[-1]["content"]
        if "Ensure the following task result complies with the given guardrail" in prompt:
            if "Rome" in prompt.split("Guardrail:")[0]:
                return '{"valid": true, "feedback": null}'
            return '{"valid": false, "feedback": "The answer does not name the city."}'
        if "does not name the city" in prompt:
            return "Rome is sunny today."
        return "It is sunny today."

    llm = ScriptedLLM(model="scripted", rule=rule)
    agent = Agent(role="writer", goal="write", backstory="an editor", llm=llm)
    task = Task(description="Describe the weather in {city}.", expected_output="a sentence", agent=agent,
                guardrail="The answer must name the city.", guardrail_max_retries=2)
    return crew_class(name="llm-guarded-desk", agents=[agent], tasks=[task]), [llm]


def test_llm_guardrail_checks_with_model_calls_and_retries_with_feedback() -> None:
    _, durable, _, llms, _, _ = compare(llm_guarded_crew, "features-llm-guardrail", {"city": "Rome"})

    assert durable.raw == "Rome is sunny today."
    assert len(llms[0].calls) == 4  # answer, verdict, revised answer, verdict
    assert scheduled("features-llm-guardrail-task-0") == [MODEL_ACTIVITY] * 4


class Forecast(BaseModel):
    city: str
    sunny: bool


def json_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    llm = ScriptedLLM(model="scripted", rule=lambda messages: '{"city": "Rome", "sunny": true}')
    agent = Agent(role="forecaster", goal="forecast", backstory="a meteorologist", llm=llm)
    task = Task(description="Forecast for {city}.", expected_output="a forecast", agent=agent, output_json=Forecast)
    return crew_class(name="json-desk", agents=[agent], tasks=[task]), [llm]


def test_output_json() -> None:
    _, durable, *_ = compare(json_crew, "features-json", {"city": "Rome"})

    assert durable.json_dict == {"city": "Rome", "sunny": True}
    assert durable.tasks_output[0].json_dict == {"city": "Rome", "sunny": True}
    assert durable.pydantic is None


def asking_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, _ = weather_tools(log)
    manager_llm = ScriptedLLM(
        model="scripted",
        replies=[
            [tool_call("call_1", "ask_question_to_coworker", question="Is it sunny in Lima?", context="for a report",
                       coworker="reporter")],
            "Yes, Lima is sunny.",
        ],
    )
    reporter_llm = ScriptedLLM(model="scripted", replies=[[tool_call("call_9", "get_weather", city="Lima")], "Yes, sunny."])
    reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=reporter_llm,
                     tools=[get_weather])
    task = Task(description="Is it sunny in {city}?", expected_output="yes or no")
    crew = crew_class(name="asking-desk", agents=[reporter], tasks=[task], process=Process.hierarchical,
                      manager_llm=manager_llm)
    return crew, [manager_llm, reporter_llm]


def test_manager_question_to_a_coworker_is_a_child_workflow() -> None:
    _, durable, _, llms, _, log = compare(asking_crew, "features-ask", {"city": "Lima"})

    assert durable.raw == "Yes, Lima is sunny."
    assert log.calls == [("get_weather", {"city": "Lima"})]
    assert "Is it sunny in Lima?" in llms[1].calls[0][-1]["content"]
    assert children("features-ask-task-0") == [DELEGATE_WORKFLOW]
    assert scheduled("features-ask-task-0-delegate-delegate-1") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]


def test_a_manager_model_call_redelivered_after_a_restart_finds_the_manager_llm_object() -> None:
    def managed() -> tuple[crewai.Crew, ScriptedLLM]:
        manager_llm = ScriptedLLM(model="scripted", replies=[])
        reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=ScriptedLLM(model="scripted"))
        task = Task(description="Weather in Lima?", expected_output="one sentence")
        return Crew(name="redelivered-desk", agents=[reporter], tasks=[task], process=Process.hierarchical,
                    manager_llm=manager_llm), manager_llm

    running, _ = managed()
    running._create_manager_agent()  # as the run's kickoff does
    slot = runs.llm_slot(running, running.manager_agent.llm)
    assert slot == "manager.llm"
    # A new process: the model activity runs before the run's workflows made the manager here.
    restarted, manager_llm = managed()
    assert restarted.manager_agent is None
    assert runs.find_llm(restarted, slot) is manager_llm


def rpm_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    get_weather, get_time = weather_tools(log)
    reporter_llm = ScriptedLLM(model="scripted", replies=[[tool_call("call_1", "get_weather", city="Bern")], "Sunny."])
    writer_llm = ScriptedLLM(
        model="scripted",
        replies=[[tool_call("call_2", "get_weather", city="Bern")], [tool_call("call_3", "get_time", city="Bern")],
                 "Bern: sunny at noon."],
    )
    editor_llm = ScriptedLLM(model="scripted", replies=[[tool_call("call_4", "get_time", city="Bern")], "Approved."])
    reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=reporter_llm,
                     tools=[get_weather])
    writer = Agent(role="writer", goal="write headlines", backstory="an editor", llm=writer_llm,
                   tools=[get_weather, get_time])
    editor = Agent(role="editor", goal="approve headlines", backstory="a chief editor", llm=editor_llm,
                   tools=[get_time], max_rpm=1)
    report = Task(description="Weather in {city}?", expected_output="one sentence", agent=reporter)
    headline = Task(description="A headline.", expected_output="a headline", agent=writer, context=[report])
    approval = Task(description="Approve the headline.", expected_output="approved", agent=editor, context=[headline])
    crew = crew_class(name="rpm-desk", agents=[reporter, writer, editor], tasks=[report, headline, approval], max_rpm=2)
    return crew, [reporter_llm, writer_llm, editor_llm]


def timers(run_id: str) -> list[float]:
    """How far ahead of workflow time (its turn's start) each durable timer of ``run_id`` was set, in seconds."""
    ahead, turn = [], None
    for event in get_runtime().raw_history(run_id):
        if event.HasField("workflowStarted"):
            turn = event.timestamp.ToDatetime()
        if event.HasField("timerCreated"):
            assert turn is not None
            ahead.append((event.timerCreated.fireAt.ToDatetime() - turn).total_seconds())
    return ahead


@pytest.mark.usefixtures("cold_replay")
def test_max_rpm_waits_on_durable_timers_where_crewai_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(rpm_controller, "time", SimpleNamespace(sleep=slept.append))
    monkeypatch.setattr(rpm, "MINUTE", 5.0)  # a shorter minute for the durable run of the test

    _, durable, *_ = compare(rpm_crew, "features-rpm", {"city": "Bern"})

    assert durable.raw == "Approved."
    # The crew's limit (2) spans its first two tasks: before the writer's 1st and 3rd requests;
    # the editor's own limit (1) before its 2nd.
    assert slept == [60, 60, 60]
    # Every step replayed the task's code from its start (cold): no timer was set again.
    assert timers("features-rpm-task-0") == []
    assert timers("features-rpm-task-1") == [5.0, 5.0]
    assert timers("features-rpm-task-2") == [5.0]
    assert timers("features-rpm") == []


def rpm_managed_crew(crew_class: type[crewai.Crew], log: ToolLog) -> tuple[crewai.Crew, list[ScriptedLLM]]:
    manager_llm = ScriptedLLM(
        model="scripted",
        replies=[
            [tool_call("call_1", "delegate_work_to_coworker", task="Is it sunny in Lima?", context="a report",
                       coworker="reporter")],
            [tool_call("call_2", "delegate_work_to_coworker", task="Is it warm in Lima?", context="a report",
                       coworker="reporter")],
            "Lima is sunny and warm.",
        ],
    )
    reporter_llm = ScriptedLLM(model="scripted", replies=["Sunny in Lima.", "Warm in Lima."])
    reporter = Agent(role="reporter", goal="report weather", backstory="a meteorologist", llm=reporter_llm)
    task = Task(description="Report the weather in {city}.", expected_output="one sentence")
    crew = crew_class(name="rpm-managed-desk", agents=[reporter], tasks=[task], process=Process.hierarchical,
                      manager_llm=manager_llm, max_rpm=1)
    return crew, [manager_llm, reporter_llm]


def test_a_crew_level_max_rpm_spans_delegations(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(rpm_controller, "time", SimpleNamespace(sleep=slept.append))
    monkeypatch.setattr(rpm, "MINUTE", 5.0)

    _, durable, *_ = compare(rpm_managed_crew, "features-rpm-managed", {"city": "Lima"})

    assert durable.raw == "Lima is sunny and warm."
    assert slept == [60]  # the coworker's 2nd request, in the 2nd delegation (CrewAI's manager has no limit)
    assert timers("features-rpm-managed-task-0-delegate-delegate-1") == []
    assert timers("features-rpm-managed-task-0-delegate-delegate-2") == [5.0]
