"""Tracing of durable runs: off inside the workflow unless enabled, and never twice for a step.

By default a durable run traces nothing from the workflow side (its code is
replayed after a restart and whenever a finished run's result is rebuilt).
:func:`enable_tracing` turns the SDK's tracing back on for durable runs and puts
:class:`ReplayAwareProcessor` in front of the SDK's processors: trace and span
events that happen while a run replays its history are dropped, so each span
reaches the app's processors (``agents.add_trace_processor`` and friends) when
it starts and ends live, once. A span begun before a restart and ended after it
is reported at its end only.

Example::

    from dapr_agents_durable.adapters.openai_agents import enable_tracing

    enable_tracing()
    result = await Runner.run(agent, "hi", run_id="traced-1")
"""

from __future__ import annotations

import threading
from typing import Any

from agents.tracing import Span, Trace, TracingProcessor, get_trace_provider

from dapr_agents_durable.loop import side_effects_suppressed

_lock = threading.Lock()
_enabled = False


class ReplayAwareProcessor(TracingProcessor):
    """Forwards trace and span events to ``inner`` except while a durable run replays."""

    def __init__(self, inner: TracingProcessor) -> None:
        self.inner = inner

    def on_trace_start(self, trace: Trace) -> None:
        if not side_effects_suppressed():
            self.inner.on_trace_start(trace)

    def on_trace_end(self, trace: Trace) -> None:
        if not side_effects_suppressed():
            self.inner.on_trace_end(trace)

    def on_span_start(self, span: Span[Any]) -> None:
        if not side_effects_suppressed():
            self.inner.on_span_start(span)

    def on_span_end(self, span: Span[Any]) -> None:
        if not side_effects_suppressed():
            self.inner.on_span_end(span)

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self.inner.shutdown(*args, **kwargs)  # the SDK passes a timeout to its multi-processor

    def force_flush(self) -> None:
        self.inner.force_flush()

    def __getattr__(self, name: str) -> Any:
        # add_tracing_processor / set_processors of the SDK's multi-processor.
        return getattr(self.inner, name)


def enable_tracing(enabled: bool = True) -> None:
    """Trace durable runs with the SDK's tracing, once per live step (``False``: the default, off)."""
    global _enabled
    with _lock:
        provider = get_trace_provider()
        processor = getattr(provider, "_multi_processor", None)  # the SDK's DefaultTraceProvider
        if processor is None:
            raise TypeError(
                f"enable_tracing() wraps the processors of the SDK's default trace provider; the installed "
                f"provider is a {type(provider).__name__}: make it replay-aware itself or leave tracing off"
            )
        if enabled and not isinstance(processor, ReplayAwareProcessor):
            provider._multi_processor = ReplayAwareProcessor(processor)  # type: ignore[attr-defined]
        _enabled = enabled


def tracing_enabled() -> bool:
    """Whether durable runs are traced (see :func:`enable_tracing`)."""
    return _enabled
