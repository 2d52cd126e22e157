"""Agents as tools are child workflows; runs started inside a durable run stay durable.

Each scenario runs a fresh copy of its agent graph with the SDK's own ``Runner`` and
another with the durable one, compares the results, and then reads the engine's
histories: the calling run schedules an ``openai_agents.agent_tool`` child workflow
where the SDK would have run the nested agent, and the child's own history holds the
nested agent's model and tool calls. ``Runner.run`` called from a guardrail runs inline in
the calling run; called from a tool, it gets a run id derived from the tool call. The last
tests kill a real app process in the middle of a nested run and start it again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    RawResponsesStreamEvent,
    RunContextWrapper,
    RunHooks,
    RunResult,
    ToolCallOutputItem,
    UserError,
    function_tool,
)
from agents import Runner as NativeRunner
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from pydantic import BaseModel
from scripted import ScriptedModel, message, outputs, tool_call
from test_fidelity import (
    RUN_CALLBACKS,
    Graph,
    Traveller,
    agent_guarded_graph,
    assert_same_result,
    counting_hooks,
    raised,
    run_data_view,
    usage_view,
)

from dapr_agents_durable.adapters.openai_agents import Runner, names
from dapr_agents_durable.runtime.run_ids import derived_run_id
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, embedded_app_env, kill_during_request
from dapr_agents_durable.testing import text as answer_text
from dapr_agents_durable.testing import tool_call as answer_tool_call

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------------------- history views


def scheduled(run_id: str) -> list[str]:
    """The activities a run scheduled, in order."""
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def children(run_id: str) -> list[tuple[str, str]]:
    """The child workflows a run created, as (workflow name, instance id)."""
    return [
        (e.childWorkflowInstanceCreated.name, e.childWorkflowInstanceCreated.instanceId)
        for e in get_runtime().raw_history(run_id)
        if e.HasField("childWorkflowInstanceCreated")
    ]


def known_runs() -> set[str]:
    return set(get_runtime().list_runs())


# ---------------------------------------------------------------------------- names


def test_durable_names_are_pinned() -> None:
    """Names are persisted in history: renaming one breaks every run in flight."""
    assert names.WORKFLOW == "openai_agents.run"
    assert names.MODEL_ACTIVITY == "openai_agents.model"
    assert names.TOOL_ACTIVITY == "openai_agents.tool"
    assert names.SESSION_ACTIVITY == "openai_agents.session"
    assert names.MCP_ACTIVITY == "openai_agents.mcp"
    assert names.AGENT_TOOL_WORKFLOW == "openai_agents.agent_tool"


def test_derived_run_ids_are_valid_dapr_instance_ids() -> None:
    assert derived_run_id("run-1", "agent-tool", "call_7") == "run-1-agent-tool-call_7"
    odd = derived_run_id("run:1", "agent-tool", "call/7")
    assert odd == derived_run_id("run:1", "agent-tool", "call/7")
    assert odd.startswith("agent-tool-") and odd.replace("-", "").isalnum() and len(odd) <= 64
    assert derived_run_id("r" * 60, "tool-run", "c", "1") != derived_run_id("r" * 60, "tool-run", "c", "2")


# ---------------------------------------------------------------------------- agent as tool


def researcher_graph(prefix: str, hooks: RunHooks[Any] | None = None) -> Graph:
    """A desk agent that asks a researcher agent (which calls a function tool) through ``as_tool``."""
    log: list[str] = []

    @function_tool
    def lookup(topic: str) -> str:
        """Look a topic up."""
        log.append(topic)
        return f"{topic}: 3 sources"

    def researcher_rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("lookup", {"topic": "tides"}, "r1")]
        return [message(f"found {done[0]['output']}")]

    researcher_model = ScriptedModel(researcher_rule)
    researcher = Agent(name=f"{prefix}_researcher", instructions="Research.", tools=[lookup], model=researcher_model)

    def desk_rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("research", {"input": "tides"}, "d1")]
        return [message(f"Summary: {done[0]['output']}")]

    desk_model = ScriptedModel(desk_rule)
    desk = Agent(name=f"{prefix}_desk", instructions="Delegate research.", model=desk_model,
                 tools=[researcher.as_tool("research", "Research a topic.", hooks=hooks)])
    return Graph(desk, [desk_model, researcher_model], log)


async def test_agent_tool_is_a_child_workflow_with_the_nested_calls_as_its_activities() -> None:
    native_graph, durable_graph = researcher_graph("at_child"), researcher_graph("at_child")
    native = await NativeRunner.run(native_graph.agent, "tell me about tides")
    durable = await Runner.run(durable_graph.agent, "tell me about tides", run_id="at-child")

    assert native.final_output == "Summary: found tides: 3 sources"
    assert_same_result(durable, native)
    assert usage_view(durable) == {"requests": 4, "input_tokens": 40, "output_tokens": 20, "total_tokens": 60}
    assert [m.calls for m in durable_graph.models] == [m.calls for m in native_graph.models] == [2, 2]
    assert durable_graph.requests() == native_graph.requests()
    assert durable_graph.log == native_graph.log == ["tides"]

    child = derived_run_id("at-child", "agent-tool", "d1")
    assert scheduled("at-child") == ["openai_agents.model", "openai_agents.model"]
    assert children("at-child") == [("openai_agents.agent_tool", child)]
    assert scheduled(child) == ["openai_agents.model", "openai_agents.tool", "openai_agents.model"]
    assert child in known_runs()

    again = await Runner.run(durable_graph.agent, "tell me about tides", run_id="at-child")
    assert [m.calls for m in durable_graph.models] == [2, 2]
    assert durable_graph.log == ["tides"]
    assert_same_result(again, native)


async def test_agent_tool_replayed_cold_calls_nothing_and_fires_hooks_once(cold_replay: None) -> None:
    """Every work item replays the parent and the child from scratch: no call is made twice, and
    the ``as_tool(hooks=...)`` of the nested run fire as often as in the native run."""
    native_hooks, durable_hooks = counting_hooks(RunHooks, RUN_CALLBACKS), counting_hooks(RunHooks, RUN_CALLBACKS)
    native_graph, durable_graph = researcher_graph("at_cold", native_hooks), researcher_graph("at_cold", durable_hooks)
    native = await NativeRunner.run(native_graph.agent, "tides")
    durable = await Runner.run(durable_graph.agent, "tides", run_id="at-cold")
    assert_same_result(durable, native)
    assert [m.calls for m in durable_graph.models] == [2, 2]
    assert durable_graph.log == ["tides"]
    assert len(children("at-cold")) == 1
    assert native_hooks.counts["on_llm_start"] == 2 and native_hooks.counts["on_tool_end"] == 1
    assert dict(durable_hooks.counts) == dict(native_hooks.counts)



def streamed_tool_graph(events: list[str]) -> Graph:
    """An agent tool whose nested run streams to an ``on_stream`` callback."""
    poet_model = ScriptedModel(lambda items: [message("roses are red")])
    poet = Agent(name="at_stream_poet", instructions="Write a poem.", model=poet_model)

    def record(payload: Any) -> None:
        event = payload["event"]
        if not isinstance(event, RawResponsesStreamEvent):  # raw events are the model's own
            events.append(f"{type(event).__name__}:{getattr(event, 'name', '')}")

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [tool_call("poem", {"input": "roses"}, "s1")] if not done else [message(done[0]["output"])]

    model = ScriptedModel(rule)
    agent = Agent(name="at_stream", instructions="Ask for poems.", model=model,
                  tools=[poet.as_tool("poem", "Write a poem.", on_stream=record)])
    return Graph(agent, [model, poet_model])


async def test_agent_tool_streaming_to_on_stream_delivers_each_event_once(cold_replay: None) -> None:
    native_events: list[str] = []
    durable_events: list[str] = []
    native = await NativeRunner.run(streamed_tool_graph(native_events).agent, "a poem")
    durable = await Runner.run(streamed_tool_graph(durable_events).agent, "a poem", run_id="at-stream")
    assert native.final_output == "roses are red"
    assert_same_result(durable, native)
    assert native_events == ["AgentUpdatedStreamEvent:", "RunItemStreamEvent:message_output_created"]
    assert durable_events == native_events
    assert [name for name, _ in children("at-stream")] == ["openai_agents.agent_tool"]


def parallel_agent_tool_graph() -> Graph:
    """One model response calling the same agent tool twice."""
    echo_model = ScriptedModel(lambda items: [message(f"echo {items[0]['content']}")])
    echo = Agent(name="at_parallel_echo", instructions="Echo.", model=echo_model)

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("echo", {"input": "a"}, "p1"), tool_call("echo", {"input": "b"}, "p2")]
        return [message(" | ".join(o["output"] for o in done))]

    model = ScriptedModel(rule)
    agent = Agent(name="at_parallel", instructions="Echo things.", model=model, tools=[echo.as_tool("echo", "Echo.")])
    return Graph(agent, [model, echo_model])


async def test_parallel_agent_tool_calls_get_one_child_each() -> None:
    native_graph, durable_graph = parallel_agent_tool_graph(), parallel_agent_tool_graph()
    native = await NativeRunner.run(native_graph.agent, "echo")
    durable = await Runner.run(durable_graph.agent, "echo", run_id="at-parallel")
    assert native.final_output == "echo a | echo b"
    assert_same_result(durable, native)
    desk, echo = durable_graph.requests()
    assert desk == native_graph.requests()[0]
    # The two children run side by side: their model calls may reach the model in either order.
    assert sorted(echo, key=json.dumps) == sorted(native_graph.requests()[1], key=json.dumps)
    assert sorted(instance for _, instance in children("at-parallel")) == [
        "at-parallel-agent-tool-p1", "at-parallel-agent-tool-p2"
    ]


class Verdict(BaseModel):
    """A structured output of a nested agent."""

    approved: bool
    reason: str


def structured_graph(name: str, extractor: Callable[[RunResult], Any] | None) -> Callable[[], Graph]:
    """A reviewer agent with a structured output, used as a tool with or without an output extractor."""

    def build() -> Graph:
        reviewer_model = ScriptedModel(lambda items: [message('{"approved": true, "reason": "tests pass"}')])
        reviewer = Agent(name=f"{name}_reviewer", instructions="Review.", output_type=Verdict, model=reviewer_model)

        def rule(items: list[Any]) -> list[Any]:
            done = outputs(items)
            if not done:
                return [tool_call("review", {"input": "PR 12"}, "v1")]
            return [message(f"review: {done[0]['output']}")]

        model = ScriptedModel(rule)
        tool = reviewer.as_tool("review", "Review a change.", custom_output_extractor=extractor)
        agent = Agent(name=name, instructions="Get reviews.", model=model, tools=[tool])
        return Graph(agent, [model, reviewer_model])

    return build


async def test_structured_nested_output_is_the_tool_output_object() -> None:
    build = structured_graph("at_structured", None)
    native_graph, durable_graph = build(), build()
    native = await NativeRunner.run(native_graph.agent, "review PR 12")
    durable = await Runner.run(durable_graph.agent, "review PR 12", run_id="at-structured")
    tool_outputs = [i.output for i in durable.new_items if isinstance(i, ToolCallOutputItem)]
    assert tool_outputs == [Verdict(approved=True, reason="tests pass")]
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()


async def extract_reason(result: RunResult) -> str:
    """A custom output extractor reading the nested result and its tool-call metadata."""
    invocation = result.agent_tool_invocation
    assert invocation is not None
    return f"{result.final_output.reason} ({invocation.tool_name}/{invocation.tool_call_id}, {result.last_agent.name})"


async def test_custom_output_extractor_sees_the_nested_result() -> None:
    build = structured_graph("at_extractor", extract_reason)
    native_graph, durable_graph = build(), build()
    native = await NativeRunner.run(native_graph.agent, "review PR 12")
    durable = await Runner.run(durable_graph.agent, "review PR 12", run_id="at-extractor")
    assert native.final_output == "review: tests pass (review/v1, at_extractor_reviewer)"
    assert_same_result(durable, native)


def context_graph() -> Graph:
    """A nested agent whose instructions and tool read and change the caller's run context."""

    @function_tool
    def visit(ctx: RunContextWrapper[Traveller], city: str) -> str:
        """Record a visit."""
        ctx.context.visited.append(city)
        return f"{ctx.context.name} visited {city}"

    def guide_rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [tool_call("visit", {"city": "Lyon"}, "g1")] if not done else [message(done[0]["output"])]

    guide_model = ScriptedModel(guide_rule)
    guide = Agent[Traveller](name="at_context_guide", model=guide_model, tools=[visit],
                             instructions=lambda ctx, agent: f"Guide {ctx.context.name}.")

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [tool_call("guide", {"input": "Lyon"}, "c1")] if not done else [message(done[0]["output"])]

    model = ScriptedModel(rule)
    agent = Agent[Traveller](name="at_context", instructions="Plan.", model=model, tools=[guide.as_tool("guide", "")])
    return Graph(agent, [model, guide_model])


