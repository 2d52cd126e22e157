"""Keep a process serving durable runs: what an app replica under a Dapr sidecar does.

An app that starts a run and exits leaves no worker behind, so a run whose caller died
(a crashed replica, a killed ``kubectl exec``) waits until someone starts the app again.
An app that calls :func:`serve` after its own work keeps its workflow worker taking work
items, so another replica's unfinished runs of the same agents, graphs or crews are
picked up here, until SIGTERM (Kubernetes stopping the pod) or SIGINT ends it cleanly.

Example::

    result = Runner.run_sync(agent, question, run_id=run_id)   # registers the agent's workflows
    serve()                                                    # blocks until SIGTERM / Ctrl-C
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from dapr_agents_durable.runtime.durable_runtime import DurableRuntime, get_runtime

log = logging.getLogger("dapr_agents_durable.runtime")

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


def serve(
    runtime: DurableRuntime | None = None,
    *,
    stop: threading.Event | None = None,
    signals: Sequence[signal.Signals] = STOP_SIGNALS,
) -> None:
    """Take work items until one of ``signals`` arrives (or ``stop`` is set), then stop the runtime.

    Needs a worker: register workflows first, or run something (an adapter registers
    its workflows on its first run). Signal handlers are installed only when called
    from the main thread; elsewhere only ``stop`` ends it.
    """
    runtime = runtime or get_runtime()
    runtime.start()
    if not runtime.serves_work:
        raise RuntimeError(
            "serve() has no workflow to serve: run an agent, graph or crew first (an adapter registers "
            "its workflows on its first run), or register workflows on the runtime"
        )
    stop = stop or threading.Event()
    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(number: int, frame: FrameType | None) -> None:
            log.info("durable runtime: %s received, stopping", signal.Signals(number).name)
            stop.set()

        for sig in signals:
            previous[sig] = signal.signal(sig, on_signal)
    log.info("durable runtime: serving durable runs on the %s until stopped", runtime.target.describe()
             if runtime.target is not None else "workflow engine")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        runtime.stop()
