"""Every feature run natively and durably under the same scripted model: same output, messages, usage, errors.

The scripted models are PydanticAI's own ``FunctionModel``s (run inside the
``pydantic_ai.model`` activity of the durable run); each answer is a pure function of the
messages so both runs see the same script.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from compare import normalized, same_run
from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry, NativeOutput, PromptedOutput, RunContext, ToolOutput
from pydantic_ai.capabilities import ProcessHistory
from pydantic_ai.exceptions import ModelHTTPError, UnexpectedModelBehavior, UsageLimitExceeded
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RunUsage, UsageLimits

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent

calls: Counter[str] = Counter()

Script = Callable[[list[ModelMessage], AgentInfo], ModelResponse]


def parts(messages: list[ModelMessage], kind: type) -> list[Any]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, kind)]


def returns_and_retries(messages: list[ModelMessage]) -> tuple[list[ToolReturnPart], int]:
    """Successful tool returns, and how many calls were sent back for a retry (as parts of either kind)."""
    returned = [p for p in parts(messages, ToolReturnPart) if p.outcome != "retried"]
    retried = [p for p in parts(messages, ToolReturnPart) if p.outcome == "retried"]
    return returned, len(retried) + len(parts(messages, RetryPromptPart))


def model(name: str, script: Script) -> FunctionModel:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls[f"{name} model"] += 1
        return script(messages, info)

    return FunctionModel(answer, model_name=name)


def both(agent: Agent[Any, Any], prompt: str | None, run_id: str, **kwargs: Any) -> tuple[Any, Any]:
    """The native result, then the durable one (the script's model calls counted for each)."""
    native = agent.run_sync(prompt, **kwargs)
    durable = DaprAgent(agent).run_sync(prompt, run_id=run_id, **kwargs)
    return native, durable


# ---------------------------------------------------------------- tools, deps, instructions


@dataclass
class Deps:
    user: str
    cities: dict[str, str]


def weather_script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returns = parts(messages, ToolReturnPart)
    if not returns:
        return ModelResponse(
            parts=[
                ToolCallPart("forecast", {"city": "Paris"}, tool_call_id="c_paris"),
                ToolCallPart("forecast", {"city": "Oslo"}, tool_call_id="c_oslo"),
                ToolCallPart("whoami", {}, tool_call_id="c_who"),
            ]
        )
    return ModelResponse(parts=[TextPart(" / ".join(str(p.content) for p in returns))])


def weather_agent(name: str) -> Agent[Deps, str]:
    agent = Agent(model(name, weather_script), name=name, deps_type=Deps, instructions="Be brief.")

    @agent.instructions
    def greet(ctx: RunContext[Deps]) -> str:
        return f"The user is {ctx.deps.user}."

    @agent.tool
    async def forecast(ctx: RunContext[Deps], city: str) -> str:
        calls[f"{name} forecast {city}"] += 1
        return ctx.deps.cities[city]

    @agent.tool_plain
    def whoami() -> dict[str, int]:
        return {"answer": 42}

    return agent


def test_parallel_tools_with_deps_and_dynamic_instructions_read_back_as_natively() -> None:
    agent = weather_agent("fid-weather")
    deps = Deps("ada", {"Paris": "sunny", "Oslo": "rain"})
    native, durable = both(agent, "Weather?", "fid-weather-1", deps=deps)

    same_run(native, durable)
    assert durable.output == "sunny / rain / {'answer': 42}"
    assert calls["fid-weather model"] == 4 and calls["fid-weather forecast Paris"] == 2


# ---------------------------------------------------------------- retries


def retry_script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returns, retries = returns_and_retries(messages)
    if returns:
        return ModelResponse(parts=[TextPart(f"booked {returns[0].content} after {retries} retries")])
    if retries == 0:
        return ModelResponse(parts=[ToolCallPart("book", {"seats": "many"}, tool_call_id="c1")])  # fails validation
    return ModelResponse(parts=[ToolCallPart("book", {"seats": 13 - retries}, tool_call_id=f"c{retries + 1}")])


def test_argument_validation_and_model_retry_from_a_tool_are_retried_as_natively() -> None:
    agent = Agent(model("fid-retry", retry_script), name="fid-retry", retries=3)

    @agent.tool_plain
    def book(seats: int) -> str:
        if seats > 11:
            raise ModelRetry(f"{seats} seats is too many")
        return f"{seats} seats"

    native, durable = both(agent, "Book seats", "fid-retry-1")

    same_run(native, durable)
    assert durable.output == "booked 11 seats after 2 retries"


def test_a_tool_out_of_retries_raises_unexpected_model_behavior_as_natively() -> None:
    agent = Agent(model("fid-exhaust", retry_script), name="fid-exhaust", retries=1)

    @agent.tool_plain
    def book(seats: int) -> str:
        raise ModelRetry("never")

    with pytest.raises(UnexpectedModelBehavior) as native:
        agent.run_sync("Book seats")
    with pytest.raises(UnexpectedModelBehavior) as durable:
        DaprAgent(agent).run_sync("Book seats", run_id="fid-exhaust-1")
    assert str(durable.value) == str(native.value)


def test_a_tool_error_ends_the_run_with_the_same_exception() -> None:
    agent = Agent(model("fid-crashing", weather_script), name="fid-crashing")

    # One of the parallel calls fails: were both to fail, which error ends the run would
    # depend on which thread finishes first, natively as durably.
    @agent.tool_plain
    def forecast(city: str) -> str:
        if city == "Paris":
            raise LookupError(f"no station in {city}")
        return "rain"

    @agent.tool_plain
    def whoami() -> str:
        return "ada"

    with pytest.raises(LookupError) as native:
        agent.run_sync("Weather?")
    with pytest.raises(LookupError) as durable:
        DaprAgent(agent).run_sync("Weather?", run_id="fid-crashing-1")
    assert str(durable.value) == str(native.value)


# ---------------------------------------------------------------- structured output


class Booking(BaseModel):
    city: str
    nights: int


def output_script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    retries = sum(isinstance(m, ModelResponse) for m in messages)
    nights = 0 if not retries else 3  # the output validator rejects 0 nights once
    args = {"city": "Lima", "nights": nights}
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args, tool_call_id=f"o{retries}")])
    return ModelResponse(parts=[TextPart(Booking(**args).model_dump_json())])


