"""Model requests as activities: the workflow side's stand-in model and the activity.

On a durable loop :class:`ActivityModel` wraps the model serving each request attempt (the
agent's own model, a ``FallbackModel`` as a whole, a run's ``model=``); its ``request``
becomes a ``pydantic_ai.model`` activity. The activity finds the same model in this
process (the agent's, the run's, or one by its model id) and sends the request with it, so
model objects, clients and keys never leave the worker. A request the run streams
(``run_stream``, ``event_stream_handler``) is streamed inside the activity, as natively, and its
complete response stored. Requests travel as deltas of the
run's previous request (:mod:`dapr_agents_durable.runtime.deltas`): history grows with the
conversation, not with its square.

Failures: transient ones (connection errors, timeouts, 429, 5xx) fail the attempt for the
durable retry policy, with PydanticAI's and the provider client's own retries off
(``ModelSettings['max_retries'] = 0`` inside the activity); any other exception is returned
as data and raised in the workflow with its own type and message, at once. Once the retries
are spent, the last transient error is raised as PydanticAI raises it (``ModelHTTPError``,
``ModelAPIError``, a built-in such as ``TimeoutError``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Self

import dapr.ext.workflow as wf
from pydantic_ai import models
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import CompletedStreamedResponse, Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.instrumented import InstrumentedModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from dapr_agents_durable.adapters.pydantic_ai.codec import MESSAGES, PARAMETERS, RESPONSE, SETTINGS
from dapr_agents_durable.adapters.pydantic_ai.errors import decode_error, encode_error, exhausted
from dapr_agents_durable.adapters.pydantic_ai.names import MODEL_ACTIVITY
from dapr_agents_durable.adapters.pydantic_ai.options import model_options
from dapr_agents_durable.adapters.pydantic_ai.runs import AGENTS, SPECS
from dapr_agents_durable.loop import DurableExecution, current_execution
from dapr_agents_durable.loop.errors import ActivityError
from dapr_agents_durable.runtime import Registry, get_runtime, idempotency
from dapr_agents_durable.runtime.codec import CodecError
from dapr_agents_durable.runtime.deltas import DeltaCache, DeltaEncoder, RecordedRun
from dapr_agents_durable.runtime.recorded import RecordedActivities
from dapr_agents_durable.runtime.registry import registered
from dapr_agents_durable.runtime.retries import MODEL_RETRY_POLICY, fail_for_retry, is_transient, within

MODELS: Registry[Model] = Registry("PydanticAI model")
"""Models met in this process that are neither an agent's own nor a run's ``model=``, by model id."""

AGENT_MODEL = "agent"
RUN_MODEL = "run"


def model_key(agent_name: str, run_id: str, model: Model) -> str:
    """How the activity finds ``model``: the agent's own, the run's ``model=``, or by model id."""
    agent = AGENTS.get(agent_name)
    if agent is not None and model is agent.model:
        return AGENT_MODEL
    spec = SPECS.get(run_id)
    if spec is not None and model is spec.kwargs.get("model"):
        return RUN_MODEL
    MODELS.add(model.model_id, model)
    return f"id:{model.model_id}"


class ActivityModel(WrapperModel):
    """The workflow-side model: each request is a ``pydantic_ai.model`` activity."""

    def __init__(self, wrapped: Model, *, agent_name: str, run_id: str) -> None:
        super().__init__(wrapped)
        self.agent_name = agent_name
        self.key = model_key(agent_name, run_id, wrapped)

    async def __aenter__(self) -> Self:
        return self  # the real model is entered inside the activity, never in the workflow

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        return await self._call(messages, model_settings, model_request_parameters, stream=False)

    async def _call(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        *,
        stream: bool,
    ) -> ModelResponse:
        what = f"model request of agent {self.agent_name!r}"
        request = {
            "agent": self.agent_name,
            "model": self.key,
            "messages": MESSAGES.encode(messages, what=what),
            "settings": SETTINGS.encode(model_settings, what=what),
            "parameters": PARAMETERS.encode(model_request_parameters, what=what),
        }
        if stream:
            request["stream"] = True
        execution = current_execution()
        payload = encoder_for(execution).encode(request)
        retry_policy = model_options(self.agent_name).retry_policy or MODEL_RETRY_POLICY
        try:
            reply = await execution.call_activity(MODEL_ACTIVITY, payload, retry_policy=retry_policy)
        except ActivityError as err:  # transient failures, all retries spent
            raise exhausted(err.error_type, err.error_message, self.wrapped.model_name) from err
        if "error" in reply:
            raise decode_error(reply["error"])
        return RESPONSE.decode(reply["response"], what=f"model response of agent {self.agent_name!r}")

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        """The same activity as :meth:`request`, streaming inside it; the whole response then streams from history."""
        response = await self._call(messages, model_settings, model_request_parameters, stream=True)
        yield CompletedStreamedResponse(response, model_request_parameters=model_request_parameters, replay_events=True)


_ENCODERS: weakref.WeakKeyDictionary[DurableExecution, DeltaEncoder] = weakref.WeakKeyDictionary()


def encoder_for(execution: DurableExecution) -> DeltaEncoder:
    """The execution's model-request encoder (workflow side; deterministic across replays)."""
    encoder = _ENCODERS.get(execution)
    if encoder is None:
        encoder = _ENCODERS[execution] = DeltaEncoder()
    return encoder


