"""Per-run objects that cannot be persisted (run config, context, hooks), kept in process.

The caller of ``Runner.run`` registers them under the run id; the workflow and
its activities find them there when they run in the same process, and fall
back to defaults in another process (a run's durable state never depends on them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents import RunConfig, RunHooks

if TYPE_CHECKING:
    from dapr_agents_durable.adapters.openai_agents.graph import Graph


@dataclass
class RunSpec:
    """What ``Runner.run`` was given besides the agent and the input."""

    run_config: RunConfig = field(default_factory=RunConfig)
    context: Any = None
    hooks: RunHooks[Any] | None = None
    error_handlers: Any = None
    session: Any = None
    graph: Graph | None = None
    loop: asyncio.AbstractEventLoop | None = None
    """The event loop of the caller awaiting the run: its model and tool calls run there, as they
    do natively, so objects bound to it (clients, events, futures) work in them. None while
    nobody here awaits the run (a paused run resumed from elsewhere): the worker's loop."""


RUNS: dict[str, RunSpec] = {}
