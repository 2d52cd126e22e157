"""The scripted model server over real HTTP, driven by the real openai client and raw HTTP."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from pydantic import BaseModel

from dapr_agents_durable.testing import (
    RecordedRequest,
    ScriptedModelServer,
    Step,
    http_error,
    read_request_log,
    save_script,
    structured,
    text,
    tool_call,
    tool_calls,
)

API_KEY = "sk-test-secret-123"
USER = [{"role": "user", "content": "What is the weather in Paris?"}]
CHAT_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
RESPONSE_TOOLS = [{"type": "function", "name": "get_weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


class Weather(BaseModel):
    city: str
    sunny: bool


def client_for(server: ScriptedModelServer, max_retries: int = 0) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=max_retries)


def raw(server: ScriptedModelServer, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def post_json(server: ScriptedModelServer, path: str, payload: Any) -> tuple[int, http.client.HTTPMessage, bytes]:
    return raw(server, "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedModelServer]]:
    servers: list[ScriptedModelServer] = []

    def start(script: list[Step] | None = None, **options: Any) -> ScriptedModelServer:
        server = ScriptedModelServer(script, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# Chat Completions ------------------------------------------------------------------


def test_chat_text_answer_has_deterministic_ids_and_usage(serve: Callable[..., ScriptedModelServer]) -> None:
    answers = []
    for _ in range(2):
        server = serve([text("It is sunny in Paris."), text("Anything else?")])
        client = client_for(server)
        answers.append([client.chat.completions.create(model="gpt-4o-mini", messages=USER) for _ in range(2)])
    first, second = answers[0]
    assert first.id == "chatcmpl-1" and second.id == "chatcmpl-2"
    assert first.choices[0].message.content == "It is sunny in Paris."
    assert first.choices[0].finish_reason == "stop"
    assert first.model == "gpt-4o-mini"
    assert first.usage is not None and first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert [a.model_dump() for a in answers[0]] == [a.model_dump() for a in answers[1]]


def test_chat_tool_calls_carry_name_arguments_and_call_ids(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([
        tool_call("get_weather", {"city": "Paris"}),
        tool_calls(tool_call("get_weather", {"city": "Rome"}, call_id="call_rome"), tool_call("get_time")),
    ])
    client = client_for(server)
    single = client.chat.completions.create(model="m", messages=USER, tools=CHAT_TOOLS)
    parallel = client.chat.completions.create(model="m", messages=USER, tools=CHAT_TOOLS)
    assert single.choices[0].finish_reason == "tool_calls"
    assert single.choices[0].message.content is None
    (call,) = single.choices[0].message.tool_calls or []
    assert (call.id, call.type, call.function.name) == ("call_1_1", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    calls = parallel.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_rome", "get_weather", '{"city":"Rome"}'), ("call_2_2", "get_time", "{}")]


def test_chat_stream_sends_tool_call_deltas_in_openai_shape(serve: Callable[..., ScriptedModelServer]) -> None:
    step = tool_calls(tool_call("get_weather", {"city": "Paris", "unit": "celsius"}),
                      tool_call("get_weather", {"city": "Rome", "unit": "celsius"}))
    server = serve([step, step])
    client = client_for(server)
    chunks = list(client.chat.completions.create(model="m", messages=USER, tools=CHAT_TOOLS, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {chunk.id for chunk in chunks} == {"chatcmpl-1"}
    deltas = [d for chunk in chunks for d in chunk.choices[0].delta.tool_calls or []]
    for index, city in enumerate(["Paris", "Rome"]):
        mine = [d for d in deltas if d.index == index]
        head, rest = mine[0], mine[1:]
        assert (head.id, head.type, head.function and head.function.name) == (
            f"call_1_{index + 1}", "function", "get_weather")
        assert head.function is not None and head.function.arguments == ""
        assert len(rest) > 1 and all(d.id is None and d.function and d.function.name is None for d in rest)
        arguments = "".join(d.function.arguments or "" for d in rest if d.function)
        assert json.loads(arguments) == {"city": city, "unit": "celsius"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert all(chunk.usage is None for chunk in chunks)

    with client.chat.completions.stream(model="m", messages=USER, tools=CHAT_TOOLS) as stream:
        final = stream.get_final_completion()
    assert [(c.id, c.function.arguments) for c in final.choices[0].message.tool_calls or []] == [
        ("call_2_1", '{"city":"Paris","unit":"celsius"}'), ("call_2_2", '{"city":"Rome","unit":"celsius"}')]


def test_chat_stream_text_ends_with_usage_chunk_and_done(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("It is sunny in Paris today."), text("Raw and streamed.")])
    chunks = list(client_for(server).chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "It is sunny in Paris today."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None and usage_chunk.usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])

    status, headers, body = post_json(server, "/v1/chat/completions",
                                      {"model": "m", "messages": USER, "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [line for line in body.decode().split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks_raw = [json.loads(event[len("data: "):]) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks_raw} == {"chat.completion.chunk"}
    assert "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks_raw) == "Raw and streamed."
    assert all("usage" not in chunk for chunk in chunks_raw)


def test_chat_structured_output_parses_into_a_model(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([structured({"city": "Paris", "sunny": True})])
    completion = client_for(server).chat.completions.parse(model="m", messages=USER, response_format=Weather)
    assert completion.choices[0].message.parsed == Weather(city="Paris", sunny=True)
    assert server.requests[0].body["response_format"]["type"] == "json_schema"


# Responses API ---------------------------------------------------------------------


def test_responses_text_and_parallel_function_calls(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("It is sunny."), tool_calls(tool_call("get_weather", {"city": "Paris"}),
                                                     tool_call("get_weather", {"city": "Rome"}, call_id="c_rome"))])
    client = client_for(server)
    answer = client.responses.create(model="gpt-4.1", input="Weather?", instructions="Be brief.")
    assert (answer.id, answer.status, answer.output_text) == ("resp_1", "completed", "It is sunny.")
    assert answer.output[0].id == "msg_1_1" and answer.instructions == "Be brief."
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.input_tokens + answer.usage.output_tokens > 0
    calls = client.responses.create(model="gpt-4.1", input="Weather?", tools=RESPONSE_TOOLS).output
    assert [(c.type, c.id, c.call_id, c.name, c.arguments) for c in calls] == [
        ("function_call", "fc_2_1", "call_2_1", "get_weather", '{"city":"Paris"}'),
        ("function_call", "fc_2_2", "c_rome", "get_weather", '{"city":"Rome"}')]


def test_responses_stream_emits_the_real_event_sequence(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("It is sunny in Paris."),
                    tool_calls(tool_call("get_weather", {"city": "Paris"}), tool_call("get_time", {"tz": "CET"}))])
    client = client_for(server)
    with client.responses.stream(model="m", input="Weather?") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert types == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * len(deltas),
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    assert len(deltas) > 1 and "".join(deltas) == "It is sunny in Paris."
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.id == "resp_1" and final.output_text == "It is sunny in Paris."

    raw_events = list(client.responses.create(model="m", input="Weather?", tools=RESPONSE_TOOLS, stream=True))
    added = [e for e in raw_events if e.type == "response.output_item.added"]
    assert [(e.item.type, e.item.status, e.item.arguments) for e in added] == [
        ("function_call", "in_progress", ""), ("function_call", "in_progress", "")]
    for index, arguments in enumerate(['{"city":"Paris"}', '{"tz":"CET"}']):
        pieces = [e.delta for e in raw_events if e.type == "response.function_call_arguments.delta"
                  and e.output_index == index]
        assert "".join(pieces) == arguments
    completed = raw_events[-1]
    assert completed.type == "response.completed"
    assert [item.call_id for item in completed.response.output] == ["call_2_1", "call_2_2"]


def test_responses_stream_event_lines_name_their_type(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("hi")])
    status, _, body = post_json(server, "/v1/responses", {"model": "m", "input": "hello", "stream": True})
    assert status == 200
    for block in [block for block in body.decode().split("\n\n") if block]:
        event_line, data_line = block.split("\n")
        assert event_line == f"event: {json.loads(data_line[len('data: '):])['type']}"


def test_responses_structured_output_parses_into_a_model(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([structured({"city": "Rome", "sunny": False})])
    parsed = client_for(server).responses.parse(model="m", input="Weather?", text_format=Weather)
    assert parsed.output_parsed == Weather(city="Rome", sunny=False)


def test_async_client_streams_both_apis(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("async chat answer"), text("async responses answer")])

    async def run() -> tuple[str, str]:
        client = AsyncOpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)
        chat = "".join([c.choices[0].delta.content or "" async for c in
                        await client.chat.completions.create(model="m", messages=USER, stream=True)])
        async with client.responses.stream(model="m", input="hi") as stream:
            final = await stream.get_final_response()
        await client.close()
        return chat, final.output_text

    assert asyncio.run(run()) == ("async chat answer", "async responses answer")


# HTTP errors and script exhaustion -------------------------------------------------


def test_scripted_error_sends_status_retry_after_and_openai_body(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([http_error(429, retry_after=1.5, message="slow down"), http_error(503)])
    client = client_for(server)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="m", messages=USER)
    assert limited.value.status_code == 429
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.response.headers["retry-after-ms"] == "1500"
    assert limited.value.code == "rate_limit_exceeded" and limited.value.message.endswith("slow down")
    with pytest.raises(openai.InternalServerError, match="scripted HTTP 503 at request 2") as unavailable:
        client.responses.create(model="m", input="hi", stream=True)
    assert "retry-after" not in unavailable.value.response.headers


def test_client_retry_honours_retry_after_and_reaches_the_next_step(
        serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([http_error(429, retry_after=0.05), http_error(503, retry_after=0.05), text("finally")])
    answer = client_for(server, max_retries=2).chat.completions.create(model="m", messages=USER)
    assert answer.choices[0].message.content == "finally"
    assert answer.id == "chatcmpl-3"
    assert server.request_count == 3


def test_exhausted_script_answers_500_naming_the_request_and_is_not_retried(
        serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("only answer")])
    client = client_for(server, max_retries=2)
    client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(openai.InternalServerError,
                       match="scripted model server: script exhausted at request 2 of 1") as exhausted:
        client.chat.completions.create(model="m", messages=USER)
    assert exhausted.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(openai.InternalServerError, match="script exhausted at request 3 of 1"):
        client.responses.create(model="m", input="hi", stream=True)
    assert server.request_count == 3


# Rule mode -------------------------------------------------------------------------


def test_rule_keeps_calling_a_tool_until_three_results_then_answers(
        serve: Callable[..., ScriptedModelServer]) -> None:
    def rule(request: RecordedRequest) -> Step:
        results = request.tool_outputs
        if len(results) < 3:
            return tool_call("roll_die", {"roll": len(results) + 1})
        return text(f"total {sum(int(result) for result in results)}")

    server = serve(rule=rule)
    client = client_for(server)
    messages: list[dict[str, Any]] = list(USER)
    while True:
        message = client.chat.completions.create(model="m", messages=messages).choices[0].message
        if not message.tool_calls:
            break
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": str(json.loads(call.function.arguments)["roll"] * 2)})
    assert message.content == "total 12"
    assert server.request_count == 4
    assert [request.tool_outputs for request in server.requests] == [[], ["2"], ["2", "4"], ["2", "4", "6"]]

    inputs = [{"role": "user", "content": "roll"},
              {"type": "function_call", "call_id": "c1", "name": "roll_die", "arguments": "{}"},
              {"type": "function_call_output", "call_id": "c1", "output": "5"}]
    answer = client.responses.create(model="m", input=inputs)
    assert answer.output[0].arguments == '{"roll":2}'


def test_rule_failures_become_clear_500s(serve: Callable[..., ScriptedModelServer]) -> None:
    def rule(request: RecordedRequest) -> Step:
        if request.number == 1:
            raise ValueError("no answer for this conversation")
        return None

    client = client_for(serve(rule=rule))
    with pytest.raises(openai.InternalServerError,
                       match="rule raised ValueError: no answer for this conversation at request 1"):
        client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(openai.InternalServerError, match="rule returned None at request 2; return a step"):
        client.chat.completions.create(model="m", messages=USER)


# Request accounting ----------------------------------------------------------------


def test_requests_record_body_and_headers_while_the_log_redacts_credentials(
        serve: Callable[..., ScriptedModelServer], tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = serve([text("one"), text("two")], log_path=log)
    client = client_for(server)
    client.chat.completions.create(model="m", messages=USER, temperature=0.2)
    client.responses.create(model="m", input="hi", stream=True).close()
    first, second = server.requests
    assert (first.number, first.method, first.path, first.api) == (1, "POST", "/v1/chat/completions",
                                                                   "chat.completions")
    assert first.body == {"model": "m", "messages": USER, "temperature": 0.2}
    assert first.headers["authorization"] == f"Bearer {API_KEY}"
    assert (second.path, second.api, second.stream) == ("/v1/responses", "responses", True)
    entries = read_request_log(log)
    assert [entry["number"] for entry in entries] == [1, 2]
    assert entries[0]["headers"]["authorization"] == "[redacted]"
    assert entries[0]["body"] == first.body
    assert API_KEY not in log.read_text()


def test_concurrent_requests_are_numbered_once_each(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve(rule=lambda request: text(f"answer {request.number}"))
    client = client_for(server)
    answers: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def ask() -> None:
        completion = client.chat.completions.create(model="m", messages=USER)
        with lock:
            answers.append((completion.id, completion.choices[0].message.content))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.request_count == 8
    assert sorted(request.number for request in server.requests) == list(range(1, 9))
    assert sorted(answers) == sorted((f"chatcmpl-{n}", f"answer {n}") for n in range(1, 9))


def test_wait_for_request_returns_while_a_delayed_request_is_in_flight(
        serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("too late", delay=120)])
    outcome: list[BaseException | str | None] = []

    def ask() -> None:
        try:
            outcome.append(client_for(server).chat.completions.create(model="m", messages=USER)
                           .choices[0].message.content)
        except openai.APIConnectionError as error:
            outcome.append(error)

    worker = threading.Thread(target=ask)
    worker.start()
    request = server.wait_for_request(1)
    assert request.number == 1 and request.body["messages"] == USER
    assert outcome == []
    server.stop()
    worker.join()
    assert len(outcome) == 1 and isinstance(outcome[0], openai.APIConnectionError)


def test_wait_for_request_times_out_with_a_clear_message(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("hi")])
    with pytest.raises(TimeoutError, match="request 1 did not arrive within 0.1 s; 0 request"):
        server.wait_for_request(1, timeout=0.1)
    with pytest.raises(ValueError, match="request number must be an int >= 1"):
        server.wait_for_request(0)


def test_lifecycle_uses_a_given_port_and_reports_misuse(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ScriptedModelServer([text("hi")], port=port)
    with pytest.raises(RuntimeError, match="not running; call start"):
        _ = server.base_url
    with server:
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            ScriptedModelServer([text("hi")], port=port).start()
    server.stop()
    with pytest.raises(OSError, match="cannot append to request log .*; pass a writable file path"):
        ScriptedModelServer([text("hi")], log_path=tmp_path / "missing" / "requests.jsonl").start()


# Bad input -------------------------------------------------------------------------


def test_malformed_json_gets_400_and_consumes_no_step(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("first step")])
    status, _, body = raw(server, "POST", "/v1/chat/completions", b"{not json",
                          {"Content-Type": "application/json"})
    assert status == 400
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("scripted model server: the body of POST /v1/chat/completions "
                                       "is not valid JSON (")
    assert server.request_count == 0
    assert client_for(server).chat.completions.create(model="m", messages=USER).choices[0].message.content == (
        "first step")


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ("/v1/chat/completions", [1, 2], "must be a JSON object, got list"),
        ("/v1/chat/completions", {"model": "m"}, "POST /v1/chat/completions needs 'messages'"),
        ("/v1/responses", {"model": "m", "input": 5}, "POST /v1/responses needs 'input'"),
    ],
)
def test_bodies_missing_what_the_api_needs_get_400(
        serve: Callable[..., ScriptedModelServer], path: str, payload: Any, message: str) -> None:
    server = serve([text("unused")])
    status, _, body = post_json(server, path, payload)
    assert status == 400 and message in json.loads(body)["error"]["message"]
    assert server.request_count == 0


def test_unknown_paths_get_404_listing_the_routes(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("unused")])
    for method, path in [("GET", "/v1/nothing"), ("POST", "/v2/chat/completions"), ("GET", "/v1/responses")]:
        status, _, body = raw(server, method, path, b"{}" if method == "POST" else None)
        assert status == 404
        assert json.loads(body)["error"]["message"] == (
            f"scripted model server: no route for {method} {path}; it serves POST /v1/chat/completions, "
            "POST /v1/responses and GET /v1/models")
    with pytest.raises(openai.NotFoundError, match="no route for POST /v1/embeddings"):
        client_for(server).embeddings.create(model="m", input="hi")
    assert server.request_count == 0


def test_models_endpoint_lists_the_scripted_model(serve: Callable[..., ScriptedModelServer]) -> None:
    server = serve([text("unused")], model="house-model")
    assert [model.id for model in client_for(server).models.list()] == ["house-model"]


# The server as its own process -----------------------------------------------------

CLIENT_PROGRAM = textwrap.dedent("""
    import json, sys
    from openai import OpenAI
    client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0, timeout=300)
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    print(json.dumps({"id": answer.id, "content": answer.choices[0].message.content}))
""")


def start_server_process(script: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "dapr_agents_durable.testing.model_server", "--port", "0", "--script", str(script),
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    prefix = "scripted model server ready on "
    assert line.startswith(prefix), f"no readiness line; stderr: {process.stderr.read() if process.stderr else ''}"
    return process, line[len(prefix):]


def test_server_process_serves_on_across_a_killed_client_and_logs_every_request(tmp_path: Path) -> None:
    script, log = tmp_path / "script.json", tmp_path / "requests.jsonl"
    save_script([text("never delivered", delay=120), text("second client's answer")], script)
    server, base_url = start_server_process(script, "--log", str(log))
    try:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        doomed = subprocess.Popen([sys.executable, "-c", CLIENT_PROGRAM, base_url, API_KEY],
                                  stdout=subprocess.PIPE, text=True)
        wait_until(lambda: len(read_request_log(log)) == 1, "the first client's request to be logged")
        doomed.kill()
        assert doomed.wait() == -signal.SIGKILL
        survivor = subprocess.run([sys.executable, "-c", CLIENT_PROGRAM, base_url, API_KEY],
                                  capture_output=True, text=True, check=True)
        assert json.loads(survivor.stdout) == {"id": "chatcmpl-2", "content": "second client's answer"}
        entries = read_request_log(log)
        assert [entry["number"] for entry in entries] == [1, 2]
        assert all(entry["headers"]["authorization"] == "[redacted]" for entry in entries)
        assert API_KEY not in log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0


def run_server_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dapr_agents_durable.testing.model_server", *args],
                          check=False, capture_output=True, text=True, timeout=60)


def test_server_process_refuses_a_bad_script_or_a_busy_port_with_status_2(
        serve: Callable[..., ScriptedModelServer], tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"steps": [{"text": "a", "tool_calls": []}]}))
    bad_script = run_server_process("--script", str(script))
    assert bad_script.returncode == 2 and bad_script.stdout == ""
    assert "script step 1 must hold exactly one of 'text', 'tool_calls' or 'error'" in bad_script.stderr
    save_script([text("hi")], script)
    busy = serve([text("hi")])
    busy_port = run_server_process("--script", str(script), "--port", str(busy.port))
    assert busy_port.returncode == 2 and busy_port.stdout == ""
    assert f"cannot listen on 127.0.0.1:{busy.port}" in busy_port.stderr