EXPANDED = DeltaCache()
"""Activity side: recent full model requests per run."""


class _RecordedRequests:
    """The model requests a run's history recorded (they hold no references to other results)."""

    def __init__(self, run_id: str) -> None:
        self._activities = RecordedActivities(get_runtime().raw_history(run_id))

    def requests(self) -> Iterable[dict[str, Any]]:
        return self._activities.inputs(MODEL_ACTIVITY)  # type: ignore[no-any-return]

    def items(self, task_id: int) -> list[Any]:
        raise LookupError("PydanticAI model requests hold no references to other activity results")


def _recorded(run_id: str) -> RecordedRun:
    return _RecordedRequests(run_id)


async def model_activity(ctx: wf.WorkflowActivityContext, payload: dict[str, Any]) -> Any:
    """Send one model request with the real model; the response (or a lasting error) is stored."""
    run_id = ctx.workflow_id
    request = await asyncio.to_thread(EXPANDED.expand, run_id, payload, lambda: _recorded(run_id))
    agent_name = request["agent"]
    model = await _find_model(run_id, agent_name, request["model"])
    settings: ModelSettings = {**(SETTINGS.decode(request["settings"]) or {}), "max_retries": 0}
    with idempotency.step_key(run_id, f"model-{ctx.task_id}"):
        try:
            async with model:
                response = await within(
                    _send(model, request, settings),
                    model_options(agent_name).timeout,
                    what=f"the model of agent {agent_name!r}",
                )
        except Exception as exc:
            if is_transient(exc):
                await fail_for_retry(exc)  # raises: retried by the durable policy after Retry-After
            return {"error": encode_error(exc)}
    try:
        return {"response": RESPONSE.encode(response, what=f"model response of agent {agent_name!r}")}
    except CodecError as exc:  # not retried: that would pay the model again for the same refusal
        return {"error": encode_error(exc)}


async def _send(model: Model, request: dict[str, Any], settings: ModelSettings) -> ModelResponse:
    """The model's response to ``request``: streamed to its end when the run streams (as natively), else requested."""
    messages, parameters = MESSAGES.decode(request["messages"]), PARAMETERS.decode(request["parameters"])
    if not request.get("stream"):
        return await model.request(messages, settings, parameters)
    async with model.request_stream(messages, settings, parameters) as streamed:
        async for _ in streamed:
            pass
    return streamed.get()


async def _find_model(run_id: str, agent_name: str, key: str) -> Model:
    """The model a request of the run goes to; an ``InstrumentedModel`` unwrapped, as the agent
    unwraps it natively (its spans come from the workflow's ``Instrumentation`` capability)."""
    model = await _the_model(run_id, agent_name, key)
    while isinstance(model, InstrumentedModel):
        model = model.wrapped
    return model


async def _the_model(run_id: str, agent_name: str, key: str) -> Model:
    if key == AGENT_MODEL:
        agent = await registered(AGENTS, agent_name)
        if agent.model is None:
            raise UserError(f"agent {agent_name!r} has no model; give it one to run it durably")
        return models.infer_model(agent.model)
    if key == RUN_MODEL:
        spec = await registered(SPECS, run_id)
        return models.infer_model(spec.kwargs["model"])
    model_id = key.removeprefix("id:")
    found = MODELS.get(model_id)
    return found if found is not None else models.infer_model(model_id)
