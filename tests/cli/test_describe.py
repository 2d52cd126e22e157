"""The step describers of ``runs show`` on each adapter's payload formats, and on garbled ones.

The payloads follow each adapter's seam and codec modules (real runs are described in
``tests/frameworks/<framework>/test_operator_view.py``); every part of them is then replaced
with values of the wrong type, which must give a line (possibly empty), never an exception.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from dapr_agents_durable.operator.describe import PREVIEW, describe_step, preview, run_label

OBJECT_MARK = "__dapr_agents_durable_object__"
USAGE = {"input_tokens": 812, "output_tokens": 64}

# (step name, input, result, expected line)
CASES: list[tuple[str, Any, Any, str]] = [
    # OpenAI Agents: the model input is a delta (no model name); the result names the model.
    ("openai_agents.model", {"seq": 2, "base": 1, "extend": {"input": [{"$ref": [[3, "9f3ab2c1"]]}]}},
     {"output": [], "usage": {"requests": 1, **USAGE}, "model": "gpt-4o"}, "gpt-4o 812 in / 64 out tokens"),
    ("openai_agents.model", {"seq": 1, "base": None, "set": {"agent": "a"}},
     {"output": [], "usage": {"requests": 1, "input_tokens": 9}}, "9 in / 0 out tokens"),  # 0 is left out
    ("openai_agents.model", {"seq": 1, "base": None}, None, ""),
    ("openai_agents.tool", {"agent": "a", "tool": "get_weather", "call_id": "c1", "arguments": '{"city":"Paris"}'},
     {"output": "sunny", "usage": None}, 'get_weather {"city": "Paris"} -> sunny'),
    ("openai_agents.tool", {"agent": "a", "tool": "note", "call_id": "c1", "arguments": "not json"},
     {"output": {OBJECT_MARK: {"type": "app:Note", "data": {"n": 1}, "text": "Note(n=1)"}}},
     "note not json -> Note(n=1)"),
    ("openai_agents.tool", {"agent": "a", "tool": "refund", "call_id": "c1", "arguments": '{"amount": 5}'}, None,
     'refund {"amount": 5}'),  # running or failed: no result
    ("openai_agents.agent_tool", {"parent": "r", "agent": "a", "tool": "to_french", "arguments": '{"input": "hi"}'},
     {"output": "salut", "usage": {"requests": 1}}, 'to_french {"input": "hi"} -> salut'),
    ("openai_agents.mcp", {"op": "call_tool", "agent": "a", "server": "calc", "tool": "add",
                           "arguments": {"a": 1, "b": 2}, "meta": None},
     {"result": {"content": [{"type": "text", "text": "3"}], "isError": False}}, 'calc/add {"a": 1, "b": 2} -> 3'),
    ("openai_agents.mcp", {"op": "call_tool", "agent": "a", "server": "calc", "tool": "div", "arguments": {}},
     {"error": {"type": "McpError", "message": "division by zero", "mcp": None}},
     "calc/div {} -> McpError: division by zero"),
    ("openai_agents.mcp", {"op": "list_tools", "agent": "a", "server": "calc"},
     {"result": [{"name": "add", "inputSchema": {}}, {"name": "div", "inputSchema": {}}]},
     "calc list_tools -> add, div"),
    ("openai_agents.session", {"op": "add_items", "session_id": "s", "items": [{}, {}]},
     {"result": None, "session_id": "s"}, "add_items 2 items"),
    ("openai_agents.session", {"op": "get_items", "session_id": "s", "limit": None},
     {"result": [{}, {}, {}], "session_id": "s"}, "get_items -> 3 items"),
    # PydanticAI: the response names the model; a failed request's input may name it by id.
    ("pydantic_ai.model", {"seq": 1, "base": None, "set": {"agent": "a", "model": "agent"}},
     {"response": {"parts": [], "usage": {**USAGE, "details": {}}, "model_name": "gpt-4o"}},
     "gpt-4o 812 in / 64 out tokens"),
    ("pydantic_ai.model", {"seq": 1, "base": None, "set": {"agent": "a", "model": "id:openai:gpt-4o"}},
     {"error": {"type": "ModelHTTPError", "message": "status_code: 400", "status_code": 400}},
     "openai:gpt-4o -> ModelHTTPError: status_code: 400"),
    ("pydantic_ai.model", {"seq": 1, "base": None, "set": {"agent": "a", "model": "id:test"}}, None, "test"),
    ("pydantic_ai.tool", {"agent": "a", "toolset": "t", "tool": "get_weather", "call_id": "c1",
                          "args": {"city": "Paris"}}, {"kind": "return", "value": {"temp": 21}},
     'get_weather {"city": "Paris"} -> {"temp": 21}'),
    ("pydantic_ai.tool", {"tool": "get_weather", "args": {"city": "X"}}, {"kind": "retry", "message": "no such city"},
     'get_weather {"city": "X"} -> retry: no such city'),
    ("pydantic_ai.tool", {"tool": "refund", "args": {}}, {"kind": "approval_required", "metadata": None},
     "refund {} -> approval required"),
    ("pydantic_ai.tool", {"tool": "refund", "args": {}},
     {"kind": "error", "error": {"type": "KeyError", "message": "'x'"}},
     "refund {} -> KeyError: 'x'"),
    ("pydantic_ai.tool", {"tool": "stock", "args": {"item": "kiwi"}, "tool_def": {"name": "stock"}},
     {"kind": "failed", "message": "unknown item"}, 'stock {"item": "kiwi"} -> failed: unknown item'),
    ("pydantic_ai.mcp_tools", {"agent": "a", "toolset": "inventory", "run_context": {}, "has_deps": False},
     {"tools": {"stock": {"name": "stock"}, "restock": {"name": "restock"}}, "instructions": None},
     "inventory list_tools -> stock, restock"),
    ("pydantic_ai.mcp_tools", {"agent": "a", "toolset": "inventory"}, None, "inventory list_tools"),
    # LangGraph: the provider's response metadata names the model, else the input's model class.
    ("langgraph.model", {"model": "ChatOpenAI", "messages": [], "call": "k"},
     {"generations": [{"message": {"type": "ai", "data": {
         "content": "", "response_metadata": {"model_name": "gpt-4o-mini"}, "usage_metadata": USAGE}}, "info": None}],
      "llm_output": None}, "gpt-4o-mini 812 in / 64 out tokens"),
    ("langgraph.model", {"model": "ChatAnthropic", "messages": []},
     {"generations": [{"message": {"type": "ai", "data": {"response_metadata": {"model": "claude-x"}}}}]}, "claude-x"),
    ("langgraph.model", {"model": "ScriptedChatModel", "messages": []},
     {"generations": [{"message": {"type": "ai", "data": {"content": "hi"}}}], "llm_output": None},
     "ScriptedChatModel"),
    ("langgraph.tool", {"tool": "get_weather", "input": {"id": "c1", "args": {"city": "Paris"}}, "call": "k"},
     {"message": {"type": "tool", "data": {"content": "sunny", "tool_call_id": "c1"}}},
     'get_weather {"city": "Paris"} -> sunny'),
    ("langgraph.tool", {"tool": "handoff", "input": {"id": "c1", "args": {}}},
     {"command": {"graph": None, "goto": "billing", "update": None, "resume": None}},
     "handoff {} -> Command(goto='billing')"),
    ("langgraph.tool", {"tool": "echo", "input": "plain"},
     {"value": {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "AIMessage"],
                "kwargs": {"content": "echoed"}}}, "echo plain -> echoed"),
    ("langgraph.node", {"call": "k", "node": "fetch"}, {"value": {"prices": [1, 2]}}, 'fetch -> {"prices": [1, 2]}'),
    ("langgraph.node", {"call": "k", "node": "fetch"}, None, "fetch"),
    # CrewAI: the result names the model (older results: the LLM's slot in the crew).
    ("crewai.model", {"crew": "c", "llm": "agents.0.llm", "method": "call", "messages": []},
     {"text": "Thought: done", "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
      "model": "gpt-4o"}, "gpt-4o 812 in / 64 out tokens"),
    ("crewai.model", {"crew": "c", "llm": "agents.0.llm"}, {"tool_calls": [], "usage": {}}, "agents.0.llm"),
    ("crewai.tool", {"crew": "c", "tool": "get_weather", "call_id": "tool-1", "arguments": {"city": "Paris"}},
     "sunny in Paris", 'get_weather {"city": "Paris"} -> sunny in Paris'),
    ("crewai.task", {"crew": "c", "task": 1, "agent": "agents.0", "context": None},
     {"output": {"agent": "forecaster", "raw": "Sunny."}, "usage": {}}, "task 1 forecaster -> Sunny."),
    ("crewai.task", {"crew": "c", "task": 0, "agent": "agents.0"}, None, "task 0 agents.0"),
    ("crewai.delegate", {"crew": "c", "tool": "Ask question to coworker", "coworkers": ["analyst"],
                         "arguments": {"question": "why?", "coworker": "analyst"}},
     {"result": "because", "usage": {}},
     'Ask question to coworker {"coworker": "analyst", "question": "why?"} -> because'),
    # Steps of no known framework, or of a kind a framework does not have.
    ("demo.tool", {"tool": "lookup", "arguments": "{}"}, {"usage": USAGE}, ""),
    ("pydantic_ai.unknown", {"tool": "x"}, {"kind": "return"}, ""),
    ("nodots", None, None, ""),
]


@pytest.mark.parametrize(("name", "input", "result", "line"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_adapter_format_gives_its_line(name: str, input: Any, result: Any, line: str) -> None:
    assert describe_step(name, input, result) == line


def test_previews_are_cut_and_on_one_line() -> None:
    long = {"q": "x" * 200}
    line = describe_step("pydantic_ai.tool", {"tool": "lookup", "args": long}, {"kind": "return", "value": "a\n  b"})
    assert line == f"lookup {json.dumps(long)[: PREVIEW - 1]}… -> a b"
    assert len(preview("y" * 500)) == PREVIEW


GARBAGE: list[Any] = [None, 0, -1, 2.5, True, "", "text", [], [None, 3, "x", {}], {}, {"a": None}, {"$ref": 5},
                      {"lc": 1, "kwargs": 7}, {OBJECT_MARK: 3}, float("nan")]


def _mutations(value: Any) -> Iterator[Any]:
    """``value`` with each of its parts (itself included) replaced by each garbage value in turn."""
    yield from GARBAGE
    if isinstance(value, dict):
        for key in value:
            for changed in _mutations(value[key]):
                mutated = copy.copy(value)
                mutated[key] = changed
                yield mutated
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for changed in _mutations(item):
                yield [*value[:i], changed, *value[i + 1:]]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_garbled_payloads_never_raise(case: tuple[str, Any, Any, str]) -> None:
    name, input, result, _ = case
    tried = 0
    for garbled_input in _mutations(input):
        assert isinstance(describe_step(name, garbled_input, result), str)
        tried += 1
    for garbled_result in _mutations(result):
        assert isinstance(describe_step(name, input, garbled_result), str)
        for garbled_input in GARBAGE:
            assert isinstance(describe_step(name, garbled_input, garbled_result), str)
        tried += 1
    assert tried >= 2 * len(GARBAGE)


@pytest.mark.parametrize(("workflow", "input", "label"), [
    ("openai_agents.run", {"agent": "forecaster", "input": "hi", "max_turns": 10}, "forecaster"),
    ("openai_agents.agent_tool", {"parent": "r", "agent": "forecaster", "tool": "to_french"}, "to_french"),
    ("pydantic_ai.run", {"agent": "planner", "prompt": "hi", "kwargs": {}}, "planner"),
    ("pydantic_ai.delegate", {"agent": "researcher", "prompt": "hi"}, "researcher"),
    ("langgraph.run", {"graph": "trip-planner", "thread_id": "t-1", "call": "invoke"}, "trip-planner"),
    ("langgraph.subgraph", {"parent": "t-1", "graph": "booking", "thread_id": "t-1"}, "booking"),
    ("crewai.run", {"crew": "weather-crew", "inputs": {}}, "weather-crew"),
    ("crewai.task", {"root": "r", "crew": "weather-crew", "task": 0, "agent": "agents.0"}, "weather-crew"),
    ("crewai.delegate", {"root": "r", "crew": "weather-crew", "tool": "Ask question to coworker"}, "weather-crew"),
    ("demo.agent", {"agent": {"name": "helper"}}, "helper"),
    ("demo.agent", {"agent": ""}, None),
    ("langgraph.run", {"agent": "not-the-graph"}, None),
    ("crewai.run", {"crew": 7}, None),
    ("openai_agents.run", "plain text input", None),
    ("openai_agents.run", None, None),
    ("openai_agents.run", [1, 2], None),
])
def test_run_label_names_the_agent_graph_or_crew(workflow: str, input: Any, label: str | None) -> None:
    assert run_label(workflow, input) == label
