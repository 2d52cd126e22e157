"""Retry classification: only failures a retry can fix are retried, after the provider's Retry-After."""

from __future__ import annotations

import asyncio
from typing import Any

from types import SimpleNamespace
import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError

from dapr_agents_durable.runtime.retries import fail_for_retry, is_transient, retry_after, within


class StatusError(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = SimpleNamespace(status_code=status, headers=headers or {})


class ConnectError(Exception):
    """Named as httpx's transport error is (the core environment has no httpx)."""


class ReadTimeout(Exception):
    """Named as httpx's read timeout is."""


class FrameworkError(Exception):
    """A framework's own error wrapping the provider's."""


def _wrapped(inner: BaseException) -> FrameworkError:
    try:
        raise FrameworkError("model call failed") from inner
    except FrameworkError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (StatusError(429), True),
        (StatusError(408), True),
        (StatusError(500), True),
        (StatusError(503), True),
        (StatusError(400), False),
        (StatusError(401), False),
        (StatusError(404), False),
        (ConnectionResetError("reset"), True),
        (TimeoutError("slow"), True),
        (ConnectError("refused"), True),
        (ReadTimeout("slow"), True),
        (ValueError("bad output"), False),
        (RuntimeError("boom"), False),
        (_wrapped(StatusError(502)), True),
        (_wrapped(StatusError(400)), False),
        (_wrapped(ConnectError("refused")), True),
    ],
)
def test_only_failures_a_retry_can_fix_are_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_retry_after_reads_seconds_and_milliseconds_and_is_capped() -> None:
    assert retry_after(StatusError(429, {"retry-after": "2"})) == 2.0
    assert retry_after(StatusError(429, {"retry-after-ms": "1500"})) == 1.5
    assert retry_after(StatusError(429, {"retry-after": "86400"})) == 60.0
    assert retry_after(StatusError(429, {"retry-after": "soon"})) == 0.0
    assert retry_after(_wrapped(StatusError(503, {"retry-after": "3"}))) == 3.0
    assert retry_after(ValueError("no response")) == 0.0


def test_permanent_failures_become_non_retryable_with_type_and_message() -> None:
    with pytest.raises(NonRetryableError, match=r"^ValueError: bad output$"):
        asyncio.run(fail_for_retry(ValueError("bad output")))
    with pytest.raises(StatusError):
        asyncio.run(fail_for_retry(StatusError(500)))


def test_within_names_the_call_that_timed_out() -> None:
    async def slow() -> Any:
        await asyncio.sleep(5)

    with pytest.raises(TimeoutError, match="the model of agent 'a' did not answer within 0.05 s"):
        asyncio.run(within(slow(), 0.05, what="the model of agent 'a'"))
    assert asyncio.run(within(asyncio.sleep(0, result=7), None, what="x")) == 7
