"""Warm executions on the SDK's real orchestrator executor (offline host).

With warm executions on (the default), a work item that continues exactly what the
instance's previous work item saw feeds only its new events to the kept generator, so
the workflow's code runs once per step. Anything else replays cold, from scratch.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from dapr.ext.workflow import RetryPolicy
from offline_host import HostStuck, OfflineHost

from dapr_agents_durable.loop import (
    ActivityError,
    await_only,
    current_execution,
    drive,
    warm,
)

ORDERS = ["fifo", "lifo", "batch"]


def workflow_of(host: OfflineHost, name: str, main) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main))

    workflow.__name__ = name
    host.workflow(name)(workflow)


def add_echo(host: OfflineHost) -> None:
    @host.activity("echo")
    def echo(ctx, value):
        return value


class Trace:
    """What the workflow's code did: how often main began, and each step it ran."""

    def __init__(self) -> None:
        self.entered = 0
        self.steps: list[tuple[int, bool]] = []


def tool_loop(trace: Trace, turns: int):
    """An agent-like loop: each turn two parallel tool calls, then a pause."""

    async def main() -> list[str]:
        trace.entered += 1
        durable = current_execution()
        answers = []
        for turn in range(turns):
            trace.steps.append((turn, durable.is_replaying))
            pair = await asyncio.gather(
                durable.call_activity("echo", f"a{turn}"),
                durable.call_activity("echo", f"b{turn}"),
            )
            await asyncio.sleep(1)
            answers.append("+".join(pair))
        return answers

    return main


# ---------------------------------------------------------------- warm path


@pytest.mark.parametrize("order", ORDERS)
def test_each_step_of_the_code_runs_once_live_however_many_work_items(order) -> None:
    host = OfflineHost(order=order)
    add_echo(host)
    trace = Trace()
    workflow_of(host, "loop", tool_loop(trace, 4))
    result = host.run("loop")
    assert result.output == [f"a{turn}+b{turn}" for turn in range(4)]
    assert result.work_items >= 9
    assert trace.entered == 1
    assert trace.steps == [(turn, False) for turn in range(4)]
    assert sorted(host.calls_of("echo")) == sorted(
        f"{side}{turn}" for turn in range(4) for side in "ab"
    )
    assert warm.parked_instances() == []


@pytest.mark.usefixtures("cold_replay")
def test_without_warm_executions_every_work_item_reruns_the_code_from_the_start() -> (
    None
):
    host = OfflineHost()
    add_echo(host)
    trace = Trace()
    workflow_of(host, "loop", tool_loop(trace, 4))
    result = host.run("loop")
    assert result.output == [f"a{turn}+b{turn}" for turn in range(4)]
    assert trace.entered == result.work_items
    assert [step for step in trace.steps if not step[1]] == [
        (turn, False) for turn in range(4)
    ]
    assert len(trace.steps) > 2 * result.work_items


def rich_host(order: str, trace: Trace) -> OfflineHost:
    """A workflow using every kind of request: the same code for warm and cold runs."""
    host = OfflineHost(order=order)
    add_echo(host)
    attempts: list[int] = []

    @host.activity("flaky")
    def flaky(ctx, _):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("try again")
        return "ok"

    @host.activity("broken")
    def broken(ctx, _):
        raise ValueError("bad input")

    async def child(name: str) -> str:
        return await current_execution().call_activity("echo", f"child {name}")

    @host.workflow("rich.child")
    def child_workflow(ctx, name):
        return (yield from drive(ctx, lambda: child(name)))

    def sync_tool(value: str) -> str:
        return await_only(current_execution().call_activity("echo", value))

    async def main() -> dict:
        trace.entered += 1
        durable = current_execution()
        first = await asyncio.gather(
            durable.call_activity("echo", 1),
            durable.call_child_workflow("rich.child", "kid"),
            asyncio.to_thread(sync_tool, "sync"),
        )
        try:
            await durable.call_activity("broken")
        except ActivityError as err:
            failure = err.error_message
        retried = await durable.call_activity(
            "flaky",
            None,
            retry_policy=RetryPolicy(
                first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3
            ),
        )
        decision = await durable.wait_for_event("approval")
        try:
            await durable.wait_for_event("late", timeout=5)
            late = "arrived"
        except TimeoutError:
            late = "timed out"
        slow = await asyncio.wait_for(durable.call_activity("echo", "slow"), 30)
        await asyncio.sleep(2)
        return {
            "first": list(first),
            "failure": failure,
            "retried": retried,
            "decision": decision,
            "late": late,
            "slow": slow,
            "id": str(uuid.uuid4()),
            "now": durable.now().isoformat(),
        }

    workflow_of(host, "rich", main)
    return host


