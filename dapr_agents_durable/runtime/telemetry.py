"""OpenTelemetry spans of durable runs: one per run, model call and tool call.

Spans follow the GenAI semantic conventions (``gen_ai.operation.name`` ``invoke_agent``,
``chat`` or ``execute_tool``; ``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` /
``output_tokens``, ``gen_ai.tool.name``, ``gen_ai.agent.name``) and are made from the
workflow's live steps (:mod:`dapr_agents_durable.loop.observers`): replayed code emits
nothing, so each step is one span however often its run replays, in whichever process.
A run's trace and span ids derive from its run id, so a run's model and tool calls,
its child runs (agents as tools, delegated agents, subgraphs, tasks) and the steps it
took before a restart all join one trace, under one run span.

Off unless configured, the standard way: spans go to the tracer provider the app set
(``opentelemetry.trace.set_tracer_provider``), or, with none set, to one this module
builds from the ``OTEL_*`` variables when ``OTEL_TRACES_EXPORTER`` (``console`` or
``otlp``) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
set (``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the service).
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turns them off. Needs
``opentelemetry-api`` (the ``otel`` extra also installs the SDK).

Example (an adapter describing its model activity)::

    describe_step("pydantic_ai.model", lambda run_id, input, result: StepInfo(
        "chat", model=input.get("model_name"), usage=(result["usage"]["input_tokens"], ...)))
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dapr_agents_durable.loop.observers import FinishedRun, FinishedStep
from dapr_agents_durable.runtime.payloads import get, model_call, tool_call

if TYPE_CHECKING:
    from dapr_agents_durable.loop import DurableExecution

log = logging.getLogger("dapr_agents_durable.telemetry")

TRACER_NAME = "dapr_agents_durable"
RUN_ID_ATTRIBUTE = "dapr_agents_durable.run_id"


@dataclass(frozen=True)
class StepInfo:
    """What a span says about one step: its GenAI operation and the attributes it knows."""

    operation: str
    agent: str | None = None
    model: str | None = None
    tool: str | None = None
    call_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


Describer = Callable[[str, Any, Any], StepInfo | None]
"""``(run_id, step input, step result) -> StepInfo``; None: no span for this step."""

_describers: dict[str, Describer] = {}


def describe_step(activity: str, describer: Describer) -> None:
    """Describe activity ``activity``'s spans with ``describer`` (an adapter's own knowledge)."""
    _describers[activity] = describer


def default_description(run_id: str, input: Any, result: Any) -> StepInfo:
    """A step of ``<framework>.model`` or ``<framework>.tool`` read from common field names."""
    data = input if isinstance(input, Mapping) else {}
    out = result if isinstance(result, Mapping) else {}
    raw_usage = out.get("usage")
    usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
    return StepInfo(
        operation="execute_tool" if "tool" in data else "chat",
        agent=_text(data.get("agent")),
        model=_text(data.get("model")) or _text(out.get("model")) or _text(out.get("model_name")),
        tool=_text(data.get("tool")),
        call_id=_text(data.get("call_id")),
        input_tokens=_count(usage, "input_tokens", "prompt_tokens"),
        output_tokens=_count(usage, "output_tokens", "completion_tokens"),
    )


def _describe(run_id: str, step: FinishedStep) -> StepInfo | None:
    describer = _describers.get(step.name)
    if describer is not None:
        return describer(run_id, step.input, step.result)
    agent = _text(get(step.input, "agent"))
    if (model := model_call(step.name, step.input, step.result)) is not None:  # an adapter's stored format
        return StepInfo("chat", agent=agent, model=model.model, input_tokens=model.input_tokens,
                        output_tokens=model.output_tokens)
    if (tool := tool_call(step.name, step.input, step.result)) is not None:
        return StepInfo("execute_tool", agent=agent, tool=tool.tool, call_id=_text(get(step.input, "call_id")))
    if step.name.endswith((".model", ".tool")):
        return default_description(run_id, step.input, step.result)
    return None


# -- enablement ----------------------------------------------------------------------------

_lock = threading.RLock()
_configured_from_env = False
_tracers: dict[int, tuple[Any, Any]] = {}


def _tracer() -> Any | None:
    """The tracer spans go to, or None when telemetry is off (see the module docstring)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    provider: Any = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        provider = _provider_from_env()
        if provider is None:
            return None
    if isinstance(provider, trace.NoOpTracerProvider):
        return None
    with _lock:
        cached = _tracers.get(id(provider))
        if cached is None or cached[0] is not provider:
            tracer = provider.get_tracer(TRACER_NAME)
            if hasattr(tracer, "id_generator"):  # the SDK's tracer: ours makes run ids into span ids
                tracer.id_generator = _RunIds(tracer.id_generator)
            cached = _tracers[id(provider)] = (provider, tracer)
    return cached[1]


