"""Bounded history for repeated requests: deltas of the previous request, and references.

An agent's model call carries the whole conversation, its tools and settings; storing
that in full at every turn makes history grow quadratically (a 100-turn run stores the
conversation 100 times). The workflow side encodes each request against the previous
one of the same run: fields that did not change are left out, list fields that only
grew carry just their new items. New items that the run's history already holds as an
activity's result (a model's output, a tool's output) are stored as references to that
result, so each conversation segment is stored once. The activity side expands the
payload from its cache, or, after a restart or on another worker, from the run's own
history (its earlier requests and the activity results they refer to).

Persisted format: the input of every request activity, so it lives in run histories
(changing it breaks runs in flight)::

    {"seq": 8,                      # this request's number in the run, from 1
     "base": 7,                     # the request it is a delta of (null: none)
     "set": {"tools": [...]},       # fields with a new value (all fields when base is null)
     "extend": {"input": [...]},    # list fields that only grew: their new items
     "drop": ["prompt"]}            # fields the request no longer has

Fields named in none of them are those of the base request; ``set``, ``extend`` and
``drop`` are left out when empty. In a list (a list value in ``set``, the new items in
``extend``) an object ``{"$ref": [[13, "9f3ab2c1"], [14, "0c5e27d4"]]}`` stands for the
items that the run's activities with task ids 13 and 14 (their ``taskScheduled`` event
ids) produced as their results, in that order, as the adapter maps results to items;
``"9f3ab2c1"`` is :func:`digest` of activity 13's items, so a copy held in memory is only
used when it is what the history recorded. A literal item that is itself an object with
a ``"$ref"`` key is stored as ``{"$ref": null, "item": <the item>}``.

Example::

    encoder = DeltaEncoder()                       # one per run, on the workflow side
    encoder.offer(13, tool_items)                  # after activity 13 returned
    payload = encoder.encode(request)              # what the request activity receives
    full = cache.expand(run_id, payload, recorded) # on the activity side
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

REF = "$ref"
"""The key that marks a reference (or an escaped literal) in a list of a payload."""

Resolve = Callable[[int, str], list[Any]]
"""The items a reference names: ``resolve(task_id, digest)``."""


def item_text(item: Any) -> str:
    """An item as compact JSON, keys in their order (what references are matched and digested on)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def digest(items: list[Any]) -> str:
    """The 8-hex-digit BLAKE2b digest of ``items`` as a compact JSON list."""
    return _digest_texts([item_text(item) for item in items])


def _digest_texts(texts: list[str]) -> str:
    return hashlib.blake2b(f"[{','.join(texts)}]".encode(), digest_size=4).hexdigest()


