"""A durable runtime on the embedded engine, with the LangGraph seams' activities."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from langgraph_seams import register_activities

from dapr_agents_durable.runtime import DurableRuntime


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DurableRuntime]:
    """One runtime per test module; it starts the embedded engine on its first run."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("DAPR_")]:
            patch.delenv(name)
        durable = DurableRuntime(
            db_path=str(tmp_path_factory.mktemp("engine") / "engine.db")
        )
        register_activities(durable)
        try:
            yield durable
        finally:
            durable.stop()
