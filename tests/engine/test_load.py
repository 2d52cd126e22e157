"""Load on the embedded engine as its own process: every workflow completes, each activity
runs once, and the engine's descriptors and memory come back once the load is gone.

Figures of the same loads: ``benchmarks/load_bench.py``. No timing is asserted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from dapr.ext.workflow import DaprWorkflowClient, WorkflowStatus
from load_harness import (
    EngineProcess,
    ExecutionLog,
    limits_free,
    open_and_drop_connections,
    repeated_executions,
    run_from_threads,
    run_with_churning_workers,
    serve,
    undelivered_results,
    wait_until,
)

FD_TOLERANCE = 4
"""Descriptors above the baseline still accepted once a load is gone."""
RSS_GROWTH_BOUND_KIB = 256 * 1024
"""A generous bound on the engine's memory growth across one load (figures: benchmarks/README.md)."""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    process = EngineProcess(tmp_path, "--activity-orphan-grace", "1")
    try:
        yield process
    finally:
        process.stop()


def _assert_back_to_baseline(engine: EngineProcess, baseline_fds: int, baseline_rss_kib: int) -> None:
    after = engine.settle_fds(baseline_fds + FD_TOLERANCE)
    assert after.fds <= baseline_fds + FD_TOLERANCE, f"descriptors: {baseline_fds} before, {after.fds} after"
    assert after.rss_kib - baseline_rss_kib <= RSS_GROWTH_BOUND_KIB, f"RSS {baseline_rss_kib} -> {after.rss_kib} KiB"


def test_thousand_workflows_from_twenty_threads(engine: EngineProcess, tmp_path: Path) -> None:
    """1,000 three-activity chains scheduled from 20 threads (a client each) all complete with
    their output; every activity ran exactly once; descriptors return to their baseline."""
    baseline = engine.sample()
    log = ExecutionLog(tmp_path / "executions.log")
    runtime = serve(engine.port, log, threads=16)
    try:
        run = run_from_threads(engine.port, workflows=1000, threads=20, steps=3)
    finally:
        runtime.shutdown()
    assert run.not_completed(steps=3) == {}
    counts = log.counts()
    assert set(counts) == {(iid, n) for iid in run.instance_ids for n in range(3)}
    assert {key: c for key, c in counts.items() if c != 1} == {}
    _assert_back_to_baseline(engine, baseline.fds, baseline.rss_kib)


@pytest.mark.crash
def test_workers_connecting_and_disconnecting(engine: EngineProcess, tmp_path: Path) -> None:
    """10 worker processes (one activity at a time each) serve 200 five-activity chains; each is
    stopped (3 are SIGKILLed instead) and replaced as the chains progress. Everything completes;
    a step ran again only after an execution cut off by its worker going away (a kill, or a
    stop whose SDK dropped the result it finished too late), at most one execution per killed worker."""
    baseline = engine.sample()
    log = ExecutionLog(tmp_path / "executions.log")
    churn = run_with_churning_workers(tmp_path, engine.port, log, workflows=200, workers=10, steps=5,
                                      step_seconds=0.05, kills=3)
    assert churn.run.not_completed(steps=5) == {}
    counts = log.counts()
    assert set(counts) == {(iid, n) for iid in churn.run.instance_ids for n in range(5)}
    repeated = repeated_executions(log)
    # every execution but the last of a repeated step was in a worker that went away during it
    cut_off = Counter(pid for pids in repeated.values() for pid in pids[:-1])
    assert set(cut_off) <= churn.killed_pids | set(churn.stopped), (repeated, churn.killed_pids, churn.stopped)
    # a SIGKILL cuts off at most the one execution in flight; a stopped worker's SDK may finish and
    # fail to deliver more than one on its way out, each of which it logs (checked below)
    assert max((cut_off[pid] for pid in churn.killed_pids), default=0) <= 1, repeated
    for (instance, _), pids in repeated.items():
        for pid in pids[:-1]:
            if pid in churn.stopped:
                assert instance in undelivered_results(churn.stopped[pid]), (instance, pids)
    # the disconnections happened while the chains ran, not after
    assert churn.progress_at_actions[-1] < 200 * 5
    _assert_back_to_baseline(engine, baseline.fds, baseline.rss_kib)


@pytest.mark.crash
def test_five_hundred_connections_opened_and_dropped(tmp_path: Path) -> None:
    """500 raw channels (a call and close, or a stream or wait left open and dropped, 100 of
    them by SIGKILLing the process holding them): the engine's descriptors return to their
    baseline, every stream and wait slot is free again, and a stream dropped with a workflow
    turn in hand did not lose the workflow."""
    engine = EngineProcess(tmp_path, "--max-work-item-streams", "8", "--max-waiting-calls", "16")
    try:
        client = DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
        try:
            waiting = client.schedule_new_workflow("chain", input=2, instance_id="waiting")
            baseline = engine.sample()
            run = open_and_drop_connections(tmp_path, engine.port, connections=500, killed=100, threads=4,
                                            waiting_instance=waiting)
            assert run.unexpected == []
            # at most 4 streams or waits at once against limits of 8 and 16: none refused while
            # the slots of dropped ones are freed as they are dropped
            assert run.exhausted == 0
            assert run.calls_ok == 200
            assert run.dropped_streams + run.dropped_waits == 200
            assert 0 < run.killed_holders <= 8 + 16 and run.killed_holders + run.killed_refused == 100
            _assert_back_to_baseline(engine, baseline.fds, baseline.rss_kib)
            # the SIGKILLed process's calls end once the engine has seen its connections go
            wait_until(lambda: limits_free(engine.port, streams=8, waits=16, waiting_instance=waiting)
                       == {"DEADLINE_EXCEEDED": 24}, "every stream and wait slot to be free", timeout=20)
            log = ExecutionLog(tmp_path / "executions.log")
            runtime = serve(engine.port, log)
            try:
                state = client.wait_for_workflow_completion(waiting, timeout_in_seconds=60)
            finally:
                runtime.shutdown()
            assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
            assert log.counts() == {(waiting, 0): 1, (waiting, 1): 1}
        finally:
            client.close()
    finally:
        engine.stop()
