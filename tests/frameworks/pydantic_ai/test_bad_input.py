"""Bad input at DaprAgent's entry points: a clear error naming what is wrong and the fix, stored state intact,
and no model call paid again for a result that cannot be stored."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from dapr.ext.workflow import RetryPolicy, WorkflowStatus
from pydantic_ai import Agent
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, durable_options
from dapr_agents_durable.runtime import get_runtime

calls: Counter[str] = Counter()
TOO_LARGE = r"\d+ bytes encoded, more than the \d+-byte limit for one durable step; return less data"


def calling(tool: str, name: str) -> FunctionModel:
    """Calls ``tool`` once, then answers ``done``."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls[f"{name} model"] += 1
        if any(isinstance(p, ToolReturnPart) for m in messages if isinstance(m, ModelRequest) for p in m.parts):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart(tool, {}, tool_call_id="c1")])

    return FunctionModel(answer, model_name=name)


def failed(run_id: str) -> bool:
    state = get_runtime().state(run_id)
    return state is not None and state.runtime_status == WorkflowStatus.FAILED


def test_a_model_response_too_large_to_store_fails_at_once_without_asking_the_model_again() -> None:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls["bad-huge model"] += 1
        return ModelResponse(parts=[TextPart("y" * 4_000_000)])

    agent = Agent(FunctionModel(answer, model_name="huge"), name="bad-huge")
    with pytest.raises(UserError, match=rf"model response of agent 'bad-huge': {TOO_LARGE}"):
        DaprAgent(agent).run_sync("go", run_id="bad-huge-1")
    assert calls["bad-huge model"] == 1  # not retried: a retry would pay for the same refusal
    assert failed("bad-huge-1")


def test_a_tool_result_too_large_or_not_json_fails_naming_the_tool() -> None:
    agent = Agent(calling("dump", "bad-dump"), name="bad-dump")

    @agent.tool_plain
    def dump() -> str:
        calls["bad-dump tool"] += 1
        return "x" * 4_000_000

    with pytest.raises(UserError, match=rf"result of tool 'dump' of agent 'bad-dump': {TOO_LARGE}"):
        DaprAgent(agent).run_sync("go", run_id="bad-dump-1")
    assert (calls["bad-dump model"], calls["bad-dump tool"]) == (1, 1) and failed("bad-dump-1")

    opaque = Agent(calling("connect", "bad-opaque"), name="bad-opaque")

    @opaque.tool_plain
    def connect() -> object:
        return object()  # a client, a socket: nothing a run can store

    with pytest.raises(UserError, match=r"result of tool 'connect' of agent 'bad-opaque': cannot be encoded as JSON"):
        DaprAgent(opaque).run_sync("go", run_id="bad-opaque-1")
    assert failed("bad-opaque-1")


def test_a_tool_result_too_large_is_not_retried_even_with_a_retry_policy() -> None:
    agent = Agent(calling("dump", "bad-dump-retried"), name="bad-dump-retried")

    @agent.tool_plain
    def dump() -> str:
        calls["bad-dump-retried tool"] += 1
        return "x" * 4_000_000

    durable_options(agent, tool="dump", retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=1),
                                                                 max_number_of_attempts=3))
    with pytest.raises(UserError, match=rf"result of tool 'dump' of agent 'bad-dump-retried': {TOO_LARGE}"):
        DaprAgent(agent).run_sync("go", run_id="bad-dump-2")
    assert calls["bad-dump-retried tool"] == 1  # a retry would run the tool again for the same refusal
    assert failed("bad-dump-2")


def test_a_run_id_of_another_agent_is_refused_and_its_run_keeps_its_result() -> None:
    first = Agent(FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("first answer")]), model_name="a"),
                  name="bad-owner-first")
    other = Agent(FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("other answer")]), model_name="b"),
                  name="bad-owner-other")
    assert DaprAgent(first).run_sync("go", run_id="bad-owner-1").output == "first answer"

    with pytest.raises(UserError, match=r"durable run 'bad-owner-1' belongs to agent 'bad-owner-first', "
                                        r"not 'bad-owner-other'"):
        DaprAgent(other).run_sync("go", run_id="bad-owner-1")
    assert DaprAgent(first).run_sync("go", run_id="bad-owner-1").output == "first answer"


def test_a_run_id_that_is_not_a_non_empty_string_is_refused() -> None:
    agent = Agent(FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("hi")]), model_name="c"), name="bad-id")
    for run_id in ("", 7):
        with pytest.raises((ValueError, TypeError), match="run_id must be a non-empty string"):
            DaprAgent(agent).run_sync("go", run_id=run_id)  # type: ignore[arg-type]
