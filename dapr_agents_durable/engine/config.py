"""Configuration of the embedded engine."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
SENTINEL_TIMER_SECONDS = 253402300799  # 9999-12-31T23:59:59Z: an indefinite wait's timer
SYNCHRONOUS_ENV = "DAPR_AGENTS_DURABLE_SYNCHRONOUS"
"""Environment variable choosing SQLite's ``synchronous`` setting of the engine: NORMAL or FULL."""


@dataclass(frozen=True)
class EngineConfig:
    """Settings of an :class:`~dapr_agents_durable.engine.EmbeddedEngine`.

    Every field has a default that matches Dapr's sidecar where Dapr has one.

    Example::

        config = EngineConfig(db_path="/tmp/engine.db", port=0, activity_orphan_grace=5.0)
    """

    db_path: str = "./.dapr-agents-durable/engine.db"
    """SQLite file holding every instance, history event, inbox event and activity task."""
    host: str = "127.0.0.1"
    """Address to bind. Loopback unless told otherwise."""
    port: int = 0
    """Port to bind; 0 picks a free one (read it back from ``EmbeddedEngine.port``)."""
    app_id: str = "embedded-app"
    """The Dapr app id this engine stands in for (stamped on routers and propagated history)."""
    api_token: str | None = None
    """When set, every call must carry metadata ``dapr-api-token`` with this value."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Largest gRPC message received or sent (Dapr's ``--max-body-size``, 4 MiB)."""
    activity_orphan_grace: float = 30.0
    """Seconds an activity of a closed stream waits for its result before re-dispatch."""
    activity_lease_timeout: float = 900.0
    """Seconds an activity may stay unanswered on a live stream before re-dispatch (0: never)."""
    restart_grace: float = 0.0
    """Seconds activity tasks found in flight at engine start wait for the previous process's
    workers to report (their old tokens stay valid) before they are dispatched again."""
    turn_timeout: float = 300.0
    """Seconds a workflow turn may stay unanswered on a live stream before re-dispatch (0: never)."""
    health_ping_interval: float = 20.0
    """Seconds of stream idleness after which a health ping is sent (only to workers that accept it)."""
    stream_expiry_limit: int = 1
    """Leases a stream may let expire (without answering in between) before it gets work only
    while no other open stream is under this limit."""
    max_inflight_per_stream: int = 64
    """Work items (turns + activities) in flight on one stream at a time."""
    max_waiting_calls: int = 128
    """``WaitForInstanceStart``/``WaitForInstanceCompletion`` calls served at once; more get
    RESOURCE_EXHAUSTED. Each holds a server thread, so the bound keeps threads for other calls."""
    max_work_item_streams: int = 64
    """Worker ``GetWorkItems`` streams open at once; more get RESOURCE_EXHAUSTED (the SDK retries)."""
    lenient_lifecycle: bool = False
    """Drop a resume of a running instance and a second suspend instead of passing them on."""
    synchronous_full: bool = False
    """SQLite ``synchronous=FULL`` (survives power loss) instead of ``NORMAL`` (survives kill -9)."""

    def __post_init__(self) -> None:
        problems = []
        if not self.db_path:
            problems.append("db_path must name a file (for example ./.dapr-agents-durable/engine.db)")
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be between 0 and 65535, got {self.port}")
        if not self.app_id:
            problems.append("app_id must not be empty (the Dapr SDK rejects empty app ids)")
        if self.max_message_bytes < 64 * 1024:
            problems.append(f"max_message_bytes must be at least 65536, got {self.max_message_bytes}")
        for name in ("activity_orphan_grace", "activity_lease_timeout", "turn_timeout", "restart_grace"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0 seconds, got {getattr(self, name)}")
        if self.health_ping_interval <= 0:
            problems.append(f"health_ping_interval must be > 0 seconds, got {self.health_ping_interval}")
        for name in ("stream_expiry_limit", "max_inflight_per_stream", "max_waiting_calls", "max_work_item_streams"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if problems:
            raise ValueError("invalid engine configuration: " + "; ".join(problems))

    def replace(self, **changes: object) -> "EngineConfig":
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, **overrides: object) -> "EngineConfig":
        """Build a config from ``DAPR_API_TOKEN``, ``$DAPR_AGENTS_DURABLE_SYNCHRONOUS`` (``NORMAL``,
        the default, or ``FULL``) and explicit overrides."""
        values: dict[str, object] = {}
        token = os.environ.get("DAPR_API_TOKEN")
        if token:
            values["api_token"] = token
        synchronous = os.environ.get(SYNCHRONOUS_ENV, "").strip().upper()
        if synchronous not in ("", "NORMAL", "FULL"):
            raise ValueError(f"{SYNCHRONOUS_ENV} must be NORMAL (survives kill -9) or FULL (survives power loss), "
                             f"got {os.environ[SYNCHRONOUS_ENV]!r}")
        if synchronous == "FULL":
            values["synchronous_full"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
