"""serve(): keeps a process's worker up until stopped; refuses a process with nothing to serve."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dapr_agents_durable.runtime import DurableRuntime, serve


def test_serve_refuses_a_process_with_no_workflow(tmp_path: Path, clean_env) -> None:
    runtime = DurableRuntime(db_path=str(tmp_path / "engine.db"))
    try:
        with pytest.raises(RuntimeError, match="no workflow to serve: run an agent, graph or crew first"):
            serve(runtime, stop=threading.Event())
    finally:
        runtime.stop()


def test_serve_takes_work_until_stopped_then_stops_the_runtime(tmp_path: Path, clean_env) -> None:
    runtime = DurableRuntime(db_path=str(tmp_path / "engine.db"))
    runtime.register_activity("t.double", lambda ctx, x: 2 * x)
    runtime.register_workflow("t.flow", lambda ctx, x: (yield ctx.call_activity("t.double", input=x)))
    stop = threading.Event()
    serving = threading.Thread(target=serve, args=(runtime,), kwargs={"stop": stop})
    serving.start()
    try:
        assert runtime.run("t.flow", 4, run_id="served", timeout=30).serialized_output == "8"
        assert serving.is_alive()
    finally:
        stop.set()
        serving.join(30)
    assert not serving.is_alive()
    assert not runtime.serves_work  # stopped: the worker is gone
