"""Re-run a workflow's code over its recorded history, in this process, without any new work.

Used to rebuild framework objects (a run's real result object) from a run that
finished elsewhere or earlier: every activity, timer and event resolves from the
history, so no model or tool is called again, and ``is_replaying`` stays true so
replay-aware side effects (hooks, logs) stay quiet.

Example::

    events = runtime.raw_history("run-1")
    replay_locally(workflow_fn, "openai_agents.run", "run-1", events)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask import task as sdk_task
from dapr.ext.workflow._durabletask import worker as sdk_worker
from dapr.ext.workflow._durabletask.internal import protos as pb
from google.protobuf import timestamp_pb2

log = logging.getLogger("dapr_agents_durable.runtime")


def replay_locally(
    fn: Callable[[DaprWorkflowContext, Any], Any], name: str, run_id: str, events: Sequence[pb.HistoryEvent]
) -> None:
    """Execute ``fn`` (registered as ``name``) over ``events``; its actions are discarded."""
    if not events:
        raise LookupError(f"durable run {run_id!r} has no history to replay")

    def orchestrator(ctx: sdk_task.OrchestrationContext, inp: Any = None) -> Any:
        return fn(DaprWorkflowContext(ctx), inp)

    registry = sdk_worker._Registry()
    registry.add_named_orchestrator(name, orchestrator)
    executor = sdk_worker._OrchestrationExecutor(registry, log)
    now = timestamp_pb2.Timestamp()
    now.FromNanoseconds(time.time_ns())
    tick = pb.HistoryEvent(eventId=-1, timestamp=now, workflowStarted=pb.WorkflowStartedEvent())
    executor.execute(run_id, list(events), [tick])
