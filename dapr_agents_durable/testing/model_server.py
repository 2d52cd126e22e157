"""Run the scripted model server as its own process (for crash tests).

The server outlives the client processes a test kills, and its script comes from a
JSON file, so the answers go on where they left off when a new client connects::

    python -m dapr_agents_durable.testing.model_server --port 0 --script script.json --log requests.jsonl

It prints one line once it accepts requests, then serves until SIGTERM or SIGINT::

    scripted model server ready on http://127.0.0.1:PORT/v1

Script file (full format in :mod:`dapr_agents_durable.testing.script`; write one with
``save_script``)::

    {"steps": [
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"error": 429, "retry_after": 1},
        {"text": "It is sunny in Paris.", "delay": 30}
    ]}

``--log`` appends one JSON line per model request (``number``, ``method``, ``path``,
``body``, ``headers`` with credentials redacted, ``time``) as it arrives, before it is
answered; read it with ``read_request_log``. Exit status 2 means bad arguments, an
unreadable script or a port that cannot be bound; the message says which.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from dapr_agents_durable.testing.script import load_script
from dapr_agents_durable.testing.server import ScriptedModelServer

READY_LINE = "scripted model server ready on {base_url}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dapr_agents_durable.testing.model_server",
        description="Serve an OpenAI-compatible scripted model on 127.0.0.1 until SIGTERM or SIGINT.",
        epilog='script file example: {"steps": [{"tool_calls": [{"name": "get_weather", '
               '"arguments": {"city": "Paris"}}]}, {"text": "Sunny."}]}',
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--script", required=True, help='JSON script file {"steps": [...]}')
    parser.add_argument("--log", help="JSONL file to append each model request to (credentials redacted)")
    parser.add_argument("--model", default="scripted-model", help="model id listed by GET /v1/models")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from command-line arguments; returns the exit status.

    Example::

        main(["--port", "0", "--script", "script.json", "--log", "requests.jsonl"])
    """
    args = _parser().parse_args(argv)
    try:
        server = ScriptedModelServer(load_script(args.script), port=args.port, model=args.model,
                                     log_path=args.log)
        server.start()
    except (OSError, ValueError) as error:
        sys.stderr.write(f"scripted model server: {error}\n")
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        sys.stdout.write(READY_LINE.format(base_url=server.base_url) + "\n")
        sys.stdout.flush()
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
