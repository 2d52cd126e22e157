"""Two worker processes share many workflows: no activity runs twice, both do work."""

from __future__ import annotations

import pytest

from crash_harness import Lab, activity_steps, assert_completed, chain_plan, start_chains

pytestmark = pytest.mark.crash


def test_two_workers_share_120_workflows_running_every_activity_exactly_once(lab: Lab) -> None:
    engine = lab.engine()
    workers = [lab.worker(engine), lab.worker(engine)]
    plan = chain_plan("s1", "s2", "s3", "s4", "s5")
    client = engine.client()

    instances = start_chains(client, "wf", 120, plan)

    for instance_id in instances:
        assert_completed(client, instance_id, plan)
    counts = lab.activity_log.counts()
    assert set(counts) == {(i, s) for i in instances for s in activity_steps(plan)}
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}
    pids = {pid for _, _, pid in lab.activity_log.entries()}
    assert pids == {w.pid for w in workers}
    assert all(w.alive() for w in workers)
