"""A worker process for the crash tests: serves one workflow and one activity.

Workflow ``chain`` runs a plan such as ``{"steps": ["one", {"timer": 3}, "two"]}``:
each string is a call of activity ``step``, each ``{"timer": s}`` a durable timer.
It returns the activities' results in order; ``step`` returns ``"<step>:<instance>"``,
so the expected output never depends on which process ran what.

Every execution of ``step`` appends ``<instance> <step> <pid>`` to the activity log
(append mode, flushed and fsynced) before doing anything else, so the test can count
executions across processes that are killed at any moment. Each execution then takes
``--step-seconds``. With ``--block-step S``
an execution of step ``S`` then waits until ``--release-file`` exists (never, if the
test does not create it).

The process prints ``worker ready`` once its work-item stream is open and runs until
SIGTERM or SIGKILL.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from datetime import timedelta

from dapr.ext.workflow import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="engine port on 127.0.0.1")
    parser.add_argument("--log", required=True, help="activity log file (one line per execution)")
    parser.add_argument("--step-seconds", type=float, default=0.0, help="time each step takes after logging")
    parser.add_argument("--block-step", default=None, help="step whose executions wait for --release-file")
    parser.add_argument("--release-file", default=None, help="file whose existence lets --block-step go on")
    return parser.parse_args()


def _record(log_path: str, instance_id: str, step: str) -> None:
    line = f"{instance_id} {step} {os.getpid()}\n".encode()
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _wait_for_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.05)


def main() -> None:
    args = _parse_args()
    if args.block_step and not args.release_file:
        raise SystemExit("--block-step needs --release-file")
    runtime = WorkflowRuntime(host="127.0.0.1", port=str(args.port))

    def step(ctx: WorkflowActivityContext, payload: dict) -> str:
        name = payload["step"]
        _record(args.log, ctx.workflow_id, name)
        time.sleep(args.step_seconds)
        if name == args.block_step:
            _wait_for_file(args.release_file)
        return f"{name}:{ctx.workflow_id}"

    def chain(ctx: DaprWorkflowContext, plan: dict):
        results = []
        for item in plan["steps"]:
            if isinstance(item, dict):
                yield ctx.create_timer(timedelta(seconds=item["timer"]))
            else:
                results.append((yield ctx.call_activity("step", input={"step": item})))
        return results

    runtime.register_workflow(chain, name="chain")
    runtime.register_activity(step, name="step")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime.start()
    print("worker ready", flush=True)
    stop.wait()
    runtime.shutdown()


if __name__ == "__main__":
    main()
