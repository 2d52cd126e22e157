"""Fixtures shared by every test environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dapr_agents_durable.loop import warm


@pytest.fixture
def cold_replay() -> Iterator[None]:
    """Warm executions off: every work item replays the workflow's code from scratch.

    For tests of replay itself (determinism shims, ids stable across replays).
    """
    previous = warm.capacity()
    warm.configure(0)
    yield
    warm.configure(previous)
