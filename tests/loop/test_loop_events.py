"""External events: payloads, timeouts, buffering, abandoned waits."""

from __future__ import annotations

import asyncio

import pytest
from offline_host import NO_EVENT, OfflineHost

from dapr_agents_durable.loop import current_execution, drive


def event_workflow(host: OfflineHost, name: str, main) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main))

    workflow.__name__ = name
    host.workflow(name)(workflow)


@pytest.mark.parametrize("order", ["fifo", "lifo", "batch"])
def test_an_event_payload_resumes_the_waiting_coroutine(order) -> None:
    host = OfflineHost(order=order)

    @host.activity("act")
    def act(ctx, decision):
        return f"acted on {decision['approved']}"

    async def main() -> str:
        durable = current_execution()
        decision = await durable.wait_for_event("Approval")
        return await durable.call_activity("act", decision)

    event_workflow(host, "approve", main)
    result = host.run("approve", events={"approval": [{"approved": True}]})
    assert result.output == "acted on True"


def test_a_timeout_raises_asyncio_timeout_error_naming_the_event() -> None:
    host = OfflineHost()

    async def main() -> str:
        try:
            await current_execution().wait_for_event("approval", timeout=300)
        except TimeoutError as exc:
            return str(exc)
        return "no timeout"

    event_workflow(host, "expires", main)
    result = host.run("expires")
    assert (
        result.output == "No event 'approval' arrived within 0:05:00 of workflow time."
    )


def test_an_event_raised_before_the_wait_is_buffered_and_delivered() -> None:
    host = OfflineHost()

    async def main() -> list:
        durable = current_execution()
        await asyncio.sleep(5)
        return [await durable.wait_for_event("go"), await durable.wait_for_event("go")]

    event_workflow(host, "buffered", main)
    result = host.run("buffered", early_events=[("go", 1), ("go", 2)])
    assert result.output == [1, 2]


def test_successive_waits_for_one_name_get_successive_events() -> None:
    host = OfflineHost(order="lifo")

    async def main() -> list:
        durable = current_execution()
        return [await durable.wait_for_event("feedback") for _ in range(3)]

    event_workflow(host, "feedback_loop", main)
    result = host.run("feedback_loop", events={"feedback": ["a", "b", "c"]})
    assert result.output == ["a", "b", "c"]


def test_a_cancelled_wait_does_not_swallow_the_next_event_of_that_name() -> None:
    host = OfflineHost()

    async def main() -> str:
        durable = current_execution()
        try:
            await asyncio.wait_for(durable.wait_for_event("approval"), timeout=60)
        except TimeoutError:
            pass
        return await durable.wait_for_event("approval")

    event_workflow(host, "second_chance", main)
    result = host.run("second_chance", events={"approval": [NO_EVENT, "yes"]})
    assert (result.status, result.output) == ("COMPLETED", "yes")


def test_a_negative_timeout_is_refused() -> None:
    host = OfflineHost()

    async def main() -> str:
        try:
            current_execution().wait_for_event("x", timeout=-1)
        except ValueError as exc:
            return str(exc)
        return "accepted"

    event_workflow(host, "negative", main)
    assert host.run("negative").output == "timeout must not be negative, got -1"
