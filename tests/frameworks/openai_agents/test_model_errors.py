"""Model errors over real HTTP: rate limits are retried after Retry-After, other 4xx are not."""

from __future__ import annotations

from typing import Any

import pytest
from agents import Agent, OpenAIChatCompletionsModel
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import ScriptedModelServer, http_error, text

pytestmark = pytest.mark.anyio


def _agent(name: str, server: ScriptedModelServer) -> Agent[Any]:
    client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    return Agent(name=name, instructions="Answer.", model=OpenAIChatCompletionsModel(model="m", openai_client=client))


async def test_rate_limit_is_retried_after_retry_after() -> None:
    with ScriptedModelServer([http_error(429, retry_after=2), text("fine")]) as server:
        result = await Runner.run(_agent("errors-429", server), "hi", run_id="errors-429")
        times = [r.time for r in server.requests]
    assert result.final_output == "fine"
    assert len(times) == 2
    assert times[1] - times[0] >= 2.0  # not before the provider's Retry-After


async def test_bad_request_is_not_retried() -> None:
    with ScriptedModelServer([http_error(400, message="bad tool schema"), text("never")]) as server:
        with pytest.raises(Exception) as info:
            await Runner.run(_agent("errors-400", server), "hi", run_id="errors-400")
        assert server.request_count == 1
    assert "bad tool schema" in str(info.value) or "400" in str(info.value)


async def test_the_clients_own_retries_are_off_so_each_attempt_is_one_request() -> None:
    with ScriptedModelServer([http_error(500), http_error(500), text("fine")]) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=5)
        agent = Agent(name="errors-client-retries", instructions="Answer.",
                      model=OpenAIChatCompletionsModel(model="m", openai_client=client))
        result = await Runner.run(agent, "hi", run_id="errors-client-retries")
        assert server.request_count == 3
    assert result.final_output == "fine"
    failed = [e for e in get_runtime().history("errors-client-retries")
              if e.event_type == WorkflowHistoryEventType.TASK_FAILED]
    assert len(failed) == 2  # each failed request was a failed durable attempt, not a hidden client retry
