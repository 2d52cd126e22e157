"""Calls a node made before its ``interrupt()`` or its failure, reused when the node runs again.

LangGraph resumes an interrupted node, and retries a failed one under its ``RetryPolicy``,
by running it again from its start, so a model or tool call made before is made (and paid)
again natively. In a durable run each node execution's calls are remembered by the node's
task (``checkpoint_ns``), in call order; after a resume, and in each new attempt of a
retried node, the task's re-run gets the remembered reply for each call that asks the same
as before, and only new calls (and calls that failed) become activities. The memory belongs to one
workflow execution, so a replay from the start rebuilds it identically.

Example::

    reply = recall(execution, task, digest)
    if reply is None:
        reply = await execution.call_activity(...)
        remember(execution, task, digest, reply)
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config
from langgraph._internal._constants import CONF, CONFIG_KEY_RUNTIME

from dapr_agents_durable.loop.execution import DurableExecution


@dataclass
class _Calls:
    replies: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    next: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)


_memory: weakref.WeakKeyDictionary[DurableExecution, _Calls] = weakref.WeakKeyDictionary()


def current_task() -> str | None:
    """The ``checkpoint_ns`` of the node task making this call (None outside a node)."""
    config = var_child_runnable_config.get() or {}
    return (config.get("configurable") or {}).get("checkpoint_ns") or None


def _attempt() -> int:
    """Which attempt of its node (``RetryPolicy``) the calling code runs in, 1 for the first."""
    runtime = ((var_child_runnable_config.get() or {}).get(CONF) or {}).get(CONFIG_KEY_RUNTIME)
    info = getattr(runtime, "execution_info", None)
    return int(getattr(info, "node_attempt", 1))


def digest(payload: Any) -> str:
    """A call's identity: its JSON payload (without in-process keys), hashed."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()


def recall(execution: DurableExecution, task: str | None, call: str) -> Any:
    """The reply this task got for the same call before the resume, or None."""
    if task is None:
        return None
    calls = _memory.setdefault(execution, _Calls())
    attempt = _attempt()
    if calls.attempts.get(task, attempt) != attempt:  # a retry runs the node again from its first call
        calls.next[task] = 0
    calls.attempts[task] = attempt
    index = calls.next.get(task, 0)
    calls.next[task] = index + 1
    earlier = calls.replies.get(task, [])
    if index < len(earlier) and earlier[index][0] == call:
        return earlier[index][1]
    del earlier[index:]  # the re-run asked something else: nothing after this point is reused
    return None


def remember(execution: DurableExecution, task: str | None, call: str, reply: Any) -> None:
    """Keep the reply of the task's latest call."""
    if task is not None:
        _memory.setdefault(execution, _Calls()).replies.setdefault(task, []).append((call, reply))


def resumed(execution: DurableExecution) -> None:
    """A resume starts: interrupted tasks run again from their first call."""
    calls = _memory.get(execution)
    if calls is not None:
        calls.next.clear()
