"""Node caching (``compile(cache=...)`` with ``CachePolicy``) in durable runs: each lookup recorded.

A cache hit skips its node, so a lookup decides which model and tool calls a run makes.
Read from the live cache again on a replay, it could answer otherwise (the entry expired,
a restarted process has an empty cache) and the run would no longer match its history. In
a durable run the graph's cache is read in a ``langgraph.cache`` activity, whose result
(the entries found, in the cache's own serializer) the history keeps, so a replay gets the
same answer; entries are written to the cache from live code only.

Example::

    graph.copy(update={"cache": RecordedCache(graph.cache)})
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.cache.base import BaseCache, FullKey, Namespace

from dapr_agents_durable.adapters.langgraph.calls import leave, take
from dapr_agents_durable.adapters.langgraph.names import CACHE_ACTIVITY
from dapr_agents_durable.loop import await_only, current_execution, on_durable_loop, side_effects_suppressed
from dapr_agents_durable.runtime.codec import JSONValue, checked


class RecordedCache(BaseCache[Any]):
    """``cache``, read through the run's history on a durable loop and as itself elsewhere."""

    def __init__(self, cache: BaseCache[Any]) -> None:
        super().__init__(serde=cache.serde)
        self.cache = cache

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        return await_only(self.aget(keys)) if on_durable_loop() else self.cache.get(keys)  # type: ignore[no-any-return]

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        if not on_durable_loop():
            return await self.cache.aget(keys)
        execution = current_execution()
        request = {"keys": [[list(namespace), key] for namespace, key in keys], "call": leave(execution, self.cache)}
        reply = await execution.call_activity(CACHE_ACTIVITY, checked(request, what="node cache lookup"))
        return {
            (Namespace(namespace), key): self.serde.loads_typed((kind, base64.b64decode(data)))
            for namespace, key, (kind, data) in reply["found"]
        }

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        if not side_effects_suppressed():
            self.cache.set(pairs)

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        if not side_effects_suppressed():
            await self.cache.aset(pairs)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        self.cache.clear(namespaces)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        await self.cache.aclear(namespaces)


async def cache_activity(ctx: Any, request: dict[str, Any]) -> JSONValue:
    """Look the run's node cache up: the entries found, each in the cache's serializer."""
    cache: BaseCache[Any] = await take(request["call"], ctx.workflow_id)
    found = await cache.aget([(Namespace(namespace), key) for namespace, key in request["keys"]])
    entries = []
    for (namespace, key), value in found.items():
        kind, data = cache.serde.dumps_typed(value)
        entries.append([list(namespace), key, [kind, base64.b64encode(data).decode("ascii")]])
    return checked({"found": entries}, what="node cache entries")
