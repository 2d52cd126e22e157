"""Subgraphs are langgraph.subgraph child workflows; results, streams and interrupts as native."""

from __future__ import annotations

import json
import operator
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, NotRequired

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, Send, interrupt
from pydantic import BaseModel
from typing_extensions import TypedDict
from scripted import ScriptedChatModel, call, get_weather, scripted, shape, weather_runs
from test_react import activities

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY, SUBGRAPH_WORKFLOW, TOOL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import (
    RecordedRequest,
    ScriptedModelServer,
    assert_each_once,
    embedded_app_env,
    finish,
    kill_during_request,
    read_jsonl,
    text,
    tool_call,
)


def children(run_id: str) -> list[tuple[str, str]]:
    """The child workflows a run created, as (workflow name, instance id)."""
    return [
        (e.childWorkflowInstanceCreated.name, e.childWorkflowInstanceCreated.instanceId)
        for e in get_runtime().raw_history(run_id)
        if e.HasField("childWorkflowInstanceCreated")
    ]


class Models:
    """One scripted model per role, built alike for the native and the durable graph."""

    def __init__(self) -> None:
        self.planner = scripted(AIMessage("Plan: check Paris."))
        self.researcher = scripted(
            AIMessage("", tool_calls=[call("get_weather", "w1", city="Paris")]),
            AIMessage("Paris is sunny."),
        )
        self.writer = scripted(AIMessage("Summary: sunny Paris."))

    def seen(self) -> list[Any]:
        return [[shape(s) for s in m.seen] for m in (self.planner, self.researcher, self.writer)]


