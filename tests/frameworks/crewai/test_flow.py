"""Durable CrewAI Flows against native ones under the same scripted LLMs.

Each test builds the same flow class twice, on ``crewai.flow.Flow`` and on the adapter's
``Flow``, kicks both off and compares what a user reads back: the result, the final
state, the messages each LLM saw and the tools that ran. The crews inside the methods
are plain ``crewai.Crew``: only the flow's import changes.
"""

from __future__ import annotations

from typing import Any

import crewai
import pytest
from crewai import Agent, Task
from crewai.flow.flow import Flow as CrewFlow
from crewai.flow import human_feedback
from crewai.flow.flow import and_, listen, or_, router, start
from crewai.tools import tool
from dapr.ext.workflow import WorkflowHistoryEventType
from pydantic import BaseModel
from scripted import ScriptedLLM, ToolLog, tool_call

from dapr_agents_durable.adapters.crewai import Flow
from dapr_agents_durable.adapters.crewai.names import FLOW_WORKFLOW, MODEL_ACTIVITY, TASK_WORKFLOW, TOOL_ACTIVITY, WORKFLOW
from dapr_agents_durable.runtime import get_runtime


class TripState(BaseModel):
    city: str = ""
    sight: str = ""
    steps: list[str] = []


def guide_reply(messages: list[dict[str, Any]]) -> str:
    prompt = messages[-1]["content"]
    if "Pick one sight" in prompt:
        return "the Eiffel Tower" if "Paris" in prompt else "a quiet park"
    return "sunny" if "weather" in prompt else "?"


def planner_reply(messages: list[dict[str, Any]]) -> Any:
    if not any(m.get("role") == "tool" for m in messages):
        return [tool_call("call_1", "book_ticket", sight="the Eiffel Tower")]
    return "Ticket booked for the Eiffel Tower."


def trip_flow(base: type[CrewFlow[Any]], log: ToolLog) -> tuple[CrewFlow[Any], list[ScriptedLLM]]:
    guide = ScriptedLLM(model="scripted", rule=guide_reply)
    planner_llm = ScriptedLLM(model="scripted", rule=planner_reply)

    @tool("book_ticket")
    def book_ticket(sight: str) -> str:
        """Book a ticket for a sight."""
        log.record("book_ticket", sight=sight)
        return f"ticket for {sight}"

    class TripFlow(base[TripState]):  # type: ignore[valid-type,misc]
        @start()
        def pick(self) -> str:
            self.state.steps.append("pick")
            self.state.sight = guide.call(f"Pick one sight in {self.state.city}.")
            return self.state.sight

        @router(pick)
        def route(self, sight: str) -> str:
            self.state.steps.append("route")
            return "tour" if "Tower" in sight else "rest"

        @listen("tour")
        async def book(self) -> str:
            self.state.steps.append("book")
            planner = Agent(role="planner", goal="book visits", backstory="a travel agent", llm=planner_llm,
                            tools=[book_ticket])
            task = Task(description="Book a visit to {sight}.", expected_output="a confirmation", agent=planner)
            crew = crewai.Crew(name="booking", agents=[planner], tasks=[task])
            return (await crew.akickoff(inputs={"sight": self.state.sight})).raw

        @listen("tour")
        def weather(self) -> str:
            self.state.steps.append("weather")
            return guide.call(f"What is the weather in {self.state.city}?")

        @listen("rest")
        def stay(self) -> str:
            self.state.steps.append("stay")
            return "stay in"

        @listen(and_(book, weather))
        def summary(self) -> str:
            self.state.steps.append("summary")
            return f"{self.state.sight}: booked, weather {self.state.city.lower()} sunny"

        @listen(or_(summary, stay))
        def done(self, result: str) -> str:
            self.state.steps.append("done")
            return result.upper()

    return TripFlow(), [guide, planner_llm]