async def test_nested_agent_and_its_tools_get_the_callers_context() -> None:
    native_graph, durable_graph = context_graph(), context_graph()
    native_context, durable_context = Traveller("Ana", "Porto"), Traveller("Ana", "Porto")
    native = await NativeRunner.run(native_graph.agent, "plan", context=native_context)
    durable = await Runner.run(durable_graph.agent, "plan", context=durable_context, run_id="at-context")
    assert native.final_output == "Ana visited Lyon"
    assert_same_result(durable, native)
    assert durable_context == native_context == Traveller("Ana", "Porto", ["Lyon"])
    assert durable_graph.requests() == native_graph.requests()


def nested_twice_graph() -> Graph:
    """An agent tool whose agent calls another agent tool: a child of a child."""
    leaf_model = ScriptedModel(lambda items: [message("leaf done")])
    leaf = Agent(name="at_depth_leaf", instructions="Finish.", model=leaf_model)

    def middle_rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [tool_call("leaf", {"input": "go"}, "m1")] if not done else [message(f"middle: {done[0]['output']}")]

    middle_model = ScriptedModel(middle_rule)
    middle = Agent(name="at_depth_middle", instructions="Delegate.", model=middle_model,
                   tools=[leaf.as_tool("leaf", "Finish it.")])

    def top_rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [tool_call("middle", {"input": "go"}, "t1")] if not done else [message(f"top: {done[0]['output']}")]

    top_model = ScriptedModel(top_rule)
    top = Agent(name="at_depth_top", instructions="Delegate.", model=top_model,
                tools=[middle.as_tool("middle", "Delegate it.")])
    return Graph(top, [top_model, middle_model, leaf_model])


