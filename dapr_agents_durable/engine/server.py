"""The embedded engine's lifecycle: database, gRPC server, housekeeping thread."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import empty_pb2

from dapr_agents_durable.engine import protos as pb
from dapr_agents_durable.engine.auth import TokenInterceptor
from dapr_agents_durable.engine.config import EngineConfig
from dapr_agents_durable.engine.decoding import DecodeInterceptor
from dapr_agents_durable.engine.dispatcher import Dispatcher
from dapr_agents_durable.engine.lock import DatabaseLock, EngineAlreadyRunning
from dapr_agents_durable.engine.service import SidecarService
from dapr_agents_durable.engine.store import Store

__all__ = ["EmbeddedEngine", "EngineAlreadyRunning"]

log = logging.getLogger("dapr_agents_durable.engine")

# Every open work-item stream and every blocked wait holds a server thread; both are
# bounded by the config, and these threads stay free for every other call.
_RESERVED_THREADS = 64


class EmbeddedEngine:
    """A Dapr workflow sidecar stand-in, on SQLite, in a background thread.

    Pass an :class:`EngineConfig`, or its fields as keywords. ``start()`` returns
    once the server answers ``Hello``; ``port`` then holds the bound port.

    Example::

        with EmbeddedEngine(db_path="/tmp/engine.db", port=0) as engine:
            runtime = WorkflowRuntime(host="127.0.0.1", port=str(engine.port))
    """

    def __init__(self, config: EngineConfig | None = None, **fields: Any) -> None:
        if config is not None and fields:
            config = config.replace(**fields)
        self.config = config or EngineConfig(**fields)
        self._lock = DatabaseLock(self.config.db_path)
        self._server: grpc.Server | None = None
        self._store: Store | None = None
        self._dispatcher: Dispatcher | None = None
        self._housekeeping: threading.Thread | None = None
        self.port: int = 0

    @property
    def address(self) -> str:
        """``host:port`` to hand to ``WorkflowRuntime``/``DaprWorkflowClient`` (or ``DAPR_GRPC_ENDPOINT``)."""
        return f"{self.config.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "EmbeddedEngine":
        """Open the database, recover in-flight work, serve, and wait until ``Hello`` answers."""
        if self._server is not None:
            return self
        self._lock.acquire()
        try:
            self._store = Store(self.config.db_path, synchronous_full=self.config.synchronous_full)
            self._dispatcher = Dispatcher(self.config, self._store)
            self._server = self._serve()
            self._housekeeping = threading.Thread(
                target=self._dispatcher.run_housekeeping, name="engine-housekeeping", daemon=True
            )
            self._housekeeping.start()
            self._check_hello()
            host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "") else self.config.host
            self._lock.advertise(f"{host}:{self.port}")
        except BaseException:
            self.stop()
            raise
        log.info("embedded engine serving %s (db %s)", self.address, self.config.db_path)
        return self

    def _serve(self) -> grpc.Server:
        limit = self.config.max_message_bytes
        options = [
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
            ("grpc.http2.max_ping_strikes", 0),
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ]
        interceptors: list[grpc.ServerInterceptor] = [DecodeInterceptor()]
        if self.config.api_token:
            interceptors.insert(0, TokenInterceptor(self.config.api_token))
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self._threads(), thread_name_prefix="engine-rpc"),
            options=options,
            interceptors=interceptors,
        )
        assert self._dispatcher is not None
        pb.service_grpc.add_TaskHubSidecarServiceServicer_to_server(
            SidecarService(self.config, self._dispatcher), server
        )
        try:
            self.port = server.add_insecure_port(f"{self.config.host}:{self.config.port}")
        except RuntimeError as exc:
            raise OSError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc}; is another process using the port?"
            ) from exc
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}: the address is in use")
        server.start()
        return server

    def _threads(self) -> int:
        """Server threads: one per wait and stream allowed, plus a reserve for all other calls."""
        return self.config.max_waiting_calls + self.config.max_work_item_streams + _RESERVED_THREADS

    def _check_hello(self) -> None:
        metadata = [("dapr-api-token", self.config.api_token)] if self.config.api_token else None
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "") else self.config.host
        with grpc.insecure_channel(f"{host}:{self.port}") as channel:
            hello = channel.unary_unary(
                "/TaskHubSidecarService/Hello",
                request_serializer=empty_pb2.Empty.SerializeToString,
                response_deserializer=empty_pb2.Empty.FromString,
            )
            hello(empty_pb2.Empty(), timeout=10, metadata=metadata, wait_for_ready=True)

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving (open streams end; workers reconnect elsewhere) and close the database."""
        if self._dispatcher is not None:
            self._dispatcher.stop()
        if self._server is not None:
            self._server.stop(grace).wait(grace + 1)
            self._server = None
        if self._housekeeping is not None:
            self._housekeeping.join(timeout=5)
            self._housekeeping = None
        if self._store is not None and self._dispatcher is not None:
            with self._dispatcher.lock:
                self._store.close()
        elif self._store is not None:
            self._store.close()
        self._store = None
        self._dispatcher = None
        self._lock.release()

    def __enter__(self) -> "EmbeddedEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

