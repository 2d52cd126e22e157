from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from pydantic import BaseModel, TypeAdapter

from dapr_agents_durable.runtime.codec import Codec, CodecError, checked


class Weather(BaseModel):
    city: str
    at: dt.datetime


@dataclasses.dataclass
class Reply:
    text: str
    weather: Weather


def test_round_trip_through_type_adapter_keeps_types() -> None:
    codec = Codec(Reply, what="reply of agent 'w'")
    value = Reply("ok", Weather(city="Paris", at=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)))
    data = codec.encode(value)
    assert data == {"text": "ok", "weather": {"city": "Paris", "at": "2026-01-02T00:00:00Z"}}
    assert codec.decode(data) == value


def test_unserializable_value_names_its_owner() -> None:
    with pytest.raises(CodecError, match="tool 'lock' result: \\$.lock is a lock"):
        checked({"lock": threading.Lock()}, what="tool 'lock' result")


def test_nan_and_non_string_keys_are_refused() -> None:
    with pytest.raises(CodecError, match="nan"):
        checked([1.0, float("nan")], what="x")
    with pytest.raises(CodecError, match="non-string key"):
        checked({1: "a"}, what="x")


def test_oversized_payload_is_refused_with_the_size() -> None:
    with pytest.raises(CodecError, match="tool 'dump' result: 2000[0-9]* bytes"):
        checked("x" * 20_000, what="tool 'dump' result", max_bytes=10_000)


def test_known_secret_is_never_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-planted-secret-123456")
    with pytest.raises(CodecError, match="secret"):
        checked({"headers": {"Authorization": "Bearer sk-planted-secret-123456"}}, what="model input")
    assert checked({"headers": {}}, what="model input") == {"headers": {}}


def test_decode_error_names_the_payload() -> None:
    codec = Codec(TypeAdapter(Weather), what="stored weather")
    with pytest.raises(CodecError, match="stored weather: stored data does not decode"):
        codec.decode({"city": 3})


def test_compact_encoding_leaves_out_unset_fields_and_keeps_what_was_set() -> None:
    class Reading(BaseModel):
        city: str
        unit: str = "C"
        note: str | None = None

    codec = Codec(Reading, what="reading", compact=True)
    assert codec.encode(Reading(city="Oslo")) == {"city": "Oslo"}
    explicit = Reading(city="Oslo", note=None)
    back = codec.decode(codec.encode(explicit))
    assert back == explicit and back.model_fields_set == {"city", "note"}
