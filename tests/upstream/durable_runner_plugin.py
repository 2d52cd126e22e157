"""pytest plugin: run a framework's own test suite with the durable ``Runner`` swapped in.

Loaded with ``-p durable_runner_plugin`` before the suite's modules are imported, it
replaces ``agents.Runner`` (what ``from agents import Runner`` gives a test module or
an app) with :class:`dapr_agents_durable.adapters.openai_agents.Runner`, as a user who
changes the import does; the SDK's own modules keep their references. Runs go to an
embedded engine on a database of their own (``$DAPR_AGENTS_DURABLE_DB``, default a file
in the system's temporary folder). No upstream file is edited.
"""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault(
        "DAPR_AGENTS_DURABLE_DB",
        os.path.join(tempfile.mkdtemp(prefix="upstream-durable-"), "engine.db"),
    )
    import agents

    from dapr_agents_durable.adapters.openai_agents import Runner

    agents.Runner = Runner  # type: ignore[misc]
