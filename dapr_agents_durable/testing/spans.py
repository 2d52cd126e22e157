"""Capture the OpenTelemetry spans this library emits, in memory, for tests.

Installs (once per process) a ``TracerProvider`` with an in-memory exporter as the global
provider, and keeps only the spans of this library's tracer (the Dapr SDK emits spans of
its own to the same provider). Needs ``opentelemetry-sdk``.

Example::

    spans = captured_spans()
    spans.clear()
    ...                                    # run something durably
    chats = spans.of("chat")               # the finished spans whose gen_ai.operation.name is "chat"
"""

from __future__ import annotations

from typing import Any

from dapr_agents_durable.runtime.telemetry import TRACER_NAME


class CapturedSpans:
    """This library's finished spans, as an in-memory exporter received them."""

    def __init__(self, exporter: Any) -> None:
        self._exporter = exporter

    def clear(self) -> None:
        self._exporter.clear()

    def finished(self) -> tuple[Any, ...]:
        return tuple(s for s in self._exporter.get_finished_spans()
                     if s.instrumentation_scope is not None and s.instrumentation_scope.name == TRACER_NAME)

    def of(self, operation: str) -> list[Any]:
        """The finished spans of GenAI operation ``operation`` (``invoke_agent``, ``chat``, ``execute_tool``)."""
        return [s for s in self.finished() if s.attributes.get("gen_ai.operation.name") == operation]

    def models(self) -> list[tuple[Any, Any, Any]]:
        """(``gen_ai.request.model``, input tokens, output tokens) of each chat span, in order."""
        return [(s.attributes.get("gen_ai.request.model"), s.attributes.get("gen_ai.usage.input_tokens"),
                 s.attributes.get("gen_ai.usage.output_tokens")) for s in self.of("chat")]

    def tools(self) -> list[Any]:
        """``gen_ai.tool.name`` of each tool span, in order."""
        return [s.attributes.get("gen_ai.tool.name") for s in self.of("execute_tool")]

    def trace_ids(self) -> set[int]:
        """The trace ids of the captured spans (one per run tree)."""
        return {s.context.trace_id for s in self.finished()}


_captured: CapturedSpans | None = None


def captured_spans() -> CapturedSpans:
    """The process's span capture, installing its provider on first use."""
    global _captured
    if _captured is None:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _captured = CapturedSpans(exporter)
    return _captured
