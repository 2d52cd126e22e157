"""Warm executions with the real SDK worker on the embedded engine.

Work items run on the worker's orchestration thread pool. An instance's execution is
kept warm between its work items, so each step of its code runs once; a worker
restart (new process state) falls back to a cold replay from the history.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dapr.ext.workflow import DaprWorkflowClient, WorkflowRuntime, WorkflowStatus

from dapr_agents_durable.engine import EmbeddedEngine
from dapr_agents_durable.loop import await_only, current_execution, drive, warm

WAIT_SECONDS = 120

calls: Counter[str] = Counter()
entered: Counter[str] = Counter()
steps: list[tuple[str, int, bool]] = []
marks: list[tuple[str, int, bool]] = []
lock = threading.Lock()


def record(name: str) -> None:
    with lock:
        calls[name] += 1


# ---------------------------------------------------------------- activities


def model(ctx, request: dict) -> dict:
    record(f"{request['run']}:model:{request['turn']}")
    if request["turn"] < request["turns"]:
        return {"tool_call": {"city": f"city-{request['turn']}"}}
    return {"answer": f"{len(request['messages'])} messages"}


def tool(ctx, request: dict) -> str:
    record(f"{request['run']}:tool:{request['city']}")
    return f"sunny in {request['city']}"


def echo(ctx, request: dict) -> Any:
    record(f"{request['run']}:echo:{request['value']}")
    return request["value"]


# ---------------------------------------------------------------- workflow bodies


async def agent(request: dict) -> dict:
    """An agent loop: the model sees the whole conversation, one tool call per turn."""
    run = request["run"]
    entered[run] += 1
    durable = current_execution()
    messages: list[Any] = [request["question"]]
    for turn in range(request["turns"] + 1):
        steps.append((run, turn, durable.is_replaying))
        reply = await durable.call_activity(
            "model",
            {"run": run, "turn": turn, "turns": request["turns"], "messages": messages},
        )
        if "answer" in reply:
            return reply
        observation = await durable.call_activity(
            "tool", {"run": run, **reply["tool_call"]}
        )
        messages.extend([reply, observation])
    raise AssertionError("the model never answered")


async def gate(run: str) -> list:
    """One activity, a wait for event 'go', another activity."""
    entered[run] += 1
    durable = current_execution()
    before = await durable.call_activity("echo", {"run": run, "value": "before"})
    decision = await durable.wait_for_event("go")
    after = await durable.call_activity("echo", {"run": run, "value": "after"})
    return [before, decision, after]


async def sync_steps(run: str) -> list:
    """Sync code suspended in a greenlet across three activities."""
    entered[run] += 1

    def steps_in_sync_code() -> list:
        durable = current_execution()
        return [
            await_only(durable.call_activity("echo", {"run": run, "value": n}))
            for n in range(3)
        ]

    return await asyncio.to_thread(steps_in_sync_code)


async def marked(run: str) -> int:
    marks.append(("enter", threading.get_ident(), False))
    durable = current_execution()
    try:
        total = 0
        for value in range(3):
            total += await durable.call_activity("echo", {"run": run, "value": value})
        return total
    finally:
        marks.append(("exit", threading.get_ident(), durable.is_tearing_down))


BODIES: dict[str, Callable[[Any], Any]] = {
    "warm_e2e.agent": agent,
    "warm_e2e.gate": gate,
    "warm_e2e.sync_steps": sync_steps,
    "warm_e2e.marked": marked,
}
ACTIVITIES = {"model": model, "tool": tool, "echo": echo}


def workflow_of(body: Callable[[Any], Any]) -> Callable[..., Any]:
    """A new workflow function (the SDK registers a function with one runtime only)."""

    def workflow(ctx, input):
        return (yield from drive(ctx, lambda: body(input)))

    return workflow


def activity_of(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """A new activity function (the SDK registers a function with one runtime only)."""

    def activity(ctx, input):
        return fn(ctx, input)

    return activity


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[EmbeddedEngine]:
    started = EmbeddedEngine(
        db_path=str(tmp_path_factory.mktemp("engine") / "e.db"), port=0
    ).start()
    try:
        yield started
    finally:
        started.stop()


def start_worker(engine: EmbeddedEngine, **options: Any) -> WorkflowRuntime:
    """A new worker process state: its own runtime and registry."""
    runtime = WorkflowRuntime(host="127.0.0.1", port=str(engine.port), **options)
    for name, body in BODIES.items():
        runtime.register_workflow(workflow_of(body), name=name)
    for name, activity in ACTIVITIES.items():
        runtime.register_activity(activity_of(activity), name=name)
    runtime.start()
    return runtime


@pytest.fixture
def client(engine: EmbeddedEngine) -> Iterator[DaprWorkflowClient]:
    workflow_client = DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
    try:
        yield workflow_client
    finally:
        workflow_client.close()


@pytest.fixture
def worker(engine: EmbeddedEngine) -> Iterator[WorkflowRuntime]:
    runtime = start_worker(engine)
    try:
        yield runtime
    finally:
        runtime.shutdown()


def finish(client: DaprWorkflowClient, instance_id: str) -> Any:
    state = client.wait_for_workflow_completion(
        instance_id, timeout_in_seconds=WAIT_SECONDS
    )
    assert state is not None, f"{instance_id} did not finish"
    assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
    return json.loads(state.serialized_output)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def run_agent(client: DaprWorkflowClient, run: str, turns: int) -> Any:
    request = {"run": run, "question": "weather?", "turns": turns}
    client.schedule_new_workflow("warm_e2e.agent", input=request, instance_id=run)
    return finish(client, run)


@pytest.mark.usefixtures("worker")
def test_each_turn_of_an_agent_runs_once_and_matches_a_cold_run(
    client, keep_warm
) -> None:
    warm_output = run_agent(client, "agent-warm", turns=6)
    assert entered["agent-warm"] == 1
    assert [step[1:] for step in steps if step[0] == "agent-warm"] == [
        (turn, False) for turn in range(7)
    ]
    assert "agent-warm" not in warm.parked_instances()

    keep_warm(0)
    cold_output = run_agent(client, "agent-cold", turns=6)
    assert cold_output == warm_output == {"answer": "13 messages"}
    assert entered["agent-cold"] >= 14  # one replay from the start per work item
    for run in ("agent-warm", "agent-cold"):
        assert [calls[f"{run}:model:{turn}"] for turn in range(7)] == [1] * 7
        assert [calls[f"{run}:tool:city-{turn}"] for turn in range(6)] == [1] * 6


@pytest.mark.usefixtures("worker")
def test_a_run_waiting_for_an_event_continues_warm_when_it_arrives(client) -> None:
    client.schedule_new_workflow("warm_e2e.gate", input="gate-0", instance_id="gate-0")
    wait_until(
        lambda: (
            "gate-0" in warm.parked_instances() and calls["gate-0:echo:before"] == 1
        ),
        "the run to wait for its event, warm",
    )
    client.raise_workflow_event("gate-0", "go", data="approved")
    assert finish(client, "gate-0") == ["before", "approved", "after"]
    assert entered["gate-0"] == 1
    assert (calls["gate-0:echo:before"], calls["gate-0:echo:after"]) == (1, 1)


def test_a_worker_restart_replays_cold_and_runs_no_activity_twice(
    engine, client
) -> None:
    first = start_worker(engine)
    try:
        client.schedule_new_workflow(
            "warm_e2e.gate", input="gate-1", instance_id="gate-1"
        )
        wait_until(
            lambda: (
                "gate-1" in warm.parked_instances() and calls["gate-1:echo:before"] == 1
            ),
            "the run to wait for its event, warm",
        )
    finally:
        first.shutdown()
    second = start_worker(engine)
    try:
        client.raise_workflow_event("gate-1", "go", data="approved")
        assert finish(client, "gate-1") == ["before", "approved", "after"]
    finally:
        second.shutdown()
    assert entered["gate-1"] == 2  # the first worker's start, the new worker's replay
    assert (calls["gate-1:echo:before"], calls["gate-1:echo:after"]) == (1, 1)


@pytest.mark.usefixtures("worker")
def test_a_warm_run_is_torn_down_once_when_it_ends(client) -> None:
    marks.clear()
    client.schedule_new_workflow(
        "warm_e2e.marked", input="marked-1", instance_id="marked-1"
    )
    assert finish(client, "marked-1") == 3
    assert [(kind, torn) for kind, _, torn in marks] == [
        ("enter", False),
        ("exit", False),
    ]
    assert "marked-1" not in warm.parked_instances()


def test_concurrent_runs_with_greenlets_on_a_thread_pool_each_run_once(
    engine, client
) -> None:
    runtime = start_worker(engine, maximum_thread_pool_workers=3)
    runs = [f"sync-{n}" for n in range(6)]
    try:
        for run in runs:
            client.schedule_new_workflow(
                "warm_e2e.sync_steps", input=run, instance_id=run
            )
        outputs = [finish(client, run) for run in runs]
    finally:
        runtime.shutdown()
    assert outputs == [[0, 1, 2]] * len(runs)
    assert all(calls[f"{run}:echo:{value}"] == 1 for run in runs for value in range(3))
    # Each run replays cold at most once: when it first moves to the thread holding its greenlet.
    assert all(entered[run] <= 2 for run in runs)
