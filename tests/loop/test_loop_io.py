"""I/O attempted on the durable loop fails the run with a pointer to activities."""

from __future__ import annotations

import asyncio

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import drive


async def open_socket() -> None:
    await asyncio.open_connection("127.0.0.1", 9)


async def start_process() -> None:
    await asyncio.create_subprocess_exec("true")


async def resolve_name() -> None:
    await asyncio.get_running_loop().getaddrinfo("localhost", 80)


@pytest.mark.parametrize(
    ("io", "method"),
    [
        (open_socket, "create_connection"),
        (start_process, "subprocess_exec"),
        (resolve_name, "getaddrinfo"),
    ],
)
def test_io_in_the_workflow_fails_the_run_naming_the_call_and_the_fix(
    io, method
) -> None:
    host = OfflineHost()

    @host.workflow("does_io")
    def does_io(ctx, _):
        return (yield from drive(ctx, io))

    result = host.run("does_io")
    assert (result.status, result.failure_type) == ("FAILED", "DurableLoopError")
    assert result.failure_message.startswith(
        f"loop.{method}() is not available inside a durable workflow"
    )
    assert "Do the I/O in an activity" in result.failure_message
