"""Objects a flow's code makes while it runs (LLMs, tools), found again by their activities.

A ``crewai.flow`` run's LLMs and tools are often made inside its methods, so no name
finds them: the seam registers each under ``"<run id>/<key>"`` when the flow's code calls
it. After a restart the call's activity can be dispatched before its workflow replays,
so :func:`live` wakes the run up, and its replay, reaching the call, registers it again.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from dapr_agents_durable.runtime import Registry, get_runtime
from dapr_agents_durable.runtime.registry import registered

T = TypeVar("T")


async def live(registry: Registry[T], root: str, key: str) -> T:
    """For an activity of run ``root``: the object registered under ``key``, waiting for the run's replay."""
    found = registry.get(f"{root}/{key}")
    if found is None:
        await asyncio.to_thread(get_runtime().wake, root)
        found = await registered(registry, f"{root}/{key}")
    return found
