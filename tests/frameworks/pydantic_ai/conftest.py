"""PydanticAI runs offline, on a fresh embedded engine per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from dapr_agents_durable.runtime import DurableRuntime

models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture
def runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DurableRuntime]:
    for name in (
        "DAPR_GRPC_ENDPOINT",
        "DAPR_GRPC_PORT",
        "DAPR_API_TOKEN",
        "DAPR_AGENTS_DURABLE_DB",
    ):
        monkeypatch.delenv(name, raising=False)
    durable = DurableRuntime(db_path=str(tmp_path / "engine.db"))
    yield durable
    durable.stop()
