"""``DaprAgent.iter``, ``run_stream`` and ``event_stream_handler`` against native runs of the same script.

The scripted model streams (``stream_function``) as a real provider would; the durable run
streams it inside its model activity. What a user reads back is compared with the native run:
nodes, outputs, messages, usage, streamed text (joined: the durable stream is one model
response a piece) and tool events. Nodes and events reach the caller while the run executes:
the tool waits until the caller has seen the node (or event) announcing its call.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from compare import normalized, same_run
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, RunContext
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import (
    AgentStreamEvent,
    FinalResultEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai._agent_graph import End

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, durable_options

pytestmark = pytest.mark.anyio

calls: Counter[str] = Counter()
seen = threading.Event()
"""Set by the caller once it has seen the tool call announced; the tool waits for it."""

ANSWER = ["It is ", "sunny ", "in Paris."]


def _returned(messages: list[ModelMessage]) -> bool:
    return any(isinstance(p, ToolReturnPart) for m in messages if isinstance(m, ModelRequest) for p in m.parts)


async def _answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    calls["model"] += 1
    if not _returned(messages):
        return ModelResponse(parts=[ToolCallPart("forecast", {"city": "Paris"}, tool_call_id="c1")])
    return ModelResponse(parts=[TextPart("".join(ANSWER))])


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
    calls["model"] += 1
    if not _returned(messages):
        yield {0: DeltaToolCall(name="forecast", json_args='{"city": "Paris"}', tool_call_id="c1")}
        return
    for piece in ANSWER:
        yield piece


def weather(name: str) -> Agent[None, str]:
    agent = Agent(FunctionModel(_answer, stream_function=_stream, model_name="weather"), name=name)

    @agent.tool_plain
    async def forecast(city: str) -> str:
        calls["tool"] += 1
        announced = await asyncio.to_thread(seen.wait, 20)
        return f"sunny in {city}" if announced else "the caller never saw this call"

    return agent


def _fresh() -> None:
    calls.clear()
    seen.clear()


async def _nodes(run: Any) -> list[str]:
    names = []
    async for node in run:
        names.append(type(node).__name__)
        if names[-1] == "CallToolsNode":
            seen.set()
    return names


def recorder(into: list[AgentStreamEvent], threads: set[int]) -> Any:
    async def handler(ctx: RunContext[None], events: AsyncIterator[AgentStreamEvent]) -> None:
        async for event in events:
            into.append(event)
            threads.add(threading.get_ident())
            if isinstance(event, FunctionToolCallEvent):
                seen.set()

    return handler


def tool_events(events: list[AgentStreamEvent]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        if isinstance(event, FunctionToolCallEvent):
            out.append(("call", event.part.tool_name, event.part.args_as_dict()))
        elif isinstance(event, FunctionToolResultEvent):
            out.append(("result", event.part.content))
        elif isinstance(event, FinalResultEvent):
            out.append(("final", event.tool_name))
    return out


async def test_iter_yields_the_nodes_of_the_native_run_while_it_executes() -> None:
    agent = weather("iter-weather")
    _fresh()
    async with agent.iter("Weather in Paris?") as native_run:
        native_nodes = await _nodes(native_run)
    _fresh()
    async with DaprAgent(agent).iter("Weather in Paris?", run_id="iter-1") as run:
        assert run.run_id == "iter-1"
        durable_nodes = await _nodes(run)
        assert len(run.all_messages()) == len(native_run.all_messages())
    assert calls == Counter({"model": 2, "tool": 1})
    assert durable_nodes == native_nodes == [
        "UserPromptNode", "ModelRequestNode", "CallToolsNode", "ModelRequestNode", "CallToolsNode", "End",
    ]
    assert native_run.result is not None and run.result is not None
    same_run(native_run.result, run.result)
    assert run.result.output == "It is sunny in Paris."
    assert run.usage == native_run.usage

    _fresh()  # the finished run again: its nodes rebuilt from history, no model or tool call
    seen.set()
    async with DaprAgent(agent).iter("Weather in Paris?", run_id="iter-1") as again:
        assert await _nodes(again) == native_nodes
    assert calls == Counter()
    assert again.result is not None
    same_run(native_run.result, again.result)


async def test_iter_cannot_be_driven_node_by_node() -> None:
    agent = weather("iter-driven")
    _fresh()
    seen.set()
    async with DaprAgent(agent).iter("Weather in Paris?", run_id="iter-driven-1") as run:
        first = await run.__anext__()
        with pytest.raises(UserError, match="async for node in run"):
            await run.next(first)
    assert run.result is not None and run.result.output == "It is sunny in Paris."
    assert isinstance(run.next_node, type(first))  # leaving the block early waited for the run to end


async def test_run_stream_reads_back_as_the_native_stream() -> None:
    agent = weather("stream-weather")
    _fresh()
    seen.set()
    async with agent.run_stream("Weather in Paris?") as native:
        native_pieces = [piece async for piece in native.stream_text(delta=True, debounce_by=None)]
    native_calls = dict(calls)
    _fresh()
    seen.set()
    async with DaprAgent(agent).run_stream("Weather in Paris?", run_id="stream-1") as durable:
        durable_pieces = [piece async for piece in durable.stream_text(delta=True, debounce_by=None)]
    assert dict(calls) == native_calls == {"model": 2, "tool": 1}
    assert len(native_pieces) > 1 and durable_pieces == ["It is sunny in Paris."]
    assert "".join(durable_pieces) == "".join(native_pieces)
    assert await durable.get_output() == await native.get_output() == "It is sunny in Paris."
    assert normalized(durable.all_messages()) == normalized(native.all_messages())
    assert normalized(durable.new_messages()) == normalized(native.new_messages())
    assert durable.usage == native.usage
    same_run(native.result, durable.result)

    native_events: list[AgentStreamEvent] = []
    async with agent.run_stream("Weather in Paris?", event_stream_handler=recorder(native_events, set())) as native:
        await native.get_output()
    durable_events: list[AgentStreamEvent] = []
    async with DaprAgent(agent).run_stream("Weather in Paris?", run_id="stream-events-1",
                                           event_stream_handler=recorder(durable_events, set())) as streamed:
        assert await streamed.get_output() == "It is sunny in Paris."
    assert tool_events(durable_events) == tool_events(native_events) == [
        ("call", "forecast", {"city": "Paris"}), ("result", "sunny in Paris"), ("final", None),
    ]

    calls.clear()
    async with DaprAgent(agent).run_stream("Weather in Paris?", run_id="stream-1") as again:
        assert [output async for output in again.stream_output()] == ["It is sunny in Paris."]
    assert calls == Counter()  # the finished run's stored result


async def test_event_stream_handler_runs_in_the_caller_with_the_native_tool_events() -> None:
    agent = weather("events-weather")
    caller = threading.get_ident()
    native_events: list[AgentStreamEvent] = []
    _fresh()
    native = await agent.run("Weather in Paris?", event_stream_handler=recorder(native_events, set()))
    durable_events: list[AgentStreamEvent] = []
    threads: set[int] = set()
    _fresh()
    durable = await DaprAgent(agent).run(
        "Weather in Paris?", run_id="events-1", event_stream_handler=recorder(durable_events, threads)
    )
    assert calls == Counter({"model": 2, "tool": 1})
    same_run(native, durable)
    assert tool_events(durable_events) == tool_events(native_events) == [
        ("call", "forecast", {"city": "Paris"}),
        ("result", "sunny in Paris"),
        ("final", None),
    ]
    assert threads == {caller}

    replayed: list[AgentStreamEvent] = []  # the finished run: its events again, from its history
    _fresh()
    again = await DaprAgent(agent).run("Weather in Paris?", run_id="events-1", event_stream_handler=recorder(replayed, set()))
    assert calls == Counter()
    same_run(native, again)
    assert tool_events(replayed) == tool_events(native_events)


async def test_run_stream_and_iter_refuse_to_run_inside_a_durable_run() -> None:
    inner = DaprAgent(weather("stream-inner"))

    async def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if not _returned(messages):
            return ModelResponse(parts=[ToolCallPart("ask", {}, tool_call_id="c1")])
        return ModelResponse(parts=[TextPart("done")])

    outer = Agent(FunctionModel(scripted), name="stream-outer")

    @outer.tool_plain(retries=0)
    async def ask() -> str:
        async with inner.run_stream("Weather in Paris?") as streamed:
            return await streamed.get_output()

    durable_options(outer, tool="ask", activity=False)
    with pytest.raises(UserError, match=r"run_stream\(\) of agent 'stream-inner' was called inside a durable run"):
        await DaprAgent(outer).run("go", run_id="stream-outer-1")


async def test_end_is_the_last_node_and_holds_the_final_result() -> None:
    agent = weather("iter-end")
    _fresh()
    seen.set()
    async with DaprAgent(agent).iter("Weather in Paris?", run_id="iter-end-1") as run:
        nodes = [node async for node in run]
    assert isinstance(nodes[-1], End)
    assert nodes[-1].data.output == "It is sunny in Paris."


def test_the_streaming_entry_points_that_cannot_be_durable_name_the_alternative() -> None:
    dagent = DaprAgent(weather("not-durable-streams"))
    with pytest.raises(UserError, match=r"run_stream_events\(\) of agent 'not-durable-streams' is not durable.*"
                                        r"event_stream_handler=handler"):
        dagent.run_stream_events("Weather in Paris?")
    with pytest.raises(UserError, match=r"run_stream_sync\(\) of agent 'not-durable-streams' is not durable.*"
                                        r"async with DaprAgent\(agent\).run_stream"):
        dagent.run_stream_sync("Weather in Paris?")


def approval_agent(name: str) -> Agent[None, str | DeferredToolRequests]:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls["model"] += 1
        if not _returned(messages):
            return ModelResponse(parts=[ToolCallPart("refund", {"amount": 7}, tool_call_id="r1")])
        return ModelResponse(parts=[TextPart("refund done")])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        calls["model"] += 1
        if not _returned(messages):
            yield {0: DeltaToolCall(name="refund", json_args='{"amount": 7}', tool_call_id="r1")}
            return
        yield "refund done"

    agent = Agent(FunctionModel(answer, stream_function=stream, model_name=name), name=name,
                  output_type=[str, DeferredToolRequests])

    @agent.tool_plain(requires_approval=True)
    def refund(amount: int) -> str:
        calls["refund"] += 1
        return f"refunded {amount}"

    return agent


async def test_iter_and_run_stream_pause_for_approval_and_resume_as_natively() -> None:
    agent = approval_agent("iter-approve")
    approve = DeferredToolResults(approvals={"r1": True})

    async def rounds(iterate: Any, resume: Any) -> list[Any]:
        async with iterate() as first:
            paused_nodes = [type(node).__name__ async for node in first]
        assert first.result is not None and isinstance(first.result.output, DeferredToolRequests)
        async with resume(first.result.all_messages()) as second:
            resumed_nodes = [type(node).__name__ async for node in second]
        return [paused_nodes, resumed_nodes, first.result, second.result]

    _fresh()
    native = await rounds(lambda: agent.iter("Refund 7"),
                          lambda history: agent.iter(message_history=history, deferred_tool_results=approve))
    native_calls = dict(calls)
    _fresh()
    dagent = DaprAgent(agent)
    durable = await rounds(
        lambda: dagent.iter("Refund 7", run_id="iter-approve-1"),
        lambda history: dagent.iter(message_history=history, deferred_tool_results=approve, run_id="iter-approve-1"),
    )
    assert dict(calls) == native_calls == {"model": 2, "refund": 1}
    assert durable[:2] == native[:2]
    assert durable[3].output == native[3].output == "refund done"
    same_run(native[3], durable[3])

    _fresh()
    async with agent.run_stream("Refund 7") as native_paused:
        native_output = await native_paused.get_output()
    async with agent.run_stream(message_history=native_paused.all_messages(), deferred_tool_results=approve) as done:
        native_text = "".join([piece async for piece in done.stream_text(delta=True, debounce_by=None)])
    _fresh()
    async with dagent.run_stream("Refund 7", run_id="stream-approve-1") as paused:
        output = await paused.get_output()
    assert isinstance(output, DeferredToolRequests) and output == native_output
    async with dagent.run_stream(message_history=paused.all_messages(), deferred_tool_results=approve,
                                 run_id="stream-approve-1") as resumed:
        text = "".join([piece async for piece in resumed.stream_text(delta=True, debounce_by=None)])
    assert text == native_text == "refund done"
    assert calls == Counter({"model": 2, "refund": 1})
    same_run(done.result, resumed.result)
