from __future__ import annotations

import json

import pytest

from dapr_agents_durable.runtime.deltas import DeltaCache, DeltaEncoder


def _requests(turns: int) -> list[dict]:
    conversation: list[dict] = [{"role": "user", "content": "go"}]
    out = []
    for turn in range(turns):
        out.append({"system": "be brief", "tools": [{"name": "t", "schema": {"x": 1}}], "input": list(conversation)})
        conversation += [{"type": "call", "n": turn}, {"type": "output", "n": turn}]
    return out


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
    assert fresh.expand("run", payloads[7], lambda: payloads[:7]) == _requests(10)[7]


def test_a_rewritten_conversation_is_sent_in_full() -> None:
    encoder = DeltaEncoder()
    encoder.encode({"input": [1, 2, 3]})
    assert encoder.encode({"input": [9, 3]})["fields"]["input"] == {"value": [9, 3]}


def test_missing_base_is_a_clear_error() -> None:
    encoder = DeltaEncoder()
    payloads = [encoder.encode(r) for r in _requests(3)]
    with pytest.raises(LookupError, match="request 2 is not in the run's history"):
        DeltaCache().expand("run", payloads[2], lambda: payloads[:1])
