"""The idempotency key of the durable step running now (run id + step id).

An activity can run twice (at-least-once: the step in flight at a crash runs
again); a tool with external side effects can pass this key to the system it
calls so the second run is recognised.

Example::

    from dapr_agents_durable.runtime import idempotency_key

    @function_tool
    def pay(amount: int) -> str:
        payments.create(amount=amount, idempotency_key=idempotency_key())
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_key: ContextVar[str | None] = ContextVar("dapr_agents_durable_idempotency_key", default=None)


def idempotency_key() -> str:
    """The key of the durable step this code runs in; raises outside one."""
    key = _key.get()
    if key is None:
        raise LookupError("idempotency_key() is only available inside a durable tool or model call")
    return key


@contextlib.contextmanager
def step_key(run_id: str, step_id: str) -> Iterator[str]:
    """Make ``f"{run_id}:{step_id}"`` the current idempotency key for the block."""
    token = _key.set(f"{run_id}:{step_id}")
    try:
        yield f"{run_id}:{step_id}"
    finally:
        _key.reset(token)
