"""kill -9 of the engine process while workflows run; a restart on the same port and database.

The worker process is never restarted: the SDK reconnects by itself.
"""

from __future__ import annotations

import time

import pytest
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType

from crash_harness import (
    Lab,
    activity_steps,
    assert_completed,
    assert_history_not_doubled,
    chain_plan,
    start_chains,
    step_times,
    wait_until,
)

pytestmark = pytest.mark.crash


def test_engine_killed_mid_activity_resumes_and_runs_only_the_inflight_step_again(lab: Lab) -> None:
    release = lab.directory / "release-two"
    engine = lab.engine()
    worker = lab.worker(engine, block_step="two", release_file=release)
    plan = chain_plan("one", "two", "three")
    engine.client().schedule_new_workflow("chain", input=plan, instance_id="wf")
    lab.activity_log.wait_for("wf", "two", watch=[worker])

    engine.restart()
    release.touch()

    client = engine.client()
    assert_completed(client, "wf", plan)
    counts = lab.activity_log.counts()
    assert counts[("wf", "one")] == 1
    assert 1 <= counts[("wf", "two")] <= 2
    assert counts[("wf", "three")] == 1
    assert_history_not_doubled(client, "wf")
    assert worker.alive()


def test_restart_grace_lets_the_surviving_worker_report_so_nothing_runs_twice(lab: Lab) -> None:
    release = lab.directory / "release-two"
    engine = lab.engine("--restart-grace", "20")
    worker = lab.worker(engine, block_step="two", release_file=release)
    plan = chain_plan("one", "two", "three")
    engine.client().schedule_new_workflow("chain", input=plan, instance_id="wf")
    lab.activity_log.wait_for("wf", "two", watch=[worker])

    engine.restart()
    release.touch()

    client = engine.client()
    assert_completed(client, "wf", plan)
    assert lab.activity_log.counts() == {("wf", "one"): 1, ("wf", "two"): 1, ("wf", "three"): 1}
    assert_history_not_doubled(client, "wf")


def test_engine_killed_with_a_timer_pending_fires_it_after_restart(lab: Lab) -> None:
    engine = lab.engine()
    worker = lab.worker(engine)
    plan = chain_plan("before", 3, "after")
    client = engine.client()
    client.schedule_new_workflow("chain", input=plan, instance_id="wf")

    def history_with_timer() -> list[EventType]:
        kinds = [event.event_type for event in client.get_workflow_history("wf")]
        return kinds if EventType.TIMER_CREATED in kinds else []

    kinds = wait_until(history_with_timer, "the timer to be committed", watch=[worker])
    assert EventType.TIMER_FIRED not in kinds, "the timer fired before the kill"
    engine.restart()

    client = engine.client()
    assert_completed(client, "wf", plan)
    assert lab.activity_log.counts() == {("wf", "before"): 1, ("wf", "after"): 1}
    assert_history_not_doubled(client, "wf")
    kinds = [event.event_type for event in client.get_workflow_history("wf")]
    assert kinds.count(EventType.TIMER_FIRED) == 1


def test_fifty_workflows_in_flight_survive_an_engine_kill(lab: Lab) -> None:
    engine = lab.engine()
    worker = lab.worker(engine, step_seconds=0.1)
    plan = chain_plan("a", 2, "b", "c")
    instances = start_chains(engine.client(), "wf", 50, plan)
    total_steps = len(instances) * len(activity_steps(plan))
    wait_until(lambda: len(lab.activity_log.entries()) >= 75, "half of the steps to start", watch=[worker])

    before_kill = time.time()
    engine.kill()
    after_kill = time.time()
    assert len(lab.activity_log.entries()) < total_steps, "every step had started before the kill"
    engine.start()

    client = engine.client()
    in_flight = set()
    for instance_id in instances:
        assert_completed(client, instance_id, plan)
        assert_history_not_doubled(client, instance_id)
        for step, (scheduled_at, completed_at) in step_times(client, instance_id, plan).items():
            if scheduled_at < after_kill and completed_at > before_kill:
                in_flight.add((instance_id, step))
    assert in_flight, "no activity was in flight at the kill"
    counts = lab.activity_log.counts()
    assert set(counts) == {(i, s) for i in instances for s in activity_steps(plan)}
    doubled = {key: n for key, n in counts.items() if n > 1}
    assert all(n == 2 for n in doubled.values()), doubled
    assert set(doubled) <= in_flight, f"steps not in flight at the kill ran again: {set(doubled) - in_flight}"
    assert worker.alive()
