"""MCP servers in durable runs: a real stdio MCP server, run natively and durably under the same script.

The server (``apps/mcp_inventory_server.py``) appends a line to a contact log when it starts
and for every tool call, so each test can tell whether, and how often, a run reached it. The
native run gets a toolset of its own: a stdio transport keeps its server process alive for
the event loop that started it, and the durable run's activities run on the worker's loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from compare import same_run
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError
from pydantic_ai import Agent
from pydantic_ai.exceptions import UserError
from pydantic_ai.mcp import MCPToolset
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
from pydantic_ai.toolsets import AbstractToolset

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, durable_options
from dapr_agents_durable.adapters.pydantic_ai.errors import StepFailed
from dapr_agents_durable.adapters.pydantic_ai.names import MCP_TOOLS_ACTIVITY, TOOL_ACTIVITY, WORKFLOW
from dapr_agents_durable.operator.summary import timeline
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.recorded import RecordedActivities
from dapr_agents_durable.testing import (
    ScriptedModelServer,
    assert_each_once,
    assert_key_sent_not_stored,
    embedded_app_env,
    finish,
    kill_during_request,
    step_loop,
)

SERVER = Path(__file__).parent / "apps" / "mcp_inventory_server.py"
APP = Path(__file__).parent / "apps" / "mcp_app.py"


def inventory(tmp: Path, **options: Any) -> MCPToolset[Any]:
    """The inventory server as an MCP toolset; its contacts go to ``tmp/contacts.jsonl``."""
    transport = StdioTransport(sys.executable, [str(SERVER), str(tmp / "contacts.jsonl")], log_file=tmp / "server.log")
    return MCPToolset(transport, **{"id": "inventory", **options})


def contacts(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "contacts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tool_calls(tmp: Path) -> list[tuple[str, str]]:
    return [(line["tool"], line["item"]) for line in contacts(tmp) if "tool" in line]


def answers(messages: list[ModelMessage]) -> list[Any]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts
            if isinstance(p, ToolReturnPart | RetryPromptPart)]


def stock_script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Ask for apples and kiwis (unknown: a tool error) and restock pears; then ask for pears; then report."""
    tools = [t.name for t in info.function_tools]

    def named(tool: str) -> str:  # the server's tool as the model sees it, prefixed or not
        return next(name for name in tools if name == tool or name.endswith(f"_{tool}"))

    seen = answers(messages)
    if not seen:
        return ModelResponse(parts=[
            ToolCallPart(named("stock"), {"item": "apple"}, tool_call_id="c_apple"),
            ToolCallPart(named("stock"), {"item": "kiwi"}, tool_call_id="c_kiwi"),
            ToolCallPart(named("restock"), {"item": "pear", "count": 2}, tool_call_id="c_restock"),
        ])
    if len(seen) == 3:
        return ModelResponse(parts=[ToolCallPart(named("stock"), {"item": "pear"}, tool_call_id="c_pear")])
    report = " | ".join(f"{type(p).__name__}: {p.content}" for p in seen)
    return ModelResponse(parts=[TextPart(f"[{','.join(tools)}] {report}")])


def agent_for(name: str, server: AbstractToolset[Any]) -> Agent[None, str]:
    return Agent(FunctionModel(stock_script, model_name=name), name=name, toolsets=[server])


def both(name: str, tmp: Path, prefix: str | None = None, **options: Any) -> tuple[Any, Any]:
    """The native result, then the durable one (run id ``<name>-1``), each with its own toolset of the server."""

    def toolset() -> AbstractToolset[Any]:
        server = inventory(tmp, **options)
        return server.prefixed(prefix) if prefix else server

    native = agent_for(name, toolset()).run_sync("What is in stock?")
    durable = DaprAgent(agent_for(name, toolset())).run_sync("What is in stock?", run_id=f"{name}-1")
    return native, durable