async def test_agent_tool_inside_an_agent_tool_is_a_grandchild() -> None:
    native_graph, durable_graph = nested_twice_graph(), nested_twice_graph()
    native = await NativeRunner.run(native_graph.agent, "go")
    durable = await Runner.run(durable_graph.agent, "go", run_id="at-depth")
    assert native.final_output == "top: middle: leaf done"
    assert_same_result(durable, native)
    assert usage_view(durable)["requests"] == 5
    child = derived_run_id("at-depth", "agent-tool", "t1")
    grandchild = derived_run_id(child, "agent-tool", "m1")
    assert children("at-depth") == [("openai_agents.agent_tool", child)]
    assert children(child) == [("openai_agents.agent_tool", grandchild)]
    assert scheduled(child) == ["openai_agents.model", "openai_agents.model"]
    assert scheduled(grandchild) == ["openai_agents.model"]


def endless_graph(name: str, **as_tool_options: Any) -> Callable[[], Graph]:
    """A nested agent that never answers (``max_turns=2`` makes it fail)."""

    def build() -> Graph:
        @function_tool
        def poll() -> str:
            """Poll."""
            return "not yet"

        poller_model = ScriptedModel(lambda items: [tool_call("poll", {}, f"q{len(outputs(items))}")])
        poller = Agent(name=f"{name}_poller", instructions="Poll.", tools=[poll], model=poller_model)

        def rule(items: list[Any]) -> list[Any]:
            done = outputs(items)
            return [tool_call("wait", {"input": "job 4"}, "w1")] if not done else [message(done[0]["output"])]

        model = ScriptedModel(rule)
        tool = poller.as_tool("wait", "Wait for a job.", max_turns=2, **as_tool_options)
        agent = Agent(name=name, instructions="Wait.", model=model, tools=[tool])
        return Graph(agent, [model, poller_model])

    return build