@pytest.mark.parametrize(
    "output",
    [Booking, ToolOutput(Booking, name="final_booking"), NativeOutput(Booking), PromptedOutput(Booking)],
    ids=["output_type", "ToolOutput", "NativeOutput", "PromptedOutput"],
)
def test_structured_outputs_and_output_validators_as_natively(output: Any) -> None:
    name = f"fid-output-{type(output).__name__}"
    agent = Agent(model(name, output_script), name=name, output_type=output, retries={"output": 2})

    @agent.output_validator
    def at_least_one_night(value: Booking) -> Booking:
        if value.nights < 1:
            raise ModelRetry("a booking needs at least one night")
        return value

    native, durable = both(agent, "Book Lima", name)

    same_run(native, durable)
    assert durable.output == Booking(city="Lima", nights=3)


def test_a_run_level_output_type_is_honoured() -> None:
    agent = Agent(model("fid-run-output", output_script), name="fid-run-output")
    native, durable = both(agent, "Book Lima", "fid-run-output-1", output_type=Booking)
    same_run(native, durable)
    assert isinstance(durable.output, Booking)


# ---------------------------------------------------------------- limits, history


def test_usage_limits_raise_usage_limit_exceeded_as_natively() -> None:
    agent = weather_agent("fid-limits")
    deps = Deps("ada", {"Paris": "sunny", "Oslo": "rain"})
    limits = UsageLimits(request_limit=1)
    with pytest.raises(UsageLimitExceeded) as native:
        agent.run_sync("Weather?", deps=deps, usage_limits=limits)
    with pytest.raises(UsageLimitExceeded) as durable:
        DaprAgent(agent).run_sync("Weather?", run_id="fid-limits-1", deps=deps, usage_limits=limits)
    assert str(durable.value) == str(native.value)


def test_a_usage_passed_in_starts_the_count_and_holds_the_total_as_natively() -> None:
    agent = weather_agent("fid-usage")
    deps = Deps("ada", {"Paris": "sunny", "Oslo": "rain"})
    native_usage, durable_usage = RunUsage(requests=3, input_tokens=40), RunUsage(requests=3, input_tokens=40)
    native = agent.run_sync("Weather?", deps=deps, usage=native_usage)
    durable = DaprAgent(agent).run_sync("Weather?", run_id="fid-usage-1", deps=deps, usage=durable_usage)
    same_run(native, durable)
    assert durable_usage == native_usage == native.usage
    assert native_usage.requests == 3 + 2


def echo_script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    prompts = [p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts if p.part_kind == "user-prompt"]
    return ModelResponse(parts=[TextPart(f"seen {len(messages)} messages: {' | '.join(map(str, prompts))}")])


def test_history_processors_and_multi_turn_message_history_as_natively() -> None:
    def last_three(messages: list[ModelMessage]) -> list[ModelMessage]:
        return messages[-3:]

    agent = Agent(model("fid-history", echo_script), name="fid-history", capabilities=[ProcessHistory(last_three)])
    first_native, first_durable = both(agent, "one", "fid-history-1")
    same_run(first_native, first_durable)
    second_native = agent.run_sync("two", message_history=first_native.all_messages())
    second_durable = DaprAgent(agent).run_sync("two", run_id="fid-history-2", message_history=first_durable.all_messages())
    same_run(second_native, second_durable)
    third_native = agent.run_sync("three", message_history=second_native.all_messages())
    third_durable = DaprAgent(agent).run_sync(
        "three", run_id="fid-history-3", message_history=second_durable.all_messages()
    )
    same_run(third_native, third_durable)
    assert third_durable.output == "seen 3 messages: two | three"


# ---------------------------------------------------------------- model errors


def test_a_model_http_400_raises_at_once_with_its_type_status_and_body() -> None:
    def refuse(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise ModelHTTPError(400, "fid-refuse", {"error": {"message": "bad schema"}})

    agent = Agent(model("fid-refuse", refuse), name="fid-refuse")
    with pytest.raises(ModelHTTPError) as native:
        agent.run_sync("hi")
    before = calls["fid-refuse model"]
    with pytest.raises(ModelHTTPError) as durable:
        DaprAgent(agent).run_sync("hi", run_id="fid-refuse-1")
    assert calls["fid-refuse model"] == before + 1  # not retried
    assert (durable.value.status_code, durable.value.body, str(durable.value)) == (
        native.value.status_code,
        native.value.body,
        str(native.value),
    )


def test_messages_in_the_model_request_are_those_of_the_native_run() -> None:
    seen: dict[str, list[Any]] = {}

    def recording(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.setdefault(info.model_settings.get("temperature") and "durable" or "native", []).append(normalized(messages))
        return weather_script(messages, info)

    agent = weather_agent("fid-requests")
    agent._model = model("fid-requests", recording)  # noqa: SLF001
    deps = Deps("ada", {"Paris": "sunny", "Oslo": "rain"})
    agent.run_sync("Weather?", deps=deps, model_settings={"temperature": 0.0})
    DaprAgent(agent).run_sync("Weather?", run_id="fid-requests-1", deps=deps, model_settings={"temperature": 0.5})
    assert seen["durable"] == seen["native"] and len(seen["native"]) == 2
