"""Abandoned executions are torn down at the end of their work item, on its thread.

These tests replay every work item cold (warm executions off), so each work item
leaves an execution to tear down; test_loop_warm.py covers teardown of warm ones.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask import worker as sdk_worker
from offline_host import OfflineHost

from dapr_agents_durable.loop import await_only, current_execution, drive

pytestmark = pytest.mark.usefixtures("cold_replay")


def workflow_of(host: OfflineHost, name: str, main) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main))

    workflow.__name__ = name
    host.workflow(name)(workflow)


def add_echo(host: OfflineHost) -> None:
    @host.activity("echo")
    def echo(ctx, value):
        return value


def test_each_work_items_execution_is_cancelled_before_the_next_one_starts() -> None:
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
            cancelled = sys.exc_info()[0] is asyncio.CancelledError
            marks.append(
                (
                    "exit",
                    threading.get_ident(),
                    cancelled,
                    durable.suppress_side_effects,
                )
            )

    workflow_of(host, "steps", main)
    result = host.run("steps")
    here = threading.get_ident()
    assert result.output == "done"
    torn_down = [("enter", here), ("exit", here, True, True)] * (result.work_items - 1)
    assert marks == [*torn_down, ("enter", here), ("exit", here, False, False)]


def test_durable_requests_made_during_teardown_are_cancelled_not_scheduled() -> None:
    host = OfflineHost()
    add_echo(host)
    refused: list[str] = []

    async def main() -> str:
        durable = current_execution()
        try:
            return await durable.call_activity("echo", "work")
        finally:
            if durable.is_tearing_down:
                try:
                    await durable.call_activity("cleanup")
                except asyncio.CancelledError:
                    refused.append("cleanup")

    workflow_of(host, "cleanup_in_finally", main)
    result = host.run("cleanup_in_finally")
    assert result.output == "work"
    assert refused == ["cleanup"] * (result.work_items - 1)
    assert host.calls_of("cleanup") == []


def test_sync_code_suspended_in_a_greenlet_is_unwound_on_its_own_thread() -> None:
    host = OfflineHost()
    add_echo(host)
    unwound: list[tuple[int, bool]] = []

    def sync_step() -> str:
        try:
            return await_only(current_execution().call_activity("echo", "sync"))
        finally:
            unwound.append((threading.get_ident(), current_execution().is_tearing_down))

    async def main() -> str:
        return await asyncio.to_thread(sync_step)

    workflow_of(host, "greenlet_teardown", main)
    assert host.run("greenlet_teardown").output == "sync"
    here = threading.get_ident()
    assert unwound == [(here, True), (here, False)]


def test_async_generators_and_background_tasks_are_closed_at_teardown() -> None:
    host = OfflineHost()
    add_echo(host)
    closed: list[str] = []

    async def stream():
        try:
            for item in range(10):
                yield item
        finally:
            closed.append("stream")

    async def heartbeat() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            closed.append("heartbeat")

    async def main() -> list[int]:
        durable = current_execution()
        asyncio.get_running_loop().create_task(heartbeat())
        seen = []
        async for item in stream():
            seen.append(await durable.call_activity("echo", item))
            if item == 1:
                break
        return seen

    workflow_of(host, "streams", main)
    result = host.run("streams")
    assert result.output == [0, 1]
    assert sorted(closed) == sorted(["stream", "heartbeat"] * result.work_items)


def test_journals_of_successive_executions_are_prefixes_of_the_last() -> None:
    host = OfflineHost(order="lifo")
    add_echo(host)
    journals: list[tuple] = []

    async def main() -> None:
        durable = current_execution()
        try:
            await asyncio.gather(durable.call_activity("echo", 1), asyncio.sleep(5))
            await durable.wait_for_event("go")
        finally:
            journals.append(durable.journal)

    workflow_of(host, "journaled", main)
    assert host.run("journaled", events={"go": [True]}).status == "COMPLETED"
    final = journals[-1]
    assert [(step.kind, step.name, step.input_json) for step in final] == [
        ("activity", "echo", "1"),
        ("timer", "", None),
        ("event", "go", None),
    ]
    assert [step.number for step in final] == [1, 2, 3]
    assert all(final[: len(journal)] == journal for journal in journals)


def make_context(instance_id: str) -> DaprWorkflowContext:
    ctx = sdk_worker._RuntimeOrchestrationContext(instance_id)
    return DaprWorkflowContext(ctx)


def test_closing_the_generator_tears_down_on_the_closing_thread() -> None:
    exits: list[bool] = []

    async def main() -> None:
        durable = current_execution()
        try:
            await durable.call_activity("echo", 1)
        finally:
            exits.append(durable.is_tearing_down)

    generator = drive(make_context("closed-here"), main)
    next(generator)
    generator.close()
    assert exits == [True]


def test_a_generator_closed_from_another_thread_runs_no_framework_code() -> None:
    exits: list[int] = []

    async def main() -> None:
        try:
            await current_execution().call_activity("echo", 1)
        finally:
            exits.append(threading.get_ident())

    generator = drive(make_context("closed-elsewhere"), main)
    next(generator)
    closer = threading.Thread(target=generator.close)
    closer.start()
    closer.join()
    assert exits == []
