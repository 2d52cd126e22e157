"""MCP servers in durable runs: tools listed and called as ``openai_agents.mcp`` activities.

A real MCP server (apps/mcp_calc_server.py) runs over stdio; it logs every tool call it
receives, and the client counts the tool listings it makes, so the tests count what
really reached the server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from agents import Agent
from agents import Runner as NativeRunner
from agents.mcp import MCPServerStdio
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from mcp.types import CallToolResult, Tool
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import get_runtime

pytestmark = pytest.mark.anyio

SERVER = Path(__file__).parent / "apps" / "mcp_calc_server.py"


class CountingStdioServer(MCPServerStdio):
    """The SDK's stdio MCP client, counting the tool listings it makes."""

    def __init__(self, call_log: Path) -> None:
        super().__init__({"command": sys.executable, "args": [str(SERVER), str(call_log)]}, name="calc")
        self.listings = 0

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[Tool]:
        self.listings += 1
        return await super().list_tools(run_context, agent)


@asynccontextmanager
async def calc_server(tmp_path: Path) -> AsyncIterator[tuple[CountingStdioServer, Path]]:
    call_log = tmp_path / "calls.jsonl"
    call_log.touch()
    async with CountingStdioServer(call_log) as server:
        yield server, call_log


def server_calls(call_log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in call_log.read_text().splitlines()]


def scheduled(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def text_of(output: Any) -> str:
    """The text of a tool output as the model receives it (a string or a list of content parts)."""
    return output if isinstance(output, str) else "".join(part["text"] for part in output)


def sum_rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    if not done:
        return [tool_call("add", {"a": 2, "b": 3}, "c1")]
    return [message(f"the sum is {text_of(done[0]['output'])}")]


def failing_calls_rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    if not done:
        return [tool_call("divide", {"a": 1, "b": 0}, "c1"), tool_call("constant", {"name": "tau"}, "c2")]
    return [message(" | ".join(text_of(o["output"]) for o in done))]


def _agent(name: str, model: ScriptedModel, server: MCPServerStdio) -> Agent[Any]:
    return Agent(name=name, instructions="use the calculator", model=model, mcp_servers=[server])


def name_the_error(context: Any, error: Exception) -> str:
    """A tool failure as the model sees it: the exception's type and text."""
    return f"{type(error).__name__}: {error}"


async def test_mcp_tools_are_listed_and_called_as_activities_like_native(tmp_path: Path) -> None:
    async with calc_server(tmp_path) as (server, call_log):
        native_model, durable_model = ScriptedModel(sum_rule), ScriptedModel(sum_rule)
        native = await NativeRunner.run(_agent("calc-1", native_model, server), "2 + 3?")
        listed_natively = server.listings
        durable = await Runner.run(_agent("calc-1", durable_model, server), "2 + 3?", run_id="mcp-1")

        assert durable.final_output == native.final_output
        assert durable.final_output == "the sum is 5"
        assert durable_model.requests == native_model.requests  # same tool schemas, same tool output
        assert [type(i).__name__ for i in durable.new_items] == [type(i).__name__ for i in native.new_items]
        assert scheduled("mcp-1") == [
            "openai_agents.mcp", "openai_agents.model", "openai_agents.mcp", "openai_agents.mcp", "openai_agents.model"
        ]
        assert server.listings - listed_natively == 2  # once per turn, as natively
        assert server_calls(call_log) == [{"tool": "add", "arguments": {"a": 2, "b": 3}}] * 2


async def test_finished_run_makes_no_new_mcp_calls(tmp_path: Path) -> None:
    async with calc_server(tmp_path) as (server, call_log):
        model = ScriptedModel(sum_rule)
        agent = _agent("calc-2", model, server)
        first = await Runner.run(agent, "2 + 3?", run_id="mcp-2")
        listings, calls = server.listings, server_calls(call_log)
        again = await Runner.run(agent, "2 + 3?", run_id="mcp-2")

        assert again.final_output == first.final_output
        assert (server.listings, server_calls(call_log), model.calls) == (listings, calls, 2)
        assert len(calls) == 1


async def test_failing_mcp_calls_give_the_model_what_native_gives(tmp_path: Path) -> None:
    """A tool error (an ``isError`` result) and a protocol error (``MCPError`` raised in the client)."""
    async with calc_server(tmp_path) as (server, call_log):
        native_model, durable_model = ScriptedModel(failing_calls_rule), ScriptedModel(failing_calls_rule)
        agents = [_agent("calc-3", model, server) for model in (native_model, durable_model)]
        for agent in agents:
            agent.mcp_config = {"failure_error_function": name_the_error}
        native = await NativeRunner.run(agents[0], "1 / 0 and tau?")
        durable = await Runner.run(agents[1], "1 / 0 and tau?", run_id="mcp-3")

        assert native.final_output == (
            "Error executing tool divide: cannot divide by zero | MCPError: no constant named 'tau'"
        )
        assert durable.final_output == native.final_output
        assert durable_model.requests == native_model.requests
        assert sorted(c["tool"] for c in server_calls(call_log)) == ["constant", "constant", "divide", "divide"]


async def test_off_the_durable_loop_the_server_is_called_directly(tmp_path: Path) -> None:
    async with calc_server(tmp_path) as (server, call_log):
        await Runner.run(_agent("calc-4", ScriptedModel(sum_rule), server), "2 + 3?", run_id="mcp-4")
        listings = server.listings

        tools = await server.list_tools()
        result = await server.call_tool("add", {"a": 20, "b": 22})

        assert [t.name for t in tools] == ["add", "divide", "constant"]
        assert server.listings == listings + 1
        assert isinstance(result, CallToolResult) and result.structured_content == {"result": 42}
        assert server_calls(call_log)[-1] == {"tool": "add", "arguments": {"a": 20, "b": 22}}


async def test_two_servers_of_one_agent_need_distinct_names(tmp_path: Path) -> None:
    servers = [CountingStdioServer(tmp_path / "a.jsonl"), CountingStdioServer(tmp_path / "b.jsonl")]
    agent = Agent(name="calc-5", model=ScriptedModel(sum_rule), mcp_servers=servers)
    with pytest.raises(ValueError, match="two MCP servers named 'calc'"):
        await Runner.run(agent, "2 + 3?", run_id="mcp-5")
