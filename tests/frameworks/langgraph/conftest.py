"""The process's durable runtime on an embedded engine db of this test session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dapr_agents_durable.runtime import get_runtime

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def durable_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    os.environ["DAPR_AGENTS_DURABLE_DB"] = str(tmp_path_factory.mktemp("engine") / "engine.db")
    yield
    get_runtime().stop()
