"""Determinism shims: uuid4 and registered helpers are replay-stable only on the loop."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from dataclasses import dataclass, field
from uuid import uuid4 as imported_uuid4

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import (
    current_execution,
    drive,
    register_shim,
    remove_shim,
)


def stamp(prefix: str = "at") -> str:
    """A framework clock helper."""
    return f"{prefix} wall clock"


stamp_alias = stamp


@dataclass
class Message:
    text: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def workflow_of(host: OfflineHost, name: str, main) -> None:
    def workflow(ctx, _):
        return (yield from drive(ctx, main))

    workflow.__name__ = name
    host.workflow(name)(workflow)


def add_echo(host: OfflineHost) -> None:
    @host.activity("echo")
    def echo(ctx, value):
        return value


@pytest.mark.parametrize("order", ["fifo", "lifo"])
def test_uuid4_on_the_loop_is_the_same_on_every_replay(order) -> None:
    host = OfflineHost(order=order)
    add_echo(host)

    def sync_ids() -> list[str]:
        return [str(imported_uuid4())]

    async def main() -> list[str]:
        durable = current_execution()
        ids = [
            str(uuid.uuid4()),
            str(Message("hi").id),
            *(await asyncio.to_thread(sync_ids)),
        ]
        await durable.call_activity("echo", ids)
        await durable.call_activity("echo", [str(uuid.uuid4())])
        return ids

    workflow_of(host, "ids", main)
    first = host.run("ids", instance_id="run-a")
    second = host.run("ids", instance_id="run-b")
    assert (first.status, second.status) == ("COMPLETED", "COMPLETED"), (
        first.failure_message
    )
    assert len(set(first.output)) == 3
    assert all(uuid.UUID(value).version == 4 for value in first.output)
    assert not set(first.output) & set(second.output)


def test_uuid4_off_the_loop_stays_random() -> None:
    assert uuid.uuid4() != uuid.uuid4()
    assert Message("a").id != Message("b").id


def test_a_registered_shim_covers_aliases_on_the_loop_only() -> None:
    host = OfflineHost()
    original_signature = inspect.signature(stamp)
    register_shim(
        stamp, lambda execution, prefix="at": f"{prefix} {execution.instance_id}"
    )
    try:
        assert stamp_alias() == "at wall clock"
        assert inspect.signature(stamp) == original_signature

        async def main() -> list[str]:
            return [stamp(), stamp_alias("since")]

        workflow_of(host, "stamped", main)
        assert host.run("stamped", instance_id="r7").output == ["at r7", "since r7"]
    finally:
        remove_shim(stamp)

    async def after_removal() -> str:
        return stamp()

    workflow_of(host, "unstamped", after_removal)
    assert host.run("unstamped").output == "at wall clock"


def test_builtins_and_closures_cannot_be_shimmed() -> None:
    def make_closure():
        captured = 1

        def closure() -> int:
            return captured

        return closure

    with pytest.raises(TypeError, match="builtins such as time.time"):
        register_shim(time.time, lambda execution: 0.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is a closure"):
        register_shim(make_closure(), lambda execution: 0)


def test_execution_now_follows_workflow_time() -> None:
    host = OfflineHost()

    async def main() -> list[str]:
        durable = current_execution()
        before = durable.now()
        await asyncio.sleep(90)
        return [before.isoformat(), durable.now().isoformat()]

    workflow_of(host, "clock", main)
    assert host.run("clock").output == [
        "2030-01-01T00:00:00+00:00",
        "2030-01-01T00:01:30+00:00",
    ]
