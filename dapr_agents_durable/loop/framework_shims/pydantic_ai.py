"""PydanticAI's clock and id helpers, made replay-stable on durable loops.

PydanticAI stamps every message with ``pydantic_ai._utils.now_utc()`` and gives each run
its ``run_id`` and ``conversation_id`` from ``pydantic_ai._uuid.uuid7()`` (wall clock
plus random bits). Both end up in the messages sent to the model, so without the shims
a model activity's input differs on every replay. On a durable loop ``now_utc`` returns
workflow time and ``uuid7`` builds a version-7 UUID from workflow time and the
execution's deterministic uuid4 stream. Tool call ids from
``pydantic_ai._utils.generate_tool_call_id`` come from ``uuid.uuid4``, which
:func:`~dapr_agents_durable.loop.drive` shims already.

Example::

    from dapr_agents_durable.loop.framework_shims import pydantic_ai
    pydantic_ai.install()
"""

from __future__ import annotations

import importlib
import uuid
from datetime import datetime

from dapr_agents_durable.loop.determinism import register_shim
from dapr_agents_durable.loop.execution import DurableExecution

_TIMESTAMP_BITS = 48
_RANDOM_BITS = 80
_VERSION_AND_VARIANT_MASK = (0xF000 << 64) | (0xC000 << 48)
_VERSION_7_FLAGS = (0x7000 << 64) | (0x8000 << 48)


def install() -> bool:
    """Register PydanticAI's shims; False (nothing done) without pydantic-ai installed."""
    try:
        utils = importlib.import_module("pydantic_ai._utils")
        uuid_module = importlib.import_module("pydantic_ai._uuid")
    except ImportError:
        return False
    register_shim(utils.now_utc, _durable_now_utc)
    register_shim(uuid_module.uuid7, _durable_uuid7)
    return True


def _durable_now_utc(execution: DurableExecution) -> datetime:
    """``now_utc()``: workflow time, an aware UTC datetime."""
    return execution.now()


def _durable_uuid7(execution: DurableExecution) -> uuid.UUID:
    """``uuid7()`` from workflow time (milliseconds) and deterministic random bits."""
    millis = int(execution.now().timestamp() * 1000) & ((1 << _TIMESTAMP_BITS) - 1)
    random_bits = execution.new_uuid4().int & ((1 << _RANDOM_BITS) - 1)
    value = (millis << _RANDOM_BITS) | (random_bits & ~_VERSION_AND_VARIANT_MASK)
    return uuid.UUID(int=value | _VERSION_7_FLAGS)
