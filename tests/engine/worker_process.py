"""A workflow worker in its own process, for tests that must kill the worker.

Usage: ``python worker_process.py PORT`` registers the workflows below with a
``WorkflowRuntime`` on ``127.0.0.1:PORT``, prints ``ready`` once the work-item
stream is open, and serves until it is killed.
"""

from __future__ import annotations

import sys
import threading

from dapr.ext.workflow import WorkflowRuntime


def wf_wait_event(ctx, name):
    value = yield ctx.wait_for_external_event(name)
    return value


def main() -> None:
    runtime = WorkflowRuntime(host="127.0.0.1", port=sys.argv[1])
    runtime.register_workflow(wf_wait_event)
    runtime.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
