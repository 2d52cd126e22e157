"""Fixtures of the loop's tests: warm executions are on (the default) unless a test asks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dapr_agents_durable.loop import warm


@pytest.fixture(autouse=True)
def no_warm_executions_left() -> Iterator[None]:
    """Every test starts and ends with no warm execution kept."""
    warm.clear()
    yield
    warm.clear()


@pytest.fixture
def keep_warm() -> Iterator[Callable[[int], None]]:
    """``keep_warm(n)`` keeps at most n warm executions for the test; the bound comes back after."""
    previous = warm.capacity()
    yield warm.configure
    warm.configure(previous)
