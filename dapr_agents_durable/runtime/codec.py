"""Explicit JSON for everything that crosses an activity or workflow boundary.

Framework objects are converted with the framework's own adapters (pydantic
``TypeAdapter``s and message adapters), never pickled and never left to the Dapr
SDK's duck-typed encoder (which turns dataclasses into ``SimpleNamespace`` and
models into plain dicts). Every payload is checked before it is persisted: it must
be plain JSON, fit the size limit, and carry no secret the process knows of.

Example::

    from pydantic import TypeAdapter
    codec = Codec(TypeAdapter(list[int]), what="tool 'sum' result")
    data = codec.encode([1, 2])       # [1, 2], checked
    codec.decode(data)                # [1, 2]
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")
V = TypeVar("V")

JSONValue = None | bool | int | float | str | list[Any] | dict[str, Any]

DEFAULT_MAX_PAYLOAD_BYTES = 3 * 1024 * 1024
"""Largest encoded payload (below Dapr's 4 MiB message limit, leaving room for the envelope)."""

SECRET_ENV_VARS = (
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GROQ_API_KEY",
    "MISTRAL_API_KEY",
    "COHERE_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "LITELLM_API_KEY",
    "DAPR_API_TOKEN",
)
"""Environment variables whose values must never appear in a persisted payload."""


class CodecError(TypeError):
    """A value cannot be persisted; the message names what it belongs to and the fix."""


def _known_secrets() -> list[str]:
    return [v for v in (os.environ.get(name) for name in SECRET_ENV_VARS) if v and len(v) >= 8]


def _check_plain(value: Any, what: str, path: str = "$") -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(f"{what}: {path} is {value}, which JSON cannot hold")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, what, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"{what}: {path} has a non-string key {key!r}; JSON object keys are strings")
            _check_plain(item, what, f"{path}.{key}")
        return
    raise CodecError(
        f"{what}: {path} is a {type(value).__qualname__}, which is not JSON; return str, numbers, "
        "lists, dicts or a pydantic model instead (clients, files and connections cannot be persisted)"
    )


def checked(value: V, *, what: str, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> V:
    """``value`` if it is plain JSON within ``max_bytes`` and free of known secrets, else :class:`CodecError`."""
    _check_plain(value, what)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    size = len(text.encode())
    if size > max_bytes:
        raise CodecError(
            f"{what}: {size} bytes encoded, more than the {max_bytes}-byte limit for one durable step; "
            "return less data (store large blobs elsewhere and return a reference)"
        )
    for secret in _known_secrets():
        if secret in text:
            raise CodecError(
                f"{what}: contains the value of a secret environment variable; secrets must stay in "
                "the worker (read them from the environment inside the activity) and never be persisted"
            )
    return value


class Codec(Generic[T]):
    """Encode/decode one type with a pydantic ``TypeAdapter`` (``mode="json"``), checked.

    Example::

        codec = Codec(TypeAdapter(ModelResponse), what="model response of agent 'triage'")
        restored = codec.decode(codec.encode(response))
    """

    def __init__(
        self,
        adapter: TypeAdapter[T] | type[T],
        *,
        what: str,
        max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        compact: bool = False,
    ):
        self.adapter: TypeAdapter[T] = adapter if isinstance(adapter, TypeAdapter) else TypeAdapter(adapter)
        self.what = what
        self.max_bytes = max_bytes
        self.compact = compact
        """Leave out fields never set (decoding restores them as unset): smaller history, same objects."""

    def encode(self, value: T, *, what: str | None = None) -> JSONValue:
        label = what or self.what
        try:
            data = self.adapter.dump_python(value, mode="json", exclude_unset=self.compact)
        except Exception as exc:  # pydantic raises several types for unserializable values
            raise CodecError(f"{label}: cannot be encoded as JSON ({exc})") from exc
        return checked(data, what=label, max_bytes=self.max_bytes)

    def decode(self, data: JSONValue, *, what: str | None = None) -> T:
        try:
            return self.adapter.validate_python(data)
        except ValidationError as exc:
            raise CodecError(f"{what or self.what}: stored data does not decode ({exc})") from exc
