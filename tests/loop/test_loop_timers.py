"""asyncio timers become durable timers on workflow time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import current_execution, drive

START = datetime(2030, 1, 1)
START_EPOCH = START.replace(tzinfo=UTC).timestamp()


def timer_fire_times(result) -> list[datetime]:
    return [
        event.timerCreated.fireAt.ToDatetime()
        for event in result.history
        if event.HasField("timerCreated")
    ]


def test_asyncio_sleep_becomes_a_durable_timer_and_advances_workflow_time() -> None:
    host = OfflineHost(start=START)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        before = loop.time()
        await asyncio.sleep(30)
        return [before, loop.time()]

    @host.workflow("sleeper")
    def sleeper(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("sleeper")
    before, after = result.output
    assert before == START_EPOCH
    assert after - before == 30.0
    assert timer_fire_times(result) == [START + timedelta(seconds=30)]
    assert result.work_items == 2


@pytest.mark.parametrize("order", ["fifo", "lifo", "batch"])
def test_concurrent_sleeps_wake_in_deadline_order_with_one_timer_each(order) -> None:
    host = OfflineHost(order=order, start=START)

    async def nap(seconds: int, woke: list[int]) -> None:
        await asyncio.sleep(seconds)
        woke.append(seconds)

    async def main() -> list[int]:
        woke: list[int] = []
        await asyncio.gather(nap(3, woke), nap(1, woke), nap(2, woke))
        return woke

    @host.workflow("naps")
    def naps(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("naps")
    assert result.output == [1, 2, 3]
    assert timer_fire_times(result) == [START + timedelta(seconds=s) for s in (1, 2, 3)]


def test_wait_for_timeout_on_a_durable_request_uses_a_durable_timer() -> None:
    host = OfflineHost(start=START)

    async def main() -> str:
        durable = current_execution()
        try:
            await asyncio.wait_for(durable.wait_for_event("never"), timeout=60)
        except TimeoutError:
            return (
                f"timed out at +{asyncio.get_running_loop().time() - START_EPOCH:.0f}s"
            )
        return "event arrived"

    @host.workflow("times_out")
    def times_out(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("times_out")
    assert result.output == "timed out at +60s"
    assert START + timedelta(seconds=60) in timer_fire_times(result)


def test_a_timer_interleaved_with_activities_replays_identically_under_lifo() -> None:
    host = OfflineHost(order="lifo", start=START)

    @host.activity("stamp")
    def stamp(ctx, value):
        return value

    async def ticker(out: list[str]) -> None:
        for tick in range(2):
            await asyncio.sleep(10)
            out.append(f"tick{tick}")

    async def main() -> list[str]:
        durable = current_execution()
        out: list[str] = []
        ticks = asyncio.create_task(ticker(out))
        for step in range(3):
            out.append(await durable.call_activity("stamp", f"step{step}"))
        await ticks
        return out

    @host.workflow("mixed")
    def mixed(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("mixed")
    assert result.status == "COMPLETED"
    assert result.output == ["step0", "step1", "step2", "tick0", "tick1"]
    assert host.calls_of("stamp") == ["step0", "step1", "step2"]
