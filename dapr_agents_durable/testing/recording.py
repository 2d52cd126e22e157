"""What the scripted model server records about each model request.

In memory, a :class:`RecordedRequest` keeps every header as sent, so a test can
assert that an ``Authorization`` header arrived. The JSONL request log written for
other processes never holds secrets: credential headers are replaced by
``"[redacted]"`` there, so only their presence can be checked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "openai-api-key", "cookie"}
)


@dataclass(frozen=True)
class RecordedRequest:
    """One model request as the server received it.

    ``number`` is 1-based and counts model requests only: ``POST /v1/chat/completions``
    and ``POST /v1/responses`` with a well-formed body (a request answered with HTTP
    400 or 404 is neither recorded nor counted). Request *n* is answered by script step
    *n*. Header names are lower-case; ``time`` is the arrival time (``time.time()``).

    Example::

        first = server.requests[0]
        assert first.headers["authorization"] == "Bearer sk-test"
        assert first.body["model"] == "gpt-4o-mini"
    """

    number: int
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    time: float

    @property
    def api(self) -> str:
        """``"chat.completions"`` or ``"responses"``."""
        return "responses" if self.path == RESPONSES_PATH else "chat.completions"

    @property
    def stream(self) -> bool:
        """Whether the client asked for a streamed (SSE) answer."""
        return self.body.get("stream") is True

    @property
    def tool_outputs(self) -> list[str]:
        """Tool results present in the conversation, in order, for either API.

        Chat Completions: the ``content`` of ``role: "tool"`` messages. Responses: the
        ``output`` of ``function_call_output`` input items. Non-string values are JSON.
        """
        if self.api == "responses":
            items = self.body.get("input")
            found = [item.get("output") for item in items or [] if isinstance(item, dict)
                     and item.get("type") == "function_call_output"] if isinstance(items, list) else []
        else:
            found = [message.get("content") for message in self.body.get("messages") or []
                     if isinstance(message, dict) and message.get("role") == "tool"]
        return [value if isinstance(value, str) else json.dumps(value) for value in found]

    def to_log_entry(self) -> dict[str, Any]:
        """The JSON-safe form written to the request log, with credential headers redacted."""
        headers = {name: REDACTED if name in SECRET_HEADERS else value for name, value in self.headers.items()}
        return {"number": self.number, "method": self.method, "path": self.path, "body": self.body,
                "headers": headers, "time": self.time}


def append_log_entry(path: str | os.PathLike[str], request: RecordedRequest) -> None:
    """Append one request, redacted, as a JSON line to ``path`` (flushed before returning)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(request.to_log_entry(), separators=(",", ":")) + "\n")
        handle.flush()


def read_request_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a request log written with ``log_path=`` / ``--log``; a missing file is an empty log.

    A last line cut short by a crash of the server process (no newline yet) is left out.

    Example::

        entries = read_request_log(tmp_path / "requests.jsonl")
        assert [entry["number"] for entry in entries] == [1, 2]
        assert entries[0]["headers"]["authorization"] == "[redacted]"
    """
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
    except FileNotFoundError:
        return []
    complete_lines = content.split("\n")[:-1]
    return [json.loads(line) for line in complete_lines if line]
