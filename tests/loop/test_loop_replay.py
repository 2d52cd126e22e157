"""Replays on the SDK's real orchestrator executor: activities, parallelism, failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from dapr.ext.workflow import RetryPolicy
from offline_host import OfflineHost

from dapr_agents_durable.loop import (
    ActivityError,
    DurableLoopError,
    current_execution,
    drive,
)

ORDERS = ["fifo", "lifo", "batch"]


def add_echo(host: OfflineHost) -> None:
    @host.activity("echo")
    def echo(ctx, value):
        return value


@pytest.mark.parametrize("order", ORDERS)
def test_sequential_activities_each_run_once_and_results_flow_back(order) -> None:
    host = OfflineHost(order=order)

    @host.activity("double")
    def double(ctx, x):
        return 2 * x

    async def main(x: int) -> list[int]:
        durable = current_execution()
        first = await durable.call_activity("double", x)
        second = await durable.call_activity("double", first)
        return [first, second]

    @host.workflow("chain")
    def chain(ctx, x):
        return (yield from drive(ctx, lambda: main(x)))

    result = host.run("chain", 5)
    assert (result.status, result.output) == ("COMPLETED", [10, 20])
    assert host.calls_of("double") == [5, 10]
    assert result.work_items == 3


@pytest.mark.parametrize("order", ORDERS)
def test_gather_schedules_parallel_requests_in_creation_order(order) -> None:
    host = OfflineHost(order=order)
    add_echo(host)

    async def main() -> list[str]:
        durable = current_execution()
        parallel = await asyncio.gather(
            *(durable.call_activity("echo", n) for n in "abcd")
        )
        tail = await durable.call_activity("echo", "".join(parallel))
        return [*parallel, tail]

    @host.workflow("fan_out")
    def fan_out(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("fan_out")
    assert result.output == ["a", "b", "c", "d", "abcd"]
    assert host.calls_of("echo") == ["a", "b", "c", "d", "abcd"]
    scheduled = [
        event.taskScheduled.name
        for event in result.history
        if event.HasField("taskScheduled")
    ]
    assert scheduled == ["echo"] * 5


@pytest.mark.parametrize("order", ORDERS)
def test_tasks_that_race_see_completions_in_history_order(order) -> None:
    host = OfflineHost(order=order)
    add_echo(host)
    finished: list[list[str]] = []

    async def worker(name: str, steps: int, log: list[str]) -> None:
        durable = current_execution()
        for step in range(steps):
            await durable.call_activity("echo", f"{name}{step}")
            log.append(f"{name}{step}")

    async def main() -> list[str]:
        log: list[str] = []
        await asyncio.gather(
            asyncio.create_task(worker("a", 2, log)),
            asyncio.create_task(worker("b", 3, log)),
        )
        finished.append(log)
        return log

    @host.workflow("race")
    def race(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("race")
    assert result.status == "COMPLETED"
    assert sorted(result.output) == ["a0", "a1", "b0", "b1", "b2"]
    # Every execution that reached the end saw the same interleaving.
    assert all(log == result.output for log in finished)
    assert sorted(host.calls_of("echo")) == ["a0", "a1", "b0", "b1", "b2"]


def test_asyncio_wait_first_completed_takes_what_history_delivered_first() -> None:
    host = OfflineHost(order="lifo")
    add_echo(host)

    async def main() -> str:
        durable = current_execution()
        first = asyncio.ensure_future(durable.call_activity("echo", "first"))
        second = asyncio.ensure_future(durable.call_activity("echo", "second"))
        done, pending = await asyncio.wait(
            {first, second}, return_when=asyncio.FIRST_COMPLETED
        )
        for loser in pending:
            loser.cancel()
        return done.pop().result()

    @host.workflow("wait_first")
    def wait_first(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("wait_first")
    assert result.output == "second"
    assert host.calls_of("echo") == ["first", "second"]


def test_a_failed_activity_surfaces_as_activity_error_with_type_and_message() -> None:
    host = OfflineHost()

    @host.activity("flaky")
    def flaky(ctx, _):
        raise LookupError("no such city")

    async def main() -> dict:
        try:
            await current_execution().call_activity("flaky", {"city": "Atlantis"})
        except ActivityError as err:
            return {
                "name": err.name,
                "type": err.error_type,
                "message": err.error_message,
            }
        return {}

    @host.workflow("catches")
    def catches(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("catches")
    assert result.output == {
        "name": "flaky",
        "type": "LookupError",
        "message": "no such city",
    }


def test_an_uncaught_activity_failure_fails_the_workflow_with_a_clear_message() -> None:
    host = OfflineHost()

    @host.activity("broken")
    def broken(ctx, _):
        raise ValueError("bad tool input")

    async def main() -> None:
        await current_execution().call_activity("broken", 1)

    @host.workflow("fails")
    def fails(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("fails")
    assert result.status == "FAILED"
    assert result.failure_type == "ActivityError"
    assert (
        result.failure_message
        == "activity 'broken' failed with ValueError: bad tool input"
    )


def test_a_retry_policy_retries_the_activity_durably() -> None:
    host = OfflineHost()
    attempts: list[int] = []

    @host.activity("eventually")
    def eventually(ctx, _):
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=2), max_number_of_attempts=3
    )

    async def main() -> str:
        return await current_execution().call_activity(
            "eventually", None, retry_policy=policy
        )

    @host.workflow("retries")
    def retries(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("retries")
    assert (result.status, result.output) == ("COMPLETED", "ok")
    assert len(attempts) == 3


def test_inputs_that_are_not_plain_json_are_refused_with_the_fix() -> None:
    host = OfflineHost()
    add_echo(host)

    async def main() -> str:
        try:
            current_execution().call_activity("echo", {"when": object()})
        except DurableLoopError as exc:
            return f"{type(exc).__name__}: {exc}"
        return "accepted"

    @host.workflow("bad_input")
    def bad_input(ctx, _):
        return (yield from drive(ctx, main))

    output = host.run("bad_input").output
    assert output.startswith(
        "DurableLoopError: The input of activity 'echo' is not a plain JSON value"
    )
    assert "serializer" in output
    assert host.activity_calls == []


def test_main_exceptions_fail_the_workflow_as_themselves() -> None:
    host = OfflineHost()

    async def main() -> None:
        raise KeyError("missing")

    @host.workflow("raises")
    def raises(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("raises")
    assert (result.status, result.failure_type) == ("FAILED", "KeyError")


def test_a_workflow_without_durable_requests_completes_in_one_work_item() -> None:
    host = OfflineHost()

    async def main(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @host.workflow("pure")
    def pure(ctx, x):
        return (yield from drive(ctx, lambda: main(x)))

    result = host.run("pure", 41)
    assert (result.output, result.work_items) == (42, 1)


def test_drive_can_be_returned_as_the_generator_itself() -> None:
    host = OfflineHost()
    add_echo(host)

    async def main() -> str:
        return await current_execution().call_activity("echo", "direct")

    @host.workflow("direct")
    def direct(ctx, _):
        return drive(ctx, main)

    assert host.run("direct").output == "direct"
