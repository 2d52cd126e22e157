from __future__ import annotations

import subprocess
import sys

import pytest

from dapr_agents_durable.testing import ScriptedModelServer, assert_each_once, embedded_app_env, kill_during_request, text

CLIENT = """
import json, sys, urllib.request
for n in range(5):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": str(n)}]}).encode()
    request = urllib.request.Request(sys.argv[1] + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()
"""


def test_kill_during_request_kills_the_app_while_that_request_is_in_flight() -> None:
    with ScriptedModelServer(rule=lambda r: text("ok", delay=60.0 if r.number == 3 else 0.0)) as server:
        app = subprocess.Popen([sys.executable, "-c", CLIENT, server.base_url], text=True)
        paid = kill_during_request(app, server, 3)
        assert paid == 3
        assert app.returncode == -9


def test_embedded_app_env_drops_sidecar_variables(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DAPR_GRPC_PORT", "50001")
    env = embedded_app_env(tmp_path / "e.db", {"OPENAI_API_KEY": "k"})
    assert "DAPR_GRPC_PORT" not in env
    assert env["DAPR_AGENTS_DURABLE_DB"] == str(tmp_path / "e.db") and env["OPENAI_API_KEY"] == "k"


def test_assert_each_once_names_the_repeated_steps() -> None:
    assert_each_once([1, 2, 3])
    with pytest.raises(AssertionError, match=r"\{2: 2\}"):
        assert_each_once([1, 2, 2, 3])


def test_assert_not_stored_finds_a_secret_in_the_wal_beside_the_database(tmp_path) -> None:
    from dapr_agents_durable.testing import assert_not_stored

    (tmp_path / "engine.db").write_bytes(b"clean")
    assert_not_stored("sk-planted", tmp_path / "engine.db")
    (tmp_path / "engine.db-wal").write_bytes(b"...sk-planted...")
    with pytest.raises(AssertionError, match="engine.db-wal"):
        assert_not_stored("sk-planted", tmp_path / "engine.db")
