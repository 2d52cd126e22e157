"""PydanticAI runs offline, on one embedded engine per test session (the process's durable runtime)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from dapr_agents_durable.runtime import DurableRuntime, get_runtime

models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture(scope="session", autouse=True)
def durable_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    os.environ["DAPR_AGENTS_DURABLE_DB"] = str(tmp_path_factory.mktemp("engine") / "engine.db")
    yield
    get_runtime().stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[DurableRuntime]:
    """A runtime of its own on a fresh engine (for the seam tests that register workflows directly)."""
    durable = DurableRuntime(db_path=str(tmp_path / "engine.db"))
    yield durable
    durable.stop()
