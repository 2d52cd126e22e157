"""Work completed by foreign threads, and seams reached from them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import DurableLoopError, current_execution, drive


def workflow_of(host: OfflineHost, name: str, main, **options) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main, **options))

    workflow.__name__ = name
    host.workflow(name)(workflow)


def add_echo(host: OfflineHost) -> None:
    @host.activity("echo")
    def echo(ctx, value):
        return value


def test_a_future_completed_from_a_foreign_thread_resumes_the_workflow() -> None:
    host = OfflineHost()
    add_echo(host)

    async def main() -> str:
        loop = asyncio.get_running_loop()
        handed_over = loop.create_future()

        def event_bus() -> None:
            loop.call_soon_threadsafe(handed_over.set_result, "handled")

        threading.Thread(target=event_bus).start()
        note = await handed_over
        return await current_execution().call_activity("echo", note)

    workflow_of(host, "bus", main)
    result = host.run("bus")
    assert (result.status, result.output) == ("COMPLETED", "handled")
    assert host.calls_of("echo") == ["handled"]


@pytest.mark.parametrize("order", ["fifo", "lifo", "batch"])
def test_wrap_foreign_results_land_before_the_loop_waits_on_the_engine(order) -> None:
    host = OfflineHost(order=order)
    add_echo(host)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)

    def slow_handler(n: int) -> str:
        threading.Event().wait(0.02)
        return f"handled {n}"

    async def main() -> list[str]:
        durable = current_execution()
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        for n in range(3):
            emitted = loop.wrap_foreign(pool.submit(slow_handler, n))
            requested = asyncio.ensure_future(durable.call_activity("echo", n))
            done, _ = await asyncio.wait(
                {emitted, requested}, return_when=asyncio.FIRST_COMPLETED
            )
            seen.append("foreign first" if emitted in done else "engine first")
            await asyncio.gather(emitted, requested)
        await durable.call_activity("echo", seen)
        return seen

    workflow_of(host, "foreign_replay", main)
    try:
        result = host.run("foreign_replay")
    finally:
        pool.shutdown()
    assert result.status == "COMPLETED", result.failure_message
    assert result.output == ["foreign first"] * 3
    assert host.calls_of("echo") == [0, 1, 2, ["foreign first"] * 3]


def test_a_seam_reached_from_a_framework_thread_raises_instead_of_running_directly() -> (
    None
):
    host = OfflineHost()
    add_echo(host)

    async def main() -> list[str]:
        durable = current_execution()
        errors: list[str] = []

        def framework_worker() -> None:
            for attempt in (
                current_execution,
                lambda: durable.call_activity("echo", "x"),
            ):
                try:
                    attempt()
                except DurableLoopError as exc:
                    errors.append(str(exc))

        worker = threading.Thread(target=framework_worker)
        worker.start()
        worker.join()
        return errors

    workflow_of(host, "threads", main)
    result = host.run("threads")
    no_execution, off_loop = result.output
    assert no_execution.startswith("No durable execution is running on this thread.")
    assert off_loop.startswith(
        "activity 'echo' was requested off the durable loop of Workflow"
    )
    assert host.activity_calls == []


def test_a_workflow_waiting_on_nothing_fails_as_stuck_instead_of_hanging() -> None:
    host = OfflineHost()

    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    workflow_of(host, "stuck", main, foreign_timeout=0.05)
    result = host.run("stuck")
    assert (result.status, result.failure_type) == ("FAILED", "DurableLoopError")
    assert result.failure_message.startswith(
        "Workflow 'stuck' (instance 'wf-1') is stuck"
    )
    assert "durable-main" in result.failure_message


def test_current_execution_outside_any_workflow_raises() -> None:
    with pytest.raises(
        DurableLoopError, match="No durable execution is running on this thread"
    ):
        current_execution()
