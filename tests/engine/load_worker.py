"""A worker process of the load tests: serves ``chain`` and ``step`` from ``load_harness``.

Usage: ``python load_worker.py --port PORT --log FILE [--step-seconds S]``. Runs one
activity at a time (so a SIGKILL interrupts at most one execution), prints
``worker ready`` once its work-item stream is open, and on SIGTERM shuts its runtime
down and exits.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from load_harness import ExecutionLog, serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="engine port on 127.0.0.1")
    parser.add_argument("--log", required=True, help="execution log (one line per execution of step)")
    parser.add_argument("--step-seconds", type=float, default=0.0, help="time each execution of step takes")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime = serve(args.port, ExecutionLog(Path(args.log)), step_seconds=args.step_seconds, activity_concurrency=1)
    print("worker ready", flush=True)
    stop.wait()
    runtime.shutdown()


if __name__ == "__main__":
    main()
