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


class _HeldTool:
    """A tool ``wait_for_release`` that runs until the test releases it; ``rule`` calls it once."""

    def __init__(self) -> None:
        import asyncio

        self.started, self.release = asyncio.Event(), asyncio.Event()

        @function_tool
        async def wait_for_release() -> str:
            """Wait until the caller releases the tool."""
            self.started.set()
            await self.release.wait()
            return "released"

        self.tool = wait_for_release

    @staticmethod
    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [message(done[0]["output"])] if done else [tool_call("wait_for_release", {}, "w1")]


class _LoopModel(ScriptedModel):
    """Records the event loop each call runs on."""

    def __init__(self, rule: Any) -> None:
        super().__init__(rule)
        self.loops: list[Any] = []

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        self.loops.append(asyncio.get_running_loop())
        return await super().get_response(*args, **kwargs)


async def test_model_and_tool_calls_run_on_the_callers_loop_with_its_asyncio_objects() -> None:
    import asyncio

    caller_loop = asyncio.get_running_loop()
    held = _HeldTool()  # its events are bound to the caller's loop, as an app's objects are
    model = _LoopModel(held.rule)
    agent = Agent(name="loop-bound", instructions="be brief", tools=[held.tool], model=model)
    run = asyncio.ensure_future(Runner.run(agent, "go", run_id="basics-caller-loop"))
    await asyncio.wait_for(held.started.wait(), 30)
    assert not run.done()
    held.release.set()
    result = await asyncio.wait_for(run, 30)
    assert result.final_output == "released"
    assert model.loops == [caller_loop, caller_loop]


async def test_a_cancelled_caller_stops_waiting_and_the_run_goes_on() -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    held = _HeldTool()
    agent = Agent(name="cancelled-caller", instructions="be brief", tools=[held.tool], model=ScriptedModel(held.rule))
    waiters = ThreadPoolExecutor(2)
    loop.set_default_executor(waiters)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(Runner.run(agent, "go", run_id="basics-cancelled"), 1)
    assert held.started.is_set()
    # What asyncio.run() does at exit: wait for the threads of to_thread. The run's waiter has stopped.
    with ThreadPoolExecutor(1) as other:
        await asyncio.wait_for(loop.run_in_executor(other, waiters.shutdown), 10)
    loop.set_default_executor(ThreadPoolExecutor(2))
    held.release.set()
    result = await asyncio.wait_for(Runner.run(agent, "go", run_id="basics-cancelled"), 30)
    assert result.final_output == "released"


async def test_a_tool_raising_cancelled_error_fails_its_call_as_natively() -> None:
    import asyncio

    @function_tool
    async def gives_up() -> str:
        """A tool that gives up."""
        raise asyncio.CancelledError("tool gave up")

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [message(done[0]["output"])] if done else [tool_call("gives_up", {}, "g1")]

    def agent() -> Agent[Any]:
        return Agent(name="gives-up", instructions="be brief", tools=[gives_up], model=ScriptedModel(rule))

    native = await NativeRunner.run(agent(), "go")
    durable = await asyncio.wait_for(Runner.run(agent(), "go", run_id="basics-gives-up"), 30)
    assert durable.final_output == native.final_output
    assert "error" in durable.final_output
