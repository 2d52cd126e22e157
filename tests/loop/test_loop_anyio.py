"""anyio's asyncio backend on the durable loop (pydantic-ai runs on anyio)."""

from __future__ import annotations

import anyio
import anyio.to_thread
from offline_host import OfflineHost

from dapr_agents_durable.loop import DurableLoopError, current_execution, drive


def workflow_of(host: OfflineHost, name: str, main) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main))

    workflow.__name__ = name
    host.workflow(name)(workflow)


def add_model(host: OfflineHost) -> None:
    @host.activity("model")
    def model(ctx, prompt):
        return f"reply to {prompt}"


def test_anyio_to_thread_run_sync_works_and_its_thread_cannot_reach_seams() -> None:
    host = OfflineHost()
    add_model(host)

    def compute(n: int) -> int:
        return sum(range(n))

    def reach_seam() -> str:
        try:
            current_execution()
        except DurableLoopError as exc:
            return str(exc)
        return "reached"

    async def main() -> list:
        total = await anyio.to_thread.run_sync(compute, 10)
        refused = await anyio.to_thread.run_sync(reach_seam)
        await anyio.sleep(1)
        reply = await current_execution().call_activity("model", total)
        return [reply, refused]

    workflow_of(host, "anyio_main", main)
    result = host.run("anyio_main")
    assert result.status == "COMPLETED", result.failure_message
    reply, refused = result.output
    assert reply == "reply to 45"
    assert refused.startswith("No durable execution is running on this thread.")
    assert host.calls_of("model") == [45]


def test_anyio_task_groups_run_on_the_durable_loop() -> None:
    host = OfflineHost(order="lifo")
    add_model(host)

    async def main() -> list:
        replies: list[str] = []

        async def ask(prompt: str) -> None:
            replies.append(await current_execution().call_activity("model", prompt))

        async with anyio.create_task_group() as group:
            for prompt in ("x", "y"):
                group.start_soon(ask, prompt)
        return replies

    workflow_of(host, "anyio_group", main)
    result = host.run("anyio_group")
    assert sorted(result.output) == ["reply to x", "reply to y"]
    assert host.calls_of("model") == ["x", "y"]
