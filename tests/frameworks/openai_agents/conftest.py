from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dapr_agents_durable.runtime import get_runtime


@pytest.fixture(scope="session", autouse=True)
def durable_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    os.environ["DAPR_AGENTS_DURABLE_DB"] = str(tmp_path_factory.mktemp("engine") / "engine.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    yield
    get_runtime().stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