class DeltaEncoder:
    """Encodes successive requests of one run (deterministic: replays produce the same payloads).

    :meth:`offer` registers an activity result's items; a later request whose new list items
    contain exactly those items, in that order, names them by reference instead.
    """

    def __init__(self, max_offers: int = 256) -> None:
        self._seq = 0
        self._previous: dict[str, Any] | None = None
        self._offers: OrderedDict[int, list[str]] = OrderedDict()
        self._starts: dict[str, list[int]] = {}
        self._max_offers = max_offers

    def offer(self, task_id: int, items: list[Any]) -> None:
        """Items the run's activity ``task_id`` recorded as its result, for later requests to name."""
        if not items or task_id in self._offers:
            return
        texts = [item_text(item) for item in items]
        self._offers[task_id] = texts
        self._starts.setdefault(texts[0], []).append(task_id)
        while len(self._offers) > self._max_offers:
            self._forget(next(iter(self._offers)))

    def encode(self, request: dict[str, Any]) -> dict[str, Any]:
        """The payload for ``request``: a delta of the previous request, with references."""
        self._seq += 1
        previous, self._previous = self._previous, request
        payload: dict[str, Any] = {"seq": self._seq, "base": None if previous is None else self._seq - 1}
        changed: dict[str, Any] = {}
        extended: dict[str, list[Any]] = {}
        for key, value in request.items():
            before = _MISSING if previous is None else previous.get(key, _MISSING)
            if before is not _MISSING and before == value:
                continue
            if isinstance(value, list) and isinstance(before, list) and value[: len(before)] == before:
                extended[key] = self._with_references(value[len(before):])
            else:
                changed[key] = self._with_references(value) if isinstance(value, list) else value
        dropped = [] if previous is None else [key for key in previous if key not in request]
        for name, part in (("set", changed), ("extend", extended), ("drop", dropped)):
            if part:
                payload[name] = part
        return payload

    def _with_references(self, items: list[Any]) -> list[Any]:
        texts = [item_text(item) for item in items]
        encoded: list[Any] = []
        i = 0
        while i < len(items):
            task_id = self._take(texts, i)
            if task_id is None:
                encoded.append(_literal(items[i]))
                i += 1
                continue
            segment = self._offers.pop(task_id)
            self._unindex(task_id, segment[0])
            reference = [task_id, _digest_texts(segment)]
            if encoded and _is_reference(encoded[-1]):
                encoded[-1][REF].append(reference)
            else:
                encoded.append({REF: [reference]})
            i += len(segment)
        return encoded

    def _take(self, texts: list[str], start: int) -> int | None:
        for task_id in self._starts.get(texts[start], ()):
            segment = self._offers[task_id]
            if texts[start : start + len(segment)] == segment:
                return task_id
        return None

    def _forget(self, task_id: int) -> None:
        segment = self._offers.pop(task_id)
        self._unindex(task_id, segment[0])

    def _unindex(self, task_id: int, first: str) -> None:
        starts = self._starts[first]
        starts.remove(task_id)
        if not starts:
            del self._starts[first]


_MISSING = object()


def _is_reference(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get(REF), list)


def _literal(item: Any) -> Any:
    return {REF: None, "item": item} if isinstance(item, dict) and REF in item else item


def apply(base: dict[str, Any] | None, payload: dict[str, Any], resolve: Resolve | None = None) -> dict[str, Any]:
    """The full request ``payload`` encodes, given the full request it was encoded against.

    ``resolve(task_id, digest)`` gives the items of a reference (needed only when the payload has some).
    """
    if payload["base"] is not None and base is None:
        raise LookupError(f"request {payload['seq']} refers to an earlier request that is not available")
    full: dict[str, Any] = dict(base or {})
    for key in payload.get("drop", ()):
        full.pop(key, None)
    for key, value in payload.get("set", {}).items():
        full[key] = _expand_items(value, resolve, payload["seq"]) if isinstance(value, list) else value
    for key, items in payload.get("extend", {}).items():
        full[key] = list(full[key]) + _expand_items(items, resolve, payload["seq"])
    return full


def _expand_items(items: list[Any], resolve: Resolve | None, seq: int) -> list[Any]:
    expanded: list[Any] = []
    for item in items:
        if not (isinstance(item, dict) and REF in item):
            expanded.append(item)
        elif item[REF] is None:
            expanded.append(item["item"])
        elif resolve is None:
            raise LookupError(f"request {seq} refers to activity results, which are not available here")
        else:
            for task_id, expected in item[REF]:
                expanded.extend(resolve(task_id, expected))
    return expanded


class RecordedRun(Protocol):
    """What a run's history recorded, for expanding a payload without the cache."""

    def requests(self) -> Iterable[dict[str, Any]]:
        """The payloads of the run's requests, oldest first (a retried one once per attempt)."""
        ...

    def items(self, task_id: int) -> list[Any]:
        """The items the result of the run's activity ``task_id`` stands for; ``LookupError`` if none."""
        ...


@dataclass
class _RunEntry:
    requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: OrderedDict[int, tuple[str, str]] = field(default_factory=OrderedDict)