async def test_nested_run_failure_becomes_the_tool_error_message() -> None:
    build = endless_graph("at_fail_message")
    native_graph, durable_graph = build(), build()
    native = await NativeRunner.run(native_graph.agent, "wait")
    durable = await Runner.run(durable_graph.agent, "wait", run_id="at-fail-message")
    assert native.final_output == "An error occurred while running the tool. Please try again."
    assert_same_result(durable, native)


async def test_nested_run_failure_without_error_function_ends_the_run_alike() -> None:
    build = endless_graph("at_fail_raise", failure_error_function=None)
    native = await raised(NativeRunner.run(build().agent, "wait"))
    durable = await raised(Runner.run(build().agent, "wait", run_id="at-fail-raise"))
    assert isinstance(native, MaxTurnsExceeded) and str(native) == "Max turns (2) exceeded"
    assert type(durable) is type(native)
    assert str(durable) == str(native)
    assert run_data_view(durable) == run_data_view(native)
    # What a caller in another process rebuilds the exception from:
    failure = get_runtime().state(derived_run_id("at-fail-raise", "agent-tool", "w1")).failure_details
    assert (failure.error_type, failure.message) == ("MaxTurnsExceeded", "Max turns (2) exceeded")


async def test_nested_tool_approval_inside_an_agent_tool_is_refused_by_name() -> None:
    """The SDK would interrupt the calling run for the nested approval; a durable child cannot
    hand its paused nested run over yet, so the run ends with an error that says so."""

    @function_tool(needs_approval=True)
    def delete_branch(name: str) -> str:
        """Delete a branch."""
        return f"deleted {name}"

    janitor_model = ScriptedModel(lambda items: [tool_call("delete_branch", {"name": "old"}, "j1")])
    janitor = Agent(name="at_approval_janitor", instructions="Clean up.", tools=[delete_branch], model=janitor_model)
    model = ScriptedModel(lambda items: [tool_call("clean", {"input": "old branches"}, "a1")])
    agent = Agent(name="at_approval", instructions="Delegate.", model=model, tools=[janitor.as_tool("clean", "")])
    error = await raised(Runner.run(agent, "clean up", run_id="at-approval"))
    assert isinstance(error, UserError)
    assert "approvals inside agent tools are not supported" in str(error)