def _provider_from_env() -> Any | None:
    global _configured_from_env
    exporter_names = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not exporter_names and not endpoint:
        return None
    with _lock:
        from opentelemetry import trace

        if _configured_from_env:
            return trace.get_tracer_provider()
        _configured_from_env = True
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            log.error("OTEL_* variables ask for traces, but opentelemetry-sdk is not installed: "
                      "pip install 'dapr-agents-durable[otel]'")
            return None
        provider = TracerProvider(resource=Resource.create())
        for name in [n.strip() for n in (exporter_names or "otlp").split(",") if n.strip()]:
            exporter = _exporter(name)
            if exporter is not None:
                provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        return trace.get_tracer_provider()


def _exporter(name: str) -> Any | None:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.error("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-grpc installed")
            return None
        return OTLPSpanExporter()
    log.error("OTEL_TRACES_EXPORTER=%s is not supported here (use console or otlp)", name)
    return None


# -- deterministic ids ---------------------------------------------------------------------

_ids = threading.local()
_roots: dict[str, str] = {}
"""Run id -> the id of the root run of its trace, for child runs seen in this process."""


def _digest(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")
    return value or 1


def trace_id_of(run_id: str) -> int:
    """The trace id of run ``run_id``'s trace (its root run's)."""
    return _digest(_roots.get(run_id, run_id), 16)


def run_span_id_of(run_id: str) -> int:
    """The span id of run ``run_id``'s run span."""
    return _digest(f"run:{run_id}", 8)


class _RunIds:
    """An id generator that gives the next span the ids chosen for it, else the SDK's own."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def generate_span_id(self) -> int:
        chosen = getattr(_ids, "span_id", None)
        return chosen if chosen is not None else int(self._inner.generate_span_id())

    def generate_trace_id(self) -> int:
        chosen = getattr(_ids, "trace_id", None)
        return chosen if chosen is not None else int(self._inner.generate_trace_id())

    def is_trace_id_random(self) -> bool:
        return False  # derived from run ids (the W3C "random" trace flag must not be claimed)


# -- the observer --------------------------------------------------------------------------


class SpanObserver:
    """Turns live durable steps and runs into spans (registered by the durable runtime)."""

    def step_finished(self, execution: DurableExecution, step: FinishedStep) -> None:
        run_id = execution.instance_id
        self._adopt_parent(execution)
        if step.kind == "child workflow" and step.instance_id:
            _roots.setdefault(step.instance_id, _roots.get(run_id, run_id))
            return
        info = _describe(run_id, step)
        if info is None:
            return
        tracer = _tracer()
        if tracer is None:
            return
        subject = info.model if info.operation == "chat" else info.tool
        attributes = {
            "gen_ai.operation.name": info.operation,
            "gen_ai.agent.name": info.agent,
            "gen_ai.request.model": info.model,
            "gen_ai.tool.name": info.tool,
            "gen_ai.tool.call.id": info.call_id,
            "gen_ai.usage.input_tokens": info.input_tokens,
            "gen_ai.usage.output_tokens": info.output_tokens,
            RUN_ID_ATTRIBUTE: run_id,
            "dapr_agents_durable.activity": step.name,
        }
        self._emit(tracer, f"{info.operation} {subject}" if subject else info.operation, run_id,
                   run_span_id_of(run_id), step.started, step.ended, attributes, step.error, span_id=None)

    def run_finished(self, execution: DurableExecution, run: FinishedRun) -> None:
        tracer = _tracer()
        if tracer is None:
            return
        run_id = execution.instance_id
        parent = self._adopt_parent(execution)
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            RUN_ID_ATTRIBUTE: run_id,
            "dapr_agents_durable.workflow": execution.workflow_name,
            "dapr_agents_durable.label": execution.label,
        }
        name = f"invoke_agent {execution.workflow_name or 'run'}"
        self._emit(tracer, name, run_id, run_span_id_of(parent) if parent else None, run.started, run.ended,
                   attributes, run.error, span_id=run_span_id_of(run_id))

    @staticmethod
    def _adopt_parent(execution: DurableExecution) -> str | None:
        parent = execution.parent_instance_id
        if parent is not None and execution.instance_id not in _roots:
            _roots[execution.instance_id] = _roots.get(parent, parent)
        return parent

    @staticmethod
    def _emit(tracer: Any, name: str, run_id: str, parent_span_id: int | None, started: datetime, ended: datetime,
              attributes: dict[str, Any], error: BaseException | None, *, span_id: int | None) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        context = None
        if parent_span_id is not None:
            parent = SpanContext(trace_id_of(run_id), parent_span_id, is_remote=True,
                                 trace_flags=TraceFlags(TraceFlags.SAMPLED))
            context = trace.set_span_in_context(trace.NonRecordingSpan(parent))
        _ids.trace_id, _ids.span_id = trace_id_of(run_id), span_id
        try:
            span = tracer.start_span(
                name, context=context, kind=SpanKind.INTERNAL if span_id is not None else SpanKind.CLIENT,
                attributes={k: v for k, v in attributes.items() if v is not None}, start_time=_nanos(started),
            )
        finally:
            _ids.trace_id = _ids.span_id = None
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.set_attribute("error.type", type(error).__name__)
        span.end(end_time=max(_nanos(ended), _nanos(started)))


SPANS = SpanObserver()


def _nanos(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000_000)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(usage: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