def research_graph(models: Models, builder_type: Any = NativeStateGraph) -> Any:
    """A ReAct subgraph: it is added to the parent as a node."""
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [models.researcher.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(name="research")


def writer_graph(models: Models, builder_type: Any = NativeStateGraph) -> Any:
    def write(state: MessagesState) -> dict[str, Any]:
        return {"messages": [models.writer.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("write", write)
    builder.add_edge(START, "write")
    return builder.compile(name="writer")


def desk(builder_type: Any, models: Models, sub_builder_type: Any = NativeStateGraph, **compile: Any) -> Any:
    writer = writer_graph(models, sub_builder_type)

    def plan(state: MessagesState) -> dict[str, Any]:
        return {"messages": [models.planner.invoke(state["messages"])]}

    def summarise(state: MessagesState) -> dict[str, Any]:  # a graph invoked inside a node
        out = writer.invoke({"messages": [HumanMessage(f"Summarise: {state['messages'][-1].content}")]})
        return {"messages": [out["messages"][-1]]}

    builder = builder_type(MessagesState)
    builder.add_node("plan", plan)
    builder.add_node("research", research_graph(models, sub_builder_type))
    builder.add_node("summarise", summarise)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "research")
    builder.add_edge("research", "summarise")
    return builder.compile(**compile)


QUESTION = {"messages": [HumanMessage("Weather in Paris?")]}


def test_subgraphs_are_child_workflows_with_their_own_activities() -> None:
    native_models, durable_models = Models(), Models()
    native = desk(NativeStateGraph, native_models).invoke(QUESTION)
    weather_runs.clear()
    graph = desk(StateGraph, durable_models, name="desk")
    out = graph.invoke(QUESTION, {"configurable": {"thread_id": "desk-1"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert durable_models.seen() == native_models.seen()
    assert weather_runs == {"Paris": 1}

    kids = children("desk-1")
    assert [name for name, _ in kids] == [SUBGRAPH_WORKFLOW, SUBGRAPH_WORKFLOW]
    assert all(child.startswith("desk-1-subgraph-") for _, child in kids)
    assert activities("desk-1") == [MODEL_ACTIVITY]  # the planner; the subgraphs' calls are their children's
    research, writer = (child for _, child in kids)
    assert activities(research) == [MODEL_ACTIVITY, TOOL_ACTIVITY, MODEL_ACTIVITY]
    assert activities(writer) == [MODEL_ACTIVITY]
    assert {research, writer} <= set(get_runtime().list_runs())

    again = graph.invoke(QUESTION, {"configurable": {"thread_id": "desk-1"}})
    assert shape(again["messages"]) == shape(native["messages"])
    assert len(durable_models.researcher.seen) == 2 and weather_runs == {"Paris": 1}  # nothing paid again


def test_subgraphs_built_with_the_durable_state_graph_are_child_workflows_too() -> None:
    """With the one import swapped everywhere, subgraphs compile to durable graphs: inside a node they are subgraphs."""
    native_models, durable_models = Models(), Models()
    native = desk(NativeStateGraph, native_models).invoke(QUESTION)
    graph = desk(StateGraph, durable_models, StateGraph, name="desk-swapped")
    out = graph.invoke(QUESTION, {"configurable": {"thread_id": "desk-swapped"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert durable_models.seen() == native_models.seen()
    assert [name for name, _ in children("desk-swapped")] == [SUBGRAPH_WORKFLOW, SUBGRAPH_WORKFLOW]
    assert activities("desk-swapped") == [MODEL_ACTIVITY]


class EchoModel(ScriptedChatModel):
    """Reports on whatever it is asked (branches running side by side may ask in any order)."""

    def _generate(self, messages: list[Any], *args: Any, **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(f"report on {messages[-1].content}"))])


class Branch(TypedDict):
    city: str
    reports: Annotated[list[str], operator.add]


class Cities(TypedDict):
    cities: list[str]
    reports: Annotated[list[str], operator.add]


def fan_out(builder_type: Any, model: EchoModel, **compile: Any) -> Any:
    def report(state: Branch) -> dict[str, Any]:
        return {"reports": [model.invoke(state["city"]).content]}

    branch = NativeStateGraph(Branch)
    branch.add_node("report", report)
    branch.add_edge(START, "report")
    builder = builder_type(Cities)
    builder.add_node("branch", branch.compile(name="branch"))
    builder.add_conditional_edges(
        START, lambda state: [Send("branch", {"city": city, "reports": []}) for city in state["cities"]], ["branch"])
    return builder.compile(**compile)


def test_a_subgraph_node_sent_to_in_parallel_gets_one_child_per_branch() -> None:
    cities = {"cities": ["Oslo", "Rome", "Paris"], "reports": []}
    native = fan_out(NativeStateGraph, EchoModel(messages=iter([]))).invoke(cities)
    model = EchoModel(messages=iter([]))
    out = fan_out(StateGraph, model, name="fan-out").invoke(cities, {"configurable": {"thread_id": "fan-out"}})
    assert out == native == {**cities, "reports": ["report on Oslo", "report on Rome", "report on Paris"]}
    kids = children("fan-out")
    assert len({child for _, child in kids}) == 3 and {name for name, _ in kids} == {SUBGRAPH_WORKFLOW}
    assert [activities(child) for _, child in kids] == [[MODEL_ACTIVITY]] * 3 and len(model.seen) == 3


class Counted(BaseModel):
    count: int = 0
    log: list[str] = []


def counted_graph(builder_type: Any, model: ScriptedChatModel, **compile: Any) -> Any:
    def step(state: Counted) -> dict[str, Any]:
        return {"count": state.count + 1, "log": [*state.log, str(model.invoke(f"step {state.count}").content)]}

    inner = NativeStateGraph(Counted)
    inner.add_node("step", step)
    inner.add_edge(START, "step")
    builder = builder_type(Counted)
    builder.add_node("inner", inner.compile(name="counted"))
    builder.add_edge(START, "inner")
    return builder.compile(**compile)


def test_a_subgraph_given_a_pydantic_state_object_runs_inline_as_natively() -> None:
    native = counted_graph(NativeStateGraph, scripted(AIMessage("one"))).invoke({"count": 1})
    out = counted_graph(StateGraph, scripted(AIMessage("one")), name="counted").invoke(
        {"count": 1}, {"configurable": {"thread_id": "counted-1"}})
    assert out == native == {"count": 2, "log": ["one"]}
    assert children("counted-1") == [] and activities("counted-1") == [MODEL_ACTIVITY]  # its calls are the run's own


def _events(chunks: list[Any]) -> list[Any]:
    """Stream events with the task ids left out of their namespaces (they differ run to run)."""
    return [
        (tuple(part.split(":")[0] for part in namespace), {node: shape(update["messages"]) for node, update in data.items()})
        for namespace, data in chunks
    ]


def test_stream_with_subgraphs_matches_native() -> None:
    native = list(desk(NativeStateGraph, Models()).stream(QUESTION, stream_mode="updates", subgraphs=True))
    graph = desk(StateGraph, Models(), name="desk-stream")
    chunks = list(graph.stream(QUESTION, {"configurable": {"thread_id": "desk-2"}}, stream_mode="updates", subgraphs=True))
    assert _events(chunks) == _events(native)
    assert ("research",) in [e[0] for e in _events(chunks)] and ("summarise",) in [e[0] for e in _events(chunks)]
    research, _ = (child for _, child in children("desk-2"))
    assert research.endswith(chunks[1][0][0].split(":")[1])  # the child id names the subgraph's task

    plain = list(desk(StateGraph, Models(), name="desk-plain").stream(
        QUESTION, {"configurable": {"thread_id": "desk-3"}}, stream_mode="updates"))
    assert [list(c) for c in plain] == [["plan"], ["research"], ["summarise"]]  # no subgraph events unless asked


def test_messages_stream_with_subgraphs_matches_native() -> None:
    """Each model response once, under its subgraph's namespace (durably whole, natively as tokens)."""
    def quick() -> Models:
        models = Models()
        models.researcher = scripted(AIMessage("Paris is sunny."))  # the fake model streams no tool calls
        return models

    def messages(chunks: list[Any]) -> list[Any]:
        joined: list[list[Any]] = []
        for namespace, (message, metadata) in chunks:
            key = (tuple(part.split(":")[0] for part in namespace), metadata["langgraph_node"], message.id)
            if joined and joined[-1][0] == key:
                joined[-1][1] += message.content
            else:
                joined.append([key, message.content])
        return [(namespace, node, content) for (namespace, node, _), content in joined]

    native = list(desk(NativeStateGraph, quick()).stream(QUESTION, stream_mode="messages", subgraphs=True))
    chunks = list(desk(StateGraph, quick(), name="desk-messages").stream(
        QUESTION, {"configurable": {"thread_id": "desk-4"}}, stream_mode="messages", subgraphs=True))
    assert messages(chunks) == messages(native) == [
        ((), "plan", "Plan: check Paris."),
        (("research",), "agent", "Paris is sunny."),
        (("summarise",), "write", "Summary: sunny Paris."),
    ]


class Checked(MessagesState):
    verdict: NotRequired[str]


def checked_graph(builder_type: Any, writer: ScriptedChatModel) -> Any:
    """A parent whose compiled subgraph drafts with a model, then interrupts for a review."""
    def draft(state: Checked) -> dict[str, Any]:
        return {"messages": [writer.invoke(state["messages"])]}

    def review(state: Checked) -> dict[str, Any]:
        return {"verdict": interrupt({"draft": state["messages"][-1].content})["verdict"]}

    inner = NativeStateGraph(Checked)
    inner.add_node("draft", draft)
    inner.add_node("review", review)
    inner.add_edge(START, "draft")
    inner.add_edge("draft", "review")

    def publish(state: Checked) -> dict[str, Any]:
        return {"messages": [AIMessage(f"Published with verdict {state['verdict']}.")]}

    builder = builder_type(Checked)
    builder.add_node("check", inner.compile(name="check"))
    builder.add_node("publish", publish)
    builder.add_edge(START, "check")
    builder.add_edge("check", "publish")
    return builder.compile(checkpointer=InMemorySaver(), **({"name": "checked"} if builder_type is StateGraph else {}))


def test_an_interrupt_inside_a_subgraph_pauses_and_resumes_the_parent_as_natively() -> None:
    native_writer, writer = scripted(AIMessage("A draft.")), scripted(AIMessage("A draft."))
    native, graph = checked_graph(NativeStateGraph, native_writer), checked_graph(StateGraph, writer)
    config = {"configurable": {"thread_id": "checked-1"}}
    expected_first = native.invoke({"messages": [HumanMessage("Write.")]}, config)
    first = graph.invoke({"messages": [HumanMessage("Write.")]}, config)
    (pending,) = first["__interrupt__"]
    assert pending.value == expected_first["__interrupt__"][0].value == {"draft": "A draft."}
    assert shape(first["messages"]) == shape(expected_first["messages"])
    (listed,) = get_runtime().pending_approvals("checked-1-1")
    assert listed.call_id == pending.id

    expected = native.invoke(Command(resume={"verdict": "ship it"}), config)
    final = graph.invoke(Command(resume={"verdict": "ship it"}), config)
    assert final["verdict"] == expected["verdict"] == "ship it"
    assert shape(final["messages"]) == shape(expected["messages"])
    assert len(writer.seen) == len(native_writer.seen) == 1  # the draft, before the interrupt, is not asked again

    first_child, resumed_child = (child for _, child in children("checked-1-1"))
    assert resumed_child == f"{first_child}-2"  # the resumed task's second call of its subgraph
    assert activities(first_child) == [MODEL_ACTIVITY] and activities(resumed_child) == []


@pytest.mark.usefixtures("cold_replay")
def test_subgraphs_replayed_cold_call_nothing_twice() -> None:
    """Every work item replays the parent and its children from scratch: the same child ids, no call made twice."""
    native_models, durable_models = Models(), Models()
    native = desk(NativeStateGraph, native_models).invoke(QUESTION)
    weather_runs.clear()
    out = desk(StateGraph, durable_models, name="desk-cold").invoke(QUESTION, {"configurable": {"thread_id": "desk-cold"}})
    assert shape(out["messages"]) == shape(native["messages"])
    assert durable_models.seen() == native_models.seen()
    assert weather_runs == {"Paris": 1}
    assert len(children("desk-cold")) == 2


class Answers(MessagesState):
    answers: Annotated[list[str], operator.add]


def asking_graph(builder_type: Any) -> Any:
    """Three interrupts in one super-step: in a subgraph node, in a graph invoked in a node, in a plain node."""
    def ask(state: Answers) -> dict[str, Any]:
        return {"answers": [f"inner={interrupt('inner?')}"]}

    inner = NativeStateGraph(Answers)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    asker = inner.compile(name="asker")

    def caller(state: Answers) -> dict[str, Any]:
        return {"answers": [f"caller got {asker.invoke({'messages': [], 'answers': []})['answers']}"]}

    def other(state: Answers) -> dict[str, Any]:
        return {"answers": [f"other={interrupt('other?')}"]}

    builder = builder_type(Answers)
    builder.add_node("caller", caller)
    builder.add_node("other", other)
    builder.add_node("sub", asker)
    for node in ("caller", "other", "sub"):
        builder.add_edge(START, node)
    return builder.compile(checkpointer=InMemorySaver(), **({"name": "asking"} if builder_type is StateGraph else {}))


def test_interrupts_in_subgraphs_resume_one_at_a_time_as_natively() -> None:
    config = {"configurable": {"thread_id": "asking-1"}}
    seen = []
    for graph in (asking_graph(NativeStateGraph), asking_graph(StateGraph)):
        first = graph.invoke({"messages": [HumanMessage("Go.")], "answers": []}, config)
        ids = {value: sorted(i.id for i in first["__interrupt__"] if i.value == value) for value in ("inner?", "other?")}
        later = graph.invoke(Command(resume={ids["other?"][0]: "o"}), config)
        answered = {i.id for i in later["__interrupt__"]} == set(ids["inner?"])  # the same interrupts wait on
        final = graph.invoke(Command(resume={ids["inner?"][0]: "x", ids["inner?"][1]: "y"}), config)
        seen.append((answered, sorted(later["answers"]), sorted(final["answers"]), "__interrupt__" in final))
    assert seen[1][:2] == seen[0][:2] == (True, ["other=o"])
    assert not seen[1][3] and not seen[0][3]
    for _, _, answers, _ in seen:  # which subgraph got which value follows the ids, which differ from run to run
        assert answers in (["caller got ['inner=x']", "inner=y", "other=o"], ["caller got ['inner=y']", "inner=x", "other=o"])
    kids = [child for name, child in children("asking-1-1") if name == SUBGRAPH_WORKFLOW]
    prefix = "asking-1-1-subgraph-"
    tasks = {child[len(prefix):len(prefix) + 36] for child in kids}
    assert len(tasks) == 2 and len(kids) >= 6  # two subgraph calls, each run again at every resume
    for task in tasks:  # "-2", "-3"...: the task's later calls of its subgraph
        numbers = sorted(int(child.rsplit("-", 1)[1]) if len(child) > len(prefix) + 36 else 1
                         for child in kids if task in child)
        assert numbers == list(range(1, len(numbers) + 1))


class Routed(MessagesState):
    route: NotRequired[str]


def nested_graph(builder_type: Any, model: ScriptedChatModel, **compile: Any) -> Any:
    """A subgraph in a subgraph whose node writes custom stream events and hands off to its parent's node."""
    def hand_off(state: Routed) -> Command[Any]:
        get_stream_writer()({"from": "hand_off"})
        reply = model.invoke(state["messages"])
        return Command(graph=Command.PARENT, goto="landing", update={"route": str(reply.content), "messages": [reply]})

    def landing(state: Routed) -> dict[str, Any]:
        return {"messages": [AIMessage(f"landed via {state['route']}")]}

    innermost = NativeStateGraph(Routed)
    innermost.add_node("hand_off", hand_off)
    innermost.add_edge(START, "hand_off")
    middle = NativeStateGraph(Routed)
    middle.add_node("innermost", innermost.compile(name="innermost"))
    middle.add_node("landing", landing)
    middle.add_edge(START, "innermost")

    builder = builder_type(Routed)
    builder.add_node("middle", middle.compile(name="middle"))
    builder.add_edge(START, "middle")
    return builder.compile(**compile)


def test_a_subgraph_in_a_subgraph_is_a_grandchild_and_hands_off_to_its_parent_as_natively() -> None:
    native_model, model = scripted(AIMessage("the fast lane")), scripted(AIMessage("the fast lane"))
    modes = ["updates", "values", "custom"]
    native = list(nested_graph(NativeStateGraph, native_model).stream(QUESTION, stream_mode=modes, subgraphs=True))
    graph = nested_graph(StateGraph, model, name="nested")
    chunks = list(graph.stream(QUESTION, {"configurable": {"thread_id": "nested-1"}}, stream_mode=modes, subgraphs=True))

    def events(stream: list[Any]) -> list[Any]:
        return [(tuple(part.split(":")[0] for part in namespace), mode, payload if mode == "custom" else sorted(payload))
                for namespace, mode, payload in stream]

    assert events(chunks) == events(native)
    assert (("middle", "innermost"), "custom", {"from": "hand_off"}) in events(chunks)
    assert (("middle",), "updates", ["landing"]) in events(chunks)
    assert shape(chunks[-1][2]["messages"]) == shape(native[-1][2]["messages"])
    assert [m.content for m in chunks[-1][2]["messages"]] == ["Weather in Paris?", "the fast lane", "landed via the fast lane"]

    ((_, middle),) = children("nested-1")
    ((_, innermost),) = children(middle)
    assert activities(middle) == [] and activities(innermost) == [MODEL_ACTIVITY]


def failing_graph(builder_type: Any, **compile: Any) -> Any:
    def boom(state: MessagesState) -> dict[str, Any]:
        raise ValueError(f"no luck with {len(state['messages'])} message(s)")

    inner = NativeStateGraph(MessagesState)
    inner.add_node("boom", boom)
    inner.add_edge(START, "boom")
    builder = builder_type(MessagesState)
    builder.add_node("inner", inner.compile(name="boom"))
    builder.add_edge(START, "inner")
    return builder.compile(**compile)


def test_an_exception_in_a_subgraph_surfaces_as_natively() -> None:
    with pytest.raises(ValueError) as native:
        failing_graph(NativeStateGraph).invoke(QUESTION)
    with pytest.raises(ValueError) as durable:
        failing_graph(StateGraph, name="failing").invoke(QUESTION, {"configurable": {"thread_id": "failing-1"}})
    assert str(durable.value) == str(native.value) == "no luck with 1 message(s)"
    assert [name for name, _ in children("failing-1")] == [SUBGRAPH_WORKFLOW]


# ---------------------------------------------------------------------------- crashes

APP = Path(__file__).parent / "apps" / "subgraph_app.py"
STEPS = 4  # research steps: requests 2..6 are the research subgraph's, 7 the writer's


def desk_answer(crash_at: int):
    def answer(request: RecordedRequest):
        messages = request.body["messages"]
        hold = 60.0 if request.number == crash_at else 0.0
        if len(messages) == 1 and messages[0]["content"] == "Plan.":
            return text("Research the steps.", delay=hold)
        if messages[0]["content"].startswith("Write up: "):
            return text(f"Report on: {messages[0]['content'].removeprefix('Write up: ')}", delay=hold)
        done = len(request.tool_outputs)
        if done < STEPS:
            return tool_call("record_step", {"n": done + 1}, delay=hold)
        return text(f"all {done} steps recorded", delay=hold)

    return answer


def _start(server: ScriptedModelServer, tmp: Path, thread: str, mode: str = "desk",
           extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": "sk-test", "PYTHONPATH": os.pathsep.join(sys.path),
                                               **(extra or {})})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, thread, str(tmp / "tools.jsonl"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize(("crash_at", "where"), [(4, "the research subgraph's third turn"), (7, "the writer invoked in a node")])
def test_kill_during_a_model_call_inside_a_subgraph_resumes_the_child(tmp_path: Path, crash_at: int, where: str) -> None:
    with ScriptedModelServer(rule=desk_answer(crash_at)) as server:
        assert kill_during_request(_start(server, tmp_path, "desk-crash"), server, crash_at) == crash_at

        result = finish(_start(server, tmp_path, "desk-crash"))
        assert result["messages"][-1] == f"Report on: all {STEPS} steps recorded"
        assert len(result["messages"]) == 2 + 2 * STEPS + 2  # the question, the plan, the steps, their summary, the report
        assert server.request_count == 8  # 7 requests + the one in flight at the kill
        asked = [(r.body["messages"][0]["content"][:9], len(r.body["messages"])) for r in server.requests]
        assert len(set(asked)) == 7 and asked[crash_at] == asked[crash_at - 1], where  # only that one asked again

        tools = read_jsonl(tmp_path / "tools.jsonl")
        assert sorted(t["n"] for t in tools) == list(range(1, STEPS + 1))
        assert_each_once(t["n"] for t in tools)

        (research, research_id, research_calls), (writer, _, writer_calls) = result["children"]
        assert research == writer == SUBGRAPH_WORKFLOW and research_id.startswith("desk-crash-subgraph-")
        assert research_calls == [MODEL_ACTIVITY, TOOL_ACTIVITY] * STEPS + [MODEL_ACTIVITY]
        assert writer_calls == [MODEL_ACTIVITY]

        paid = server.request_count
        assert finish(_start(server, tmp_path, "desk-crash")) == result
        assert server.request_count == paid  # a finished run answers from its history


def review_answer(request: RecordedRequest):
    last = request.body["messages"][-1]["content"]
    return text("Published." if last.startswith("The reviewer says") else "A sunny draft.")


def test_kill_during_an_interrupt_wait_inside_a_subgraph_resumes_the_wait(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=review_answer) as server:
        app = _start(server, tmp_path, "check-crash", "review")
        assert app.stdout is not None
        interrupt_id = app.stdout.readline().split()[1]
        app.kill()
        app.wait()
        assert server.request_count == 1

        again = _start(server, tmp_path, "check-crash", "review", {"VERDICT": "ship it"})
        out, err = again.communicate(timeout=180)
        assert again.returncode == 0, err[-3000:]
        assert out.splitlines()[0] == f"waiting {interrupt_id}"  # the same interrupt, rebuilt from the history
        result = json.loads(out.splitlines()[-1])
        assert result["verdict"] == "ship it"
        assert result["messages"] == ["Write a forecast.", "A sunny draft.", "The reviewer says: ship it", "Published."]
        assert server.request_count == 2  # the draft, made in the subgraph before the kill, is not written again
        (_, first, drafted), (_, resumed, nothing) = result["children"]
        assert resumed == f"{first}-2" and drafted == [MODEL_ACTIVITY] and nothing == []
