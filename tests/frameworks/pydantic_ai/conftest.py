"""PydanticAI runs offline, on a fresh embedded engine per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from dapr_agents_durable.runtime import DurableRuntime

models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[DurableRuntime]:
    durable = DurableRuntime(db_path=str(tmp_path / "engine.db"))
    yield durable
    durable.stop()
