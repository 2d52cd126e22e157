"""drive(): the orchestrator body that steps a framework's async code durably.

Each step runs the durable loop until it is idle, turns the durable requests made
meanwhile (in creation order) into workflow tasks, plus one durable timer for the
earliest asyncio timer, and yields ``when_any`` of everything outstanding. The engine
resumes the generator when one of them completes; on replay, completions come from
history in the order they were recorded, so every replay takes the same path. When
the instance's next work item continues exactly what the previous one saw, the worker
keeps the generator, its context and the execution warm instead, and only the new
events are fed to them (see :mod:`~dapr_agents_durable.loop.warm`).

Example::

    from dapr.ext.workflow import WorkflowRuntime

    def support_agent(ctx, input):
        return (yield from drive(ctx, lambda: agent_main(input)))

    runtime = WorkflowRuntime()
    runtime.register_workflow(support_agent, name="support.run")
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

from dapr.ext.workflow import DaprWorkflowContext, when_any
from dapr.ext.workflow._durabletask import task as sdk_task

from dapr_agents_durable.loop import workitem
from dapr_agents_durable.loop.determinism import install_default_shims
from dapr_agents_durable.loop.execution import DurableExecution

T = TypeVar("T")


def drive(
    ctx: DaprWorkflowContext,
    main: Callable[[], Coroutine[Any, Any, T]],
    *,
    label: str | None = None,
    foreign_timeout: float = 30.0,
) -> Generator[sdk_task.Task[Any], Any, T]:
    """Run ``main()`` on a durable loop as the body of a generator orchestrator.

    ``label`` names what runs (e.g. ``"agent 'triage'"``) in error messages.
    ``foreign_timeout`` bounds, in real seconds, how long the loop waits for callbacks
    from foreign threads when nothing else can make progress.

    Use it as the workflow body, directly or with ``yield from``::

        def my_workflow(ctx, input):
            return (yield from drive(ctx, lambda: agent_main(input)))
    """
    install_default_shims()
    execution = DurableExecution(ctx, label=label, foreign_timeout=foreign_timeout)
    try:
        execution.start(main)
        while (waiting := execution.advance()) is not None:
            yield when_any(waiting)
            execution.resume()
        try:
            result: T = execution.result()
        except BaseException as exc:
            execution.report_end(exc)
            raise
        execution.report_end(None)
        return result
    finally:
        execution.close()


# Before any orchestrator runs: the hook cannot reach a work item already executing.
workitem.install()
