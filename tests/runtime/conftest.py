from __future__ import annotations

from collections.abc import Iterator

import pytest

from dapr_agents_durable.runtime import DurableRuntime


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT", "DAPR_API_TOKEN", "DAPR_AGENTS_DURABLE_DB", "DAPR_RUNTIME_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def runtime(tmp_path, clean_env) -> Iterator[DurableRuntime]:
    rt = DurableRuntime(db_path=str(tmp_path / "engine.db"))
    yield rt
    rt.stop()
