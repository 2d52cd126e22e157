"""Model calls as activities: the workflow side's stand-in model and the activity.

On a durable loop the SDK's model lookup returns :class:`DurableModel`, whose
``get_response`` becomes an ``openai_agents.model`` activity. The activity looks
the agent up by name and calls its real model (the agent's own ``Model``, or the
run config's provider), so model objects and clients never leave the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf
from agents import Agent, RunConfig
from agents.items import ModelResponse
from agents.models._retry_runtime import provider_managed_retries_disabled
from agents.models.interface import Model
from agents.run_internal import run_loop, turn_preparation
from dapr.ext.workflow._durabletask.task import NonRetryableError

from dapr_agents_durable.adapters.openai_agents import model_codec, refs
from dapr_agents_durable.adapters.openai_agents.graph import AGENTS, register_graph
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.options import agent_options
from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.adapters.openai_agents.streaming import response_events
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import DurableLoopError
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.registry import registered

MODEL_RETRY_POLICY = wf.RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    max_number_of_attempts=6,
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=60),
)
"""Default retries of a failed model call: 429 and 5xx are retried, other 4xx are not."""

_original_get_model = turn_preparation.get_model


def _on_durable_loop() -> bool:
    try:
        current_execution()
    except DurableLoopError:
        return False
    return True


class DurableModel(Model):
    """The workflow-side model: every response comes from an ``openai_agents.model`` activity."""

    def __init__(self, agent_name: str) -> None:
        self.agent_name = agent_name

    async def get_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        request = model_codec.encode_request(
            self.agent_name,
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id,
            conversation_id,
            prompt,
        )
        execution = current_execution()
        # Sent as a delta of the run's previous request, naming earlier results by reference.
        payload = refs.encoder_for(execution).encode(request)
        retry_policy = agent_options(self.agent_name).retry_policy or MODEL_RETRY_POLICY
        data = await execution.call_activity(MODEL_ACTIVITY, payload, retry_policy=retry_policy)
        refs.offer_result(execution, MODEL_ACTIVITY, payload, data)
        return model_codec.decode_response(data, what=f"model response of agent {self.agent_name!r}")

    async def stream_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> AsyncIterator[Any]:
        """The same activity as :meth:`get_response`; its whole response comes as stream events."""
        response = await self.get_response(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
        )
        for event in response_events(response):
            yield event


def durable_get_model(agent: Agent[Any], run_config: RunConfig) -> Model:
    """The SDK's model lookup: a :class:`DurableModel` on a durable loop, the real model elsewhere."""
    if _on_durable_loop():
        if AGENTS.get(agent.name) is not agent:
            # An agent first met inside the run (a guardrail or tool running another agent).
            register_graph(agent)
        return DurableModel(agent.name)
    return _original_get_model(agent, run_config)


def install() -> None:
    """Route the run loop's model lookup through :func:`durable_get_model` (idempotent)."""
    run_loop.get_model = durable_get_model  # type: ignore[attr-defined]


async def model_activity(ctx: wf.WorkflowActivityContext, payload: dict[str, Any]) -> Any:
    """Call the agent's real model with the recorded request; the response is stored in history."""
    request = await asyncio.to_thread(refs.expand_request, ctx, payload)
    agent = await registered(AGENTS, request["agent"])
    spec = RUNS.get(ctx.workflow_id)
    model = _original_get_model(agent, spec.run_config if spec else RunConfig())
    # The durable retry policy is the only retry: the OpenAI clients' own retries are off.
    with idempotency.step_key(ctx.workflow_id, f"model-{ctx.task_id}"), provider_managed_retries_disabled(True):
        try:
            response = await _within(
                agent.name, model.get_response(**model_codec.decode_request(agent, request))
            )
        except Exception as exc:
            if _is_permanent(exc):
                raise NonRetryableError(f"{type(exc).__name__}: {exc}") from exc
            # Honour the provider's Retry-After: the durable retry starts after this wait.
            await asyncio.sleep(_retry_after(exc))
            raise
    data = model_codec.encode_response(response, what=f"model response of agent {agent.name!r}")
    refs.remember_result(ctx, MODEL_ACTIVITY, payload, data)
    return data


async def _within(agent_name: str, call: Awaitable[ModelResponse]) -> ModelResponse:
    """Await a model call within the agent's per-attempt timeout, if it has one."""
    timeout = agent_options(agent_name).timeout
    try:
        return await asyncio.wait_for(call, timeout)
    except asyncio.TimeoutError as exc:
        raise TimeoutError(f"the model of agent {agent_name!r} did not answer within {timeout} s") from exc


MAX_RETRY_AFTER_SECONDS = 60.0


def _retry_after(exc: BaseException) -> float:
    """Seconds a rate-limited or unavailable provider asked to wait (``Retry-After``), capped."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return min(max(float(value) * scale, 0.0), MAX_RETRY_AFTER_SECONDS)
            except ValueError:
                continue
    return 0.0


def _is_permanent(exc: BaseException) -> bool:
    """A 4xx answer other than 408/409/429 will not get better by retrying."""
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429)
