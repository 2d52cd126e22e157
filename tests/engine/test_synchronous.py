"""$DAPR_AGENTS_DURABLE_SYNCHRONOUS chooses SQLite's synchronous setting: NORMAL (default) or FULL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dapr_agents_durable.engine import EmbeddedEngine, EngineConfig
from dapr_agents_durable.engine.config import SYNCHRONOUS_ENV

SQLITE_SYNCHRONOUS = {1: "NORMAL", 2: "FULL"}


def _setting(engine: EmbeddedEngine) -> str:
    return SQLITE_SYNCHRONOUS[engine._store._db.execute("PRAGMA synchronous").fetchone()[0]]


@pytest.mark.parametrize(("value", "expected"), [(None, "NORMAL"), ("normal", "NORMAL"), ("FULL", "FULL"), (" full ", "FULL")])
def test_the_setting_reaches_the_database(value: str | None, expected: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(SYNCHRONOUS_ENV, raising=False)
    else:
        monkeypatch.setenv(SYNCHRONOUS_ENV, value)
    engine = EmbeddedEngine(EngineConfig.from_env(db_path=str(tmp_path / "engine.db"), port=0)).start()
    try:
        assert _setting(engine) == expected
    finally:
        engine.stop()
    assert sqlite3.connect(tmp_path / "engine.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_bad_value_names_the_variable_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SYNCHRONOUS_ENV, "OFF")
    with pytest.raises(ValueError, match=r"DAPR_AGENTS_DURABLE_SYNCHRONOUS must be NORMAL \(survives kill -9\) "
                                         r"or FULL \(survives power loss\), got 'OFF'"):
        EngineConfig.from_env()
