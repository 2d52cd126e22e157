from __future__ import annotations

import pytest

from dapr_agents_durable.runtime import Embedded, Sidecar, resolve_target


def test_no_sidecar_env_means_embedded_engine_at_default_db(clean_env) -> None:
    target = resolve_target()
    assert isinstance(target, Embedded)
    assert target.db_path.endswith("engine.db") and ".dapr-agents-durable" in target.db_path


def test_db_path_comes_from_env(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_AGENTS_DURABLE_DB", "/tmp/x/agents.db")
    assert resolve_target() == Embedded("/tmp/x/agents.db", "embedded-app")


def test_grpc_endpoint_wins(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_GRPC_ENDPOINT", "grpc://sidecar:50001")
    monkeypatch.setenv("DAPR_GRPC_PORT", "50007")
    assert resolve_target() == Sidecar("grpc://sidecar:50001")


def test_grpc_port_as_dapr_run_sets_it(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_GRPC_PORT", "50007")
    assert resolve_target() == Sidecar("127.0.0.1:50007")


def test_bad_grpc_port_is_named(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_GRPC_PORT", "fifty")
    with pytest.raises(ValueError, match="DAPR_GRPC_PORT"):
        resolve_target()
