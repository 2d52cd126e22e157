"""CrewAI's real crew execution, run durably on the embedded engine.

Each test kicks off a real ``Crew`` of real ``Agent``s and ``Task``s inside a workflow
(``Crew.akickoff`` on the durable loop); only the LLM is scripted. Every LLM call and
every tool call must be one activity that ran exactly once, although the worker replays
the workflow from its history on every work item and checks each replayed step.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import durable_seams
import pytest
from crewai import Agent, Crew, Process, Task
from crewai.llms.base_llm import BaseLLM
from crewai.tools import BaseTool, tool
from crewai.utilities.types import LLMMessage
from dapr.ext.workflow import WorkflowHistoryEventType
from durable_seams import (
    CREW_WORKFLOW,
    FEEDBACK_EVENT,
    LLM_ACTIVITY,
    TOOL_ACTIVITY,
    DurableLLM,
    durable_tool,
)
from pydantic import PrivateAttr

from dapr_agents_durable.runtime import DurableRuntime

WAIT_SECONDS = 120
REACT_STOP = "\nObservation:"


@dataclass(frozen=True)
class LLMCall:
    """What the real LLM was asked: the messages and the stop words in effect."""

    messages: list[dict[str, Any]]
    stop: list[str]


class ScriptedLLM(BaseLLM):
    """An LLM with native tool calling that replies from a script and records each call."""

    llm_type: str = "scripted"
    replies: list[Any]
    _calls: list[LLMCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def call(
        self,
        messages: str | list[LLMMessage],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        assert isinstance(messages, list), "the executor sends message lists"
        with self._lock:
            self._calls.append(
                LLMCall([dict(m) for m in messages], list(self.stop_sequences))
            )
            return self.replies[len(self._calls) - 1]

    def supports_function_calling(self) -> bool:
        return True

    def get_context_window_size(self) -> int:
        return 8192

    @property
    def calls(self) -> list[LLMCall]:
        with self._lock:
            return list(self._calls)


class ToolLog:
    """The arguments each real tool ran with, in order."""

    def __init__(self) -> None:
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def record(self, name: str, **arguments: Any) -> None:
        with self._lock:
            self._calls.append((name, arguments))

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._calls)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Iterator[DurableRuntime]:
    rt = DurableRuntime(db_path=str(tmp_path_factory.mktemp("engine") / "engine.db"))
    durable_seams.register(rt)
    yield rt
    rt.stop()


@pytest.fixture
def tool_log() -> ToolLog:
    return ToolLog()


def tool_call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def weather_tool(log: ToolLog) -> BaseTool:
    @tool("get_weather")
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        log.record("get_weather", city=city)
        return f"sunny in {city}"

    return get_weather


def add_weather_crew(
    name: str, llm: ScriptedLLM, log: ToolLog, **task_options: Any
) -> None:
    """Register ``llm`` and a one-agent crew with the weather tool, both under ``name``."""
    durable_seams.registered_llms.add(name, llm)
    get_weather = durable_tool(weather_tool(log))

    def build() -> Crew:
        agent = Agent(
            role="weather reporter",
            goal="answer weather questions",
            backstory="a meteorologist",
            llm=DurableLLM(model=llm.model, target=name),
            tools=[get_weather],
        )
        task = Task(
            description="What is the weather in {cities}?",
            expected_output="one sentence",
            agent=agent,
            **task_options,
        )
        return Crew(agents=[agent], tasks=[task], process=Process.sequential)

    durable_seams.registered_crews.add(name, build)


def history_names(
    runtime: DurableRuntime, run_id: str, kind: WorkflowHistoryEventType
) -> list[str]:
    return [event.name for event in runtime.history(run_id) if event.event_type == kind]


def assert_replayed_on_each_step(runtime: DurableRuntime, run_id: str) -> None:
    """The run took a work item per durable step (each a full replay) and completed."""
    scheduled = history_names(runtime, run_id, WorkflowHistoryEventType.TASK_SCHEDULED)
    work_items = history_names(
        runtime, run_id, WorkflowHistoryEventType.WORKFLOW_STARTED
    )
    assert len(work_items) >= len(scheduled) + 1
    assert (
        runtime.history(run_id)[-1].event_type
        == WorkflowHistoryEventType.EXECUTION_COMPLETED
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_one_tool_call_runs_as_llm_tool_llm_activities(runtime, tool_log) -> None:
    llm = ScriptedLLM(
        model="scripted",
        replies=[
            [tool_call("call_1", "get_weather", city="Paris")],
            "It is sunny in Paris.",
        ],
    )
    add_weather_crew("one-tool", llm, tool_log)

    state = runtime.run(
        CREW_WORKFLOW,
        {"crew": "one-tool", "inputs": {"cities": "Paris"}},
        run_id="one-tool",
        timeout=WAIT_SECONDS,
    )

    assert json.loads(state.serialized_output) == {
        "raw": "It is sunny in Paris.",
        "tasks": ["It is sunny in Paris."],
    }
    assert history_names(
        runtime, "one-tool", WorkflowHistoryEventType.TASK_SCHEDULED
    ) == [
        LLM_ACTIVITY,
        TOOL_ACTIVITY,
        LLM_ACTIVITY,
    ]
    assert tool_log.calls == [("get_weather", {"city": "Paris"})]
    first, second = llm.calls
    assert "What is the weather in Paris?" in first.messages[-1]["content"]
    assert second.messages[: len(first.messages)] == first.messages
    assistant, result = second.messages[len(first.messages) :]
    assert assistant["tool_calls"] == [tool_call("call_1", "get_weather", city="Paris")]
    assert result == {
        "role": "tool",
        "tool_call_id": "call_1",
        "name": "get_weather",
        "content": "sunny in Paris",
    }
    assert first.stop == second.stop == [REACT_STOP]
    assert_replayed_on_each_step(runtime, "one-tool")


def test_two_tool_calls_in_one_llm_turn_run_one_after_the_other(
    runtime, tool_log
) -> None:
    llm = ScriptedLLM(
        model="scripted",
        replies=[
            [
                tool_call("call_1", "get_weather", city="Paris"),
                tool_call("call_2", "get_weather", city="Oslo"),
            ],
            "Sunny in Paris and in Oslo.",
        ],
    )
    add_weather_crew("two-tools", llm, tool_log)

    state = runtime.run(
        CREW_WORKFLOW,
        {"crew": "two-tools", "inputs": {"cities": "Paris and Oslo"}},
        run_id="two-tools",
        timeout=WAIT_SECONDS,
    )

    assert json.loads(state.serialized_output)["raw"] == "Sunny in Paris and in Oslo."
    assert history_names(
        runtime, "two-tools", WorkflowHistoryEventType.TASK_SCHEDULED
    ) == [
        LLM_ACTIVITY,
        TOOL_ACTIVITY,
        TOOL_ACTIVITY,
        LLM_ACTIVITY,
    ]
    assert len(llm.calls) == 2
    assert tool_log.calls == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    results = [
        (m["tool_call_id"], m["content"])
        for m in llm.calls[1].messages
        if m["role"] == "tool"
    ]
    assert results == [("call_1", "sunny in Paris"), ("call_2", "sunny in Oslo")]
    assert_replayed_on_each_step(runtime, "two-tools")


def test_human_feedback_arrives_as_workflow_events(runtime, tool_log) -> None:
    llm = ScriptedLLM(
        model="scripted",
        replies=[
            [tool_call("call_1", "get_weather", city="Paris")],
            "It is sunny in Paris.",
            "It is sunny and 21 degrees in Paris.",
        ],
    )
    add_weather_crew("feedback", llm, tool_log, human_input=True)

    runtime.start_or_attach(
        CREW_WORKFLOW,
        {"crew": "feedback", "inputs": {"cities": "Paris"}},
        run_id="feedback",
    )
    wait_until(lambda: len(llm.calls) == 2, "the first answer")
    runtime.raise_event("feedback", FEEDBACK_EVENT, "Add the temperature.")
    wait_until(lambda: len(llm.calls) == 3, "the revised answer")
    runtime.raise_event("feedback", FEEDBACK_EVENT, "")
    state = runtime.wait("feedback", timeout=WAIT_SECONDS)

    assert (
        json.loads(state.serialized_output)["raw"]
        == "It is sunny and 21 degrees in Paris."
    )
    assert history_names(
        runtime, "feedback", WorkflowHistoryEventType.TASK_SCHEDULED
    ) == [
        LLM_ACTIVITY,
        TOOL_ACTIVITY,
        LLM_ACTIVITY,
        LLM_ACTIVITY,
    ]
    assert history_names(
        runtime, "feedback", WorkflowHistoryEventType.EVENT_RAISED
    ) == [
        FEEDBACK_EVENT,
        FEEDBACK_EVENT,
    ]
    assert len(llm.calls) == 3
    assert tool_log.calls == [("get_weather", {"city": "Paris"})]
    revised = llm.calls[2].messages
    assert revised[-2] == {"role": "assistant", "content": "It is sunny in Paris."}
    assert (
        revised[-1]["role"] == "user"
        and "Add the temperature." in revised[-1]["content"]
    )
    assert_replayed_on_each_step(runtime, "feedback")
