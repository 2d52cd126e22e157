"""PydanticAI's real ``agent.run`` loop, durable on the embedded engine.

The agent runs on the durable loop inside a workflow; the real embedded engine serves
the real ``dapr.ext.workflow`` SDK over gRPC and replays the orchestrator on every work
item. Only the model is scripted (an async ``FunctionModel``, run inside the model
activity).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime
from types import FunctionType
from typing import Any

import pytest
from dapr.ext.workflow import WorkflowStatus
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from durable_seams import AGENT_WORKFLOW, MODEL_ACTIVITY, TOOL_ACTIVITY, register
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai._utils import now_utc
from pydantic_ai._uuid import uuid7
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from dapr_agents_durable.loop import current_execution, remove_shim
from dapr_agents_durable.loop.framework_shims import pydantic_ai as pydantic_ai_shims
from dapr_agents_durable.loop.stalls import RunHeld
from dapr_agents_durable.runtime import DurableRuntime

WAIT_SECONDS = 120

calls: Counter[str] = Counter()
first_requests: dict[str, ModelRequest] = {}
instruction_runs: list[str] = []


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


# ---------------------------------------------------------------- a weather agent, text output


def weather_model(name: str) -> FunctionModel:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls[f"{name} model"] += 1
        first_request = messages[0]
        assert isinstance(first_request, ModelRequest)
        first_requests.setdefault(name, first_request)
        returns = tool_returns(messages)
        if not returns:
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        "get_weather", {"city": "Paris"}, tool_call_id="call_paris"
                    ),
                    ToolCallPart(
                        "get_weather", {"city": "Oslo"}, tool_call_id="call_oslo"
                    ),
                ]
            )
        return ModelResponse(
            parts=[TextPart(" / ".join(str(part.content) for part in returns))]
        )

    return FunctionModel(answer)


def weather_agent(name: str) -> Agent[None, str]:
    agent = Agent(weather_model(name), name=name)

    @agent.instructions
    def be_brief() -> str:
        instruction_runs.append(current_execution().instance_id)
        return "Be brief."

    @agent.tool_plain
    def get_weather(city: str) -> str:
        calls[f"{name} get_weather {city}"] += 1
        return {"Paris": "sunny in Paris", "Oslo": "rain in Oslo"}[city]

    return agent


# ---------------------------------------------------------------- a forecast agent, structured output


class Forecast(BaseModel):
    city: str
    temperature_c: int
    summary: str


async def forecast_model(
    messages: list[ModelMessage], info: AgentInfo
) -> ModelResponse:
    calls["forecast model"] += 1
    returns = tool_returns(messages)
    if not returns:
        return ModelResponse(parts=[ToolCallPart("get_temperature", {"city": "Lima"})])
    output_tool = info.output_tools[0].name
    args = {"city": "Lima", "temperature_c": returns[0].content, "summary": "mild"}
    return ModelResponse(parts=[ToolCallPart(output_tool, args)])


def forecast_agent() -> Agent[None, Forecast]:
    agent = Agent(
        FunctionModel(forecast_model), name="forecaster", output_type=Forecast
    )

    @agent.tool_plain
    async def get_temperature(city: str) -> int:
        calls[f"get_temperature {city}"] += 1
        return 19

    return agent


# ---------------------------------------------------------------- helpers


def register_agent(runtime: DurableRuntime, agent: Agent[Any, Any]) -> None:
    assert isinstance(agent.model, Model)
    register(runtime, agent, models_by_name={f"{agent.name}-model": agent.model})


def run_agent(
    runtime: DurableRuntime, agent: Agent[Any, Any], prompt: str, run_id: str
) -> Any:
    register_agent(runtime, agent)
    state = runtime.run(
        AGENT_WORKFLOW,
        {"agent": agent.name, "prompt": prompt},
        run_id=run_id,
        timeout=WAIT_SECONDS,
    )
    return json.loads(state.serialized_output)


def activity_batches(runtime: DurableRuntime, run_id: str) -> list[list[str | None]]:
    """The activities each work item scheduled, for the work items that scheduled any."""
    batches: list[list[str | None]] = []
    for event in runtime.history(run_id):
        if event.event_type == WorkflowHistoryEventType.WORKFLOW_STARTED:
            batches.append([])
        elif event.event_type == WorkflowHistoryEventType.TASK_SCHEDULED:
            batches[-1].append(event.name)
    return [batch for batch in batches if batch]


def workflow_start(runtime: DurableRuntime, run_id: str) -> datetime:
    """Workflow time during the run's first work item (naive UTC)."""
    history = runtime.history(run_id)
    return next(
        event.timestamp
        for event in history
        if event.event_type == WorkflowHistoryEventType.WORKFLOW_STARTED
    )


