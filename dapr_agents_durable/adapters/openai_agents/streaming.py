"""``Runner.run_streamed`` for durable runs: the SDK's own stream events, step by step.

A streamed run is the ``openai_agents.run`` workflow with ``stream`` set in its input.
Inside it, the SDK's own ``agents.Runner.run_streamed`` runs on the durable loop and
:func:`streamed_run` consumes its ``stream_events()``. ``DurableModel.stream_response``
calls the same ``openai_agents.model`` activity as ``get_response`` (one activity per
model response) and turns the response into the few raw events the SDK's streamed turn
needs (:func:`response_events`).

Every event the workflow produces live is handed, through an in-process channel keyed
by run id, to the callers streaming that run in this process (the workflow runs on a
worker thread, each caller on its own event loop). Events of steps the workflow only
replays (after a restart) are not handed over again:

- a run started (or attached to while running) in this process streams every step it
  executes from then on, once; steps finished before a crash are not re-sent (their
  items are in the final ``new_items``);
- a finished run, or one that runs in another process (another replica), streams its
  whole event stream once it has finished, rebuilt by replaying its history in this
  process (no model or tool is called);
- a run that has no event stream (started with ``Runner.run``), or whose steps all ran
  before this caller attached, streams the items of its result instead
  (``RunItemStreamEvent`` only).

A run that pauses for tools with ``needs_approval`` rests without ending: the caller's
stream ends there and its result holds the SDK's ``interruptions`` (``to_state()``
works). Streaming a ``RunState`` with decisions under the same run id delivers them
and streams the steps they let the run take, up to its end or its next pause; a
caller whose decisions leave the run waiting (some calls still undecided) streams
nothing.

Granularity: one ``raw_response_event`` per text part (``response.output_text.delta``
carrying the whole text), one per output item (``response.output_item.done``) and one
``response.completed`` per model response, never token by token; run item events
(``tool_called``, ``tool_output``, ``handoff_requested``, ``handoff_occured``,
``message_output_created`` ...) and ``agent_updated_stream_event`` exactly as the SDK
emits them.

Example::

    from dapr_agents_durable.adapters.openai_agents import Runner

    result = Runner.run_streamed(agent, "What is the weather in Paris?", run_id="ticket-42")
    async for event in result.stream_events():
        if event.type == "run_item_stream_event":
            print(event.name, event.item.type)
    if result.interruptions:
        state = result.to_state()
        state.approve(result.interruptions[0])
        result = Runner.run_streamed(agent, state, run_id="ticket-42")
        async for event in result.stream_events():
            ...
    print(result.final_output)
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from typing import Any

from agents import (
    Agent,
    AgentUpdatedStreamEvent,
    RunContextWrapper,
    RunResult,
    RunResultStreaming,
)
from agents.exceptions import AgentsException
from agents.items import ModelResponse, RunItem, TResponseStreamEvent
from agents.run_internal.run_steps import QueueCompleteSentinel
from agents.run_internal.streaming import stream_step_items_to_queue
from agents.run_internal.turn_preparation import get_output_schema
from agents.run import Runner as SdkRunner  # the SDK's own, even where agents.Runner is swapped
from agents.run_state import RunState
from agents.stream_events import StreamEvent
from agents.usage import Usage, _attach_normalized_usage, _attach_raw_usage_snapshot
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseUsage,
)

from dapr_agents_durable.adapters.openai_agents import approvals, results, session_seam
from dapr_agents_durable.adapters.openai_agents.runs import RUNS, RunSpec
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.runtime import DurableRuntime
from dapr_agents_durable.runtime.live import CHANNELS, Listener, collecting_replayed, publish
from dapr_agents_durable.runtime.waits import waited_in_thread


# ---------------------------------------------------------------------------- model responses as events


def response_events(response: ModelResponse) -> list[TResponseStreamEvent]:
    """The raw stream events of one complete model response, ending with ``response.completed``."""
    events: list[TResponseStreamEvent] = []
    for index, item in enumerate(response.output):
        if isinstance(item, ResponseOutputMessage):
            for part_index, part in enumerate(item.content):
                if isinstance(part, ResponseOutputText):
                    events.append(
                        ResponseTextDeltaEvent(
                            type="response.output_text.delta",
                            item_id=item.id,
                            output_index=index,
                            content_index=part_index,
                            delta=part.text,
                            logprobs=[],
                            sequence_number=len(events),
                        )
                    )
        events.append(
            ResponseOutputItemDoneEvent(
                type="response.output_item.done", item=item, output_index=index, sequence_number=len(events)
            )
        )
    events.append(
        ResponseCompletedEvent(
            type="response.completed", response=_as_response(response), sequence_number=len(events)
        )
    )
    return events


def _as_response(model_response: ModelResponse) -> Response:
    """A completed ``Response`` the SDK turns back into exactly ``model_response``."""
    response = Response.model_construct(
        id=model_response.response_id,
        created_at=0,
        model="",
        object="response",
        output=list(model_response.output),
        parallel_tool_calls=False,
        tool_choice="auto",
        tools=[],
        status="completed",
        usage=_response_usage(model_response.usage),
    )
    if model_response.request_id is not None:
        response._request_id = model_response.request_id
    if model_response.raw_usage is not None:
        _attach_raw_usage_snapshot(response, model_response.raw_usage)
    return response


def _response_usage(usage: Usage) -> ResponseUsage:
    """The Responses API usage of ``usage``, carrying ``usage`` itself for a lossless way back."""
    response_usage = ResponseUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_tokens_details=usage.input_tokens_details,
        output_tokens_details=usage.output_tokens_details,
    )
    _attach_normalized_usage(response_usage, usage)
    return response_usage


# ---------------------------------------------------------------------------- the caller's result object


@dataclasses.dataclass
class DurableRunResultStreaming(RunResultStreaming):
    """The SDK's ``RunResultStreaming`` of a durable run; ``run_id`` names the run."""

    run_id: str = ""

    def _push(self, event: StreamEvent) -> None:
        """Queue ``event`` for ``stream_events()`` (on the caller's loop)."""
        if isinstance(event, AgentUpdatedStreamEvent):
            self.current_agent = event.new_agent
        self._event_queue.put_nowait(event)


