"""``durable_options`` and ``DaprDurability`` end to end: retry policies, timeouts, the capability form.

The model and tools fail or hang on purpose for their first attempts; the run's history
shows each attempt as a scheduled activity, and what the caller gets is what the native
run gives once the durable retries are spent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
import pytest
from compare import same_run
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, DaprDurability, durable_options
from dapr_agents_durable.adapters.pydantic_ai.names import MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime

calls: Counter[str] = Counter()


def fast_retries(attempts: int) -> wf.RetryPolicy:
    return wf.RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=attempts)


def scheduled(run_id: str, activity: str) -> int:
    """How many times the run scheduled ``activity`` (each retry attempt is scheduled again)."""
    return sum(1 for e in get_runtime().raw_history(run_id) if e.HasField("taskScheduled") and e.taskScheduled.name == activity)


def _returned(messages: list[ModelMessage]) -> list[Any]:
    return [p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def flaky_model(name: str, failures: int) -> FunctionModel:
    """Answers ``ok``, after ``failures`` calls that fail with an HTTP 503."""

    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls[name] += 1
        if calls[name] <= failures:
            raise ModelHTTPError(503, name, {"error": "overloaded"})
        return ModelResponse(parts=[TextPart("ok")])

    return FunctionModel(answer, model_name=name)


def test_a_model_retry_policy_retries_transient_failures_until_the_model_answers() -> None:
    agent = durable_options(Agent(flaky_model("opt-flaky", failures=2), name="opt-flaky"), retry_policy=fast_retries(3))
    result = DaprAgent(agent).run_sync("hi", run_id="opt-flaky-1")
    assert result.output == "ok" and calls["opt-flaky"] == 3
    assert scheduled("opt-flaky-1", MODEL_ACTIVITY) == 3
    assert result.usage.requests == 1  # the failed attempts are not requests of the run, as natively


def test_spent_retries_raise_the_models_own_error_as_natively() -> None:
    agent = Agent(flaky_model("opt-down", failures=100), name="opt-down")
    with pytest.raises(ModelHTTPError) as native:
        agent.run_sync("hi")
    calls["opt-down"] = 0

    durable_options(agent, retry_policy=fast_retries(2))
    with pytest.raises(ModelHTTPError) as durable:
        DaprAgent(agent).run_sync("hi", run_id="opt-down-1")
    assert (durable.value.status_code, durable.value.model_name) == (503, "opt-down")
    assert str(durable.value) == str(native.value)
    assert calls["opt-down"] == 2 and scheduled("opt-down-1", MODEL_ACTIVITY) == 2


def test_a_model_timeout_abandons_a_hanging_attempt_and_the_retry_answers() -> None:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls["opt-slow"] += 1
        if calls["opt-slow"] == 1:
            await asyncio.sleep(30)
        return ModelResponse(parts=[TextPart("awake")])

    agent = Agent(FunctionModel(answer, model_name="opt-slow"), name="opt-slow")
    durable_options(agent, retry_policy=fast_retries(2), timeout=0.5)
    started = time.monotonic()
    result = DaprAgent(agent).run_sync("hi", run_id="opt-slow-1")
    assert result.output == "awake" and calls["opt-slow"] == 2
    assert time.monotonic() - started < 25  # the first attempt was cut off, not waited out
    assert scheduled("opt-slow-1", MODEL_ACTIVITY) == 2


def tool_agent(name: str) -> Agent[None, str]:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = _returned(messages)
        if not returned:
            return ModelResponse(parts=[ToolCallPart("fetch", {"key": "a"}, tool_call_id="f1")])
        return ModelResponse(parts=[TextPart(f"got {returned[0]}")])

    return Agent(FunctionModel(answer, model_name=name), name=name)


def test_a_tool_retry_policy_retries_the_tool_and_without_one_its_error_ends_the_run_as_natively() -> None:
    agent = tool_agent("opt-tool")

    @agent.tool_plain
    def fetch(key: str) -> str:
        calls["opt-tool fetch"] += 1
        if calls["opt-tool fetch"] <= 2:  # the first run's call and the second run's first attempt fail
            raise ConnectionError("connection reset")
        return f"value of {key}"

    with pytest.raises(ConnectionError, match="connection reset"):
        DaprAgent(agent).run_sync("go", run_id="opt-tool-1")  # no retry policy: fails as natively
    assert calls["opt-tool fetch"] == 1 and scheduled("opt-tool-1", TOOL_ACTIVITY) == 1

    durable_options(agent, tool="fetch", retry_policy=fast_retries(3))
    result = DaprAgent(agent).run_sync("go", run_id="opt-tool-2")
    assert result.output == "got value of a" and calls["opt-tool fetch"] == 3
    assert scheduled("opt-tool-2", TOOL_ACTIVITY) == 2


def test_a_tool_timeout_cuts_off_a_hanging_call() -> None:
    agent = tool_agent("opt-tool-slow")

    @agent.tool_plain
    async def fetch(key: str) -> str:
        calls["opt-tool-slow fetch"] += 1
        if calls["opt-tool-slow fetch"] == 1:
            await asyncio.sleep(30)
        return f"value of {key}"

    durable_options(agent, tool=fetch, timeout=timedelta(milliseconds=500))
    with pytest.raises(TimeoutError, match=r"tool 'fetch' of agent 'opt-tool-slow' did not answer within 0.5 s"):
        DaprAgent(agent).run_sync("go", run_id="opt-tool-slow-1")

    durable_options(agent, tool=fetch, timeout=0.5, retry_policy=fast_retries(2))
    result = DaprAgent(agent).run_sync("go", run_id="opt-tool-slow-2")
    assert result.output == "got value of a" and calls["opt-tool-slow fetch"] == 2


def test_durable_options_refuses_what_it_cannot_apply() -> None:
    agent = tool_agent("opt-bad")
    with pytest.raises(TypeError, match="takes a pydantic_ai.Agent"):
        durable_options("opt-bad", timeout=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"needs a name \(Agent\(\.\.\., name="):
        durable_options(Agent(FunctionModel(lambda m, i: ModelResponse(parts=[]))), timeout=1)
    with pytest.raises(ValueError, match="activity=False applies to tools"):
        durable_options(agent, activity=False)
    with pytest.raises(ValueError, match="timeout"):
        durable_options(agent, tool="fetch", timeout=-1)


def test_dapr_durability_on_the_agent_itself_is_transparent_natively_and_durable_in_a_run() -> None:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls["opt-cap model"] += 1
        returned = _returned(messages)
        if not returned:
            return ModelResponse(parts=[ToolCallPart("double", {"n": 21}, tool_call_id="d1")])
        return ModelResponse(parts=[TextPart(f"twice 21 is {returned[0]}")])

    agent = Agent(FunctionModel(answer, model_name="opt-cap"), name="opt-cap", capabilities=[DaprDurability()])

    @agent.tool_plain
    def double(n: int) -> int:
        calls["opt-cap tool"] += 1
        return 2 * n

    native = agent.run_sync("go")
    durable = DaprAgent(agent).run_sync("go", run_id="opt-cap-1")
    same_run(native, durable)
    assert durable.output == "twice 21 is 42"
    assert (calls["opt-cap model"], calls["opt-cap tool"]) == (4, 2)  # each step once per run, not wrapped twice
    assert (scheduled("opt-cap-1", MODEL_ACTIVITY), scheduled("opt-cap-1", TOOL_ACTIVITY)) == (2, 1)
    again = DaprAgent(agent).run_sync("go", run_id="opt-cap-1")  # finished: from history
    same_run(durable, again)
    assert (calls["opt-cap model"], calls["opt-cap tool"]) == (4, 2)
