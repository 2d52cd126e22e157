"""Model calls as activities: the workflow side's stand-in model and the activity.

On a durable loop the SDK's model lookup returns :class:`DurableModel`, whose
``get_response`` becomes an ``openai_agents.model`` activity. The activity looks
the agent up by name and calls its real model (the agent's own ``Model``, or the
run config's provider), so model objects and clients never leave the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import dapr.ext.workflow as wf
from agents import Agent, RunConfig
from agents.items import ModelResponse
from agents.models._retry_runtime import provider_managed_retries_disabled
from agents.models.interface import Model
from agents.run_internal import run_loop, turn_preparation

from dapr_agents_durable.adapters.openai_agents import model_codec, refs
from dapr_agents_durable.adapters.openai_agents.graph import register_graph, run_graph, wait_for_agent
from dapr_agents_durable.adapters.openai_agents.model_stream import streamed_response
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.options import agent_options
from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.adapters.openai_agents.streaming import response_events
from dapr_agents_durable.adapters.openai_agents.tool_seam import SDK_ERRORS
from dapr_agents_durable.loop import current_execution, on_durable_loop
from dapr_agents_durable.loop.errors import ActivityError
from dapr_agents_durable.loop.home import on_loop
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.raised import CallFailed, keep_original, raised_again
from dapr_agents_durable.runtime.retries import MODEL_RETRY_POLICY, fail_for_retry, stored_once_paid, within

_original_get_model = turn_preparation.get_model


class ModelCallFailed(CallFailed):
    """A model raised an exception type that cannot be rebuilt here; its text is the original's."""


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
        return await self._respond(
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

    async def _respond(self, *arguments: Any, stream: bool = False) -> ModelResponse:
        """The model's response to the request ``arguments`` (``get_response``'s, in its order) from
        the activity; ``stream``: the real model streams it, as in a streamed native run."""
        request = model_codec.encode_request(self.agent_name, *arguments)
        if stream:
            request["stream"] = True
        execution = current_execution()
        # Sent as a delta of the run's previous request, naming earlier results by reference.
        payload = refs.encoder_for(execution).encode(request)
        retry_policy = agent_options(self.agent_name).retry_policy or MODEL_RETRY_POLICY
        try:
            data = await execution.call_activity(MODEL_ACTIVITY, payload, retry_policy=retry_policy)
        except ActivityError as err:
            raise raised_again(
                execution.instance_id, err.error_type, err.error_message, SDK_ERRORS, fallback=ModelCallFailed
            ) from err
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
        """The same activity as :meth:`get_response`, calling the real model's ``stream_response``;
        its whole response comes as stream events."""
        response = await self._respond(
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
            stream=True,
        )
        for event in response_events(response):
            yield event


def durable_get_model(agent: Agent[Any], run_config: RunConfig) -> Model:
    """The SDK's model lookup: a :class:`DurableModel` on a durable loop, the real model elsewhere."""
    if on_durable_loop():
        graph = run_graph(current_execution().instance_id)
        if graph is None or graph.agents.get(agent.name) is not agent:
            # An agent first met inside the run (a guardrail or tool running another agent).
            register_graph(agent, graph)
        return DurableModel(agent.name)
    return _original_get_model(agent, run_config)


def install() -> None:
    """Route the run loop's model lookup through :func:`durable_get_model` (idempotent)."""
    run_loop.get_model = durable_get_model  # type: ignore[attr-defined]


async def model_activity(ctx: wf.WorkflowActivityContext, payload: dict[str, Any]) -> Any:
    """Call the agent's real model with the recorded request; the response is stored in history."""
    request = await asyncio.to_thread(refs.expand_request, ctx, payload)
    agent = await wait_for_agent(ctx.workflow_id, request["agent"])
    spec = RUNS.get(ctx.workflow_id)
    model = _original_get_model(agent, spec.run_config if spec else RunConfig())
    # The durable retry policy is the only retry: the OpenAI clients' own retries are off.
    with idempotency.step_key(ctx.workflow_id, f"model-{ctx.task_id}"), provider_managed_retries_disabled(True):
        try:
            arguments = model_codec.decode_request(agent, request)
            call = (lambda: streamed_response(model, arguments)) if request.get("stream") else (
                lambda: model.get_response(**arguments)
            )
            response = await within(
                on_loop(spec.loop if spec else None, call),
                agent_options(agent.name).timeout,
                what=f"the model of agent {agent.name!r}",
            )
        except Exception as exc:
            keep_original(ctx.workflow_id, exc)  # the workflow raises this very object when it gives up
            await fail_for_retry(exc)  # transient failures retried after Retry-After, others at once
    with stored_once_paid():
        data = model_codec.encode_response(response, what=f"model response of agent {agent.name!r}")
    if isinstance(name := getattr(model, "model", None), str):  # the SDK's OpenAI and LiteLLM models
        data["model"] = name  # for operators reading the history (decoding ignores it)
    refs.remember_result(ctx, MODEL_ACTIVITY, payload, data)
    return data
