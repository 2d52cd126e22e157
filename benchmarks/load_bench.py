"""The embedded engine under load: many callers, churning workers, dropped connections.

The engine runs as its own process (as a sidecar would), a fresh one for each load, and
its resident memory and open file descriptors are read from ``/proc`` before, during
(sampled every 50 ms) and after the load. The loads are those of
``tests/engine/test_load.py`` (from ``tests/engine/load_harness.py``). Prints:

* threads: ``--workflows`` 3-activity chains scheduled and awaited from ``--threads``
  threads (a ``DaprWorkflowClient`` each), served by a ``WorkflowRuntime`` in this process;
* churn: ``--churn-workflows`` 5-activity chains (50 ms activities) served by ``--workers``
  worker processes, each stopped (``--kills`` of them SIGKILLed) and replaced as the
  chains progress; steps run again after a worker went away are counted;
* connections: ``--connections`` raw gRPC channels opened and dropped (a call and close,
  or a work-item stream or a wait left open, a fifth of them by SIGKILLing the process
  holding them), with the engine's limits lowered to 8 streams and 16 waits.

Throughput is workflows from the first schedule to the last completion; completion
times are per workflow, from its creation to its last update as the engine stamped them.

Usage::

    python benchmarks/load_bench.py --workflows 1000 --threads 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "engine"))

from dapr.ext.workflow import DaprWorkflowClient  # noqa: E402
from load_harness import (  # noqa: E402
    ChainRun,
    EngineProcess,
    ExecutionLog,
    Sample,
    open_and_drop_connections,
    repeated_executions,
    run_from_threads,
    run_with_churning_workers,
    serve,
)


class Sampler:
    """Samples the engine every 50 ms on a thread; the highest descriptor count seen."""

    def __init__(self, engine: EngineProcess) -> None:
        self.engine = engine
        self.peak_fds = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak_fds = max(self.peak_fds, self.engine.sample().fds)
            time.sleep(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def resources(before: Sample, peak_fds: int, after: Sample) -> str:
    return (f"RSS {before.rss_kib / 1024:.0f} -> peak {after.peak_rss_kib / 1024:.0f} -> "
            f"{after.rss_kib / 1024:.0f} MiB, fds {before.fds} -> peak {peak_fds} -> {after.fds}")


def timings(run: ChainRun) -> str:
    p50, p99 = run.p50_p99()
    return f"{run.throughput:.1f} workflows/s, completion p50 {p50:.2f} s, p99 {p99:.2f} s"


def bench_threads(directory: Path, workflows: int, threads: int) -> None:
    engine = EngineProcess(directory)
    try:
        before = engine.sample()
        runtime = serve(engine.port, ExecutionLog(directory / "executions.log"), threads=16)
        try:
            with Sampler(engine) as sampler:
                run = run_from_threads(engine.port, workflows, threads, steps=3)
        finally:
            runtime.shutdown()
        after = engine.settle_fds(before.fds)
        wrong = len(run.not_completed(steps=3))
        print(f"threads:     {workflows} x 3 activities from {threads} threads: {timings(run)}; "
              f"{wrong} not completed; {resources(before, sampler.peak_fds, after)}")
    finally:
        engine.stop()


def bench_churn(directory: Path, workflows: int, workers: int, kills: int) -> None:
    engine = EngineProcess(directory, "--activity-orphan-grace", "1")
    try:
        before = engine.sample()
        log = ExecutionLog(directory / "executions.log")
        with Sampler(engine) as sampler:
            churn = run_with_churning_workers(directory, engine.port, log, workflows=workflows, workers=workers,
                                              steps=5, step_seconds=0.05, kills=kills)
        after = engine.settle_fds(before.fds)
        again = sum(len(pids) - 1 for pids in repeated_executions(log).values())
        print(f"churn:       {workflows} x 5 activities, {workers} workers ({len(churn.stopped)} stopped, "
              f"{len(churn.killed_pids)} SIGKILLed, {churn.workers_started} started in all): {timings(churn.run)}; "
              f"{len(churn.run.not_completed(steps=5))} not completed, {again} steps run again; "
              f"{resources(before, sampler.peak_fds, after)}")
    finally:
        engine.stop()


def bench_connections(directory: Path, connections: int) -> None:
    engine = EngineProcess(directory, "--max-work-item-streams", "8", "--max-waiting-calls", "16")
    try:
        client = DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
        try:
            waiting = client.schedule_new_workflow("chain", input=2, instance_id="waiting")
        finally:
            client.close()
        before = engine.sample()
        began = time.perf_counter()
        with Sampler(engine) as sampler:
            run = open_and_drop_connections(directory, engine.port, connections=connections,
                                            killed=connections // 5, threads=4, waiting_instance=waiting)
        seconds = time.perf_counter() - began
        after = engine.settle_fds(before.fds)
        print(f"connections: {connections} opened and dropped in {seconds:.1f} s ({connections / seconds:.0f}/s): "
              f"{run.calls_ok} calls, {run.dropped_streams} streams and {run.dropped_waits} waits dropped, "
              f"{run.killed_holders} held by a SIGKILLed process ({run.killed_refused} refused: limits), "
              f"{run.exhausted} RESOURCE_EXHAUSTED otherwise; "
              f"{resources(before, sampler.peak_fds, after)}")
    finally:
        engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--churn-workflows", type=int, default=200)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--connections", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, bench in (
            ("threads", lambda d: bench_threads(d, args.workflows, args.threads)),
            ("churn", lambda d: bench_churn(d, args.churn_workflows, args.workers, args.kills)),
            ("connections", lambda d: bench_connections(d, args.connections)),
        ):
            directory = Path(tmp) / name
            directory.mkdir()
            bench(directory)


if __name__ == "__main__":
    main()
