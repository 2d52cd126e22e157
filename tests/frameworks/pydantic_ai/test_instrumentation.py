"""PydanticAI's own instrumentation (OpenTelemetry, as Logfire uses it) in durable runs: each span once.

A durable run's agent graph runs in the workflow, and is replayed after a restart and
whenever a finished run's result is rebuilt. The spans PydanticAI opens for the run, its
model requests and its tool calls are reported when they happen live, as natively, and
never from replayed code (across a restart: tests/frameworks/pydantic_ai/test_crash_resume.py).
"""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic_ai import Agent
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings, InstrumentedModel

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent


def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returned = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
    if len(returned) < 2:
        return ModelResponse(parts=[ToolCallPart("add", {"a": len(returned), "b": 1}, tool_call_id=f"a{len(returned)}")])
    return ModelResponse(parts=[TextPart(f"sum {returned[-1].content}")])


def test_spans_are_reported_once_as_natively_and_not_again_when_a_finished_run_is_rebuilt() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Instrumentation(settings=InstrumentationSettings(tracer_provider=provider))
    agent = Agent(FunctionModel(answer, model_name="adder"), name="adder", capabilities=[tracing])

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        return a + b

    def names() -> list[str]:
        found = [span.name for span in exporter.get_finished_spans()]
        exporter.clear()
        return found

    native = agent.run_sync("Add.")
    native_spans = names()
    assert native_spans == ["chat adder", "execute_tool add", "chat adder", "execute_tool add", "chat adder",
                            "invoke_agent adder"]

    durable = DaprAgent(agent).run_sync("Add.", run_id="instrumented-1")
    assert durable.output == native.output == "sum 2"
    assert names() == native_spans

    again = DaprAgent(agent).run_sync("Add.", run_id="instrumented-1")  # rebuilt by replaying its history
    assert again.output == "sum 2"
    assert names() == []


def test_an_instrumented_model_given_to_the_agent_traces_the_same_way() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    model = InstrumentedModel(FunctionModel(answer, model_name="adder"), InstrumentationSettings(tracer_provider=provider))
    agent = Agent(model, name="instrumented-model")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        return a + b

    agent.run_sync("Add.")
    native = [span.name for span in exporter.get_finished_spans()]
    exporter.clear()
    assert DaprAgent(agent).run_sync("Add.", run_id="instrumented-model-1").output == "sum 2"
    assert [span.name for span in exporter.get_finished_spans()] == native and len(native) == 6
    exporter.clear()
    DaprAgent(agent).run_sync("Add.", run_id="instrumented-model-1")
    assert exporter.get_finished_spans() == ()
