"""A durable PydanticAI agent for crash tests, against an OpenAI-compatible server.

Usage: python tool_loop_app.py BASE_URL RUN_ID TOOL_LOG MODE
MODE "loop": one tool call per turn until the model answers. MODE "ask": the tool needs
approval; the app prints the pending call ids as JSON and waits to be killed. MODE
"approve": the same agent, resumed with PydanticAI's own pattern (``message_history`` and
``deferred_tool_results`` approving every pending call) and the same run id.
The engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY (read by
PydanticAI's OpenAI provider). Prints one JSON line with the output.
With SPAN_LOG set, PydanticAI's own instrumentation is on (``Agent.instrument_all``, as
``logfire.instrument_pydantic_ai()`` does) and the name of each span exported is appended there.
For fault injection the tool's body is ``recorded_step`` (dapr_agents_durable.testing.chaos).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, idempotency_key
from dapr_agents_durable.testing.chaos import recorded_step

base_url, run_id, tool_log, mode = sys.argv[1:5]


class SpanLog(SpanExporter):
    """Appends each exported span's name to a file, at once."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as log:
            for span in spans:
                log.write(json.dumps({"name": span.name}) + "\n")
        return SpanExportResult.SUCCESS


if os.environ.get("SPAN_LOG"):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanLog(os.environ["SPAN_LOG"])))
    Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))

model = OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=base_url))
agent = Agent(
    model,
    name="planner",
    instructions="Record every step of the plan, one tool call per turn.",
    output_type=[str, DeferredToolRequests],
)


@agent.tool_plain(requires_approval=mode != "loop")
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return recorded_step(n, tool_log, idempotency_key())


durable = DaprAgent(agent)
result = durable.run_sync("Record the 14 steps.", run_id=run_id)
if isinstance(result.output, DeferredToolRequests):
    pending = [call.tool_call_id for call in result.output.approvals]
    print(json.dumps({"pending": pending}), flush=True)
    if mode == "ask":
        time.sleep(600)
        sys.exit(1)
    approvals = DeferredToolResults(approvals={call_id: True for call_id in pending})
    result = durable.run_sync(message_history=result.all_messages(), deferred_tool_results=approvals, run_id=run_id)
print(json.dumps({"output": result.output, "requests": result.usage.requests,
                  "tool_calls": result.usage.tool_calls}), flush=True)