@pytest.mark.parametrize("order", ORDERS)
def test_warm_and_cold_runs_give_identical_results_and_histories(
    order, keep_warm
) -> None:
    runs = {}
    for capacity in (warm.DEFAULT_CAPACITY, 0):
        keep_warm(capacity)
        trace = Trace()
        host = rich_host(order, trace)
        result = host.run("rich", events={"approval": [{"ok": True}]})
        assert result.status == "COMPLETED", result.failure_message
        assert trace.entered == (1 if capacity else result.work_items)
        child = host.results["wf-1:0002"]
        runs[capacity] = (
            result.output,
            result.work_items,
            host.activity_calls,
            [event.SerializeToString() for event in result.history],
            [event.SerializeToString() for event in child.history],
        )
    assert runs[warm.DEFAULT_CAPACITY] == runs[0]
    output = runs[0][0]
    assert output["first"] == [1, "child kid", "sync"]
    assert (output["failure"], output["retried"], output["late"]) == (
        "bad input",
        "ok",
        "timed out",
    )


# ---------------------------------------------------------------- cold fallbacks


@pytest.mark.parametrize(
    ("kept", "expected"),
    [
        (2, ["enter", ("exit", False)]),
        # Room for one execution only: the child's evicts the waiting parent's.
        (1, ["enter", ("exit", True), "enter", ("exit", False)]),
    ],
)
def test_an_evicted_execution_is_torn_down_and_its_instance_replays_cold(
    kept, expected, keep_warm
) -> None:
    keep_warm(kept)
    host = OfflineHost()
    add_echo(host)
    marks: list[object] = []

    async def kid() -> str:
        return await current_execution().call_activity("echo", "from the child")

    @host.workflow("kid")
    def kid_workflow(ctx, _):
        return (yield from drive(ctx, kid))

    async def parent() -> str:
        durable = current_execution()
        marks.append("enter")
        try:
            return await durable.call_child_workflow("kid", instance_id="kid-1")
        finally:
            marks.append(("exit", durable.is_tearing_down))

    workflow_of(host, "parent", parent)
    result = host.run("parent", instance_id="parent-1")
    assert result.output == "from the child"
    assert host.calls_of("echo") == ["from the child"]
    assert marks == expected


def test_after_a_restart_the_run_replays_cold_and_no_activity_runs_twice() -> None:
    host = OfflineHost()
    add_echo(host)
    trace = Trace()

    @host.activity("restart")
    def restart(ctx, _):
        warm.clear()  # what a new process would have: no warm execution
        return "restarted"

    async def main() -> list:
        trace.entered += 1
        durable = current_execution()
        return [
            await durable.call_activity("echo", 1),
            await durable.call_activity("echo", 2),
            await durable.call_activity("restart"),
            await durable.call_activity("echo", 3),
        ]

    workflow_of(host, "restarts", main)
    result = host.run("restarts")
    assert result.output == [1, 2, "restarted", 3]
    assert trace.entered == 2
    assert host.activity_calls == [
        ("echo", 1),
        ("echo", 2),
        ("restart", None),
        ("echo", 3),
    ]


