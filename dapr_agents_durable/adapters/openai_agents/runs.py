"""Per-run objects that cannot be persisted (run config, context, hooks), kept in process.

The caller of ``Runner.run`` registers them under the run id; the workflow and
its activities find them there when they run in the same process, and fall
back to defaults in another process (a run's durable state never depends on them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from agents import RunConfig, RunHooks


@dataclass
class RunSpec:
    """What ``Runner.run`` was given besides the agent and the input."""

    run_config: RunConfig = field(default_factory=RunConfig)
    context: Any = None
    hooks: RunHooks[Any] | None = None
    error_handlers: Any = None
    session: Any = None


class Outcomes:
    """Results (or exceptions) of runs whose workflow finished in this process, by run id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[bool, Any]] = {}

    def put(self, run_id: str, value: Any, *, failed: bool = False) -> None:
        with self._lock:
            self._items[run_id] = (failed, value)

    def pop(self, run_id: str) -> tuple[bool, Any] | None:
        with self._lock:
            return self._items.pop(run_id, None)


RUNS: dict[str, RunSpec] = {}
OUTCOMES = Outcomes()
