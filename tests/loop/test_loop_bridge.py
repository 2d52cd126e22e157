"""Sync code run through run_in_executor / asyncio.to_thread on the durable loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import (
    ActivityError,
    DurableLoopError,
    await_only,
    current_execution,
    drive,
)

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="unset"
)


def workflow_of(host: OfflineHost, name: str, main) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main))

    workflow.__name__ = name
    host.workflow(name)(workflow)


def add_model(host: OfflineHost) -> None:
    @host.activity("model")
    def model(ctx, prompt):
        return f"reply to {prompt}"


def sync_model_call(prompt: str) -> str:
    """A framework's sync seam: blocks on a durable activity through the bridge."""
    return await_only(current_execution().call_activity("model", prompt))


@pytest.mark.parametrize("order", ["fifo", "lifo", "batch"])
def test_to_thread_sync_code_can_await_durable_requests(order) -> None:
    host = OfflineHost(order=order)
    add_model(host)

    def sync_agent_step(prompt: str) -> list[str]:
        first = sync_model_call(prompt)
        return [first, sync_model_call(first)]

    async def main() -> list:
        return list(
            await asyncio.gather(
                asyncio.to_thread(sync_agent_step, "a"),
                asyncio.to_thread(sync_agent_step, "b"),
            )
        )

    workflow_of(host, "sync_steps", main)
    result = host.run("sync_steps")
    assert result.output == [
        ["reply to a", "reply to reply to a"],
        ["reply to b", "reply to reply to b"],
    ]
    assert sorted(host.calls_of("model")) == ["a", "b", "reply to a", "reply to b"]


def test_run_in_executor_runs_on_the_loop_thread_without_a_running_loop() -> None:
    host = OfflineHost()
    seen: dict[str, object] = {}

    def inspect_thread() -> int:
        seen["thread"] = threading.get_ident()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen["running_loop"] = None
        return 6 * 7

    async def main() -> int:
        seen["loop_thread"] = threading.get_ident()
        return await asyncio.get_running_loop().run_in_executor(None, inspect_thread)

    workflow_of(host, "inline", main)
    assert host.run("inline").output == 42
    assert seen == {
        "loop_thread": seen["thread"],
        "thread": seen["thread"],
        "running_loop": None,
    }


def test_to_thread_carries_context_variables_into_the_sync_code() -> None:
    host = OfflineHost()

    async def main() -> str:
        REQUEST_ID.set("req-7")
        return await asyncio.to_thread(REQUEST_ID.get)

    workflow_of(host, "ctxvars", main)
    assert host.run("ctxvars").output == "req-7"


def test_an_exception_in_sync_code_reaches_the_awaiting_coroutine() -> None:
    host = OfflineHost()
    add_model(host)

    @host.activity("fails")
    def fails(ctx, _):
        raise RuntimeError("model unavailable")

    def sync_call() -> str:
        return await_only(current_execution().call_activity("fails"))

    async def main() -> str:
        try:
            await asyncio.to_thread(sync_call)
        except ActivityError as exc:
            return exc.error_message
        return "no error"

    workflow_of(host, "sync_fails", main)
    assert host.run("sync_fails").output == "model unavailable"


def test_await_only_outside_bridged_sync_code_is_refused() -> None:
    host = OfflineHost()

    async def main() -> str:
        try:
            await_only(asyncio.sleep(0))
        except DurableLoopError as exc:
            return str(exc)
        return "allowed"

    workflow_of(host, "misuse", main)
    assert (
        "only works inside a function the durable loop runs"
        in host.run("misuse").output
    )