_SHARED_FIELDS = tuple(
    sorted({f.name for f in dataclasses.fields(RunResult)} & {f.name for f in dataclasses.fields(RunResultStreaming)})
)
"""The run's data and resumable state: what a ``RunResult`` and a ``RunResultStreaming`` both hold."""

_STREAMED_STATE = (
    "current_turn",
    "_current_agent_output_schema",
    "_state",
    "_stream_input_persisted",
    "_original_input_for_persistence",
)
"""State only a streamed result holds (its queues and tasks stay the caller's own)."""


def _adopt(result: DurableRunResultStreaming, source: Any) -> None:
    """Make ``result`` hold the finished run ``source`` (a ``RunResultStreaming`` or a ``RunResult``)."""
    for name in _SHARED_FIELDS:
        setattr(result, name, getattr(source, name))
    result.current_agent = source.last_agent
    if isinstance(source, RunResultStreaming):
        for name in _STREAMED_STATE:
            setattr(result, name, getattr(source, name))
    else:
        result.current_turn = source._current_turn


def _adopt_partial(result: DurableRunResultStreaming, error: BaseException) -> None:
    """Make ``result`` hold what the failed run had done, as the SDK's exception reports it."""
    data = error.run_data if isinstance(error, AgentsException) else None
    if data is None:
        return
    result.new_items = list(data.new_items)
    result.raw_responses = list(data.raw_responses)
    result.current_agent = data.last_agent
    result.context_wrapper = data.context_wrapper
    result.input_guardrail_results = list(data.input_guardrail_results)
    result.output_guardrail_results = list(data.output_guardrail_results)
    result.tool_input_guardrail_results = list(data.tool_input_guardrail_results)
    result.tool_output_guardrail_results = list(data.tool_output_guardrail_results)


def _new_result(
    agent: Agent[Any], input: str | list[Any] | RunState[Any], context: Any, max_turns: int | None, run_id: str
) -> DurableRunResultStreaming:
    """The result a caller holds before the run rests; a ``RunState`` input starts from its agent, as the SDK's."""
    wrapper = context if isinstance(context, RunContextWrapper) else RunContextWrapper(context=context)
    if isinstance(input, RunState):
        agent = input._current_agent or agent
        max_turns = input._max_turns
    result = DurableRunResultStreaming(
        input="" if isinstance(input, RunState) else copy.deepcopy(input),
        new_items=[],
        raw_responses=[],
        final_output=None,
        input_guardrail_results=[],
        output_guardrail_results=[],
        tool_input_guardrail_results=[],
        tool_output_guardrail_results=[],
        context_wrapper=wrapper,
        current_agent=agent,
        current_turn=0,
        max_turns=max_turns,
        _current_agent_output_schema=get_output_schema(agent),
        trace=None,
        # The durable run raises MaxTurnsExceeded itself; this object only hands it on.
        _max_turns_handled=True,
        run_id=run_id,
    )
    return results.resumable(result, run_id)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- workflow side


