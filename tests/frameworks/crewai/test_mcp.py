"""MCP tools (``Agent(mcps=[...])``) in a durable crew: each call one ``crewai.tool`` activity.

The MCP server is a real stdio server (``apps/mcp_server.py``, FastMCP) that CrewAI
starts itself, natively and durably; it logs every call it answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import crewai
from crewai import Agent, Task
from crewai.mcp import MCPServerStdio
from dapr.ext.workflow import WorkflowHistoryEventType
from scripted import ScriptedLLM, tool_call

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.adapters.crewai.names import MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.adapters.crewai.tool_seam import find_tool
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.recorded import RecordedActivities

SERVER = Path(__file__).parent / "apps" / "mcp_server.py"


class ToolPickingLLM(ScriptedLLM):
    """Asks for the first tool it is offered (an MCP tool's name carries its server's command line)."""

    def call(self, messages: Any, tools: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not any(m.get("role") == "tool" for m in messages):
            self.replies = [[tool_call("call_1", tools[0]["function"]["name"], item="bolt")], "We hold 28 bolts."]
        return super().call(messages, tools, *args, **kwargs)


def warehouse_crew(crew_class: type[crewai.Crew], call_log: Path) -> tuple[crewai.Crew, ScriptedLLM]:
    llm = ToolPickingLLM(model="scripted")
    clerk = Agent(role="clerk", goal="answer stock questions", backstory="a warehouse clerk", llm=llm,
                  mcps=[MCPServerStdio(command=sys.executable, args=[str(SERVER)],
                                            env={"CALL_LOG": str(call_log)})])
    task = Task(description="How many {item}s do we hold?", expected_output="one sentence", agent=clerk)
    return crew_class(name="warehouse", agents=[clerk], tasks=[task]), llm


def served(call_log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in call_log.read_text().splitlines()] if call_log.exists() else []


def scheduled(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def test_mcp_tool_call_is_a_tool_activity_with_the_native_result(tmp_path: Path) -> None:
    native_log, durable_log = tmp_path / "native.jsonl", tmp_path / "durable.jsonl"
    native_crew, native_llm = warehouse_crew(crewai.Crew, native_log)
    durable_crew, durable_llm = warehouse_crew(Crew, durable_log)

    native = native_crew.kickoff(inputs={"item": "bolt"})
    durable = durable_crew.kickoff(inputs={"item": "bolt"}, run_id="mcp-warehouse")

    assert durable.raw == native.raw == "We hold 28 bolts."
    assert durable_llm.calls == native_llm.calls
    assert durable_llm.calls[1][-1]["content"] == "28 units of bolt in stock"
    assert durable.token_usage == native.token_usage
    assert served(durable_log) == served(native_log) == [{"item": "bolt"}]
    assert scheduled("mcp-warehouse-task-0") == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]

    [request] = RecordedActivities(get_runtime().raw_history("mcp-warehouse-task-0")).inputs(TOOL_ACTIVITY)
    assert request["tool"].endswith("_stock_level")
    assert request["arguments"] == {"item": "bolt"}

    again_crew, again_llm = warehouse_crew(Crew, durable_log)
    again = again_crew.kickoff(inputs={"item": "bolt"}, run_id="mcp-warehouse")
    assert again.raw == durable.raw
    assert again_llm.calls == []
    assert served(durable_log) == [{"item": "bolt"}]


def test_a_restarted_worker_finds_an_mcp_tool_its_run_has_not_met(tmp_path: Path) -> None:
    """After a restart a tool activity can run before its workflow: the tool comes from the agent's server."""
    call_log = tmp_path / "calls.jsonl"
    crew, _ = warehouse_crew(Crew, call_log)
    crew.kickoff(inputs={"item": "bolt"}, run_id="mcp-first")
    [request] = RecordedActivities(get_runtime().raw_history("mcp-first-task-0")).inputs(TOOL_ACTIVITY)

    fresh, _ = warehouse_crew(Crew, call_log)
    tool = find_tool("mcp-restarted", fresh, request["tool"])
    assert tool is not None
    assert tool.run(item="nut") == "21 units of nut in stock"
    assert served(call_log) == [{"item": "bolt"}, {"item": "nut"}]
    assert find_tool("mcp-restarted", fresh, "no_such_tool") is None
