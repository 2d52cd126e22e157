"""The scripted OpenAI-compatible model server: real HTTP on 127.0.0.1, answers from a script.

Example::

    from openai import OpenAI
    from dapr_agents_durable.testing import ScriptedModelServer, text, tool_call

    with ScriptedModelServer([tool_call("get_weather", {"city": "Paris"}), text("Sunny.")]) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
        ...
        assert server.request_count == 2
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import urlsplit

from dapr_agents_durable.testing import openai_shapes
from dapr_agents_durable.testing.recording import (
    CHAT_COMPLETIONS_PATH,
    RESPONSES_PATH,
    RecordedRequest,
    append_log_entry,
)
from dapr_agents_durable.testing.script import STEP_TYPES, ErrorStep, Step

Rule: TypeAlias = Callable[[RecordedRequest], Step]
"""Rule mode: a function from the recorded request to the step that answers it."""

HOST = "127.0.0.1"
PREFIX = "scripted model server"
ROUTES = f"POST {CHAT_COMPLETIONS_PATH}, POST {RESPONSES_PATH} and GET /v1/models"


class ScriptedModelServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 that answers from a script or a rule.

    Pass ``script`` (a list of steps; request *n* gets step *n*) or ``rule`` (called with
    each :class:`RecordedRequest`, returns its step). It serves ``POST
    /v1/chat/completions`` and ``POST /v1/responses`` (both also as SSE streams) and
    ``GET /v1/models``. Requests beyond the script get HTTP 500 naming the request
    number. ``log_path`` appends each model request (credential headers redacted) to a
    JSONL file, read back with :func:`read_request_log`.

    Example::

        with ScriptedModelServer(rule=lambda request: text(f"{len(request.tool_outputs)} results")) as server:
            client = OpenAI(base_url=server.base_url, api_key="sk-test")
    """

    def __init__(
        self,
        script: Sequence[Step] | None = None,
        *,
        rule: Rule | None = None,
        port: int = 0,
        model: str = "scripted-model",
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if (script is None) == (rule is None):
            raise ValueError("ScriptedModelServer needs exactly one of script=[steps...] or rule=callable, "
                             "for example ScriptedModelServer([text('hi')])")
        if rule is not None and not callable(rule):
            raise ValueError(f"rule must be a callable taking a RecordedRequest and returning a step, got {rule!r}")
        steps = tuple(script or ())
        for position, step in enumerate(steps, start=1):
            if not isinstance(step, STEP_TYPES):
                raise ValueError(f"script step {position} is {step!r}, not a step; build steps with text(), "
                                 "structured(), tool_call(), tool_calls() or http_error()")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535 (0 picks a free port), got {port!r}")
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, got {model!r}")
        self._steps = steps
        self._rule = rule
        self._requested_port = port
        self.model = model
        """Model id listed by ``GET /v1/models`` and echoed when a request names none."""
        self.log_path = log_path
        """JSONL file each model request is appended to (credentials redacted), or None."""
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 and serve in a background thread; returns the server itself.

        Example::

            server = ScriptedModelServer([text("hi")]).start()
            try: ...
            finally: server.stop()
        """
        if self._httpd is not None:
            raise RuntimeError(f"{PREFIX} is already running on {self.base_url}")
        if self.log_path is not None:
            try:
                open(self.log_path, "a", encoding="utf-8").close()
            except OSError as error:
                raise OSError(error.errno, f"{PREFIX} cannot append to request log {os.fspath(self.log_path)!r} "
                                           f"({error.strerror}); pass a writable file path") from None
        self._stopping.clear()
        self._httpd = _HTTPServer((HOST, self._requested_port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"scripted-model-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; requests held by a ``delay`` are dropped unanswered.

        Calling it on a stopped server does nothing.
        """
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._httpd is None:
            raise RuntimeError(f"{PREFIX} is not running; call start() or use it in a with block")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url``, e.g. ``http://127.0.0.1:PORT/v1`` (only while running)."""
        return f"http://{HOST}:{self.port}/v1"

    # Accounting ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the model requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """How many model requests have arrived (each consumed one step)."""
        with self._lock:
            return len(self._requests)

    def wait_for_request(self, number: int, timeout: float = 30.0) -> RecordedRequest:
        """Block until model request ``number`` (1-based) has arrived, and return it.

        It returns as soon as the request is recorded, before it is answered: with a
        step ``delay`` the request is still in flight, so a crash test can kill the
        client mid-request.

        Example::

            server = ScriptedModelServer([text("slow", delay=60)]).start()
            ...  # start a worker process that calls the model
            server.wait_for_request(1)
            worker.kill()
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"request number must be an int >= 1, got {number!r}")
        if not math.isfinite(timeout) or timeout < 0:
            raise ValueError(f"timeout must be a finite number of seconds >= 0, got {timeout!r}")
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= number, timeout):
                raise TimeoutError(f"{PREFIX}: request {number} did not arrive within {timeout} s; "
                                   f"{len(self._requests)} request(s) arrived so far")
            return self._requests[number - 1]

    def _admit(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[
            RecordedRequest, Step | str]:
        """Record a model request and choose its step, or the error message that replaces it."""
        with self._lock:
            request = RecordedRequest(len(self._requests) + 1, method, path, body, headers, time.time())
            self._requests.append(request)
            if self.log_path is not None:
                append_log_entry(self.log_path, request)
            outcome = self._choose(request)
            self._lock.notify_all()
        return request, outcome

    def _choose(self, request: RecordedRequest) -> Step | str:
        if self._rule is None:
            if request.number > len(self._steps):
                return (f"{PREFIX}: script exhausted at request {request.number} of {len(self._steps)}; "
                        "add steps to the script or answer with a rule")
            return self._steps[request.number - 1]
        try:
            step = self._rule(request)
        except Exception as error:  # noqa: BLE001 - a failing rule is reported to the client, never hangs it
            return f"{PREFIX}: rule raised {type(error).__name__}: {error} at request {request.number}"
        if not isinstance(step, STEP_TYPES):
            return (f"{PREFIX}: rule returned {step!r} at request {request.number}; return a step such as "
                    "text(...), tool_call(...) or http_error(...)")
        return step


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], owner: ScriptedModelServer) -> None:
        self.owner = owner
        try:
            super().__init__(address, _Handler)
        except OSError as error:
            raise OSError(error.errno, f"{PREFIX} cannot listen on {address[0]}:{address[1]} ({error.strerror}); "
                                       "pick a free port or pass port=0") from None


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "scripted-model-server"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is ``ScriptedModelServer.requests``."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/v1/models":
            self._send_json(200, openai_shapes.models_list(self.server.owner.model))
        else:
            self._send_not_found(path)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            self._send_error(400, f"{PREFIX}: Content-Length must be a byte count, got {length!r}")
            return
        raw = self.rfile.read(int(length))
        if path not in (CHAT_COMPLETIONS_PATH, RESPONSES_PATH):
            self._send_not_found(path)
            return
        body, problem = _parse_body(path, raw)
        if problem:
            self._send_error(400, f"{PREFIX}: {problem}")
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        request, outcome = self.server.owner._admit("POST", path, body, headers)
        extra = {"x-request-id": f"req_{request.number}"}
        if isinstance(outcome, str):
            self._send_error(500, outcome, {**extra, "x-should-retry": "false"})
            return
        if outcome.delay and self.server.owner._stopping.wait(outcome.delay):
            return
        if isinstance(outcome, ErrorStep):
            self._send_scripted_error(outcome, request, extra)
        elif request.stream:
            stream = openai_shapes.response_stream if request.api == "responses" else openai_shapes.chat_stream
            self._send_stream(stream(outcome, request, self.server.owner.model), extra)
        else:
            build = openai_shapes.response_object if request.api == "responses" else openai_shapes.chat_completion
            self._send_json(200, build(outcome, request, self.server.owner.model), extra)

    def _send_scripted_error(self, step: ErrorStep, request: RecordedRequest, extra: dict[str, str]) -> None:
        headers = dict(extra)
        if step.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(step.retry_after))
            headers["retry-after-ms"] = str(round(step.retry_after * 1000))
        message = step.message or f"{PREFIX}: scripted HTTP {step.status} at request {request.number}"
        self._send_error(step.status, message, headers)

    def _send_not_found(self, path: str) -> None:
        self._send_error(404, f"{PREFIX}: no route for {self.command} {path}; it serves {ROUTES}")

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, openai_shapes.error_payload(status, message), headers)

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._write(status, {"Content-Type": "application/json", "Content-Length": str(len(data)),
                             **(headers or {})}, [data])

    def _send_stream(self, chunks: Iterable[bytes], headers: dict[str, str]) -> None:
        self._write(200, {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
                          **headers}, chunks)

    def _write(self, status: int, headers: dict[str, str], chunks: Iterable[bytes]) -> None:
        try:
            self.send_response(status)
            for name, value in {**headers, "Connection": "close"}.items():
                self.send_header(name, value)
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (e.g. killed mid-request)


def _parse_body(path: str, raw: bytes) -> tuple[dict[str, Any], str | None]:
    """The JSON object of a model request, or a message saying what is wrong with it."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return {}, f"the body of POST {path} is not valid JSON ({error}); send a JSON object"
    if not isinstance(body, dict):
        return {}, f"the body of POST {path} must be a JSON object, got {type(body).__name__}"
    if path == CHAT_COMPLETIONS_PATH and not isinstance(body.get("messages"), list):
        return {}, f"POST {path} needs 'messages': a list of chat messages"
    if path == RESPONSES_PATH and not isinstance(body.get("input"), (str, list)):
        return {}, f"POST {path} needs 'input': a string or a list of input items"
    return body, None