# ---------------------------------------------------------------------------- Runner.run inside a run


def guarded_graph(runner: Any) -> Graph:
    """An input guardrail running a guard agent with ``runner`` (the SDK's or the durable one)."""
    return agent_guarded_graph(runner, name="nr_guarded", unsafe="rm -rf")


async def test_runner_in_a_guardrail_runs_inline_and_its_model_call_is_an_activity() -> None:
    native_graph, durable_graph = guarded_graph(NativeRunner), guarded_graph(Runner)
    before = known_runs()
    native = await NativeRunner.run(native_graph.agent, "hello")
    durable = await Runner.run(durable_graph.agent, "hello", run_id="nr-guard")
    assert native.input_guardrail_results[0].output.output_info == "safe"
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()
    assert scheduled("nr-guard") == ["openai_agents.model", "openai_agents.model"]
    assert known_runs() - before == {"nr-guard"}


async def test_runner_in_a_guardrail_trips_like_the_native_run() -> None:
    native = await raised(NativeRunner.run(guarded_graph(NativeRunner).agent, "rm -rf /"))
    durable = await raised(Runner.run(guarded_graph(Runner).agent, "rm -rf /", run_id="nr-guard-trip"))
    assert isinstance(native, InputGuardrailTripwireTriggered)
    assert type(durable) is type(native)
    assert durable.guardrail_result.output.output_info == native.guardrail_result.output.output_info == "unsafe"


def tool_running_agents_graph() -> tuple[Graph, ScriptedModel]:
    """A function tool that runs a summariser agent twice with the durable ``Runner``."""
    summariser_model = ScriptedModel(lambda items: [message(f"short: {items[0]['content']}")])
    summariser = Agent(name="nr_tool_summariser", instructions="Summarise.", model=summariser_model)

    @function_tool
    async def summarise(text: str) -> str:
        """Summarise a text twice."""
        first = await Runner.run(summariser, text)
        second = await Runner.run(summariser, f"{text}!")
        return f"{first.final_output} / {second.final_output}"

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        return [tool_call("summarise", {"text": "a long text"}, "s1")] if not done else [message(done[0]["output"])]

    model = ScriptedModel(rule)
    agent = Agent(name="nr_tool", instructions="Summarise.", model=model, tools=[summarise])
    return Graph(agent, [model, summariser_model]), summariser_model


