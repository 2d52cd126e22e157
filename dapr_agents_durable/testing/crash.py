"""Crash injection: kill an app process during model request N, then check what was paid.

Example::

    with ScriptedModelServer(rule=answer) as server:
        app = subprocess.Popen([...], env=embedded_app_env(tmp / "engine.db"))
        paid_before = kill_during_request(app, server, 13)
        ...                                    # start the app again with the same run id
        assert_each_once(step for step in tool_log)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from dapr_agents_durable.runtime import settings
from dapr_agents_durable.testing.recording import RecordedRequest
from dapr_agents_durable.testing.script import Step, text, tool_call
from dapr_agents_durable.testing.server import Rule, ScriptedModelServer

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


def step_loop(steps: int, crash_at: int, *, tool: str = "record_step", hold: float = 60.0) -> Rule:
    """The crash tests' script: ``tool(n=k)`` for k = 1..steps, then ``"all <steps> steps recorded"``.

    Request ``crash_at`` is held ``hold`` seconds, so a kill can land while it is in flight.
    """

    def answer(request: RecordedRequest) -> Step:
        done = len(request.tool_outputs)
        if done < steps:
            return tool_call(tool, {"n": done + 1}, delay=hold if request.number == crash_at else 0.0)
        return text(f"all {done} steps recorded")

    return answer


def finish(app: subprocess.Popen[str], *, timeout: float = 180.0) -> Any:
    """Wait for ``app`` to exit 0 (failing with its stderr otherwise); the JSON of its last output line."""
    out, err = app.communicate(timeout=timeout)
    assert app.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def read_jsonl(path: str | Path) -> list[Any]:
    """The JSON lines an app logged (a tool log), in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def assert_key_sent_not_stored(server: ScriptedModelServer, key: str, db_path: str | Path) -> None:
    """Every model request carried ``Bearer <key>``, and the key is nowhere in the engine database."""
    assert server.requests and all(r.headers.get("authorization") == f"Bearer {key}" for r in server.requests)
    assert_not_stored(key, db_path)
