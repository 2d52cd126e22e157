"""Fixtures of the embedded engine's conformance suite (helpers live in ``engine_harness``).

Modules share one engine and one worker runtime (``module_factory``); tests that
need their own engine settings build them with ``factory`` (torn down per test).
"""

from __future__ import annotations

import pytest
from engine_harness import GATES, AppFactory

@pytest.fixture(autouse=True)
def _open_gates_after_test():
    """A failed test must not leave worker threads parked at a gate."""
    yield
    GATES.release_all()


@pytest.fixture(scope="module")
def module_factory(tmp_path_factory):
    """Engines, runtimes and clients shared by one test module."""
    factory = AppFactory(tmp_path_factory)
    yield factory
    factory.close()


@pytest.fixture
def factory(tmp_path_factory):
    """Engines, runtimes and clients of one test."""
    factory = AppFactory(tmp_path_factory)
    yield factory
    factory.close()
