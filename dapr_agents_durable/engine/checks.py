"""Checks of request fields that the engine cannot store or convert as sent."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

MIN_TIMESTAMP_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
MAX_ID_CHARS = 1024
"""Longest instance id, workflow/event name or version accepted."""


class InvalidArgument(ValueError):
    """A request field is out of range; the message names the field."""


def timestamp_seconds(field: str, ts: timestamp_pb2.Timestamp) -> float:
    """Seconds since the epoch of ``ts``, or :class:`InvalidArgument` outside years 1..9999."""
    if not MIN_TIMESTAMP_SECONDS <= ts.seconds <= MAX_TIMESTAMP_SECONDS or not 0 <= ts.nanos <= 999_999_999:
        raise InvalidArgument(
            f"{field} must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z "
            f"(seconds {MIN_TIMESTAMP_SECONDS}..{MAX_TIMESTAMP_SECONDS}, nanos 0..999999999), "
            f"got seconds={ts.seconds} nanos={ts.nanos}"
        )
    return ts.seconds + ts.nanos / 1e9


def identifier(field: str, value: str, *, required: bool = True) -> str:
    """``value`` if it is non-empty (unless not ``required``) and at most :data:`MAX_ID_CHARS` long."""
    if required and not value:
        raise InvalidArgument(f"{field} must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise InvalidArgument(f"{field} must be at most {MAX_ID_CHARS} characters, got {len(value)}")
    return value