async def streamed_run(starting_agent: Agent[Any], input: Any, **options: Any) -> RunResultStreaming:
    """``agents.Runner.run_streamed`` to its end, on the durable loop; every event is published.

    Takes ``agents.Runner.run``'s arguments, so the workflow calls either one alike.
    """
    run_id = current_execution().instance_id
    result = SdkRunner.run_streamed(starting_agent, input, **options)
    async for event in result.stream_events():
        publish(run_id, event)
    return result


# ---------------------------------------------------------------------------- caller side


def run_streamed(
    starting_agent: Agent[Any],
    input: str | list[Any] | RunState[Any],
    context: Any,
    max_turns: int | None,
    runtime: DurableRuntime,
    run_id: str,
    request: dict[str, Any],
    spec: RunSpec,
    decisions: list[approvals.Decision],
) -> DurableRunResultStreaming:
    """Start (or attach to) the durable run ``run_id`` and return its streamed result at once.

    ``request`` is the checked workflow input (with ``"stream": true``), ``spec`` the run's
    in-process objects, ``decisions`` those recorded on a ``RunState`` input (delivered
    for the calls the run still waits for). Must be called with an event loop running,
    as the SDK's.
    """
    loop = asyncio.get_running_loop()
    result = _new_result(starting_agent, input, context, max_turns, run_id)
    result.run_loop_task = loop.create_task(
        _follow(result, Listener(loop, result._push), runtime, request, spec, decisions), name=f"durable-stream-{run_id}"
    )
    return result


async def _follow(
    result: DurableRunResultStreaming,
    listener: Listener,
    runtime: DurableRuntime,
    request: dict[str, Any],
    spec: RunSpec,
    decisions: list[approvals.Decision],
) -> None:
    """Run the workflow until it rests (ends or waits for approvals) while its live events flow
    in, then settle ``result``: final, interrupted, or failed."""
    run_id = result.run_id
    error: BaseException | None = None
    try:
        RUNS[run_id] = spec
        session_seam.register(run_id, spec.session)
        CHANNELS.add(run_id, listener)
        try:
            rest = await waited_in_thread(results.wait_at_rest, runtime, request, run_id, decisions)
        finally:
            CHANNELS.remove(run_id, listener)
        replayed, value, error = await waited_in_thread(_settle, runtime, run_id, rest)
        if listener.delivered == 0 and _streams_again(rest):
            _stream_again(result, replayed, value, error)
        if error is None:
            _adopt(result, value)
        else:
            _adopt_partial(result, error)
            # Hand every event over before the error ends the caller's stream.
            await result._wait_for_turn_event_consumption()
    finally:
        RUNS.pop(run_id, None)
        session_seam.unregister(run_id)
        result.is_complete = True
        result._event_queue.put_nowait(QueueCompleteSentinel())
    if error is not None:
        raise error


def _settle(
    runtime: DurableRuntime, run_id: str, rest: results.Rest
) -> tuple[list[StreamEvent], Any, BaseException | None]:
    """The resting run's events rebuilt by a local replay (if one was needed), and its result or error."""
    with collecting_replayed(run_id) as replayed:
        try:
            return replayed, results.result_at_rest(runtime, run_id, rest.state), None
        except Exception as exc:  # noqa: BLE001 - the SDK's exception reaches the caller's stream
            return replayed, None, exc


def _streams_again(rest: results.Rest) -> bool:
    """Whether a caller that saw no live event gets the run's stream again: yes, unless its own
    decisions left the run waiting (only part of the calls decided, so no step ran)."""
    return rest.ended or not rest.answered


def _stream_again(
    result: DurableRunResultStreaming, replayed: list[StreamEvent], value: Any, error: BaseException | None
) -> None:
    """For a caller that saw no live event: the run's replayed events, or else its result's items."""
    if replayed:
        for event in replayed:
            result._push(event)
        return
    data = value if error is None else getattr(error, "run_data", None)
    items: list[RunItem] = list(getattr(data, "new_items", None) or [])
    stream_step_items_to_queue(items, result._event_queue)
