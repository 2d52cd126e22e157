from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from dapr_agents_durable.runtime.deltas import DeltaCache, DeltaEncoder, apply, digest


def _requests(turns: int) -> list[dict]:
    conversation: list[dict] = [{"role": "user", "content": "go"}]
    out = []
    for turn in range(turns):
        out.append({"system": "be brief", "tools": [{"name": "t", "schema": {"x": 1}}], "input": list(conversation)})
        conversation += [{"type": "call", "n": turn}, {"type": "output", "n": turn}]
    return out


class _History:
    """A run's recorded requests and activity results, as the activity side reads them from history."""

    def __init__(self, payloads: list[dict], results: dict[int, list[Any]]) -> None:
        self.payloads = payloads
        self.results = results
        self.reads = 0

    def requests(self) -> Iterable[dict]:
        self.reads += 1
        return list(self.payloads)

    def items(self, task_id: int) -> list[Any]:
        self.reads += 1
        if task_id not in self.results:
            raise LookupError(f"no result for {task_id}")
        return json.loads(json.dumps(self.results[task_id]))


class _ToolLoop:
    """A model/tool loop on the workflow side: each turn a model result and a tool result (task ids 2n+1, 2n+2)."""

    def __init__(self) -> None:
        self.encoder = DeltaEncoder()
        self.conversation: list[dict] = [{"role": "user", "content": "go"}]
        self.payloads: list[dict] = []
        self.requests: list[dict] = []
        self.results: dict[int, list[Any]] = {}

    def turn(self, n: int) -> dict:
        request = {"system": "be brief", "input": list(self.conversation)}
        payload = self.encoder.encode(request)
        self.requests.append(request)
        self.payloads.append(payload)
        model_items = [{"type": "function_call", "call_id": f"c{n}", "arguments": json.dumps({"n": n})}]
        tool_items = [{"call_id": f"c{n}", "output": f"noted {n}", "type": "function_call_output"}]
        for task_id, items in ((2 * n + 1, model_items), (2 * n + 2, tool_items)):
            self.results[task_id] = items
            self.encoder.offer(task_id, items)
        self.conversation += model_items + tool_items
        return payload


def test_deltas_expand_back_to_every_full_request() -> None:
    encoder, cache = DeltaEncoder(), DeltaCache()
    for request in _requests(20):
        payload = encoder.encode(request)
        assert cache.expand("run", payload, lambda: pytest.fail("history not needed while cached")) == request


def test_payload_size_stays_flat_as_the_conversation_grows() -> None:
    encoder = DeltaEncoder()
    sizes = [len(json.dumps(encoder.encode(r))) for r in _requests(50)]
    assert sizes[-1] - sizes[2] < 10  # only the step numbers' digits grow
    assert sizes[-1] < sizes[0]


def test_cache_miss_rebuilds_from_the_recorded_payloads() -> None:
    encoder = DeltaEncoder()
    payloads = [encoder.encode(r) for r in _requests(10)]
    fresh = DeltaCache()  # e.g. after a restart or on another worker
    assert fresh.expand("run", payloads[7], lambda: _History(payloads[:7], {})) == _requests(10)[7]


def test_the_first_request_sets_every_field_and_unchanged_fields_are_left_out() -> None:
    encoder = DeltaEncoder()
    first = encoder.encode({"system": "s", "input": [1]})
    second = encoder.encode({"system": "s", "input": [1, 2]})
    assert first == {"seq": 1, "base": None, "set": {"system": "s", "input": [1]}}
    assert second == {"seq": 2, "base": 1, "extend": {"input": [2]}}


def test_a_rewritten_conversation_is_sent_in_full() -> None:
    encoder = DeltaEncoder()
    encoder.encode({"input": [1, 2, 3]})
    assert encoder.encode({"input": [9, 3]})["set"]["input"] == [9, 3]


def test_a_field_the_request_no_longer_has_is_dropped() -> None:
    encoder, cache = DeltaEncoder(), DeltaCache()
    history = _History([], {})
    cache.expand("run", encoder.encode({"input": [1], "prompt": "p"}), lambda: history)
    payload = encoder.encode({"input": [1]})
    assert payload["drop"] == ["prompt"]
    assert cache.expand("run", payload, lambda: history) == {"input": [1]}


def test_missing_base_is_a_clear_error() -> None:
    encoder = DeltaEncoder()
    payloads = [encoder.encode(r) for r in _requests(3)]
    with pytest.raises(LookupError, match="request 2 is not in the run's history"):
        DeltaCache().expand("run", payloads[2], lambda: _History(payloads[:1], {}))


def test_new_items_that_are_offered_results_go_by_reference() -> None:
    loop = _ToolLoop()
    for n in range(3):
        payload = loop.turn(n)  # turn 2 adds the model and tool results of turn 1: activities 3 and 4
    assert payload["extend"]["input"] == [{"$ref": [[3, digest(loop.results[3])], [4, digest(loop.results[4])]]}]


def test_references_expand_from_memory_then_from_history_alone() -> None:
    loop = _ToolLoop()
    cache = DeltaCache()
    history = _History(loop.payloads, loop.results)
    for n in range(12):
        payload = loop.turn(n)
        for task_id in (2 * n - 1, 2 * n):  # the activity side keeps what it produced
            if task_id in loop.results:
                cache.remember("run", task_id, loop.results[task_id])
        assert cache.expand("run", payload, lambda: history) == loop.requests[-1]
    assert history.reads == 0
    for payload, request in zip(loop.payloads, loop.requests, strict=True):
        assert DeltaCache().expand("run", payload, lambda: history) == request


