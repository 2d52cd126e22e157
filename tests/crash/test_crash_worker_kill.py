"""A worker that dies (kill -9) or hangs mid-activity; another worker finishes the workflow."""

from __future__ import annotations

import pytest

from crash_harness import Lab, assert_completed, assert_history_not_doubled, chain_plan

pytestmark = pytest.mark.crash


def test_killed_worker_activity_goes_to_a_second_worker_after_the_orphan_grace(lab: Lab) -> None:
    release = lab.directory / "release-two"
    engine = lab.engine("--activity-orphan-grace", "2")
    first = lab.worker(engine, block_step="two", release_file=release)
    plan = chain_plan("one", "two", "three")
    client = engine.client()
    client.schedule_new_workflow("chain", input=plan, instance_id="wf")
    lab.activity_log.wait_for("wf", "two", watch=[first])

    first.sigkill()
    second = lab.worker(engine)

    assert_completed(client, "wf", plan)
    log = lab.activity_log
    assert log.pids("wf", "one") == [first.pid]
    assert log.pids("wf", "two") == [first.pid, second.pid]
    assert log.pids("wf", "three") == [second.pid]
    assert_history_not_doubled(client, "wf")


def test_hung_worker_activity_goes_to_another_worker_after_the_lease_timeout(lab: Lab) -> None:
    never_created = lab.directory / "never-created"
    engine = lab.engine("--activity-lease-timeout", "3")
    hung = lab.worker(engine, block_step="two", release_file=never_created)
    plan = chain_plan("one", "two", "three")
    client = engine.client()
    client.schedule_new_workflow("chain", input=plan, instance_id="wf")
    lab.activity_log.wait_for("wf", "two", watch=[hung])

    healthy = lab.worker(engine)

    assert_completed(client, "wf", plan)
    log = lab.activity_log
    assert log.pids("wf", "one") == [hung.pid]
    assert healthy.pid in log.pids("wf", "two")
    assert log.pids("wf", "two")[0] == hung.pid
    assert len(log.pids("wf", "three")) == 1
    assert_history_not_doubled(client, "wf")
    assert hung.alive(), "the hung worker's stream must stay open for this scenario"
