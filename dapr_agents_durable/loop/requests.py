"""Durable requests and the journal that records them.

A durable request is one seam call (activity, child workflow, external event, timer)
that the driver turns into a workflow task. Every scheduled request is journaled as a
:class:`DurableStep` so a replay can be compared with what the history recorded.

Example::

    step = DurableStep(1, "activity", "model", canonical_json({"q": "hi"}), event_id=1)
    step.describe()   # "activity 'model' with input {\"q\":\"hi\"}"
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from dapr.ext.workflow import RetryPolicy
from dapr.ext.workflow._durabletask import task as sdk_task

from dapr_agents_durable.loop.errors import DurableLoopError

RequestKind = Literal["activity", "child workflow", "event", "timer"]

_SHOWN_INPUT_CHARS = 300


def canonical_json(value: Any, *, what: str = "value") -> str:
    """Encode a plain JSON value canonically (sorted keys, no spaces).

    Raises DurableLoopError naming ``what`` when the value is not plain JSON.
    """
    try:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise DurableLoopError(
            f"The input of {what} is not a plain JSON value ({exc}). Durable inputs cross "
            "the engine as JSON: convert framework objects with the framework's own "
            "serializer (model_dump(mode='json'), a TypeAdapter, to_dict()) before the "
            "call, and rebuild them from JSON on the other side."
        ) from exc


@dataclass
class DurableRequest:
    """One seam call waiting to become, or already being, a workflow task."""

    kind: RequestKind
    name: str
    input: Any
    input_json: str | None
    future: asyncio.Future[Any]
    retry_policy: RetryPolicy | None = None
    instance_id: str | None = None
    timeout: timedelta | None = None
    task: sdk_task.Task[Any] | None = field(default=None, repr=False)
    scheduled_at: datetime | None = None


@dataclass(frozen=True)
class HistoryStep:
    """What the workflow's history recorded at one action id."""

    kind: RequestKind
    name: str
    input_json: str | None

    def describe(self) -> str:
        """A short human description, e.g. ``activity 'model' with input {...}``."""
        return _describe(self.kind, self.name, self.input_json)


@dataclass(frozen=True)
class DurableStep:
    """One scheduled durable request, numbered from 1 within an execution."""

    number: int
    kind: RequestKind
    name: str
    input_json: str | None
    event_id: int | None

    def matches(self, recorded: HistoryStep) -> bool:
        """True when the history recorded this very request (kind, name and input)."""
        if self.kind != recorded.kind:
            return False
        if self.kind == "event":
            return self.name.casefold() == recorded.name.casefold()
        if self.kind == "timer":
            return True
        return self.name == recorded.name and self.input_json == recorded.input_json

    def describe(self) -> str:
        """A short human description, e.g. ``activity 'model' with input {...}``."""
        return _describe(self.kind, self.name, self.input_json)

    def difference(self, recorded: HistoryStep) -> str:
        """Where this request's input first differs from the recorded one's (same kind and name),
        e.g. `` The inputs first differ at set.tools[1]: recorded absent, now {...}.``; else ``""``."""
        if self.kind != recorded.kind or self.name != recorded.name or self.input_json is None:
            return ""
        try:
            now, then = json.loads(self.input_json), json.loads(recorded.input_json or "null")
        except ValueError:
            return ""
        found = _first_difference(then, now, "")
        if found is None:
            return ""
        path, old, new = found
        return f" The inputs first differ at {path or 'the top'}: recorded {old}, now {new}."


_ABSENT = object()


def _first_difference(then: Any, now: Any, path: str) -> tuple[str, str, str] | None:
    """The first path (depth first, in order) where two JSON values differ, and both values there."""
    if isinstance(then, dict) and isinstance(now, dict):
        for key in [*then, *(k for k in now if k not in then)]:
            found = _first_difference(then.get(key, _ABSENT), now.get(key, _ABSENT), f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    if isinstance(then, list) and isinstance(now, list):
        for index in range(max(len(then), len(now))):
            found = _first_difference(then[index] if index < len(then) else _ABSENT,
                                      now[index] if index < len(now) else _ABSENT, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    if then == now and type(then) is type(now):
        return None
    return path, _shown(then), _shown(now)


def _shown(value: Any) -> str:
    return "absent" if value is _ABSENT else _shorten(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _describe(kind: RequestKind, name: str, input_json: str | None) -> str:
    if kind == "timer":
        return "a timer"
    if kind == "event":
        return f"a wait for event {name!r}"
    shown = "no input" if input_json is None else f"input {_shorten(input_json)}"
    return f"{kind} {name!r} with {shown}"


def _shorten(text: str) -> str:
    if len(text) <= _SHOWN_INPUT_CHARS:
        return text
    return f"{text[:_SHOWN_INPUT_CHARS]}... ({len(text)} chars)"
