"""The embedded engine: a SQLite-backed server for Dapr's workflow gRPC protocol.

It serves ``TaskHubSidecarService`` exactly as the Dapr sidecar does for the Python
SDK, so unmodified ``dapr.ext.workflow`` code (``WorkflowRuntime``,
``DaprWorkflowClient``) runs against it where no ``daprd`` exists. It knows nothing
of agents.

Example::

    from dapr.ext.workflow import DaprWorkflowClient
    from dapr_agents_durable.engine import EmbeddedEngine

    with EmbeddedEngine(db_path="/tmp/engine.db") as engine:
        client = DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
        ...
"""

from dapr_agents_durable.engine.config import EngineConfig
from dapr_agents_durable.engine.server import EmbeddedEngine, EngineAlreadyRunning

__all__ = ["EmbeddedEngine", "EngineAlreadyRunning", "EngineConfig"]
