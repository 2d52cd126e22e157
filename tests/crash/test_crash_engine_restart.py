"""The engine process itself: restart on the same port after kill -9, one engine per database."""

from __future__ import annotations

import sys

import pytest

from crash_harness import Lab, assert_completed, chain_plan

pytestmark = pytest.mark.crash


def test_engine_restarts_on_its_port_right_after_kill_and_keeps_finished_workflows(lab: Lab) -> None:
    engine = lab.engine()
    worker = lab.worker(engine)
    plan = chain_plan("one")
    client = engine.client()
    client.schedule_new_workflow("chain", input=plan, instance_id="before-kill")
    assert_completed(client, "before-kill", plan)
    port = engine.port

    engine.restart()

    assert engine.port == port
    client = engine.client()
    assert_completed(client, "before-kill", plan)
    client.schedule_new_workflow("chain", input=plan, instance_id="after-restart")
    assert_completed(client, "after-restart", plan)
    assert lab.activity_log.counts() == {("before-kill", "one"): 1, ("after-restart", "one"): 1}
    assert worker.alive()


def test_second_engine_on_the_same_database_refuses_to_start(lab: Lab) -> None:
    engine = lab.engine()
    second = lab.spawn(
        "second-engine",
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", str(engine.db_path)],
    )

    returncode = second.process.wait(timeout=60)

    assert returncode != 0
    assert str(engine.db_path) in second.text()
    assert "in use by another engine" in second.text()
    assert "ready" not in second.text()
    assert engine.current is not None and engine.current.alive()
    assert engine.client().get_workflow_state("no-such-workflow") is None
