from __future__ import annotations

from typing import Any

import pytest
from agents import Agent, ModelSettings, function_tool
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from agents import Runner as NativeRunner
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import get_runtime

pytestmark = pytest.mark.anyio

calls: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    calls.append(city)
    return f"sunny in {city}"


def weather_rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    if not done:
        return [tool_call("get_weather", {"city": "Paris"}, "c1"), tool_call("get_weather", {"city": "Rome"}, "c2")]
    return [message("; ".join(o["output"] for o in done))]


def scheduled_activities(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def _agent(name: str, model: ScriptedModel) -> Agent[Any]:
    return Agent(name=name, instructions="be brief", tools=[get_weather], model=model)


async def test_tool_loop_runs_as_activities_and_returns_a_real_run_result() -> None:
    calls.clear()
    model = ScriptedModel(weather_rule)
    result = await Runner.run(_agent("weather-1", model), "weather?", run_id="basics-1")
    assert result.final_output == "sunny in Paris; sunny in Rome"
    assert result.last_agent.name == "weather-1"
    assert model.calls == 2
    assert calls == ["Paris", "Rome"]
    assert scheduled_activities("basics-1") == [
        "openai_agents.model", "openai_agents.tool", "openai_agents.tool", "openai_agents.model"
    ]


async def test_same_run_id_returns_the_stored_result_without_new_calls() -> None:
    calls.clear()
    model = ScriptedModel(weather_rule)
    agent = _agent("weather-2", model)
    first = await Runner.run(agent, "weather?", run_id="basics-2")
    again = await Runner.run(agent, "weather?", run_id="basics-2")
    assert again.final_output == first.final_output
    assert model.calls == 2 and calls == ["Paris", "Rome"]
    assert [type(i).__name__ for i in again.new_items] == [type(i).__name__ for i in first.new_items]


async def test_durable_result_matches_the_native_run() -> None:
    native = await NativeRunner.run(_agent("weather-3", ScriptedModel(weather_rule)), "weather?")
    durable = await Runner.run(_agent("weather-3", ScriptedModel(weather_rule)), "weather?", run_id="basics-3")
    assert durable.final_output == native.final_output
    assert [type(i).__name__ for i in durable.new_items] == [type(i).__name__ for i in native.new_items]
    assert durable.context_wrapper.usage.requests == native.context_wrapper.usage.requests


async def test_agents_built_per_request_with_one_name_each_run_as_built() -> None:
    import asyncio

    @function_tool
    def greet(name: str) -> str:
        """Greet someone."""
        return f"hello {name}"

    def per_user(user: str) -> Agent[Any]:
        def rule(items: list[Any]) -> list[Any]:
            done = outputs(items)
            if not done:
                return [tool_call("greet", {"name": user}, f"g-{user}")]
            return [message(f"{done[0]['output']}, from the agent of {user}")]

        return Agent(name="assistant", instructions=f"You serve {user}.", tools=[greet], model=ScriptedModel(rule))

    first = await Runner.run(per_user("ana"), "hi", run_id="same-name-ana")
    both = await asyncio.gather(
        Runner.run(per_user("bo"), "hi", run_id="same-name-bo"), Runner.run(per_user("cy"), "hi", run_id="same-name-cy")
    )
    assert first.final_output == "hello ana, from the agent of ana"
    assert [r.final_output for r in both] == ["hello bo, from the agent of bo", "hello cy, from the agent of cy"]
    assert all(r.last_agent.name == "assistant" for r in (first, *both))


def test_a_run_whose_caller_is_gone_refuses_an_ambiguous_agent_name() -> None:
    from dapr_agents_durable.adapters.openai_agents.graph import AmbiguousAgent, find_agent, register_graph

    register_graph(Agent(name="twin", instructions="one"))
    register_graph(Agent(name="twin", instructions="two"))
    with pytest.raises(AmbiguousAgent, match="several different agents of that name"):
        find_agent("run-of-another-process", "twin")
    assert find_agent("run-of-another-process", "no-such-agent") is None


async def test_a_run_config_given_as_a_dict_applies_as_the_sdks_runner_takes_it() -> None:
    model = ScriptedModel(lambda items: [message("ok")])
    config = {"model_settings": ModelSettings(temperature=0.25), "workflow_name": "dict config"}
    result = await Runner.run(Agent(name="dict-config", model=model), "hi", run_id="basics-dict-config",
                              run_config=config)
    assert result.final_output == "ok"
    assert model.requests[0]["model_settings"]["temperature"] == 0.25
    with pytest.raises(TypeError, match="not_a_field"):
        await Runner.run(Agent(name="dict-config", model=model), "hi", run_config={"not_a_field": 1})
