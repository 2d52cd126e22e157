"""Test kit: a scripted, OpenAI-compatible model server over real HTTP.

Point any OpenAI-compatible client (the ``openai`` library, or a framework's OpenAI
provider) at ``server.base_url`` and the server answers each model request with the
next step of a script: text, structured (JSON) text, one or more tool calls, or an
HTTP error with ``Retry-After``; any step can be delayed to hold a request in flight.
It speaks Chat Completions and the Responses API, streaming or not, and records every
request for assertions. Runtime needs only the standard library.

Example::

    from openai import OpenAI
    from dapr_agents_durable.testing import ScriptedModelServer, http_error, text, tool_call

    script = [http_error(429, retry_after=1), tool_call("get_weather", {"city": "Paris"}), text("Sunny.")]
    with ScriptedModelServer(script) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
        ...  # run the agent
        assert server.request_count == 3
        assert server.requests[-1].tool_outputs == ["22 C"]

For crash tests, :mod:`dapr_agents_durable.testing.crash` kills an app process while a
given request is in flight; the server can also run as its own process (see
:mod:`dapr_agents_durable.testing.model_server`).
"""

from __future__ import annotations

from dapr_agents_durable.testing.crash import (
    assert_each_once,
    assert_key_sent_not_stored,
    assert_not_stored,
    embedded_app_env,
    finish,
    kill_during_request,
    read_jsonl,
    step_loop,
)
from dapr_agents_durable.testing.recording import RecordedRequest, read_request_log
from dapr_agents_durable.testing.script import (
    ErrorStep,
    Step,
    TextStep,
    ToolCall,
    ToolCallsStep,
    dump_script,
    http_error,
    load_script,
    parse_script,
    save_script,
    structured,
    text,
    tool_call,
    tool_calls,
)
from dapr_agents_durable.testing.server import Rule, ScriptedModelServer

__all__ = [
    "ErrorStep",
    "assert_each_once",
    "assert_key_sent_not_stored",
    "assert_not_stored",
    "embedded_app_env",
    "finish",
    "kill_during_request",
    "read_jsonl",
    "step_loop",
    "RecordedRequest",
    "Rule",
    "ScriptedModelServer",
    "Step",
    "TextStep",
    "ToolCall",
    "ToolCallsStep",
    "dump_script",
    "http_error",
    "load_script",
    "parse_script",
    "read_request_log",
    "save_script",
    "structured",
    "text",
    "tool_call",
    "tool_calls",
]
