"""pytest plugin: write every test's outcome to ``$UPSTREAM_OUTCOMES`` (JSON: node id -> outcome).

The outcome is ``passed``, ``failed`` (its call or setup/teardown failed) or ``skipped``;
``compare.py`` reads two such files (native and durable runs).
"""

from __future__ import annotations

import json
import os

import pytest

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed:
        _outcomes.setdefault(report.nodeid, "passed")


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("UPSTREAM_OUTCOMES")
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):  # under xdist the controller hears every report
        with open(path, "w", encoding="utf-8") as file:
            json.dump(_outcomes, file, indent=0, sort_keys=True)