def test_code_changed_across_a_restart_holds_the_run_at_the_cold_replay_naming_the_step() -> None:
    host = OfflineHost()
    deployed = {"version": 1}

    @host.activity("search")
    def search(ctx, q):
        return q

    @host.activity("deploy")
    def deploy(ctx, _):
        deployed["version"] = 2
        warm.clear()  # a deployment restarts the worker

    async def main() -> None:
        durable = current_execution()
        tool = "search" if deployed["version"] == 1 else "web_search"
        await durable.call_activity(tool, "dapr")
        await durable.call_activity("deploy")
        await durable.call_activity(tool, "again")

    workflow_of(host, "upgraded", main)
    result = host.run("upgraded")
    assert result.failure_type == "NonDeterminismError"
    assert (
        "at step 1: its history recorded activity 'search' with input \"dapr\", but the code "
        "now requested activity 'web_search' with input \"dapr\"."
    ) in result.failure_message
    assert host.calls_of("web_search") == []


# ---------------------------------------------------------------- teardown


def test_a_warm_run_enters_and_leaves_its_main_coroutine_once_on_its_thread() -> None:
    host = OfflineHost()
    add_echo(host)
    marks: list[tuple] = []

    async def main() -> str:
        durable = current_execution()
        marks.append(("enter", threading.get_ident()))
        try:
            for step in range(3):
                await durable.call_activity("echo", step)
            return "done"
        finally:
            marks.append(("exit", threading.get_ident(), durable.is_tearing_down))

    workflow_of(host, "steps", main)
    result = host.run("steps")
    here = threading.get_ident()
    assert (result.output, result.work_items) == ("done", 4)
    assert marks == [("enter", here), ("exit", here, False)]


def test_background_tasks_and_async_generators_close_once_when_the_run_ends() -> None:
    host = OfflineHost()
    add_echo(host)
    closed: list[tuple[str, bool]] = []
    kept: list[object] = []

    async def stream():
        try:
            for item in range(10):
                yield item
        finally:
            closed.append(("stream", current_execution().is_tearing_down))

    async def heartbeat() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            closed.append(("heartbeat", current_execution().is_tearing_down))

    async def main() -> list[int]:
        durable = current_execution()
        asyncio.get_running_loop().create_task(heartbeat())
        seen = []
        items = stream()
        kept.append(items)  # still referenced when the run ends
        async for item in items:
            seen.append(await durable.call_activity("echo", item))
            if item == 2:
                break
        return seen

    workflow_of(host, "streams", main)
    result = host.run("streams")
    assert result.output == [0, 1, 2]
    assert sorted(closed) == [("heartbeat", True), ("stream", True)]


def waiting_workflow(host: OfflineHost, exits: list[tuple]) -> None:
    """Registers 'waits': waits for an event that never comes; records its teardown."""

    async def main() -> None:
        durable = current_execution()
        try:
            await durable.wait_for_event("go")
        finally:
            cleanup = durable.call_activity("cleanup")
            exits.append(
                (
                    durable.instance_id,
                    threading.get_ident(),
                    durable.is_tearing_down,
                    durable.suppress_side_effects,
                    cleanup.cancelled(),
                )
            )

    workflow_of(host, "waits", main)


def test_a_dropped_warm_execution_is_torn_down_quietly_on_its_thread() -> None:
    host = OfflineHost()
    exits: list[tuple] = []
    waiting_workflow(host, exits)
    with pytest.raises(HostStuck):
        host.run("waits", instance_id="idle-1")
    assert warm.parked_instances() == ["idle-1"]
    assert exits == []
    warm.clear()
    assert exits == [("idle-1", threading.get_ident(), True, True, True)]
    assert host.calls_of("cleanup") == []


def test_the_least_recently_parked_execution_is_evicted_first(keep_warm) -> None:
    keep_warm(2)
    host = OfflineHost()
    exits: list[tuple] = []
    waiting_workflow(host, exits)
    for instance_id in ("a", "b", "c"):
        with pytest.raises(HostStuck):
            host.run("waits", instance_id=instance_id)
    assert warm.parked_instances() == ["b", "c"]
    assert [exit_[0] for exit_ in exits] == ["a"]
    keep_warm(1)
    assert warm.parked_instances() == ["c"]
    assert [exit_[0] for exit_ in exits] == ["a", "b"]


# ---------------------------------------------------------------- threads


