"""``Runner.run_streamed``: the SDK's stream events from a durable run, on the embedded engine.

Each scenario streams the same scripted agent graph with the SDK's own
``agents.Runner.run_streamed`` and with the durable one, and compares what the two
streams and results hold. Agent names are unique per scenario because durable runs
register agents by name process-wide.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    AgentUpdatedStreamEvent,
    GuardrailFunctionOutput,
    Handoff,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    RawResponsesStreamEvent,
    RunContextWrapper,
    RunItemStreamEvent,
    RunResultStreaming,
    SQLiteSession,
    function_tool,
    input_guardrail,
)
from agents import Runner as NativeRunner
from agents.stream_events import StreamEvent
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from openai.types.responses import Response, ResponseCompletedEvent, ResponseTextDeltaEvent
from pydantic_core import to_jsonable_python
from scripted import ScriptedModel, message, one_refund, outputs, tool_call, two_refunds

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import get_runtime

pytestmark = pytest.mark.anyio



async def collect(result: RunResultStreaming) -> list[StreamEvent]:
    return [event async for event in result.stream_events()]


def item_names(events: list[StreamEvent]) -> list[str]:
    return [e.name for e in events if isinstance(e, RunItemStreamEvent)]


def agent_updates(events: list[StreamEvent]) -> list[str]:
    return [e.new_agent.name for e in events if isinstance(e, AgentUpdatedStreamEvent)]


def completed_responses(events: list[StreamEvent]) -> list[Response]:
    return [e.data.response for e in events
            if isinstance(e, RawResponsesStreamEvent) and isinstance(e.data, ResponseCompletedEvent)]


def shape(events: list[StreamEvent]) -> list[str]:
    """Each event as its kind and name (run items), agent (updates) or raw event type."""
    views = []
    for event in events:
        if isinstance(event, RunItemStreamEvent):
            views.append(f"item:{event.name}:{event.item.agent.name}")
        elif isinstance(event, AgentUpdatedStreamEvent):
            views.append(f"agent:{event.new_agent.name}")
        else:
            views.append(f"raw:{event.data.type}")
    return views


def item_views(items: list[Any]) -> list[dict[str, Any]]:
    return [{"type": i.type, "agent": i.agent.name, "raw": to_jsonable_python(i.to_input_item(), fallback=repr)}
            for i in items]


def usage_view(result: Any) -> dict[str, int]:
    usage = result.context_wrapper.usage
    return {"requests": usage.requests, "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens, "total_tokens": usage.total_tokens}


def scheduled_activities(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


# ---------------------------------------------------------------------------- graphs


def weather_graph(name: str, tool_log: list[str] | None = None) -> tuple[Agent[Any], ScriptedModel]:
    """One agent calling ``get_weather`` twice in one turn, then answering."""

    @function_tool
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        if tool_log is not None:
            tool_log.append(city)
        return f"sunny in {city}"

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("get_weather", {"city": "Paris"}, "c1"), tool_call("get_weather", {"city": "Rome"}, "c2")]
        return [message("; ".join(o["output"] for o in done))]

    model = ScriptedModel(rule)
    return Agent(name=name, instructions="be brief", tools=[get_weather], model=model), model


def handoff_graph(prefix: str) -> tuple[Agent[Any], list[ScriptedModel]]:
    """triage hands off to billing, which calls a tool and answers."""

    @function_tool
    def lookup_invoice(number: str) -> str:
        """Find an invoice."""
        return f"invoice {number}: 40 EUR"

    def billing_rule(items: list[Any]) -> list[Any]:
        done = [o for o in outputs(items) if o["call_id"] == "b1"]
        if not done:
            return [tool_call("lookup_invoice", {"number": "F-7"}, "b1")]
        return [message(f"Found it: {done[0]['output']}")]

    billing_model = ScriptedModel(billing_rule)
    billing = Agent(name=f"{prefix}_billing", instructions="Check invoices.", tools=[lookup_invoice],
                    model=billing_model)
    triage_model = ScriptedModel(lambda items: [tool_call(Handoff.default_tool_name(billing), {}, "h1")])
    triage = Agent(name=f"{prefix}_triage", instructions="Route.", handoffs=[billing], model=triage_model)
    return triage, [triage_model, billing_model]


# ---------------------------------------------------------------------------- scenarios


async def test_tool_loop_streams_the_native_events_and_runs_as_activities() -> None:
    native_agent, _ = weather_graph("stream_tools")
    durable_agent, model = weather_graph("stream_tools")
    native = await collect(NativeRunner.run_streamed(native_agent, "weather?"))
    result = Runner.run_streamed(durable_agent, "weather?", run_id="stream-tools")
    assert isinstance(result, RunResultStreaming)
    assert result.run_id == "stream-tools" and not result.is_complete
    events = await collect(result)

    assert item_names(events) == item_names(native) == [
        "tool_called", "tool_called", "tool_output", "tool_output", "message_output_created"
    ]
    assert [type(e.item).__name__ for e in events if isinstance(e, RunItemStreamEvent)] == [
        type(e.item).__name__ for e in native if isinstance(e, RunItemStreamEvent)
    ]
    assert agent_updates(events) == agent_updates(native) == ["stream_tools"]
    assert isinstance(events[0], AgentUpdatedStreamEvent)
    assert [len(r.output) for r in completed_responses(events)] == [2, 1]
    deltas = [e.data.delta for e in events if isinstance(e, RawResponsesStreamEvent)
              and isinstance(e.data, ResponseTextDeltaEvent)]
    assert deltas == ["sunny in Paris; sunny in Rome"]
    assert model.calls == 2
    assert scheduled_activities("stream-tools") == [
        "openai_agents.model", "openai_agents.tool", "openai_agents.tool", "openai_agents.model"
    ]
    assert result.is_complete
    assert result.final_output == "sunny in Paris; sunny in Rome"


async def test_final_attributes_equal_the_non_streamed_durable_result() -> None:
    streamed_agent, _ = weather_graph("stream_final")
    plain_agent, _ = weather_graph("stream_final")
    streamed = Runner.run_streamed(streamed_agent, "weather?", run_id="stream-final")
    await collect(streamed)
    plain = await Runner.run(plain_agent, "weather?", run_id="stream-final-plain")

    assert streamed.final_output == plain.final_output
    assert streamed.last_agent.name == plain.last_agent.name == "stream_final"
    assert item_views(streamed.new_items) == item_views(plain.new_items)
    assert [r.output for r in streamed.raw_responses] == [r.output for r in plain.raw_responses]
    assert [r.response_id for r in streamed.raw_responses] == [r.response_id for r in plain.raw_responses]
    assert usage_view(streamed) == usage_view(plain) == {
        "requests": 2, "input_tokens": 20, "output_tokens": 10, "total_tokens": 30
    }
    assert to_jsonable_python(streamed.to_input_list()) == to_jsonable_python(plain.to_input_list())
    assert streamed.current_turn == 2
    assert streamed.last_response_id == plain.last_response_id


async def test_handoff_streams_an_agent_update_like_the_native_run() -> None:
    native_agent, _ = handoff_graph("stream_handoff")
    durable_agent, models = handoff_graph("stream_handoff")
    native = await collect(NativeRunner.run_streamed(native_agent, "I paid twice"))
    result = Runner.run_streamed(durable_agent, "I paid twice", run_id="stream-handoff")
    events = await collect(result)

    assert agent_updates(events) == agent_updates(native) == ["stream_handoff_triage", "stream_handoff_billing"]
    assert item_names(events) == item_names(native) == [
        "handoff_requested", "handoff_occured", "tool_called", "tool_output", "message_output_created"
    ]
    handed = next(i for i, e in enumerate(events) if isinstance(e, RunItemStreamEvent) and e.name == "handoff_occured")
    update = next(i for i, e in enumerate(events) if agent_updates([e]) == ["stream_handoff_billing"])
    assert handed < update
    assert result.last_agent.name == "stream_handoff_billing"
    assert result.final_output == "Found it: invoice F-7: 40 EUR"
    assert [m.calls for m in models] == [1, 2]


async def test_a_finished_run_streams_its_events_again_without_model_calls() -> None:
    tools: list[str] = []
    agent, model = weather_graph("stream_again", tools)
    first = Runner.run_streamed(agent, "weather?", run_id="stream-again")
    first_events = await collect(first)
    assert model.calls == 2 and tools == ["Paris", "Rome"]

    again = Runner.run_streamed(agent, "weather?", run_id="stream-again")
    again_events = await collect(again)
    assert model.calls == 2 and tools == ["Paris", "Rome"]
    assert shape(again_events) == shape(first_events)
    assert again.is_complete
    assert again.final_output == first.final_output
    assert item_views(again.new_items) == item_views(first.new_items)
    assert usage_view(again) == usage_view(first)


async def test_a_finished_non_streamed_run_streams_its_items() -> None:
    agent, model = weather_graph("stream_after_run")
    plain = await Runner.run(agent, "weather?", run_id="stream-after-run")
    result = Runner.run_streamed(agent, "weather?", run_id="stream-after-run")
    events = await collect(result)
    assert model.calls == 2
    assert item_names(events) == ["tool_called", "tool_called", "tool_output", "tool_output", "message_output_created"]
    assert result.final_output == plain.final_output
    assert item_views(result.new_items) == item_views(plain.new_items)


async def test_attaching_to_a_running_run_streams_the_steps_it_executes_from_then_on() -> None:
    entered, release = threading.Event(), threading.Event()
    tools: list[str] = []

    @function_tool
    def slow_lookup(query: str) -> str:
        """Look something up, slowly."""
        tools.append(query)
        entered.set()
        release.wait(30)
        return f"found {query}"

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [message(f"answer: {done[0]['output']}")] if done else [tool_call("slow_lookup", {"query": "q"}, "s1")]

    model = ScriptedModel(rule)
    agent = Agent(name="stream_attach", instructions="Look it up.", tools=[slow_lookup], model=model)
    first = Runner.run_streamed(agent, "look up q", run_id="stream-attach")
    first_task = asyncio.ensure_future(collect(first))
    assert await asyncio.to_thread(entered.wait, 30)
    second = Runner.run_streamed(agent, "look up q", run_id="stream-attach")
    second_task = asyncio.ensure_future(collect(second))
    await asyncio.sleep(0.5)
    release.set()
    first_events, second_events = await asyncio.gather(first_task, second_task)

    assert item_names(first_events) == ["tool_called", "tool_output", "message_output_created"]
    assert item_names(second_events) == ["tool_output", "message_output_created"]
    assert len(completed_responses(second_events)) == 1
    assert first.final_output == second.final_output == "answer: found q"
    assert model.calls == 2 and tools == ["q"]


async def test_a_streamed_run_keeps_its_session_like_the_native_run(tmp_path: Path) -> None:
    def recall(items: list[Any]) -> list[Any]:
        said = [i["content"] for i in items if isinstance(i, dict) and i.get("role") == "user"]
        return [message(" / ".join(str(s) for s in said))]

    outputs_by_runner: dict[str, list[Any]] = {}
    stored: dict[str, list[Any]] = {}
    for kind in ("native", "durable"):
        model = ScriptedModel(recall)
        agent = Agent(name="stream_session", instructions="remember", model=model)
        session = SQLiteSession(f"user-{kind}", tmp_path / f"{kind}.db")
        answers = []
        for turn, text in enumerate(["I'm Ada", "what's my name?"]):
            if kind == "native":
                result = NativeRunner.run_streamed(agent, text, session=session)
            else:
                result = Runner.run_streamed(agent, text, session=session, run_id=f"stream-session-{turn}")
            await collect(result)
            answers.append(result.final_output)
        outputs_by_runner[kind] = answers
        stored[kind] = to_jsonable_python(await session.get_items())
    assert outputs_by_runner["durable"] == outputs_by_runner["native"] == ["I'm Ada", "I'm Ada / what's my name?"]
    assert stored["durable"] == stored["native"]
    assert "openai_agents.session" in scheduled_activities("stream-session-1")


@input_guardrail
def no_passwords(ctx: RunContextWrapper[Any], agent: Agent[Any], input: Any) -> GuardrailFunctionOutput:
    """Trip on any input mentioning a password."""
    return GuardrailFunctionOutput(output_info={"password": "password" in str(input)},
                                   tripwire_triggered="password" in str(input))


async def test_input_guardrail_tripwire_raises_from_stream_events() -> None:
    model = ScriptedModel(lambda items: [message("Here you go.")])
    agent = Agent(name="stream_guard", instructions="Answer.", model=model, input_guardrails=[no_passwords])
    native = NativeRunner.run_streamed(
        Agent(name="stream_guard", instructions="Answer.", model=ScriptedModel(lambda items: [message("x")]),
              input_guardrails=[no_passwords]),
        "my password is hunter2",
    )
    with pytest.raises(InputGuardrailTripwireTriggered):
        await collect(native)

    result = Runner.run_streamed(agent, "my password is hunter2", run_id="stream-guard")
    with pytest.raises(InputGuardrailTripwireTriggered) as raised:
        await collect(result)
    assert raised.value.guardrail_result.output.output_info == {"password": True}
    assert result.is_complete
    assert result.final_output is None

    again = Runner.run_streamed(agent, "my password is hunter2", run_id="stream-guard")
    with pytest.raises(InputGuardrailTripwireTriggered):
        await collect(again)


async def test_max_turns_exceeded_raises_from_stream_events() -> None:
    @function_tool
    def poll() -> str:
        """Poll the queue."""
        return "still waiting"

    def build() -> tuple[Agent[Any], ScriptedModel]:
        model = ScriptedModel(lambda items: [tool_call("poll", {}, f"q{len(outputs(items))}")])
        return Agent(name="stream_max_turns", instructions="Poll.", tools=[poll], model=model), model

    native_agent, native_model = build()
    durable_agent, durable_model = build()
    native = NativeRunner.run_streamed(native_agent, "wait", max_turns=2)
    with pytest.raises(MaxTurnsExceeded) as native_error:
        await collect(native)
    result = Runner.run_streamed(durable_agent, "wait", max_turns=2, run_id="stream-max-turns")
    events: list[StreamEvent] = []
    with pytest.raises(MaxTurnsExceeded) as durable_error:
        async for event in result.stream_events():
            events.append(event)
    assert str(durable_error.value) == str(native_error.value)
    assert durable_model.calls == native_model.calls == 2
    assert item_names(events) == ["tool_called", "tool_output", "tool_called", "tool_output"]


def test_run_streamed_needs_a_running_event_loop() -> None:
    agent, _ = weather_graph("stream_no_loop")
    with pytest.raises(RuntimeError):
        Runner.run_streamed(agent, "weather?", run_id="stream-no-loop")


async def test_an_empty_run_id_is_refused() -> None:
    agent, _ = weather_graph("stream_bad_id")
    with pytest.raises(ValueError, match="run_id"):
        Runner.run_streamed(agent, "weather?", run_id="")


# ---------------------------------------------------------------------------- human approval


def refund_graph(name: str, refunds: list[int], rule: Any) -> tuple[Agent[Any], ScriptedModel]:
    """One agent whose ``refund`` tool needs approval; ``rule`` scripts the model."""

    @function_tool(needs_approval=True)
    def refund(amount: int) -> str:
        """Refund an amount."""
        refunds.append(amount)
        return f"refunded {amount}"

    model = ScriptedModel(rule)
    return Agent(name=name, instructions="refund politely", tools=[refund], model=model), model


def run_shape(events: list[StreamEvent]) -> list[str]:
    """:func:`shape` without the raw events only a durable response carries (its items and deltas)."""
    return [view for view in shape(events) if view not in ("raw:response.output_item.done",
                                                           "raw:response.output_text.delta")]


def call_ids(result: Any) -> list[str]:
    return [item.raw_item.call_id for item in result.interruptions]


def approve_first_reject_second(state: Any, items: list[Any]) -> None:
    state.approve(items[0])
    state.reject(items[1], rejection_message="only one refund per day")


async def native_streamed_segments(name: str, rule: Any, decide: Any) -> list[tuple[list[StreamEvent], Any]]:
    """The SDK's own streamed approval flow: each stream's events and result, up to the final one."""
    agent, _ = refund_graph(name, [], rule)
    result = NativeRunner.run_streamed(agent, "refund my orders")
    segments = [(await collect(result), result)]
    while result.interruptions:
        state = result.to_state()
        decide(state, state.get_interruptions())
        result = NativeRunner.run_streamed(agent, state)
        segments.append((await collect(result), result))
    return segments


async def test_a_streamed_run_pausing_for_approval_ends_its_stream_and_resumes_like_the_sdk() -> None:
    native = await native_streamed_segments("stream_refunds", two_refunds, approve_first_reject_second)
    refunds: list[int] = []
    agent, model = refund_graph("stream_refunds", refunds, two_refunds)

    paused = Runner.run_streamed(agent, "refund my orders", run_id="stream-approve")
    paused_events = await collect(paused)
    assert run_shape(paused_events) == run_shape(native[0][0]) == [
        "agent:stream_refunds", "raw:response.completed", "item:tool_called:stream_refunds",
        "item:tool_called:stream_refunds",
    ]
    assert paused.is_complete
    assert call_ids(paused) == call_ids(native[0][1]) == ["c1", "c2"]
    assert paused.final_output is None and paused.current_turn == native[0][1].current_turn == 1
    assert refunds == [] and model.calls == 1
    assert [p.call_id for p in get_runtime().pending_approvals("stream-approve")] == ["c1", "c2"]

    state = paused.to_state()
    assert [i.raw_item.call_id for i in state.get_interruptions()] == ["c1", "c2"]
    approve_first_reject_second(state, paused.interruptions)
    resumed = Runner.run_streamed(agent, state, run_id="stream-approve")
    resumed_events = await collect(resumed)

    native_events, native_final = native[1]
    assert run_shape(resumed_events) == run_shape(native_events) == [
        "agent:stream_refunds", "item:tool_output:stream_refunds", "item:tool_output:stream_refunds",
        "raw:response.completed", "item:message_output_created:stream_refunds",
    ]
    assert resumed.is_complete and resumed.interruptions == []
    assert resumed.final_output == native_final.final_output == "refunded 5; only one refund per day"
    assert [type(i).__name__ for i in resumed.new_items] == [type(i).__name__ for i in native_final.new_items]
    assert resumed.current_turn == native_final.current_turn == 2
    assert to_jsonable_python(resumed.to_input_list()) == to_jsonable_python(native_final.to_input_list())
    assert usage_view(resumed) == usage_view(native_final)
    assert refunds == [5] and model.calls == 2
    assert get_runtime().pending_approvals("stream-approve") == []
    assert scheduled_activities("stream-approve") == ["openai_agents.model", "openai_agents.tool", "openai_agents.model"]


async def test_a_rejected_call_streams_the_rejection_like_the_sdk() -> None:
    def reject(state: Any, items: list[Any]) -> None:
        state.reject(items[0], rejection_message="not today")

    native = await native_streamed_segments("stream_refund_reject", one_refund, reject)
    refunds: list[int] = []
    agent, model = refund_graph("stream_refund_reject", refunds, one_refund)
    paused = Runner.run_streamed(agent, "refund my orders", run_id="stream-reject")
    assert run_shape(await collect(paused)) == run_shape(native[0][0])
    state = paused.to_state()
    reject(state, paused.interruptions)
    resumed = Runner.run_streamed(agent, state, run_id="stream-reject")

    assert run_shape(await collect(resumed)) == run_shape(native[1][0])
    assert resumed.final_output == native[1][1].final_output == "not today"
    assert to_jsonable_python(resumed.to_input_list()) == to_jsonable_python(native[1][1].to_input_list())
    assert refunds == [] and model.calls == 2
    assert scheduled_activities("stream-reject") == ["openai_agents.model", "openai_agents.model"]


async def test_partial_streamed_decisions_stream_nothing_and_keep_the_rest_pending() -> None:
    refunds: list[int] = []
    agent, model = refund_graph("stream_refunds_partial", refunds, two_refunds)
    paused = Runner.run_streamed(agent, "refund my orders", run_id="stream-partial")
    await collect(paused)
    state = paused.to_state()
    state.approve(paused.interruptions[0])

    still = Runner.run_streamed(agent, state, run_id="stream-partial")
    assert await collect(still) == []
    assert still.is_complete and call_ids(still) == ["c2"]
    assert [p.call_id for p in get_runtime().pending_approvals("stream-partial")] == ["c2"]
    assert refunds == [] and model.calls == 1

    state = still.to_state()
    state.approve(still.interruptions[0])
    final = Runner.run_streamed(agent, state, run_id="stream-partial")
    events = await collect(final)
    assert item_names(events) == ["tool_output", "tool_output", "message_output_created"]
    assert final.final_output == "refunded 5; refunded 7"
    assert sorted(refunds) == [5, 7] and model.calls == 2


async def test_attaching_to_a_paused_streamed_run_streams_it_again_with_its_interruptions() -> None:
    refunds: list[int] = []
    agent, model = refund_graph("stream_refunds_attach", refunds, one_refund)
    paused = Runner.run_streamed(agent, "refund my orders", run_id="stream-paused-attach")
    paused_events = await collect(paused)

    again = Runner.run_streamed(agent, "refund my orders", run_id="stream-paused-attach")
    again_events = await collect(again)
    assert shape(again_events) == shape(paused_events)
    assert again.is_complete and call_ids(again) == ["c1"] and again.final_output is None
    assert model.calls == 1

    state = again.to_state()
    state.approve(again.interruptions[0])
    final = Runner.run_streamed(agent, state, run_id="stream-paused-attach")
    assert item_names(await collect(final)) == ["tool_output", "message_output_created"]
    assert final.final_output == "refunded 5"
    assert refunds == [5] and model.calls == 2


async def test_a_streamed_run_rejects_undecided_calls_after_its_approval_timeout() -> None:
    refunds: list[int] = []
    agent, _ = refund_graph("stream_refunds_timeout", refunds, one_refund)
    paused = Runner.run_streamed(agent, "refund my orders", run_id="stream-timeout", approval_timeout=1)
    await collect(paused)
    assert call_ids(paused) == ["c1"]
    await asyncio.to_thread(get_runtime().wait, "stream-timeout", 30)

    again = Runner.run_streamed(agent, "refund my orders", run_id="stream-timeout")
    events = await collect(again)
    assert item_names(events) == ["tool_called", "tool_output", "message_output_created"]
    assert again.final_output == "Tool call was not approved within 0:00:01."
    assert refunds == []


async def test_a_streamed_run_resumes_from_its_run_state_without_naming_the_run() -> None:
    refunds: list[int] = []
    agent, model = refund_graph("stream_refunds_no_id", refunds, one_refund)
    paused = Runner.run_streamed(agent, "refund my orders")
    await collect(paused)
    state = paused.to_state()
    state.approve(paused.interruptions[0])
    result = Runner.run_streamed(agent, state)
    await collect(result)
    assert result.run_id == paused.run_id
    assert result.final_output == "refunded 5"
    assert refunds == [5] and model.calls == 2


async def test_a_native_run_state_starts_a_durable_streamed_run() -> None:
    native = await native_streamed_segments("stream_refunds_native_state", one_refund,
                                            lambda state, items: state.approve(items[0]))
    refunds: list[int] = []
    agent, model = refund_graph("stream_refunds_native_state", refunds, one_refund)
    paused = NativeRunner.run_streamed(agent, "refund my orders")
    await collect(paused)
    state = paused.to_state()
    state.approve(paused.interruptions[0])

    result = Runner.run_streamed(agent, state, run_id="stream-from-state")
    events = await collect(result)
    assert run_shape(events) == run_shape(native[1][0])
    assert result.final_output == native[1][1].final_output == "refunded 5"
    assert refunds == [5] and model.calls == 2  # one native call, one durable
    assert scheduled_activities("stream-from-state") == ["openai_agents.tool", "openai_agents.model"]


async def test_a_streamed_run_asks_its_model_to_stream_as_natively() -> None:
    native_agent, native_model = weather_graph("stream_asks")
    await collect(NativeRunner.run_streamed(native_agent, "weather?"))
    streamed_agent, streamed_model = weather_graph("stream_asks")
    await collect(Runner.run_streamed(streamed_agent, "weather?", run_id="stream-asks"))
    plain_agent, plain_model = weather_graph("stream_asks")
    await Runner.run(plain_agent, "weather?", run_id="stream-asks-plain")
    assert native_model.streamed == native_model.calls == 2
    assert streamed_model.streamed == streamed_model.calls == 2
    assert plain_model.streamed == 0 and plain_model.calls == 2
