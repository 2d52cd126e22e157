"""pytest plugin: run a framework's own test suite with the durable ``Runner`` swapped in.

Loaded with ``-p durable_runner_plugin`` before the suite's modules are imported, it
replaces ``agents.Runner`` (what ``from agents import Runner`` gives a test module or
an app) with :class:`dapr_agents_durable.adapters.openai_agents.Runner`, as a user who
changes the import does; the SDK's own modules keep their references. Runs go to an
embedded engine on a database of their own (``$DAPR_AGENTS_DURABLE_DB``, default a file
in the system's temporary folder; under pytest-xdist each worker gets its own, suffixed
with the worker's id). No upstream file is edited.
"""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    database = os.environ.get("DAPR_AGENTS_DURABLE_DB") or os.path.join(
        tempfile.mkdtemp(prefix="upstream-durable-"), "engine.db"
    )
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    os.environ["DAPR_AGENTS_DURABLE_DB"] = f"{database}.{worker}" if worker else database
    import agents

    from dapr_agents_durable.adapters.openai_agents import Runner

    agents.Runner = Runner  # type: ignore[misc]
