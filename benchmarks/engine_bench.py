"""Throughput and latency of the embedded engine under the real Dapr workflow SDK.

The engine runs as its own process (as a sidecar would); the worker and the client
run in this process. Prints:

* chains: workflows/s and activities/s for 5-activity chains, ``--concurrency``
  workflows in flight at a time;
* fan-out: activities/s for one workflow fanning out ``--fanout`` activities;
* round trip: p50/p99 of one step of a sequential workflow, measured between the
  starts of consecutive activities (result in, turn committed and dispatched,
  workflow replayed, next activity committed and dispatched).

Dapr's published figure for 5-activity chains (v1.17, Kubernetes, one replica) is
57.43 workflows/s (287 activities/s); the ratio against it is printed too.

Usage::

    python benchmarks/engine_bench.py --workflows 300 --concurrency 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dapr.ext.workflow as wf

DAPR_CHAIN_WORKFLOWS_PER_SECOND = 57.43


def start_engine(db: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0", "--db", db],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready on" not in line:
        proc.kill()
        raise SystemExit(f"engine did not start: {line!r}")
    port = int(line.split("ready on ")[1].split()[0].rsplit(":", 1)[1])
    return proc, port


def step(ctx: wf.WorkflowActivityContext, value: int) -> int:
    return value + 1


def stamped_step(ctx: wf.WorkflowActivityContext, value: int) -> int:
    STARTS.append(time.perf_counter())
    return value + 1


STARTS: list[float] = []


def chain(ctx: wf.DaprWorkflowContext, value: int):
    for _ in range(5):
        value = yield ctx.call_activity(step, input=value)
    return value


def fanout(ctx: wf.DaprWorkflowContext, count: int):
    results = yield wf.when_all([ctx.call_activity(step, input=i) for i in range(count)])
    return sum(results)


def sequential(ctx: wf.DaprWorkflowContext, count: int):
    value = 0
    for _ in range(count):
        value = yield ctx.call_activity(stamped_step, input=value)
    return value


def run_chains(client: wf.DaprWorkflowClient, workflows: int, concurrency: int) -> float:
    gate = threading.Semaphore(concurrency)

    def one(i: int) -> None:
        with gate:
            iid = client.schedule_new_workflow(chain, input=i, instance_id=f"chain-{i}")
            state = client.wait_for_workflow_completion(iid, timeout_in_seconds=300)
            assert state is not None and state.serialized_output == str(i + 5), state

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(workflows)))
    return time.perf_counter() - began


def run_fanout(client: wf.DaprWorkflowClient, count: int) -> float:
    began = time.perf_counter()
    iid = client.schedule_new_workflow(fanout, input=count, instance_id="fanout")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=300)
    assert state is not None and state.serialized_output == str(sum(range(1, count + 1))), state
    return time.perf_counter() - began


def run_sequential(client: wf.DaprWorkflowClient, runs: int, count: int) -> list[float]:
    gaps: list[float] = []
    for run in range(runs):
        STARTS.clear()
        iid = client.schedule_new_workflow(sequential, input=count, instance_id=f"sequential-{run}")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=300)
        assert state is not None and state.serialized_output == str(count), state
        gaps.extend((b - a) * 1000 for a, b in zip(STARTS, STARTS[1:]))
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fanout", type=int, default=500)
    parser.add_argument("--steps", type=int, default=10, help="activities per sequential workflow")
    parser.add_argument("--runs", type=int, default=30, help="sequential workflows for the round trip")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine, port = start_engine(os.path.join(tmp, "bench.db"))
        runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(port))
        for activity in (step, stamped_step):
            runtime.register_activity(activity)
        for workflow in (chain, fanout, sequential):
            runtime.register_workflow(workflow)
        runtime.start()
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
        try:
            run_chains(client, 10, 5)  # warm-up
            seconds = run_chains(client, args.workflows, args.concurrency)
            wf_rate = args.workflows / seconds
            print(
                f"chains:     {args.workflows} x 5 activities, {args.concurrency} in flight: "
                f"{wf_rate:.1f} workflows/s, {wf_rate * 5:.0f} activities/s "
                f"({wf_rate / DAPR_CHAIN_WORKFLOWS_PER_SECOND:.2f}x Dapr v1.17's published 57.43 workflows/s)"
            )
            seconds = run_fanout(client, args.fanout)
            print(f"fan-out:    {args.fanout} activities in one workflow: {args.fanout / seconds:.0f} activities/s")
            gaps = sorted(run_sequential(client, args.runs, args.steps))
            p50 = statistics.median(gaps)
            p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
            print(
                f"round trip: {len(gaps)} steps of {args.runs} sequential {args.steps}-activity workflows, "
                f"one at a time: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            )
        finally:
            runtime.shutdown()
            engine.terminate()
            engine.wait(timeout=15)


if __name__ == "__main__":
    main()
