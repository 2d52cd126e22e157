"""End to end: workflows driven by the durable loop on the embedded engine.

The real embedded engine serves the real ``dapr.ext.workflow`` SDK over gRPC; the
worker continues warm executions, or replays an orchestrator from its history (tests
marked ``cold_replay`` do so on every work item). test_loop_warm_engine.py covers warm
executions on the engine specifically.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from dapr.ext.workflow import DaprWorkflowClient, WorkflowRuntime, WorkflowStatus

from dapr_agents_durable.engine import EmbeddedEngine
from dapr_agents_durable.loop import (
    ChildWorkflowError,
    await_only,
    current_execution,
    drive,
)
from dapr_agents_durable.loop.stalls import stall_of

WAIT_SECONDS = 120

calls: Counter[str] = Counter()
calls_lock = threading.Lock()
executions: Counter[str] = Counter()
marks: list[tuple[str, int]] = []


def record(name: str) -> None:
    with calls_lock:
        calls[name] += 1


# ---------------------------------------------------------------- activities


def model(ctx, request: dict) -> dict:
    record(f"model:{request['turn']}")
    if request["turn"] == 0:
        return {
            "tool_calls": [
                {"tool": "weather", "city": "Paris"},
                {"tool": "weather", "city": "Oslo"},
            ]
        }
    return {"answer": " / ".join(request["observations"])}


def weather(ctx, city: str) -> str:
    record(f"weather:{city}")
    if city == "Atlantis":
        raise LookupError("no weather for Atlantis")
    return f"sunny in {city}"


def echo(ctx, value: Any) -> Any:
    record(f"echo:{json.dumps(value)}")
    return value


# ---------------------------------------------------------------- workflow bodies


async def tool_loop(question: str) -> dict:
    """A miniature agent loop: model, parallel tools, a pause, model again."""
    durable = current_execution()
    first = await durable.call_activity("model", {"turn": 0, "question": question})
    observations = await asyncio.gather(
        *(
            durable.call_activity("weather", call["city"])
            for call in first["tool_calls"]
        )
    )
    await asyncio.sleep(1)
    final = await durable.call_activity(
        "model", {"turn": 1, "observations": list(observations)}
    )
    return {"answer": final["answer"], "request_id": str(uuid.uuid4())}


def agent_workflow(ctx, question):
    return (
        yield from drive(ctx, lambda: tool_loop(question), label="agent 'weather-bot'")
    )


async def sync_tools(cities: list) -> list:
    def sync_tool(city: str) -> str:
        return await_only(current_execution().call_activity("weather", city))

    return list(
        await asyncio.gather(*(asyncio.to_thread(sync_tool, city) for city in cities))
    )


def sync_tools_workflow(ctx, cities):
    return (yield from drive(ctx, lambda: sync_tools(cities)))


async def delegate(cities: list) -> dict:
    durable = current_execution()
    results = await asyncio.gather(
        *(
            durable.call_child_workflow("loop_e2e.weather_agent", city)
            for city in cities
        ),
        return_exceptions=True,
    )
    return {
        city: (
            f"{type(r).__name__}: {r.error_type}"
            if isinstance(r, ChildWorkflowError)
            else r
        )
        for city, r in zip(cities, results)
    }


def delegating_workflow(ctx, cities):
    return (yield from drive(ctx, lambda: delegate(cities)))


async def weather_agent(city: str) -> str:
    return await current_execution().call_activity("weather", city)


def weather_agent_workflow(ctx, city):
    return (yield from drive(ctx, lambda: weather_agent(city)))


async def approval(_: Any) -> dict:
    durable = current_execution()
    decision = await durable.wait_for_event("approval")
    try:
        await durable.wait_for_event("second_approval", timeout=1)
        late = "arrived"
    except TimeoutError:
        late = "timed out"
    done = await durable.call_activity("echo", {"approved": decision["approved"]})
    return {"decision": done, "second": late}


def approval_workflow(ctx, inp):
    return (yield from drive(ctx, lambda: approval(inp)))


async def drifting(instance: str) -> str:
    executions[instance] += 1
    return await current_execution().call_activity(
        "echo", f"execution {executions[instance]}"
    )


def drifting_workflow(ctx, instance):
    return (yield from drive(ctx, lambda: drifting(instance)))


async def marked(_: Any) -> int:
    marks.append(("enter", threading.get_ident()))
    try:
        total = 0
        for step in range(3):
            total += await current_execution().call_activity("echo", step)
        return total
    finally:
        marks.append(("exit", threading.get_ident()))


def marked_workflow(ctx, inp):
    return (yield from drive(ctx, lambda: marked(inp)))


WORKFLOWS = {
    "loop_e2e.agent": agent_workflow,
    "loop_e2e.sync_tools": sync_tools_workflow,
    "loop_e2e.delegating": delegating_workflow,
    "loop_e2e.weather_agent": weather_agent_workflow,
    "loop_e2e.approval": approval_workflow,
    "loop_e2e.drifting": drifting_workflow,
    "loop_e2e.marked": marked_workflow,
}
ACTIVITIES = {"model": model, "weather": weather, "echo": echo}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[DaprWorkflowClient]:
    engine = EmbeddedEngine(
        db_path=str(tmp_path_factory.mktemp("engine") / "e.db"), port=0
    ).start()
    runtime = WorkflowRuntime(host="127.0.0.1", port=str(engine.port))
    for name, workflow in WORKFLOWS.items():
        runtime.register_workflow(workflow, name=name)
    for name, activity in ACTIVITIES.items():
        runtime.register_activity(activity, name=name)
    runtime.start()
    workflow_client = DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
    try:
        yield workflow_client
    finally:
        workflow_client.close()
        runtime.shutdown()
        engine.stop()


def run(client: DaprWorkflowClient, workflow: str, input: Any, instance_id: str):
    client.schedule_new_workflow(workflow, input=input, instance_id=instance_id)
    state = client.wait_for_workflow_completion(
        instance_id, timeout_in_seconds=WAIT_SECONDS
    )
    assert state is not None, f"{instance_id} did not finish"
    return state


def test_an_agent_loop_runs_each_model_and_tool_call_once(client) -> None:
    state = run(client, "loop_e2e.agent", "weather?", "agent-1")
    assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
    output = json.loads(state.serialized_output)
    assert output["answer"] == "sunny in Paris / sunny in Oslo"
    assert uuid.UUID(output["request_id"]).version == 4
    assert [
        calls[key] for key in ("model:0", "weather:Paris", "weather:Oslo", "model:1")
    ] == [1, 1, 1, 1]


def test_sync_tools_suspend_on_activities_through_the_greenlet_bridge(client) -> None:
    state = run(client, "loop_e2e.sync_tools", ["Rome", "Lima"], "sync-1")
    assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
    assert json.loads(state.serialized_output) == ["sunny in Rome", "sunny in Lima"]
    assert (calls["weather:Rome"], calls["weather:Lima"]) == (1, 1)


def test_sub_agents_run_as_child_workflows_and_failures_come_back_typed(client) -> None:
    state = run(client, "loop_e2e.delegating", ["Kyiv", "Atlantis"], "parent-1")
    assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
    assert json.loads(state.serialized_output) == {
        "Kyiv": "sunny in Kyiv",
        "Atlantis": "ChildWorkflowError: ActivityError",
    }


def test_an_approval_event_resumes_the_run_and_a_missing_one_times_out(client) -> None:
    client.schedule_new_workflow(
        "loop_e2e.approval", input=None, instance_id="approval-1"
    )
    client.raise_workflow_event("approval-1", "approval", data={"approved": True})
    state = client.wait_for_workflow_completion(
        "approval-1", timeout_in_seconds=WAIT_SECONDS
    )
    assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED, state
    assert json.loads(state.serialized_output) == {
        "decision": {"approved": True},
        "second": "timed out",
    }


@pytest.mark.usefixtures("cold_replay")
def test_an_input_that_drifts_on_replay_holds_the_run_with_a_clear_error(client) -> None:
    client.schedule_new_workflow("loop_e2e.drifting", input="drift-1", instance_id="drift-1")
    deadline = time.monotonic() + WAIT_SECONDS
    while (stall := stall_of(client.get_workflow_state("drift-1").serialized_custom_status)) is None:
        assert time.monotonic() < deadline, "drift-1 was not held"
        time.sleep(0.05)
    state = client.get_workflow_state("drift-1")
    assert state.runtime_status == WorkflowStatus.RUNNING  # held, not failed: its history waits for fitting code
    assert stall["error"] == "NonDeterminismError"
    assert stall["message"].startswith(
        "Workflow 'loop_e2e.drifting' (instance 'drift-1') is not deterministic at step 1: "
        "its history recorded activity 'echo' with input \"execution 1\", but the code now "
        "requested activity 'echo' with input \"execution 2\"."
    )
    assert "or use versioning" in stall["message"]
    assert calls['echo:"execution 1"'] == 1 and calls['echo:"execution 2"'] == 0
    client.terminate_workflow("drift-1")


@pytest.mark.usefixtures("cold_replay")
def test_each_work_item_is_torn_down_on_its_worker_thread_before_the_next(
    client,
) -> None:
    marks.clear()
    state = run(client, "loop_e2e.marked", None, "marked-1")
    assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
    assert json.loads(state.serialized_output) == 3
    kinds = [kind for kind, _ in marks]
    assert kinds == ["enter", "exit"] * (len(marks) // 2) and len(marks) >= 8
    pairs = zip(marks[::2], marks[1::2])
    assert all(enter[1] == exit_[1] for enter, exit_ in pairs)