def test_an_execution_follows_its_instance_to_other_worker_threads() -> None:
    host = OfflineHost(threads=2)
    add_echo(host)
    trace = Trace()
    threads: list[int] = []

    async def main() -> int:
        trace.entered += 1
        total = 0
        for step in range(4):
            threads.append(threading.get_ident())
            total += await current_execution().call_activity("echo", step)
        return total

    workflow_of(host, "travels", main)
    try:
        result = host.run("travels")
    finally:
        host.close()
    assert result.output == 6
    assert trace.entered == 1
    assert len(set(threads)) == 2 and threading.get_ident() not in threads


def sync_steps_workflow(host: OfflineHost, marks: list[tuple]) -> None:
    """Registers 'sync_steps': sync code suspended in a greenlet across three activities."""

    def sync_steps() -> list:
        marks.append(("enter", threading.get_ident()))
        try:
            return [
                await_only(current_execution().call_activity("echo", n))
                for n in range(3)
            ]
        finally:
            marks.append(
                ("exit", threading.get_ident(), current_execution().is_tearing_down)
            )

    async def main() -> list:
        return await asyncio.to_thread(sync_steps)

    workflow_of(host, "sync_steps", main)


def test_a_greenlet_suspended_on_one_thread_continues_warm_on_that_thread() -> None:
    host = OfflineHost()
    add_echo(host)
    marks: list[tuple] = []
    sync_steps_workflow(host, marks)
    result = host.run("sync_steps")
    here = threading.get_ident()
    assert (result.output, result.work_items) == ([0, 1, 2], 4)
    assert marks == [("enter", here), ("exit", here, False)]


def test_a_suspended_greenlet_moves_its_instance_to_a_pinned_thread_where_it_continues_warm() -> None:
    host = OfflineHost(threads=2)
    add_echo(host)
    marks: list[tuple] = []
    sync_steps_workflow(host, marks)
    try:
        result = host.run("sync_steps")
    finally:
        host.close()
    assert (result.output, result.work_items) == ([0, 1, 2], 4)
    entered = [mark[1] for mark in marks if mark[0] == "enter"]
    exits = {mark[1]: mark[2] for mark in marks if mark[0] == "exit"}
    # The start pins the execution to the first worker; the second worker hands its work
    # item to a pinned thread, which replays cold once and runs every later step warm,
    # while the first execution is torn down on its own worker.
    assert len(entered) == 2 and exits == {entered[0]: True, entered[1]: False}
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    assert names[entered[1]].startswith("dapr-agents-durable-pinned-")
    assert host.calls_of("echo") == [0, 1, 2]


def test_an_instance_moved_to_a_pinned_thread_stays_there_between_its_greenlets() -> None:
    host = OfflineHost(threads=2)
    add_echo(host)
    trace = Trace()
    threads: list[int] = []

    def sync_step(n: int) -> int:
        threads.append(threading.get_ident())
        return await_only(current_execution().call_activity("echo", n))

    async def main() -> list:
        trace.entered += 1
        first = await asyncio.to_thread(sync_step, 0)
        middle = await current_execution().call_activity("echo", 1)  # no greenlet suspended meanwhile
        last = await asyncio.to_thread(sync_step, 2)
        return [first, middle, last]

    workflow_of(host, "sync_async_sync", main)
    try:
        result = host.run("sync_async_sync")
    finally:
        host.close()
    assert (result.output, result.work_items) == ([0, 1, 2], 4)
    # The start on the first worker, one cold replay on the pinned thread; the second
    # greenlet starts there too, so the last work item continues it warm.
    assert trace.entered == 2
    assert threads[-1] == threads[-2] != threads[0]
    assert host.calls_of("echo") == [0, 1, 2]


# ---------------------------------------------------------------- configuration


def capacity_in_a_new_process(value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, warm.ENV_VAR: value}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from dapr_agents_durable.loop import warm; print(warm.capacity())",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_environment_sets_how_many_executions_are_kept() -> None:
    assert capacity_in_a_new_process("0").stdout.strip() == "0"
    assert capacity_in_a_new_process("12").stdout.strip() == "12"
    refused = capacity_in_a_new_process("lots")
    assert refused.returncode != 0
    assert (
        "DAPR_AGENTS_DURABLE_WARM_EXECUTIONS must be a whole number" in refused.stderr
    )
