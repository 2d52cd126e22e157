"""Tracing of durable runs: as native by default, and never twice for a step.

A durable run traces as the SDK does natively (``set_tracing_disabled`` and
``RunConfig(tracing_disabled=True)`` turn it off, as they do natively). Its workflow
code is replayed after a restart and whenever a finished run's result is rebuilt, so
before each run :class:`ReplayAwareProcessor` is put in front of the SDK's processors:
trace and span events that happen while a run replays its history are dropped, and
each span reaches the app's processors (``agents.add_trace_processor`` and friends)
when it starts and ends live, once. A span begun before a restart and ended after it
is reported at its end only. ``enable_tracing(False)`` turns tracing off for durable
runs only; with a trace provider other than the SDK's default (which cannot be made
replay-aware from outside) durable runs trace nothing, and say so once in the log.

Example::

    from dapr_agents_durable.adapters.openai_agents import enable_tracing

    enable_tracing(False)    # durable runs untraced; plain agents.Runner runs unchanged
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from agents.tracing import Span, Trace, TracingProcessor, get_trace_provider

from dapr_agents_durable.loop import side_effects_suppressed

log = logging.getLogger("dapr_agents_durable.openai_agents")

_lock = threading.Lock()
_enabled = True
_warned = False


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
    """Trace durable runs with the SDK's tracing, once per live step (the default), or not (``False``)."""
    global _enabled
    with _lock:
        _enabled = enabled


def tracing_enabled() -> bool:
    """Whether durable runs are traced: on unless :func:`enable_tracing` turned it off, and the
    installed trace provider's processors can be made replay-aware (done here, once per provider)."""
    global _warned
    with _lock:
        if not _enabled:
            return False
        provider = get_trace_provider()
        processor = getattr(provider, "_multi_processor", None)  # the SDK's DefaultTraceProvider
        if processor is None:
            if not _warned:
                _warned = True
                log.warning(
                    "durable runs are not traced: the installed trace provider (%s) is not the SDK's default, "
                    "whose processors can be made replay-aware", type(provider).__name__
                )
            return False
        if not isinstance(processor, ReplayAwareProcessor):
            provider._multi_processor = ReplayAwareProcessor(processor)  # type: ignore[attr-defined]
        return True
