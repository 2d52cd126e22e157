"""Crash injection: kill an app process during model request N, then check what was paid.

Example::

    with ScriptedModelServer(rule=answer) as server:
        app = subprocess.Popen([...], env=embedded_app_env(tmp / "engine.db"))
        paid_before = kill_during_request(app, server, 13)
        ...                                    # start the app again with the same run id
        assert_each_once(step for step in tool_log)
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path

from dapr_agents_durable.runtime import settings
from dapr_agents_durable.testing.server import ScriptedModelServer

SIDECAR_ENV = (*settings.SIDECAR_ENV, "DAPR_HTTP_ENDPOINT", "DAPR_HTTP_PORT")


def embedded_app_env(db_path: str | Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for an app that runs on the embedded engine at ``db_path``.

    Sidecar variables are removed (so the app cannot reach a real sidecar) and
    ``DAPR_AGENTS_DURABLE_DB`` points at the database that survives the crash.
    """
    env = {k: v for k, v in os.environ.items() if k not in SIDECAR_ENV}
    env["DAPR_AGENTS_DURABLE_DB"] = str(db_path)
    env.update(extra or {})
    return env


def kill_during_request(
    app: subprocess.Popen[str], server: ScriptedModelServer, number: int, *, timeout: float = 120.0
) -> int:
    """SIGKILL ``app`` once ``server`` has received request ``number``; returns requests paid so far.

    Script that request with a ``delay`` so it is still in flight when the kill lands.
    """
    try:
        server.wait_for_request(number, timeout=timeout)
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=30)
    return server.request_count


def assert_not_stored(secret: str, db_path: str | Path) -> None:
    """Fail naming the file when ``secret`` appears in the engine database or its WAL/SHM files."""
    path = Path(db_path)
    for file in path.parent.glob(f"{path.name}*"):
        assert secret.encode() not in file.read_bytes(), f"secret found in {file.name}"


def assert_each_once(keys: Iterable[Hashable]) -> None:
    """Fail naming every key seen more than once (a step that was paid for twice)."""
    repeated = {key: count for key, count in Counter(keys).items() if count > 1}
    if repeated:
        raise AssertionError(f"ran more than once: {repeated}")