# ---------------------------------------------------------------- tests


def test_parallel_tool_calls_run_once_each_as_activities_between_two_model_activities(
    runtime: DurableRuntime,
) -> None:
    instruction_runs.clear()
    output = run_agent(
        runtime, weather_agent("weather"), "Weather in Paris and Oslo?", "weather-1"
    )

    assert output == "sunny in Paris / rain in Oslo"
    assert activity_batches(runtime, "weather-1") == [
        [MODEL_ACTIVITY],
        [TOOL_ACTIVITY, TOOL_ACTIVITY],
        [MODEL_ACTIVITY],
    ]
    assert (
        calls["weather model"],
        calls["weather get_weather Paris"],
        calls["weather get_weather Oslo"],
    ) == (2, 1, 1)
    assert instruction_runs and set(instruction_runs) == {"weather-1"}
    request = first_requests["weather"]
    assert request.run_id is not None and request.timestamp is not None
    assert request.timestamp.replace(tzinfo=None) == workflow_start(
        runtime, "weather-1"
    )
    run_id = uuid.UUID(request.run_id)
    assert run_id.version == 7
    assert run_id.int >> 80 == int(request.timestamp.timestamp() * 1000)


def test_a_structured_output_type_comes_back_validated_from_the_final_model_activity(
    runtime: DurableRuntime,
) -> None:
    output = run_agent(runtime, forecast_agent(), "Forecast for Lima?", "forecast-1")

    assert Forecast.model_validate(output) == Forecast(
        city="Lima", temperature_c=19, summary="mild"
    )
    assert activity_batches(runtime, "forecast-1") == [
        [MODEL_ACTIVITY],
        [TOOL_ACTIVITY],
        [MODEL_ACTIVITY],
    ]
    assert (calls["forecast model"], calls["get_temperature Lima"]) == (2, 1)


@pytest.mark.usefixtures("cold_replay")
@pytest.mark.parametrize("helper", [now_utc, uuid7], ids=["now_utc", "uuid7"])
def test_without_a_clock_or_id_shim_the_replay_drifts_and_is_held_before_billing_again(
    runtime: DurableRuntime, helper: FunctionType
) -> None:
    name = f"unshimmed-{helper.__name__}"
    agent = weather_agent(name)
    register_agent(runtime, agent)
    remove_shim(helper)
    try:
        runtime.start_or_attach(AGENT_WORKFLOW, {"agent": name, "prompt": "Weather?"}, run_id=name)
        with pytest.raises(RunHeld) as held:
            runtime.wait_until(name, lambda state: False, timeout=WAIT_SECONDS)
    finally:
        pydantic_ai_shims.install()

    assert runtime.state(name).runtime_status == WorkflowStatus.RUNNING  # held, its history intact
    assert held.value.stall["error"] == "NonDeterminismError"
    assert (
        f"is not deterministic at step 1: its history recorded activity '{MODEL_ACTIVITY}'"
        in str(held.value)
    )
    runtime.client.terminate_workflow(name)
    assert calls[f"{name} model"] == 1
