"""LangGraph's id helpers, made replay-stable on durable loops.

LangGraph stamps every checkpoint with ``langgraph.checkpoint.base.id.uuid6`` (wall
clock plus random bits). Task ids, checkpoint namespaces and therefore
``Interrupt.id`` derive from it, so without a shim an interrupt gets a new id on every
replay. On a durable loop the shim builds the same kind of version-6 UUID from
workflow time and the execution's deterministic uuid4 stream, strictly increasing per
execution (``InMemorySaver`` takes the greatest checkpoint id as the latest). Message
ids come from ``uuid.uuid4``, which :func:`~dapr_agents_durable.loop.drive` shims
already.

Example::

    from dapr_agents_durable.loop.framework_shims import langgraph as langgraph_shims
    langgraph_shims.install()
"""

from __future__ import annotations

import functools
import importlib
import uuid
import weakref

from dapr_agents_durable.loop.determinism import register_shim
from dapr_agents_durable.loop.execution import DurableExecution

# 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch.
_UUID_EPOCH_OFFSET = 0x01B21DD213814000

_last_timestamps: weakref.WeakKeyDictionary[DurableExecution, int] = (
    weakref.WeakKeyDictionary()
)


def install() -> bool:
    """Register LangGraph's shims; False (doing nothing) without langgraph installed."""
    try:
        id_module = importlib.import_module("langgraph.checkpoint.base.id")
    except ImportError:
        return False
    register_shim(
        id_module.uuid6, functools.partial(_durable_uuid6, uuid_type=id_module.UUID)
    )
    return True


def _durable_uuid6(
    execution: DurableExecution,
    node: int | None = None,
    clock_seq: int | None = None,
    *,
    uuid_type: type[uuid.UUID],
) -> uuid.UUID:
    """``uuid6(node, clock_seq)`` from workflow time and deterministic random bits."""
    micros = round(execution.now().timestamp() * 1_000_000)
    timestamp = micros * 10 + _UUID_EPOCH_OFFSET
    last = _last_timestamps.get(execution)
    if last is not None and timestamp <= last:
        timestamp = last + 1
    _last_timestamps[execution] = timestamp
    bits = execution.new_uuid4().int
    if clock_seq is None:
        clock_seq = bits >> 48
    if node is None:
        node = bits
    uuid_int = ((timestamp >> 12) & 0xFFFFFFFFFFFF) << 80
    uuid_int |= (timestamp & 0x0FFF) << 64
    uuid_int |= (clock_seq & 0x3FFF) << 48
    uuid_int |= node & 0xFFFFFFFFFFFF
    return uuid_type(int=uuid_int, version=6)
