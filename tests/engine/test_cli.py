"""The engine command line: readiness line, signals, bad flags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dapr.ext.workflow as wf
import dapr.ext.workflow._durabletask.internal.protos as pb
import grpc
import pytest
from engine_harness import assert_rpc_error, raw_channel, raw_stub

TOKEN = "file-s3cret"


def _start(db: Path, *flags: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", str(db), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "dapr-agents-durable engine ready on 127.0.0.1:" in line, line
    return proc, int(line.split("ready on 127.0.0.1:")[1].split()[0])


def _noop(ctx: wf.DaprWorkflowContext, value: int) -> int:
    return value


def _worker(port: int) -> wf.WorkflowRuntime:
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(port))
    runtime.register_workflow(lambda ctx, value: _noop(ctx, value), name="_noop")
    runtime.start()
    return runtime


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_engine_promptly_even_with_a_worker_connected(tmp_path: Path, signum: int) -> None:
    proc, port = _start(tmp_path / "engine.db")
    runtime = _worker(port)
    try:
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
        iid = client.schedule_new_workflow("_noop", input=7)
        assert client.wait_for_workflow_completion(iid, timeout_in_seconds=30).serialized_output == "7"
        began = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - began < 15
    finally:
        runtime.shutdown()
        if proc.poll() is None:
            proc.kill()


def test_work_survives_a_clean_restart(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    proc, port = _start(db)
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
    client.schedule_new_workflow("_noop", input=3, instance_id="queued")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)

    proc, port = _start(db)
    runtime = _worker(port)
    try:
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
        assert client.wait_for_workflow_completion("queued", timeout_in_seconds=30).serialized_output == "3"
    finally:
        runtime.shutdown()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--activity-orphan-grace", "-1"], "activity_orphan_grace must be >= 0"),
        (["--max-message-bytes", "10"], "max_message_bytes must be at least"),
        (["--app-id", ""], "app_id must not be empty"),
        (["--max-waiting-calls", "0"], "max_waiting_calls must be >= 1"),
        (["--max-work-item-streams", "0"], "max_work_item_streams must be >= 1"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(tmp_path: Path, flags: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", str(tmp_path / "e.db"), *flags],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "ready" not in result.stdout


def test_unusable_database_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not sqlite" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert str(bad) in result.stderr


def _assert_token_required(port: int, token: str) -> None:
    with raw_channel(port) as channel:
        stub = raw_stub(channel)
        request = pb.GetInstanceRequest(instanceId="anything")
        assert_rpc_error(lambda: stub.GetInstance(request, timeout=10), grpc.StatusCode.UNAUTHENTICATED)
        response = stub.GetInstance(request, timeout=10, metadata=[("dapr-api-token", token)])
        assert not response.exists


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def test_api_token_file_sets_the_token_and_keeps_it_off_the_command_line(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {k: v for k, v in os.environ.items() if k != "DAPR_API_TOKEN"}
    proc, port = _start(tmp_path / "engine.db", "--api-token-file", str(token_file), env=env)
    try:
        _assert_token_required(port, TOKEN)
        assert TOKEN.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        _stop(proc)


def test_api_token_from_the_environment_is_required(tmp_path: Path) -> None:
    proc, port = _start(tmp_path / "engine.db", env={**os.environ, "DAPR_API_TOKEN": TOKEN})
    try:
        _assert_token_required(port, TOKEN)
    finally:
        _stop(proc)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("", "is empty"), ("\n", "is empty")],
    ids=["missing", "empty", "newline-only"],
)
def test_unusable_api_token_file_exits_2_naming_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", str(tmp_path / "e.db"),
         "--api-token-file", str(token_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"--api-token-file {str(token_file)!r} {message}" in result.stderr
    assert "ready" not in result.stdout
