"""LangGraph checkpoint ids on the durable loop: replay-stable, strictly increasing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from langgraph.checkpoint.base.id import uuid6

from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.loop.framework_shims import langgraph as langgraph_shims
from dapr_agents_durable.runtime import DurableRuntime, get_runtime

executions: list[list[str]] = []


async def checkpoint_ids_main() -> list[str]:
    ids: list[str] = []
    executions.append(ids)
    ids += [str(uuid6(clock_seq=-2)), str(uuid6(clock_seq=0))]
    await current_execution().call_activity("langgraph_shims.echo", ids)
    ids += [str(uuid6(clock_seq=1)), str(uuid6())]
    return ids


def checkpoint_ids_workflow(ctx: Any, _: Any) -> Any:
    return (yield from drive(ctx, checkpoint_ids_main))


@pytest.fixture(scope="module")
def durable() -> DurableRuntime:
    langgraph_shims.install()
    runtime = get_runtime()
    runtime.register_workflow("langgraph_shims.checkpoint_ids", checkpoint_ids_workflow)
    runtime.register_activity("langgraph_shims.echo", lambda ctx, value: value)
    return runtime


@pytest.mark.usefixtures("cold_replay")
def test_checkpoint_ids_are_replay_stable_and_increasing(durable) -> None:
    state = durable.run(
        "langgraph_shims.checkpoint_ids", None, run_id="ids-1", timeout=120
    )
    ids = json.loads(state.serialized_output)

    assert len(executions) >= 2
    assert all(ids[: len(seen)] == seen for seen in executions)
    assert sorted(set(ids)) == ids and len(ids) == 4
    assert {uuid.UUID(value).version for value in ids} == {6}
    off_loop = uuid6(clock_seq=0)
    assert off_loop.version == 6 and str(off_loop) not in ids
