"""Fixtures shared by every test environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dapr_agents_durable.loop import warm

DEVELOPER_DAPR_ENV = (
    "DAPR_GRPC_ENDPOINT",
    "DAPR_GRPC_PORT",
    "DAPR_API_TOKEN",
    "DAPR_API_TIMEOUT_SECONDS",
    "DAPR_GRPC_MAX_INBOUND_MESSAGE_SIZE_BYTES",
    "DAPR_RUNTIME_HOST",
    "DAPR_AGENTS_DURABLE_DB",
)
"""What ``dapr run`` or a developer's shell may set; tests choose their engine explicitly."""


@pytest.fixture(scope="session", autouse=True)
def _no_developer_dapr_env() -> Iterator[None]:
    """Keep a developer's Dapr settings out of every suite: nothing connects to a real sidecar."""
    patch = pytest.MonkeyPatch()
    for name in DEVELOPER_DAPR_ENV:
        patch.delenv(name, raising=False)
    yield
    patch.undo()


@pytest.fixture
def cold_replay() -> Iterator[None]:
    """Warm executions off: every work item replays the workflow's code from scratch.

    For tests of replay itself (determinism shims, ids stable across replays).
    """
    previous = warm.capacity()
    warm.configure(0)
    yield
    warm.configure(previous)
