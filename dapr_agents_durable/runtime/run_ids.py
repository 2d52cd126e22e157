"""Run ids derived from the run and the step that start them, so a retried step attaches.

A child run (an agent used as a tool, a delegated agent, a subgraph, a task) gets an
id that is a pure function of its parent run and the call that starts it; a run
started inside a tool activity without an id gets one derived from that tool call.
Replaying or retrying the parent then finds the same child instead of paying again.

Example::

    derived_run_id("trip-7", "delegate", "call_3")      # "trip-7-delegate-call_3"
    with nested_runs("trip-7", "call_3"):
        next_nested_run_id()                             # "trip-7-tool-run-call_3-1"
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import re
from collections.abc import Iterator
from contextvars import ContextVar

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def derived_run_id(parent_id: str, kind: str, *parts: str) -> str:
    """A run id that is a pure function of its parent run and the step that starts it.

    Readable (``"<parent>-<kind>-<parts>"``) when that is a valid Dapr instance id
    (letters, digits, ``-``, ``_``, at most 64 characters); otherwise ``"<kind>-<hash>"``.
    """
    readable = "-".join((parent_id, kind, *parts))
    if _SAFE_ID.fullmatch(readable):
        return readable
    digest = hashlib.sha256("\x1f".join((parent_id, kind, *parts)).encode()).hexdigest()[:32]
    return f"{kind}-{digest}"


@dataclasses.dataclass
class _NestedRuns:
    run_id: str
    call_id: str
    numbers: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))


_NESTED: ContextVar[_NestedRuns | None] = ContextVar("dapr_agents_durable_nested_runs", default=None)


@contextlib.contextmanager
def nested_runs(run_id: str, call_id: str) -> Iterator[None]:
    """Within the block (one tool call of ``run_id``), runs started without an id get
    :func:`next_nested_run_id`; every attempt of the call numbers its runs from 1 again."""
    token = _NESTED.set(_NestedRuns(run_id, call_id))
    try:
        yield
    finally:
        _NESTED.reset(token)


def next_nested_run_id() -> str | None:
    """The default id of a run started inside a tool activity, or None elsewhere."""
    scope = _NESTED.get()
    if scope is None:
        return None
    return derived_run_id(scope.run_id, "tool-run", scope.call_id, str(next(scope.numbers)))