def scheduled(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def children(run_id: str) -> list[str]:
    return [
        e.name for e in get_runtime().history(run_id)
        if e.event_type == WorkflowHistoryEventType.CHILD_WORKFLOW_INSTANCE_CREATED
    ]


def comparable(state: TripState) -> dict[str, Any]:
    # book and weather run at once natively (threads) and durably: their order in steps may vary.
    return {"city": state.city, "sight": state.sight, "steps": sorted(state.steps)}


@pytest.mark.parametrize("city", ["Paris", "Oslo"])
def test_flow_with_router_listeners_and_a_crew_matches_native(city: str) -> None:
    native_log, durable_log = ToolLog(), ToolLog()
    native_flow, native_llms = trip_flow(CrewFlow, native_log)
    durable_flow, durable_llms = trip_flow(Flow, durable_log)
    run_id = f"flow-trip-{city.lower()}"

    native = native_flow.kickoff(inputs={"city": city})
    durable = durable_flow.kickoff(inputs={"city": city}, run_id=run_id)

    assert durable == native
    assert comparable(durable_flow.state) == comparable(native_flow.state)
    assert sorted(map(repr, durable_llms[0].calls)) == sorted(map(repr, native_llms[0].calls))
    assert durable_llms[1].calls == native_llms[1].calls
    assert durable_log.calls == native_log.calls
    if city == "Paris":
        assert durable == "THE EIFFEL TOWER: BOOKED, WEATHER PARIS SUNNY"
        assert durable_log.calls == [("book_ticket", {"sight": "the Eiffel Tower"})]
        assert scheduled(run_id) == [MODEL_ACTIVITY, MODEL_ACTIVITY]  # pick and weather
        assert children(run_id) == [WORKFLOW]  # the booking crew
        assert children(f"{run_id}-crew-1") == [TASK_WORKFLOW]
        assert scheduled(f"{run_id}-crew-1-task-0") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
    else:
        assert durable == "STAY IN"
        assert durable_flow.state.steps == ["pick", "route", "stay", "done"]
        assert scheduled(run_id) == [MODEL_ACTIVITY]
        assert children(run_id) == []
    assert get_runtime().state(run_id).name == FLOW_WORKFLOW  # type: ignore[union-attr]


def test_a_finished_flow_returns_its_result_and_state_without_running_again() -> None:
    log = ToolLog()
    flow, llms = trip_flow(Flow, log)
    first = flow.kickoff(inputs={"city": "Paris"}, run_id="flow-again")

    again_flow, again_llms = trip_flow(Flow, log)
    again = again_flow.kickoff(inputs={"city": "Paris"}, run_id="flow-again")

    assert again == first
    assert again_flow.state.model_dump() == flow.state.model_dump()
    assert [llm.calls for llm in again_llms] == [[], []]
    assert len(log.calls) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"inputs": ["Paris"]}, "inputs must be a dict"),
        ({"run_id": ""}, "run_id must be a non-empty string"),
        ({"input_files": {"a": "b.txt"}}, "input_files"),
        ({"restore_from_state_id": "x"}, "restore_from_state_id"),
    ],
)
def test_bad_kickoff_arguments_name_the_problem(arguments: dict[str, Any], message: str) -> None:
    flow, _ = trip_flow(Flow, ToolLog())
    with pytest.raises((TypeError, ValueError), match=message):
        flow.kickoff(**arguments)


def concierge_reply(messages: list[dict[str, Any]]) -> Any:
    if not any(m.get("role") == "tool" for m in messages):
        return [tool_call("call_1", "find_table", city="Rome")]
    return "Table for two in Rome at eight."


def concierge_flow(base: type[CrewFlow[Any]], log: ToolLog) -> tuple[CrewFlow[Any], ScriptedLLM]:
    llm = ScriptedLLM(model="scripted", rule=concierge_reply)

    @tool("find_table")
    def find_table(city: str) -> str:
        """Find a free restaurant table in a city."""
        log.record("find_table", city=city)
        return f"a table in {city}"

    class Concierge(base[TripState]):  # type: ignore[valid-type,misc]
        @start()
        def reserve(self) -> str:
            agent = Agent(role="concierge", goal="reserve tables", backstory="a hotel concierge", llm=llm,
                          tools=[find_table])
            return agent.kickoff(f"Reserve a table in {self.state.city}.").raw

        @listen(reserve)
        def confirm(self, reservation: str) -> str:
            return f"{reservation} Backup: {find_table.run(city=self.state.city)}"

    return Concierge(), llm


def test_an_agent_and_a_tool_used_directly_in_methods_are_activities_of_the_flow() -> None:
    native_log, durable_log = ToolLog(), ToolLog()
    native_flow, native_llm = concierge_flow(CrewFlow, native_log)
    durable_flow, durable_llm = concierge_flow(Flow, durable_log)

    native = native_flow.kickoff(inputs={"city": "Rome"})
    durable = durable_flow.kickoff(inputs={"city": "Rome"}, run_id="flow-concierge")

    assert durable == native == "Table for two in Rome at eight. Backup: a table in Rome"
    assert durable_llm.calls == native_llm.calls
    assert durable_log.calls == native_log.calls == [("find_table", {"city": "Rome"})] * 2
    assert durable_llm.get_token_usage_summary() == native_llm.get_token_usage_summary()
    assert scheduled("flow-concierge") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY, TOOL_ACTIVITY]


def test_human_feedback_is_refused_before_the_run_starts() -> None:
    class Reviewed(Flow[TripState]):  # type: ignore[misc]
        @start()
        @human_feedback(message="Is this sight right?")
        def pick(self) -> str:
            return "the Eiffel Tower"

    with pytest.raises(ValueError, match=r"@human_feedback on pick"):
        Reviewed().kickoff(run_id="flow-reviewed")
    assert get_runtime().state("flow-reviewed") is None


def test_a_sync_llm_call_in_an_async_method_names_the_fix() -> None:
    guide = ScriptedLLM(model="scripted", rule=guide_reply)

    class Hasty(Flow[TripState]):  # type: ignore[misc]
        @start()
        async def pick(self) -> str:
            return guide.call("Pick one sight in Paris.")

    with pytest.raises(RuntimeError, match=r"async method of a durable flow.*`await llm.acall\(...\)`"):
        Hasty().kickoff(run_id="flow-hasty")
    assert guide.calls == []