def recorded(run_id: str) -> RecordedActivities:
    return RecordedActivities(get_runtime().raw_history(run_id))


def test_mcp_tools_their_errors_and_the_server_instructions_read_back_as_natively(tmp_path: Path) -> None:
    native, durable = both("mcp-stock", tmp_path, include_instructions=True)

    same_run(native, durable)
    assert durable.output.startswith("[stock,restock,count_shelf] ToolReturnPart: 3 apples | ToolReturnPart: Error")
    assert "unknown item 'kiwi'" in durable.output and durable.output.endswith("ToolReturnPart: 0 pears")
    assert durable.all_messages()[0].instructions == "Stock counts are exact; never round them."
    calls = tool_calls(tmp_path)
    assert sorted(calls[:4]) == sorted(calls[4:]) and len(calls) == 8  # each call reached the server once a run

    history = recorded("mcp-stock-1")
    calls = history.inputs(TOOL_ACTIVITY)
    assert sorted((c["toolset"], c["tool"], c["args"].get("item")) for c in calls) == [
        ("inventory", "restock", "pear"), ("inventory", "stock", "apple"),
        ("inventory", "stock", "kiwi"), ("inventory", "stock", "pear"),
    ]
    assert all(c["tool_def"]["name"] == c["tool"] for c in calls)
    assert [c["toolset"] for c in history.inputs(MCP_TOOLS_ACTIVITY)] == ["inventory"]  # cached: listed once a run


def test_a_prefixed_server_that_does_not_cache_its_tools_is_listed_in_every_run_step(tmp_path: Path) -> None:
    native, durable = both("mcp-uncached", tmp_path, prefix="inv", cache_tools=False)

    same_run(native, durable)
    assert durable.output.startswith("[inv_stock,inv_restock,inv_count_shelf] ToolReturnPart: 3 apples")
    assert [c["tool"] for c in recorded("mcp-uncached-1").inputs(TOOL_ACTIVITY)].count("stock") == 3
    assert len(recorded("mcp-uncached-1").inputs(MCP_TOOLS_ACTIVITY)) == durable.usage.requests == 3


def test_a_finished_run_and_its_replay_read_the_listing_and_results_from_history(
    tmp_path: Path, cold_replay: None
) -> None:
    agent = agent_for("mcp-again", inventory(tmp_path))
    dagent = DaprAgent(agent)
    first = dagent.run_sync("What is in stock?", run_id="mcp-again-1")
    reached = contacts(tmp_path)
    assert len(tool_calls(tmp_path)) == 4

    again = dagent.run_sync("What is in stock?", run_id="mcp-again-1")
    get_runtime().replay(WORKFLOW, "mcp-again-1")  # the workflow's code over its history, from scratch

    same_run(first, again)
    assert contacts(tmp_path) == reached  # not started, not called


def test_tool_failures_reported_to_the_model_read_back_as_natively_and_in_the_timeline(tmp_path: Path) -> None:
    native, durable = both("mcp-failed", tmp_path, tool_error_behavior="failed")

    same_run(native, durable)
    kiwi = next(p for p in answers(durable.all_messages()) if p.tool_call_id == "c_kiwi")
    assert kiwi.outcome == "failed" and "unknown item 'kiwi'" in kiwi.content

    runtime = get_runtime()
    steps = timeline(runtime.state("mcp-failed-1"), runtime.raw_history("mcp-failed-1")).steps
    assert (steps[0].name, steps[0].detail) == (
        MCP_TOOLS_ACTIVITY, "inventory list_tools -> stock, restock, count_shelf"
    )
    kiwi_step = next(step.detail for step in steps if step.detail.startswith('stock {"item": "kiwi"}'))
    assert kiwi_step.startswith('stock {"item": "kiwi"} -> failed: Error executing tool stock')


