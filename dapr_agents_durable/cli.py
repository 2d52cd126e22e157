"""``dapr-agents-durable``: the command line.

Example::

    dapr-agents-durable engine --host 127.0.0.1 --port 50001 --db ./engine.db
    dapr-agents-durable approvals list refund-7
    dapr-agents-durable approvals approve refund-7 call_8x2
    dapr-agents-durable runs list --status RUNNING
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from dapr_agents_durable.engine import EmbeddedEngine, EngineAlreadyRunning, EngineConfig
from dapr_agents_durable.engine.store import DatabaseError
from dapr_agents_durable.operator.command import add_parser as runs_parser
from dapr_agents_durable.operator.command import db_option, decision_parsers


def _engine_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "engine",
        help="serve the embedded workflow engine in the foreground",
        description="Serve Dapr's workflow gRPC protocol from a SQLite file until SIGTERM/SIGINT. "
        "Pass an API token as $DAPR_API_TOKEN or with --api-token-file: --api-token shows it in the "
        "process list.",
    )
    defaults = EngineConfig()
    p.add_argument("--host", default=defaults.host, help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=50001, help="port to bind, 0 for a free one (default %(default)s)")
    p.add_argument("--db", default=defaults.db_path, help="SQLite database file (default %(default)s)")
    p.add_argument("--app-id", default=defaults.app_id, help="Dapr app id served (default %(default)s)")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--api-token", default=None,
                       help="require this dapr-api-token; visible in the process list, so prefer "
                       "$DAPR_API_TOKEN or --api-token-file (default: $DAPR_API_TOKEN)")
    token.add_argument("--api-token-file", default=None, metavar="PATH",
                       help="require the dapr-api-token read from this file (trailing newline stripped)")
    p.add_argument("--max-message-bytes", type=int, default=defaults.max_message_bytes)
    p.add_argument("--activity-orphan-grace", type=float, default=defaults.activity_orphan_grace,
                   help="seconds before an activity of a vanished worker is re-dispatched (default %(default)s)")
    p.add_argument("--activity-lease-timeout", type=float, default=defaults.activity_lease_timeout,
                   help="seconds an unanswered activity keeps its lease, 0 for ever (default %(default)s)")
    p.add_argument("--restart-grace", type=float, default=defaults.restart_grace,
                   help="seconds activities in flight at start wait for the previous process's workers "
                   "before they run again (default %(default)s)")
    p.add_argument("--turn-timeout", type=float, default=defaults.turn_timeout,
                   help="seconds an unanswered workflow turn keeps its lease, 0 for ever (default %(default)s)")
    p.add_argument("--max-waiting-calls", type=int, default=defaults.max_waiting_calls,
                   help="WaitForInstanceStart/Completion calls served at once; more get RESOURCE_EXHAUSTED "
                   "(default %(default)s)")
    p.add_argument("--max-work-item-streams", type=int, default=defaults.max_work_item_streams,
                   help="worker streams open at once; more get RESOURCE_EXHAUSTED (default %(default)s)")
    p.add_argument("--lenient-lifecycle", action="store_true",
                   help="drop resume-of-running and double-suspend instead of passing them on")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=_run_engine)


def _read_token_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            token = file.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--api-token-file {path!r} cannot read the token: {exc}") from None
    if not token:
        raise ValueError(f"--api-token-file {path!r} is empty; write the token into it")
    return token


def _run_engine(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = EngineConfig.from_env(
            host=args.host,
            port=args.port,
            db_path=args.db,
            app_id=args.app_id,
            api_token=_read_token_file(args.api_token_file) if args.api_token_file else args.api_token,
            max_message_bytes=args.max_message_bytes,
            activity_orphan_grace=args.activity_orphan_grace,
            activity_lease_timeout=args.activity_lease_timeout,
            turn_timeout=args.turn_timeout,
            restart_grace=args.restart_grace,
            max_waiting_calls=args.max_waiting_calls,
            max_work_item_streams=args.max_work_item_streams,
            lenient_lifecycle=args.lenient_lifecycle,
        )
        engine = EmbeddedEngine(config).start()
    except (ValueError, OSError, EngineAlreadyRunning, DatabaseError) as exc:
        print(f"dapr-agents-durable engine: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"dapr-agents-durable engine ready on {engine.address} (db {config.db_path})", flush=True)
    stop.wait()
    engine.stop(grace=3.0)
    return 0


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="a durable agent killed at step 13 of 15 and resumed (offline)",
        description="Run a 15-step agent on the embedded engine, kill it during step 13, restart it, "
        "and report what was replayed and what was paid.",
    )
    p.add_argument("--workdir", default=None, help="folder for the engine database and the agent's notes "
                   "(default: a new temporary folder)")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from dapr_agents_durable.demo.run import run_demo

    return run_demo(args.workdir)


def _approvals_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "approvals",
        help="list, approve or reject the tool calls a durable run waits for",
        description="Answer a durable run's pending tool approvals by run id and call id. Connects to the "
        "Dapr sidecar of DAPR_GRPC_ENDPOINT/DAPR_GRPC_PORT, else to the engine an app runs on --db, else "
        "opens --db itself (the run continues when its app runs again).",
    )
    common = db_option()
    actions = p.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="the calls a run waits for, one JSON object per line")
    listing.add_argument("run_id")
    decision_parsers(actions, common, "approve a pending call", "reject a pending call")
    p.set_defaults(run=_run_approvals)


def _run_approvals(args: argparse.Namespace) -> int:
    import json

    from dapr_agents_durable.operator.connect import OperatorError, connect

    try:
        runtime = connect(args.db)
    except OperatorError as exc:
        print(f"dapr-agents-durable approvals: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "list":
            for call in runtime.pending_approvals(args.run_id):
                print(json.dumps(call.to_json()))
        elif args.action == "approve":
            runtime.approve(args.run_id, args.call_id, always=args.always, message=args.message,
                            arguments=args.arguments)
        else:
            runtime.reject(args.run_id, args.call_id, message=args.message, always=args.always)
    except (LookupError, ValueError, EngineAlreadyRunning) as exc:
        print(f"dapr-agents-durable approvals: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dapr-agents-durable", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _engine_parser(sub)
    _demo_parser(sub)
    _approvals_parser(sub)
    runs_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dapr-agents-durable`` command."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))
