"""Where the durable runtime runs its workflows: a Dapr sidecar or the embedded engine."""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_DB = "DAPR_AGENTS_DURABLE_DB"
ENV_APP_ID = "DAPR_AGENTS_DURABLE_APP_ID"
DEFAULT_DB = os.path.join(".dapr-agents-durable", "engine.db")
SIDECAR_ENV = ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT")
"""Variables ``dapr run`` and Kubernetes sidecars set; either one selects the sidecar."""


@dataclass(frozen=True)
class Sidecar:
    """A Dapr sidecar found through ``DAPR_GRPC_ENDPOINT`` / ``DAPR_GRPC_PORT`` (the SDK reads them)."""

    endpoint: str

    def describe(self) -> str:
        return f"Dapr sidecar at {self.endpoint}"


@dataclass(frozen=True)
class Embedded:
    """No sidecar: the embedded engine, in this process, on a SQLite file."""

    db_path: str
    app_id: str

    def describe(self) -> str:
        return f"embedded engine (db {os.path.abspath(self.db_path)})"


def resolve_target(db_path: str | None = None) -> Sidecar | Embedded:
    """Pick the sidecar when ``dapr run`` or a Kubernetes sidecar set its env vars, else the engine.

    Example::

        target = resolve_target()      # Embedded(db_path='.dapr-agents-durable/engine.db', ...)
    """
    endpoint = os.environ.get("DAPR_GRPC_ENDPOINT")
    if endpoint:
        return Sidecar(endpoint)
    port = os.environ.get("DAPR_GRPC_PORT")
    if port:
        if not port.isdigit():
            raise ValueError(f"DAPR_GRPC_PORT must be a port number, got {port!r}")
        host = os.environ.get("DAPR_RUNTIME_HOST", "127.0.0.1")
        return Sidecar(f"{host}:{port}")
    path = db_path or os.environ.get(ENV_DB) or DEFAULT_DB
    return Embedded(path, os.environ.get(ENV_APP_ID) or os.environ.get("APP_ID") or "embedded-app")
