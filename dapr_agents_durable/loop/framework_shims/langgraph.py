"""LangGraph's id helpers, made replay-stable on durable loops.

LangGraph stamps every checkpoint with ``langgraph.checkpoint.base.id.uuid6`` (wall
clock plus random bits). Task ids, checkpoint namespaces and therefore
``Interrupt.id`` derive from it, so without a shim an interrupt gets a new id on every
replay. On a durable loop the shim builds the same kind of version-6 UUID from
workflow time and the execution's deterministic uuid4 stream, strictly increasing per
execution (``InMemorySaver`` takes the greatest checkpoint id as the latest). Message
ids come from ``uuid.uuid4``, which :func:`~dapr_agents_durable.loop.drive` shims
already. LangChain's callback run ids come from ``langchain_core.utils.uuid.uuid7``:
on a durable loop they are version-7 UUIDs of workflow time and a per-execution
counter, so a run started before a replay ends under the same id after it.

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
_uuid7_counts: weakref.WeakKeyDictionary[DurableExecution, int] = weakref.WeakKeyDictionary()
_UUID7_NAMESPACE = uuid.UUID("0b8f6e2a-5c1d-4f7e-9a3b-7d2e4c6f8a10")


def install() -> bool:
    """Register LangGraph's shims; False (doing nothing) without langgraph installed."""
    try:
        id_module = importlib.import_module("langgraph.checkpoint.base.id")
    except ImportError:
        return False
    register_shim(
        id_module.uuid6, functools.partial(_durable_uuid6, uuid_type=id_module.UUID)
    )
    register_shim(importlib.import_module("langchain_core.utils.uuid").uuid7, _durable_uuid7)
    return True


def _durable_uuid7(execution: DurableExecution, nanoseconds: int | None = None) -> uuid.UUID:
    """``uuid7()`` from workflow time and a per-execution counter (``nanoseconds`` as given)."""
    index = _uuid7_counts.get(execution, 0) + 1
    _uuid7_counts[execution] = index
    millis = (nanoseconds if nanoseconds is not None else round(execution.now().timestamp() * 1e9)) // 1_000_000
    bits = uuid.uuid5(_UUID7_NAMESPACE, f"{execution.instance_id}/{index}").int
    value = (millis & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | (bits >> 64 & 0xFFF) << 64 | 0b10 << 62 | (bits & (1 << 62) - 1)
    return uuid.UUID(int=value)


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
