"""Tracing: durable runs trace as native runs do, each live step once; enable_tracing(False) turns it off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, function_tool, set_trace_processors, set_tracing_disabled
from agents import Runner as NativeRunner
from agents.tracing import Span, Trace, TracingProcessor

from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner, enable_tracing

pytestmark = pytest.mark.anyio


class Collector(TracingProcessor):
    """Records finished spans and started traces."""

    def __init__(self) -> None:
        self.traces: list[str] = []
        self.spans: list[str] = []

    def on_trace_start(self, trace: Trace) -> None:
        self.traces.append(trace.name)

    def on_trace_end(self, trace: Trace) -> None:
        pass

    def on_span_start(self, span: Span[Any]) -> None:
        pass

    def on_span_end(self, span: Span[Any]) -> None:
        data = span.span_data
        self.spans.append(f"{data.type}:{getattr(data, 'name', '')}")

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


@function_tool
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 12 C"


def rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    if not done:
        return [tool_call("lookup", {"city": "Oslo"}, "c1"), tool_call("lookup", {"city": "Rome"}, "c2")]
    return [message(" / ".join(o["output"] for o in done))]


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    set_trace_processors([collector])
    set_tracing_disabled(False)
    yield collector
    set_tracing_disabled(True)
    set_trace_processors([])
    enable_tracing()


def _agent(name: str) -> Agent[Any]:
    return Agent(name=name, instructions="Answer.", tools=[lookup], model=ScriptedModel(rule))


async def test_durable_runs_trace_nothing_when_turned_off(collector: Collector) -> None:
    enable_tracing(False)
    await Runner.run(_agent("trace-off"), "weather", run_id="trace-off")
    assert collector.spans == [] and collector.traces == []


async def test_the_sdks_own_switch_turns_durable_tracing_off(collector: Collector) -> None:
    set_tracing_disabled(True)
    await Runner.run(_agent("trace-sdk-off"), "weather", run_id="trace-sdk-off")
    assert collector.spans == [] and collector.traces == []


async def _native_spans(collector: Collector) -> list[str]:
    await NativeRunner.run(_agent("trace-native"), "weather")
    native = sorted(s.replace("trace-native", "AGENT") for s in collector.spans)
    assert native  # the SDK traced the native run
    collector.spans.clear()
    collector.traces.clear()
    return native


async def _check_durable_spans(collector: Collector, run_id: str, native: list[str]) -> None:
    agent = _agent(run_id)
    await Runner.run(agent, "weather", run_id=run_id)
    assert sorted(s.replace(run_id, "AGENT") for s in collector.spans) == native
    assert collector.traces == ["Agent workflow"]

    collector.spans.clear()
    again = await Runner.run(agent, "weather", run_id=run_id)  # rebuilt by replaying history
    assert again.final_output == "Oslo: 12 C / Rome: 12 C"
    assert collector.spans == []


async def test_durable_runs_trace_each_step_once_by_default(collector: Collector) -> None:
    await _check_durable_spans(collector, "trace-warm", await _native_spans(collector))


async def test_each_step_is_traced_once_when_every_step_replays_the_run(collector: Collector, cold_replay: None) -> None:
    await _check_durable_spans(collector, "trace-cold", await _native_spans(collector))
