"""LangChain callback handlers hear a durable run as they hear a native one, each event once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from scripted import ScriptedChatModel, call, get_weather
from test_crash_resume import CRASH_AT, STEPS, _start
from test_react import react
from test_subgraphs import QUESTION as SUBGRAPH_QUESTION
from test_subgraphs import Models, desk

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.testing import ScriptedModelServer, finish, kill_during_request, read_jsonl, step_loop


class Counting(BaseCallbackHandler):
    """Records each event as (kind, name), and which runs started and ended."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.started: list[UUID] = []
        self.ended: list[UUID] = []
        self.parents: dict[UUID, UUID | None] = {}

    def _start(self, kind: str, name: str, run_id: UUID, parent_run_id: UUID | None) -> None:
        self.events.append((kind, name))
        self.started.append(run_id)
        self.parents[run_id] = parent_run_id

    def _end(self, kind: str, run_id: UUID) -> None:
        self.events.append((kind, ""))
        self.ended.append(run_id)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                       **kwargs: Any) -> None:
        self._start("chain", str(kwargs.get("name")), run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end("chain end", run_id)

    def on_chat_model_start(self, serialized: Any, messages: list[list[Any]], *, run_id: UUID,
                            parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._start("model", f"{len(messages[0])} messages", run_id, parent_run_id)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append(("model end", str(response.generations[0][0].message.content)))
        self.ended.append(run_id)

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, parent_run_id: UUID | None = None,
                      **kwargs: Any) -> None:
        self._start("tool", str(serialized.get("name")), run_id, parent_run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end("tool end", run_id)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for kind, _ in self.events:
            counted[kind] = counted.get(kind, 0) + 1
        return counted

    def roots(self) -> list[str]:
        """The names of the runs whose parent this handler did not hear start."""
        names = [name for kind, name in self.events if kind in ("chain", "model", "tool")]
        return [name for run, name in zip(self.started, names) if self.parents[run] not in self.parents]

    def chains(self) -> list[str]:
        return [name for kind, name in self.events if kind == "chain"]

    def calls(self) -> list[tuple[str, str]]:
        """The model and tool starts, in order."""
        return [event for event in self.events if event[0] in ("model", "tool")]


def script(handler: Counting) -> ScriptedChatModel:
    replies = [AIMessage("", tool_calls=[call("get_weather", "c1", city="Paris"), call("get_weather", "c2", city="Oslo")]),
               AIMessage("Sunny in both.")]
    return ScriptedChatModel(messages=iter(replies), callbacks=[handler])


def test_handlers_in_the_config_and_on_the_model_hear_what_they_hear_natively() -> None:
    question = {"messages": [HumanMessage("Weather in Paris and Oslo?")]}
    native, native_bound, durable, durable_bound = Counting(), Counting(), Counting(), Counting()
    react(NativeStateGraph, script(native_bound)).invoke(question, {"callbacks": [native]})
    graph = react(StateGraph, script(durable_bound), name="callbacks-react")
    config = {"configurable": {"thread_id": "callbacks-1"}, "callbacks": [durable]}
    graph.invoke(question, config)

    assert durable.counts() == native.counts()
    assert native.counts()["model"] == 2 and native.counts()["tool"] == 2
    assert durable.calls() == native.calls() == [
        ("model", "1 messages"), ("tool", "get_weather"), ("tool", "get_weather"), ("model", "4 messages")]
    assert [e for e in durable.events if e[0] == "model end"] == [("model end", ""), ("model end", "Sunny in both.")]
    assert sorted(durable.ended) == sorted(durable.started)  # every run that started ended, each once
    assert durable.roots() == ["callbacks-react"] and native.roots() == ["LangGraph"]  # all under the graph's run
    assert len(set(durable.started)) == len(durable.started)
    assert durable_bound.events == native_bound.events  # a handler bound on the model hears its runs only
    assert durable_bound.counts() == {"model": 2, "model end": 2}

    heard = len(durable.events)
    graph.invoke(question, config)  # the finished run's state, rebuilt from history: nothing runs again
    assert len(durable.events) == heard
    assert durable_bound.counts() == {"model": 2, "model end": 2}


def async_react(builder_type: Any, model: ScriptedChatModel, **compile: Any) -> Any:
    """The ReAct graph with an async model node."""

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(**compile)


def test_an_async_graph_reports_as_natively() -> None:
    question = {"messages": [HumanMessage("Weather in Paris and Oslo?")]}
    native, durable = Counting(), Counting()
    asyncio.run(async_react(NativeStateGraph, script(Counting())).ainvoke(question, {"callbacks": [native]}))
    graph = async_react(StateGraph, script(Counting()), name="callbacks-async")
    asyncio.run(graph.ainvoke(question, {"configurable": {"thread_id": "callbacks-2"}, "callbacks": [durable]}))
    assert durable.counts() == native.counts()
    assert durable.calls() == native.calls()
    assert sorted(durable.ended) == sorted(durable.started)


def test_after_a_kill_the_restarted_process_hears_only_the_calls_it_makes(tmp_path: Path) -> None:
    log = tmp_path / "callbacks.jsonl"
    with ScriptedModelServer(rule=step_loop(STEPS, CRASH_AT)) as server:
        first = _start(server, tmp_path, "callbacks-crash", "loop", extra={"CALLBACK_LOG": str(log)})
        assert kill_during_request(first, server, CRASH_AT) == CRASH_AT
        before = read_jsonl(log)
        result = finish(_start(server, tmp_path, "callbacks-crash", "loop", extra={"CALLBACK_LOG": str(log)}))
        assert result["messages"][-1] == f"all {STEPS} steps recorded"
        after = [e for e in read_jsonl(log) if e["pid"] != first.pid]

        assert [e["messages"] for e in before if e["event"] == "model"] == [1 + 2 * n for n in range(CRASH_AT)]
        # Only the calls made after the restart: request 13 again (in flight at the kill), 14 and 15.
        assert [e["messages"] for e in after if e["event"] == "model"] == [25, 27, 29]
        assert server.request_count - CRASH_AT == 3
        assert [json.loads(e["input"].replace("'", '"'))["n"] for e in after if e["event"] == "tool"] == [13, 14]
        started = {e["run"] for e in after if e["event"] in ("chain", "model", "tool")}
        assert {e["run"] for e in after if e["event"].endswith(" end")} <= started  # no end of a run it never heard start
        assert [e["name"] for e in after if e["event"] == "chain" and e["name"] == "agent"] == ["agent", "agent"]

        heard = len(read_jsonl(log))
        finish(_start(server, tmp_path, "callbacks-crash", "loop", extra={"CALLBACK_LOG": str(log)}))
        assert len(read_jsonl(log)) == heard  # the finished run's result comes from history, silently


def test_each_event_is_heard_once_when_every_step_replays(cold_replay: None) -> None:
    question = {"messages": [HumanMessage("Weather in Paris and Oslo?")]}
    native, durable = Counting(), Counting()
    react(NativeStateGraph, script(Counting())).invoke(question, {"callbacks": [native]})
    react(StateGraph, script(Counting()), name="callbacks-cold").invoke(
        question, {"configurable": {"thread_id": "callbacks-cold"}, "callbacks": [durable]})
    assert durable.counts() == native.counts()
    assert durable.calls() == native.calls()
    assert sorted(durable.ended) == sorted(durable.started)


def test_subgraph_children_report_to_the_handlers_nested_as_natively() -> None:
    native, durable = Counting(), Counting()
    desk(NativeStateGraph, Models()).invoke(SUBGRAPH_QUESTION, {"callbacks": [native]})
    desk(StateGraph, Models(), name="callbacks-desk").invoke(
        SUBGRAPH_QUESTION, {"configurable": {"thread_id": "callbacks-desk"}, "callbacks": [durable]})
    assert durable.counts() == native.counts()
    assert durable.calls() == native.calls()
    assert durable.chains()[1:] == native.chains()[1:]  # after the graph's own run (named differently here)
    assert sorted(durable.ended) == sorted(durable.started)
    assert durable.roots() == ["callbacks-desk"] and native.roots() == ["LangGraph"]  # all under the graph's run
