"""durable_options: per-agent model retry policy and timeout, per-tool retry policy and opt-out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
import pytest
from agents import Agent, OpenAIChatCompletionsModel, function_tool
from agents import Runner as NativeRunner
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from openai import AsyncOpenAI, InternalServerError
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner, durable_options
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import ScriptedModelServer, http_error, text

pytestmark = pytest.mark.anyio

QUICK = wf.RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=2)


def _history(run_id: str, kind: WorkflowHistoryEventType) -> list[Any]:
    return [e for e in get_runtime().history(run_id) if e.event_type == kind]


def _http_agent(name: str, server: ScriptedModelServer) -> Agent[Any]:
    client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    return Agent(name=name, instructions="Answer.", model=OpenAIChatCompletionsModel(model="m", openai_client=client))


@function_tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def add_rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    if not done:
        return [tool_call("add", {"a": 2, "b": 3}, "c1")]
    return [message(f"sum is {done[0]['output']}")]


async def test_a_pure_tool_opted_out_runs_in_the_workflow_not_as_an_activity() -> None:
    durable_options(add, activity=False)
    try:
        result = await Runner.run(Agent(name="opts-pure", tools=[add], model=ScriptedModel(add_rule)), "2+3",
                                  run_id="opts-pure")
        native = await NativeRunner.run(Agent(name="opts-pure-native", tools=[add], model=ScriptedModel(add_rule)),
                                        "2+3")
    finally:
        durable_options(add, activity=True)
    assert result.final_output == native.final_output == "sum is 5"
    assert [e.name for e in _history("opts-pure", WorkflowHistoryEventType.TASK_SCHEDULED)] == [
        "openai_agents.model", "openai_agents.model"
    ]


flaky_calls: list[int] = []


@function_tool(failure_error_function=None)  # errors fail the call instead of becoming its output
def flaky_lookup(n: int) -> str:
    """Look n up (fails on the first attempt)."""
    flaky_calls.append(n)
    if len(flaky_calls) == 1:
        raise ConnectionError("upstream reset")
    return f"value {n}"


def flaky_rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    if not done:
        return [tool_call("flaky_lookup", {"n": 4}, "c1")]
    return [message(done[0]["output"])]


async def test_a_tool_retry_policy_retries_the_tool_activity() -> None:
    durable_options(flaky_lookup, retry_policy=QUICK)
    agent = Agent(name="opts-tool-retry", tools=[flaky_lookup], model=ScriptedModel(flaky_rule))
    result = await Runner.run(agent, "look 4 up", run_id="opts-tool-retry")
    assert result.final_output == "value 4"
    assert flaky_calls == [4, 4]
    assert len(_history("opts-tool-retry", WorkflowHistoryEventType.TASK_FAILED)) == 1


async def test_an_agent_retry_policy_bounds_model_attempts() -> None:
    with ScriptedModelServer([http_error(500), http_error(500), http_error(500), text("late")]) as server:
        agent = durable_options(_http_agent("opts-model-retry", server), retry_policy=QUICK)
        with pytest.raises(InternalServerError, match="scripted HTTP 500"):  # the model's own error, as natively
            await Runner.run(agent, "hi", run_id="opts-model-retry")
        assert server.request_count == 2


async def test_an_agent_timeout_fails_the_slow_attempt_and_the_retry_answers() -> None:
    with ScriptedModelServer([text("slow", delay=3.0), text("quick")]) as server:
        agent = durable_options(_http_agent("opts-timeout", server), timeout=0.5)
        result = await Runner.run(agent, "hi", run_id="opts-timeout")
        assert server.request_count == 2
    assert result.final_output == "quick"
    failed = _history("opts-timeout", WorkflowHistoryEventType.TASK_FAILED)
    assert len(failed) == 1
    assert "did not answer within 0.5 s" in failed[0].failure_details.message


def test_bad_options_are_refused_with_clear_errors() -> None:
    agent = Agent(name="opts-bad")
    with pytest.raises(ValueError, match="activity=False applies to function tools"):
        durable_options(agent, activity=False)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        durable_options(agent, timeout=0)
    with pytest.raises(TypeError, match="retry_policy must be a dapr.ext.workflow.RetryPolicy"):
        durable_options(agent, retry_policy={"attempts": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"@function_tool\(timeout=...\)"):
        durable_options(add, timeout=5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="takes an agents.Agent or a FunctionTool, got str"):
        durable_options("opts-bad")  # type: ignore[call-overload]
