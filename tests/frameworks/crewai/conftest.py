"""CrewAI runs offline and the durable runtime on its embedded engine.

CrewAI's telemetry and tracing are switched off, and its storage and home moved to a
temporary directory, before anything imports crewai; no Dapr sidecar is configured.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="crewai-home-")
os.environ.update(
    CREWAI_DISABLE_TELEMETRY="true",
    OTEL_SDK_DISABLED="true",
    CREWAI_TRACING_ENABLED="false",
    CREWAI_TESTING="true",
    CREWAI_STORAGE_DIR=os.path.join(_HOME, "storage"),
    HOME=_HOME,
)


@pytest.fixture(scope="session", autouse=True)
def _crewai_home() -> Iterator[str]:
    yield _HOME
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def durable_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from dapr_agents_durable.runtime import get_runtime

    os.environ["DAPR_AGENTS_DURABLE_DB"] = str(tmp_path_factory.mktemp("engine") / "engine.db")
    yield
    get_runtime().stop()
