"""The deterministic loop: a framework's own asyncio code, run durably on Dapr Workflows.

A workflow body calls :func:`drive` with the framework's entry point. The framework's
loop runs unchanged on a :class:`DurableEventLoop`; its seams (model, tool, sub-agent,
approval) reach the running :class:`DurableExecution` through
:func:`current_execution` and await durable requests, which become workflow activities,
child workflows and external events. Between the work items of an instance the worker
keeps its execution warm, so the framework's code runs once per step instead of being
replayed from the start on every step (:mod:`~dapr_agents_durable.loop.warm`).

Example::

    from dapr_agents_durable.loop import current_execution, drive

    async def agent_main(question):
        durable = current_execution()
        return await durable.call_activity("model", {"prompt": question})

    def agent_workflow(ctx, question):
        return (yield from drive(ctx, lambda: agent_main(question)))
"""

from dapr_agents_durable.loop.bridge import await_only
from dapr_agents_durable.loop.determinism import (
    install_default_shims,
    register_shim,
    remove_shim,
)
from dapr_agents_durable.loop.driver import drive
from dapr_agents_durable.loop.errors import (
    ActivityError,
    ChildWorkflowError,
    DurableLoopError,
    DurableTaskError,
    NonDeterminismError,
)
from dapr_agents_durable.loop.eventloop import DurableEventLoop
from dapr_agents_durable.loop.execution import (
    DurableExecution,
    current_execution,
    on_durable_loop,
    side_effects_suppressed,
)
from dapr_agents_durable.loop.requests import DurableStep

__all__ = [
    "ActivityError",
    "ChildWorkflowError",
    "DurableEventLoop",
    "DurableExecution",
    "DurableLoopError",
    "DurableStep",
    "DurableTaskError",
    "NonDeterminismError",
    "await_only",
    "current_execution",
    "drive",
    "install_default_shims",
    "on_durable_loop",
    "register_shim",
    "remove_shim",
    "side_effects_suppressed",
]