class DeltaCache:
    """Activity side: recent full requests and activity results per run, and history-based recovery.

    ``recorded`` (called at most once per expansion, and only when the cache falls short)
    gives the run's history as a :class:`RecordedRun`.
    """

    def __init__(self, max_runs: int = 1024, per_run: int = 3, results_per_run: int = 64) -> None:
        self._runs: OrderedDict[str, _RunEntry] = OrderedDict()
        self._lock = threading.Lock()
        self._max_runs = max_runs
        self._per_run = per_run
        self._results_per_run = results_per_run

    def remember(self, run_id: str, task_id: int, items: list[Any]) -> None:
        """Keep the items of activity ``task_id``'s result, for requests that refer to it."""
        texts = [item_text(item) for item in items]
        with self._lock:
            results = self._entry(run_id).results
            results[task_id] = (_digest_texts(texts), f"[{','.join(texts)}]")
            results.move_to_end(task_id)
            while len(results) > self._results_per_run:
                results.popitem(last=False)

    def expand(
        self, run_id: str, payload: dict[str, Any], recorded: Callable[[], RecordedRun]
    ) -> dict[str, Any]:
        """The full request ``payload`` encodes."""
        history = _Once(recorded)

        def resolve(task_id: int, expected: str) -> list[Any]:
            return self._resolve(run_id, task_id, expected, history)

        base_seq = payload["base"]
        if base_seq is None:
            self._restart(run_id)
        base = None if base_seq is None else self._get(run_id, base_seq)
        if base_seq is not None and base is None:
            base = self._rebuild(run_id, base_seq, history(), resolve)
        full = apply(base, payload, resolve)
        self._put(run_id, payload["seq"], full)
        return full

    def _resolve(self, run_id: str, task_id: int, expected: str, history: _Once) -> list[Any]:
        with self._lock:
            entry = self._runs.get(run_id)
            kept = entry.results.get(task_id) if entry else None
        if kept is not None and kept[0] == expected:
            return json.loads(kept[1])  # type: ignore[no-any-return]
        items = history().items(task_id)
        if digest(items) != expected:
            raise LookupError(
                f"run {run_id!r}: the recorded result of activity {task_id} is not the one its request referred to"
            )
        return items

    def _rebuild(self, run_id: str, seq: int, recorded: RecordedRun, resolve: Resolve) -> dict[str, Any]:
        full: dict[str, Any] | None = None
        last = 0
        for payload in recorded.requests():
            if payload["seq"] <= last:
                continue  # another attempt of a retried request
            if payload["base"] not in (None, last):
                raise LookupError(f"run {run_id!r}: request {payload['seq']} is not a delta of request {last}")
            full = apply(full if payload["base"] is not None else None, payload, resolve)
            last = payload["seq"]
            if last == seq:
                self._put(run_id, seq, full)
                return full
        raise LookupError(f"run {run_id!r}: request {seq} is not in the run's history")

    def _restart(self, run_id: str) -> None:
        """Forget the run's requests: a first request may start a new run under a purged run's id."""
        with self._lock:
            entry = self._runs.get(run_id)
            if entry is not None:
                entry.requests.clear()

    def _get(self, run_id: str, seq: int) -> dict[str, Any] | None:
        with self._lock:
            entry = self._runs.get(run_id)
            return entry.requests.get(seq) if entry else None

    def _put(self, run_id: str, seq: int, full: dict[str, Any]) -> None:
        with self._lock:
            requests = self._entry(run_id).requests
            requests[seq] = full
            for old in sorted(requests)[: max(len(requests) - self._per_run, 0)]:
                del requests[old]

    def _entry(self, run_id: str) -> _RunEntry:
        """The run's entry, most recently used (call with the lock held)."""
        entry = self._runs.setdefault(run_id, _RunEntry())
        self._runs.move_to_end(run_id)
        while len(self._runs) > self._max_runs:
            self._runs.popitem(last=False)
        return entry


class _Once:
    """``recorded()``, called on first use only."""

    def __init__(self, recorded: Callable[[], RecordedRun]) -> None:
        self._recorded = recorded
        self._value: RecordedRun | None = None

    def __call__(self) -> RecordedRun:
        if self._value is None:
            self._value = self._recorded()
        return self._value