def test_references_only_replace_exactly_equal_items() -> None:
    encoder = DeltaEncoder()
    encoder.encode({"input": []})
    encoder.offer(1, [{"a": 1, "b": 2}])
    encoder.offer(2, [{"n": 1}])
    encoder.offer(3, [{"x": 1}, {"y": 2}])
    payload = encoder.encode({"input": [{"b": 2, "a": 1}, {"n": 1.0}, {"n": True}, {"x": 1}]})
    assert payload["extend"]["input"] == [{"b": 2, "a": 1}, {"n": 1.0}, {"n": True}, {"x": 1}]


def test_a_result_is_referred_to_once_and_old_offers_expire() -> None:
    encoder = DeltaEncoder(max_offers=2)
    encoder.encode({"input": []})
    for task_id in (1, 2, 3):
        encoder.offer(task_id, [{"t": task_id}])
    payload = encoder.encode({"input": [{"t": 1}, {"t": 2}, {"t": 2}]})
    assert payload["extend"]["input"] == [{"t": 1}, {"$ref": [[2, digest([{"t": 2}])]]}, {"t": 2}]


def test_literal_items_that_look_like_references_round_trip() -> None:
    encoder, cache = DeltaEncoder(), DeltaCache()
    history = _History([], {})
    cache.expand("run", encoder.encode({"input": []}), lambda: history)
    odd = [{"$ref": [[1, "00000000"]]}, {"$ref": None, "item": 1}]
    payload = encoder.encode({"input": odd})
    assert payload["extend"]["input"] == [{"$ref": None, "item": item} for item in odd]
    assert cache.expand("run", payload, lambda: history) == {"input": odd}


def test_a_kept_result_that_is_not_the_recorded_one_is_not_used() -> None:
    loop = _ToolLoop()
    cache = DeltaCache()
    history = _History(loop.payloads, loop.results)
    cache.expand("run", loop.turn(0), lambda: history)
    # An execution of activity 1 whose result lost to another execution's (at-least-once).
    cache.remember("run", 1, [{"type": "function_call", "call_id": "c0", "arguments": "{\"n\": 99}"}])
    cache.remember("run", 2, loop.results[2])
    assert cache.expand("run", loop.turn(1), lambda: history) == loop.requests[-1]
    assert history.reads == 1


def test_a_history_that_does_not_hold_the_referenced_result_is_an_error() -> None:
    loop = _ToolLoop()
    loop.turn(0)
    payload = loop.turn(1)
    changed = dict(loop.results)
    changed[2] = [{"call_id": "c0", "output": "something else", "type": "function_call_output"}]
    with pytest.raises(LookupError, match="activity 2 is not the one its request referred to"):
        DeltaCache().expand("run", payload, lambda: _History(loop.payloads, changed))


def test_a_retried_request_recorded_twice_is_applied_once() -> None:
    loop = _ToolLoop()
    for n in range(4):
        loop.turn(n)
    recorded = [loop.payloads[0], loop.payloads[1], loop.payloads[1], loop.payloads[2], loop.payloads[3]]
    assert DeltaCache().expand("run", loop.payloads[3], lambda: _History(recorded, loop.results)) == loop.requests[3]


def test_encoding_is_deterministic() -> None:
    first, second = _ToolLoop(), _ToolLoop()
    for n in range(10):
        assert json.dumps(first.turn(n)) == json.dumps(second.turn(n))


def test_apply_without_a_resolver_rejects_references() -> None:
    loop = _ToolLoop()
    full = apply(None, loop.turn(0))
    with pytest.raises(LookupError, match="refers to activity results"):
        apply(full, loop.turn(1))


def test_a_new_list_value_refers_to_offered_results_too() -> None:
    encoder, cache = DeltaEncoder(), DeltaCache()
    history = _History([], {1: [{"out": 1}]})
    cache.expand("run", encoder.encode({"input": [{"in": 0}]}), lambda: history)
    encoder.offer(1, [{"out": 1}])
    payload = encoder.encode({"input": [{"out": 1}, {"in": 2}]})  # not an extension: sent whole
    assert payload["set"]["input"] == [{"$ref": [[1, digest([{"out": 1}])]]}, {"in": 2}]
    assert cache.expand("run", payload, lambda: history) == {"input": [{"out": 1}, {"in": 2}]}


def test_a_new_run_under_a_reused_id_does_not_extend_the_old_one() -> None:
    cache = DeltaCache()
    old, new = _ToolLoop(), _ToolLoop()
    new.conversation = [{"role": "user", "content": "a different question"}]
    for n in range(5):
        cache.expand("run", old.turn(n), lambda: _History(old.payloads, old.results))
    # The old run was purged and its id reused: the new run's requests expand against its own.
    history = _History(new.payloads, new.results)
    for n in range(5):
        assert cache.expand("run", new.turn(n), lambda: history) == new.requests[-1]
        for task_id in (2 * n + 1, 2 * n + 2):
            cache.remember("run", task_id, new.results[task_id])
    assert history.reads == 0
