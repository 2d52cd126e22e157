"""Bounded history for repeated requests: send each request as a delta of the previous one.

An agent's model call carries the whole conversation, its tools and settings; storing
that in full at every turn makes history grow quadratically (a 100-turn run stores the
conversation 100 times). The workflow side encodes each request against the previous
one of the same run (list fields that only grew carry just their new items, unchanged
fields a marker); the activity side expands it from its cache, or, after a restart or
on another worker, from the earlier requests recorded in the run's own history.

Example::

    encoder = DeltaEncoder()                       # one per run, on the workflow side
    payload = encoder.encode(request)              # what the activity receives
    full = expand(run_id, payload, recorded)       # on the activity side
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

class DeltaEncoder:
    """Encodes successive requests of one run (deterministic: replays produce the same deltas)."""

    def __init__(self) -> None:
        self._seq = 0
        self._previous: dict[str, Any] | None = None

    def encode(self, request: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        previous, self._previous = self._previous, request
        if previous is None:
            return {"seq": self._seq, "base": None, "fields": {k: {"value": v} for k, v in request.items()}}
        fields: dict[str, Any] = {}
        for key, value in request.items():
            before = previous.get(key, _MISSING)
            if before == value:
                continue
            if isinstance(value, list) and isinstance(before, list) and value[: len(before)] == before:
                fields[key] = {"extend": value[len(before):]}
            else:
                fields[key] = {"value": value}
        return {"seq": self._seq, "base": self._seq - 1, "fields": fields}


_MISSING = object()


def apply(base: dict[str, Any] | None, payload: dict[str, Any]) -> dict[str, Any]:
    """The full request ``payload`` encodes, given the full request it was encoded against."""
    if payload["base"] is not None and base is None:
        raise LookupError(f"request {payload['seq']} refers to an earlier request that is not available")
    full: dict[str, Any] = dict(base or {})
    for key, field in payload["fields"].items():
        if "value" in field:
            full[key] = field["value"]
        else:
            full[key] = list(full[key]) + list(field["extend"])
    return full


class DeltaCache:
    """Activity side: the last expanded requests per run, and history-based recovery.

    ``recorded`` returns the payloads of the run's earlier requests, oldest first
    (read from the run's history), for when the cache does not hold the base.
    """

    def __init__(self, max_runs: int = 1024, per_run: int = 3) -> None:
        self._runs: OrderedDict[str, dict[int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_runs = max_runs
        self._per_run = per_run

    def expand(
        self, run_id: str, payload: dict[str, Any], recorded: Callable[[], Iterable[dict[str, Any]]]
    ) -> dict[str, Any]:
        base_seq = payload["base"]
        base = None if base_seq is None else self._get(run_id, base_seq)
        if base_seq is not None and base is None:
            base = self._rebuild(run_id, base_seq, recorded())
        full = apply(base, payload)
        self._put(run_id, payload["seq"], full)
        return full

    def _rebuild(self, run_id: str, seq: int, payloads: Iterable[dict[str, Any]]) -> dict[str, Any]:
        full: dict[str, Any] | None = None
        for payload in payloads:
            full = apply(full, payload)
            if payload["seq"] == seq:
                self._put(run_id, seq, full)
                return full
        raise LookupError(f"run {run_id!r}: request {seq} is not in the run's history")

    def _get(self, run_id: str, seq: int) -> dict[str, Any] | None:
        with self._lock:
            return self._runs.get(run_id, {}).get(seq)

    def _put(self, run_id: str, seq: int, full: dict[str, Any]) -> None:
        with self._lock:
            entries = self._runs.setdefault(run_id, {})
            self._runs.move_to_end(run_id)
            entries[seq] = full
            for old in sorted(entries)[: -self._per_run]:
                del entries[old]
            while len(self._runs) > self._max_runs:
                self._runs.popitem(last=False)
