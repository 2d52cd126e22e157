"""A thread's state between runs: LangGraph checkpoints as JSON, and graphs by name.

Each run drives the graph with a fresh ``InMemorySaver`` that lives in the workflow (it is
rebuilt identically on replay). A run's last checkpoint, encoded with the saver's own
serializer, is part of the workflow output; the next turn on the thread seeds its saver
with it, so a conversation survives a process restart whatever checkpointer the app
compiled its graph with.
"""

from __future__ import annotations

import base64
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel

from dapr_agents_durable.adapters.langgraph.cache import RecordedCache
from dapr_agents_durable.runtime import Registry

GRAPHS: Registry[Pregel[Any, Any, Any, Any]] = Registry("LangGraph graph")
"""Durable graphs by name (``durable(graph, name=...)``, default the compiled graph's name)."""


def thread_config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def encode_checkpoint(saver: InMemorySaver, thread_id: str) -> dict[str, Any] | None:
    """The thread's latest checkpoint and metadata, as JSON text of the saver's serializer."""
    latest = saver.get_tuple(thread_config(thread_id))  # type: ignore[arg-type]
    if latest is None:
        return None
    encoded = {}
    for part, value in (("checkpoint", latest.checkpoint), ("metadata", latest.metadata)):
        kind, data = saver.serde.dumps_typed(value)
        encoded[part] = {"type": kind, "data": base64.b64encode(data).decode("ascii")}
    return encoded


def seeded_saver(thread_id: str, encoded: dict[str, Any] | None) -> InMemorySaver:
    """A fresh ``InMemorySaver`` holding the thread's checkpoint (none for a first turn)."""
    saver = InMemorySaver()
    if encoded is not None:
        checkpoint, metadata = (
            saver.serde.loads_typed((encoded[part]["type"], base64.b64decode(encoded[part]["data"])))
            for part in ("checkpoint", "metadata")
        )
        saver.put(thread_config(thread_id), checkpoint, metadata, checkpoint["channel_versions"])  # type: ignore[arg-type]
    return saver


def on_saver(graph: Pregel[Any, Any, Any, Any], saver: InMemorySaver) -> Pregel[Any, Any, Any, Any]:
    """The graph compiled the same, checkpointing into ``saver``, its node cache read through the history."""
    update: dict[str, Any] = {"checkpointer": saver}
    if graph.cache is not None and not isinstance(graph.cache, RecordedCache):
        update["cache"] = RecordedCache(graph.cache)
    return graph.copy(update=update)
