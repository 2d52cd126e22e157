"""Fixtures of the crash tests: a :class:`Lab` per test, cleaned up whatever happens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crash_harness import Lab


@pytest.fixture(autouse=True)
def _no_dapr_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients in the test process talk to the test's engine only, without a token."""
    for name in [n for n in os.environ if n.startswith("DAPR_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Starts engines, workers and clients for one test; kills every process group at the end."""
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()