def test_a_tool_error_the_server_raises_ends_the_run_with_its_type_and_message(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as native:
        agent_for("mcp-error", inventory(tmp_path, tool_error_behavior="error")).run_sync("What is in stock?")
    durable_agent = DaprAgent(agent_for("mcp-error", inventory(tmp_path, tool_error_behavior="error")))
    with pytest.raises(StepFailed) as durable:
        durable_agent.run_sync("What is in stock?", run_id="mcp-error-1")
    assert durable.value.error_type == "ToolError" and str(durable.value) == str(native.value)


def test_a_server_that_fails_to_start_ends_the_run_with_the_error_it_raises_natively(tmp_path: Path) -> None:
    def broken() -> MCPToolset[Any]:
        return MCPToolset(StdioTransport(sys.executable, ["-c", "raise SystemExit(3)"]), id="broken")

    with pytest.raises(Exception) as native:
        agent_for("mcp-broken", broken()).run_sync("What is in stock?")
    with pytest.raises(StepFailed) as durable:  # the MCP SDK's error, by its type's name and its message
        DaprAgent(agent_for("mcp-broken", broken())).run_sync("What is in stock?", run_id="mcp-broken-1")
    assert (durable.value.error_type, str(durable.value)) == (type(native.value).__name__, str(native.value))
    history = recorded("mcp-broken-1")
    assert len(history.inputs(MCP_TOOLS_ACTIVITY)) == 1 and history.inputs("pydantic_ai.model") == []


def test_an_mcp_server_without_an_id_is_refused_with_the_fix(tmp_path: Path) -> None:
    agent = agent_for("mcp-no-id", inventory(tmp_path, id=None))
    with pytest.raises(UserError, match=r"MCP server of agent 'mcp-no-id' has no id; give it one \(MCPToolset"):
        DaprAgent(agent).run_sync("What is in stock?", run_id="mcp-no-id-1")
    assert contacts(tmp_path) == []


def test_an_mcp_tool_cannot_run_in_the_workflow(tmp_path: Path) -> None:
    agent = durable_options(agent_for("mcp-inline", inventory(tmp_path)), tool="stock", activity=False)
    with pytest.raises(UserError, match=r"MCP tool calls its server and always runs as an activity"):
        DaprAgent(agent).run_sync("What is in stock?", run_id="mcp-inline-1")
    assert tool_calls(tmp_path) == []


SHELVES = 6  # tool turns; the 7th model request answers
CRASH_AT = 4
API_KEY = "sk-test-planted-key-mcp-8c1f"


def _start(server: ScriptedModelServer, tmp: Path, run_id: str) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "PYTHONPATH": os.pathsep.join(sys.path),
                                                "OTEL_SDK_DISABLED": "true"})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tmp / "contacts.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_kill_during_a_model_request_resumes_and_each_mcp_tool_call_reaches_the_server_once(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=step_loop(SHELVES, CRASH_AT, tool="count_shelf")) as model_server:
        assert kill_during_request(_start(model_server, tmp_path, "mcp-crash"), model_server, CRASH_AT) == CRASH_AT
        assert tool_calls(tmp_path) == [("count_shelf", f"shelf {n}") for n in range(1, CRASH_AT)]

        result = finish(_start(model_server, tmp_path, "mcp-crash"))
        assert result == {"output": f"all {SHELVES} steps recorded", "requests": SHELVES + 1, "tool_calls": SHELVES}
        assert model_server.request_count == SHELVES + 2  # 7 requests + the one in flight at the kill
        calls = tool_calls(tmp_path)
        assert_each_once(calls)
        assert sorted(calls) == sorted(("count_shelf", f"shelf {n}") for n in range(1, SHELVES + 1))

        reached, paid = contacts(tmp_path), model_server.request_count
        assert finish(_start(model_server, tmp_path, "mcp-crash")) == result  # from history, in a new process
        assert model_server.request_count == paid and contacts(tmp_path) == reached  # neither contacted
    assert_key_sent_not_stored(model_server, API_KEY, tmp_path / "engine.db")
