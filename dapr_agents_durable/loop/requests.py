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
