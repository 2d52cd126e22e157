"""OpenTelemetry spans: one per run, model call and tool call, one trace per run tree, none from replays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, function_tool
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.testing.spans import CapturedSpans, captured_spans

pytestmark = pytest.mark.anyio


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    captured = captured_spans()
    captured.clear()
    yield captured
    captured.clear()


@function_tool
def forecast(city: str) -> str:
    """The forecast for a city."""
    return f"{city}: sun"


def _weather_agent(name: str) -> Agent[Any]:
    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [message(done[0]["output"])] if done else [tool_call("forecast", {"city": "Oslo"}, "f1")]

    return Agent(name=name, instructions="Forecast.", tools=[forecast], model=ScriptedModel(rule))


def _planner(name: str) -> Agent[Any]:
    helper = _weather_agent(f"{name}-helper")

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [message(f"plan: {done[0]['output']}")] if done else [tool_call("ask_weather", {"input": "Oslo"}, "w1")]

    return Agent(name=name, instructions="Plan.", model=ScriptedModel(rule),
                 tools=[helper.as_tool(tool_name="ask_weather", tool_description="Ask the weather agent.")])


def _by_operation(finished: tuple[Any, ...]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in finished:
        found.setdefault(str(span.attributes["gen_ai.operation.name"]), []).append(span)
    return found


async def test_a_run_is_one_trace_of_run_model_and_tool_spans_with_genai_attributes(
    spans: CapturedSpans,
) -> None:
    result = await Runner.run(_weather_agent("otel-weather"), "forecast?", run_id="otel-1")
    assert result.final_output == "Oslo: sun"
    found = _by_operation(spans.finished())
    assert sorted(found) == ["chat", "execute_tool", "invoke_agent"]
    (run,) = found["invoke_agent"]
    chats, (tool,) = found["chat"], found["execute_tool"]
    assert len(chats) == 2
    for chat in chats:
        assert chat.attributes["gen_ai.usage.input_tokens"] == 10
        assert chat.attributes["gen_ai.usage.output_tokens"] == 5
        assert chat.attributes["gen_ai.agent.name"] == "otel-weather"
    assert tool.name == "execute_tool forecast"
    assert tool.attributes["gen_ai.tool.name"] == "forecast" and tool.attributes["gen_ai.tool.call.id"] == "f1"
    assert run.attributes["dapr_agents_durable.run_id"] == "otel-1"
    assert {s.context.trace_id for s in (run, *chats, tool)} == {run.context.trace_id}
    assert all(s.parent is not None and s.parent.span_id == run.context.span_id for s in (*chats, tool))
    assert run.parent is None


async def test_a_finished_run_read_again_emits_no_span(spans: CapturedSpans) -> None:
    agent = _weather_agent("otel-again")
    await Runner.run(agent, "forecast?", run_id="otel-2")
    first = len(spans.finished())
    again = await Runner.run(agent, "forecast?", run_id="otel-2")  # rebuilt by replaying its history
    assert again.final_output == "Oslo: sun"
    assert len(spans.finished()) == first == 4


async def test_every_step_is_one_span_when_each_step_replays_the_run(
    spans: CapturedSpans, cold_replay: None
) -> None:
    await Runner.run(_weather_agent("otel-cold"), "forecast?", run_id="otel-3")
    found = _by_operation(spans.finished())
    assert [len(found[k]) for k in ("invoke_agent", "chat", "execute_tool")] == [1, 2, 1]


async def test_an_agent_tools_child_run_is_parented_under_the_calling_run(spans: CapturedSpans) -> None:
    result = await Runner.run(_planner("otel-planner"), "plan", run_id="otel-4")
    assert result.final_output == "plan: Oslo: sun"
    finished = spans.finished()
    runs = {s.attributes["dapr_agents_durable.run_id"]: s for s in finished
            if s.attributes["gen_ai.operation.name"] == "invoke_agent"}
    assert set(runs) == {"otel-4", "otel-4-agent-tool-w1"}
    parent, child = runs["otel-4"], runs["otel-4-agent-tool-w1"]
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert {s.context.trace_id for s in finished} == {parent.context.trace_id}
    child_chats = [s for s in finished if s.attributes["gen_ai.operation.name"] == "chat"
                   and s.attributes["dapr_agents_durable.run_id"] == "otel-4-agent-tool-w1"]
    assert len(child_chats) == 2 and all(s.parent.span_id == child.context.span_id for s in child_chats)


async def test_spans_are_off_when_the_sdk_is_disabled(spans: CapturedSpans, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    await Runner.run(_weather_agent("otel-off"), "forecast?", run_id="otel-5")
    assert spans.finished() == ()
