"""Reaching the engine that holds the runs: a Dapr sidecar, an app's live engine, or the database.

Example::

    runtime = connect("./.dapr-agents-durable/engine.db")
    state = runtime.state("refund-7")
"""

from __future__ import annotations

import os

from grpc import RpcError, StatusCode

from dapr_agents_durable.engine.lock import engine_address
from dapr_agents_durable.runtime import DurableRuntime
from dapr_agents_durable.runtime.settings import SIDECAR_ENV, Embedded, resolve_target


class OperatorError(Exception):
    """Bad input, an unknown run or an unreachable engine; the message says how to fix it."""


def connect(db: str | None) -> DurableRuntime:
    """A started client-only runtime on the sidecar of ``DAPR_GRPC_ENDPOINT``/``DAPR_GRPC_PORT``,
    else on the engine an app runs on ``db``, else on ``db`` opened in this process.

    Raises :class:`OperatorError` when ``db`` does not exist (nothing to operate on).
    """
    if not any(os.environ.get(name) for name in SIDECAR_ENV):
        target = resolve_target(db)
        assert isinstance(target, Embedded)
        address = engine_address(target.db_path)
        if address is not None:
            os.environ["DAPR_GRPC_ENDPOINT"] = address
        elif not os.path.exists(target.db_path):
            raise OperatorError(
                f"no engine database at {os.path.abspath(target.db_path)!r}; pass --db with the database "
                "your app uses (or set DAPR_AGENTS_DURABLE_DB), or DAPR_GRPC_ENDPOINT for a Dapr sidecar"
            )
    try:
        runtime = DurableRuntime(db_path=db)
        runtime.start()
    except ValueError as exc:
        raise OperatorError(str(exc)) from None
    return runtime


def explain(runtime: DurableRuntime, exc: RpcError, run_id: str | None = None) -> OperatorError:
    """An :class:`OperatorError` for a failed call to the engine (unreachable, unknown run, refused)."""
    code = exc.code()  # type: ignore[attr-defined]
    where = runtime.target.describe() if runtime.target is not None else "the workflow engine"
    if code in (StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED):
        return OperatorError(
            f"cannot reach the {where}; start the app (or `dapr-agents-durable engine`), or point "
            "DAPR_GRPC_ENDPOINT / DAPR_GRPC_PORT at a running one"
        )
    if code == StatusCode.NOT_FOUND and run_id is not None:
        return unknown_run(run_id)
    return OperatorError(f"the {where} refused the request: {exc.details()}")  # type: ignore[attr-defined]


def unknown_run(run_id: str) -> OperatorError:
    """The error for a run id the engine does not know."""
    return OperatorError(f"no durable run with id {run_id!r}; `dapr-agents-durable runs list` shows the runs")
