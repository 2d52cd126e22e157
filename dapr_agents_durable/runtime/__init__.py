"""The durable runtime: one Dapr workflow worker and client per process.

It connects to the Dapr sidecar when ``dapr run`` or a Kubernetes sidecar set
``DAPR_GRPC_ENDPOINT`` / ``DAPR_GRPC_PORT`` (honouring ``DAPR_API_TOKEN``), and
otherwise starts the embedded engine in-process on ``$DAPR_AGENTS_DURABLE_DB``
(default ``./.dapr-agents-durable/engine.db``).

Example::

    from dapr_agents_durable.runtime import get_runtime

    runtime = get_runtime()
    runtime.register_activity("demo.double", lambda ctx, x: 2 * x)
"""

from dapr_agents_durable.runtime.approvals import APPROVAL_EVENT, Decision, PendingApproval
from dapr_agents_durable.runtime.durable_runtime import (
    WAKE_EVENT,
    DurableRuntime,
    RunFailed,
    get_runtime,
)
from dapr_agents_durable.runtime.idempotency import idempotency_key
from dapr_agents_durable.runtime.ownership import RunIdInUse
from dapr_agents_durable.runtime.registry import NotRegistered, Registry
from dapr_agents_durable.runtime.serving import serve
from dapr_agents_durable.runtime.settings import Embedded, Sidecar, resolve_target

__all__ = [
    "APPROVAL_EVENT",
    "WAKE_EVENT",
    "Decision",
    "DurableRuntime",
    "Embedded",
    "NotRegistered",
    "PendingApproval",
    "Registry",
    "RunFailed",
    "RunIdInUse",
    "Sidecar",
    "get_runtime",
    "idempotency_key",
    "resolve_target",
    "serve",
]