async def test_runner_in_a_tool_attaches_to_its_nested_runs_when_the_tool_runs_again() -> None:
    graph, summariser_model = tool_running_agents_graph()
    result = await Runner.run(graph.agent, "summarise", run_id="nr-tool")
    assert result.final_output == "short: a long text / short: a long text!"
    assert summariser_model.calls == 2
    first, second = (derived_run_id("nr-tool", "tool-run", "s1", n) for n in ("1", "2"))
    assert {first, second} <= known_runs()
    assert scheduled(first) == scheduled(second) == ["openai_agents.model"]

    # The same tool call again (as a retry after a crash would run it): purge the calling run
    # only and start it again with the same id; its tool runs again for call s1.
    get_runtime().purge("nr-tool", recursive=False)
    assert get_runtime().state("nr-tool") is None
    again = await Runner.run(graph.agent, "summarise", run_id="nr-tool")
    assert again.final_output == result.final_output
    assert graph.models[0].calls == 4, "the calling run did not run again"
    assert summariser_model.calls == 2, "the tool's nested runs were paid for again"


# ---------------------------------------------------------------------------- crashes, in real processes


APP = Path(__file__).parent / "apps" / "nested_runs_app.py"
CRASH_AT = 3


def agent_of(request: RecordedRequest) -> str:
    """Which agent of the app sent the request (its instructions name it)."""
    system = request.body["messages"][0]["content"]
    return system.removeprefix("You are the ").removesuffix(".")


def user_text(request: RecordedRequest) -> str:
    return next(m["content"] for m in request.body["messages"] if m["role"] == "user")


def crash_answer(request: RecordedRequest) -> Any:
    """The desk delegates once; the researcher notes then answers; the summariser summarises.
    Request 3 is held so the app can be killed while it is in flight."""
    delay = 60.0 if request.number == CRASH_AT else 0.0
    done = request.tool_outputs
    agent = agent_of(request)
    if agent == "desk":
        if not done:
            tool = "research" if "research" in json.dumps(request.body["tools"]) else "summarise"
            return answer_tool_call(tool, {"input": "tides", "text": "report"})
        return answer_text(f"desk: {done[0]}")
    if agent == "researcher":
        if not done:
            return answer_tool_call("note", {"topic": "tides"})
        return answer_text("researched tides", delay=delay)
    return answer_text(f"summary of {user_text(request)}", delay=delay)


def _start(server: ScriptedModelServer, tmp: Path, run_id: str, mode: str) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": "sk-test", "OPENAI_AGENTS_DISABLE_TRACING": "1",
                                                "PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(app: subprocess.Popen[str]) -> str:
    out, err = app.communicate(timeout=120)
    assert app.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])["final_output"]


def test_crash_inside_an_agent_tool_resumes_the_child_without_paying_its_first_turn_again(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=crash_answer) as server:
        kill_during_request(_start(server, tmp_path, "crash-agent-tool", "agent-tool"), server, CRASH_AT)
        assert _finish(_start(server, tmp_path, "crash-agent-tool", "agent-tool")) == "desk: researched tides"
        turns = [(agent_of(r), len(r.tool_outputs)) for r in server.requests]
    # The researcher's second turn was in flight at the kill and is asked again; nothing else is.
    assert turns == [("desk", 0), ("researcher", 0), ("researcher", 1), ("researcher", 1), ("desk", 1)]


def test_crash_inside_a_tool_running_agents_attaches_to_its_finished_nested_run(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=crash_answer) as server:
        kill_during_request(_start(server, tmp_path, "crash-tool-runner", "tool-runner"), server, CRASH_AT)
        assert _finish(_start(server, tmp_path, "crash-tool-runner", "tool-runner")) == (
            "desk: summary of part 1 of report / summary of part 2 of report"
        )
        asked = [(agent_of(r), user_text(r)) for r in server.requests]
    # The tool ran again after the kill: its first nested run was finished and is not paid for again;
    # its second was in flight and is asked again.
    assert asked == [("desk", "Go."), ("summariser", "part 1 of report"), ("summariser", "part 2 of report"),
                     ("summariser", "part 2 of report"), ("desk", "Go.")]
