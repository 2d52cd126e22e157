"""Script steps, their helpers and the JSON script format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dapr_agents_durable.testing import (
    ErrorStep,
    ScriptedModelServer,
    TextStep,
    ToolCall,
    ToolCallsStep,
    dump_script,
    http_error,
    load_script,
    parse_script,
    save_script,
    structured,
    text,
    tool_call,
    tool_calls,
)


def test_helpers_build_the_steps_they_name() -> None:
    assert text("hi", delay=1.5) == TextStep("hi", delay=1.5)
    assert json.loads(structured({"city": "Paris", "sunny": True}).content) == {"city": "Paris", "sunny": True}
    assert tool_call("get_weather", {"city": "Paris"}, call_id="c1") == ToolCallsStep(
        (ToolCall("get_weather", {"city": "Paris"}, "c1"),))
    assert tool_call("ping").calls[0].arguments_json() == "{}"
    parallel = tool_calls(tool_call("a", {"x": 1}), ToolCall("b"), delay=2)
    assert [call.name for call in parallel.calls] == ["a", "b"] and parallel.delay == 2
    assert http_error(429, retry_after=1) == ErrorStep(429, retry_after=1)


def test_tool_call_arguments_are_compact_json_or_sent_verbatim() -> None:
    assert ToolCall("f", {"city": "Paris", "days": 2}).arguments_json() == '{"city":"Paris","days":2}'
    assert ToolCall("f", '{"broken').arguments_json() == '{"broken'


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: text(5), "text content must be a string"),  # type: ignore[arg-type]
        (lambda: text("hi", delay=-1), "delay must be a finite number of seconds >= 0"),
        (lambda: tool_call(""), "tool call name must be a non-empty string"),
        (lambda: tool_call("f", [1, 2]), "must be an object or a string"),  # type: ignore[arg-type]
        (lambda: tool_call("f", {"when": object()}), "must be JSON-serializable"),
        (lambda: tool_call("f", call_id=""), "call_id of tool call 'f' must be a non-empty string"),
        (lambda: tool_calls(), "needs at least one ToolCall"),
        (lambda: tool_calls("f"), "tool_calls takes ToolCall values"),  # type: ignore[arg-type]
        (lambda: http_error(200), "between 400 and 599"),
        (lambda: http_error(503, retry_after=-2), "retry_after must be a finite number"),
    ],
)
def test_bad_steps_are_refused_with_a_message_naming_the_problem(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_script_round_trips_through_a_json_file(tmp_path: Path) -> None:
    steps = [
        http_error(429, retry_after=1.5, message="slow down"),
        tool_calls(tool_call("a", {"x": 1}, call_id="call_a"), tool_call("b", '{"raw"')),
        structured({"ok": True}),
        text("done", delay=0.5),
    ]
    path = tmp_path / "script.json"
    save_script(steps, path)
    assert load_script(path) == steps
    assert json.loads(path.read_text())["steps"][0] == {"error": 429, "retry_after": 1.5, "message": "slow down"}
    assert parse_script(dump_script(steps)) == steps


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"text": "hi"}], r'a script must be a JSON object \{"steps": \[...\]\}'),
        ({"steps": [{"text": "hi"}], "extra": 1}, "a script must be a JSON object"),
        ({"steps": [{"text": "a"}, "b"]}, "script step 2 must be an object"),
        ({"steps": [{"text": "a", "error": 500}]}, "script step 1 must hold exactly one of"),
        ({"steps": [{"text": "a", "retry_after": 1}]}, r"script step 1 has unknown keys \['retry_after'\]"),
        ({"steps": [{"error": 700}]}, "script step 1: error status must be an HTTP error code"),
        ({"steps": [{"tool_calls": []}]}, "script step 1: 'tool_calls' must be a non-empty list"),
        ({"steps": [{"tool_calls": [{"arguments": {}}]}]}, "script step 1: tool call 1 must be an object with 'name'"),
        ({"steps": [{"text": "a", "delay": "soon"}]}, "script step 1: delay must be a finite number"),
    ],
)
def test_bad_json_scripts_name_the_step_and_the_fix(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_script(data)


def test_load_script_names_the_file_when_it_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{steps: nope")
    with pytest.raises(ValueError, match="broken.json' is not valid JSON"):
        load_script(path)


def test_server_refuses_ambiguous_or_bad_scripts() -> None:
    with pytest.raises(ValueError, match="exactly one of script="):
        ScriptedModelServer()
    with pytest.raises(ValueError, match="exactly one of script="):
        ScriptedModelServer([text("hi")], rule=lambda request: text("hi"))
    with pytest.raises(ValueError, match="script step 2 is 'oops', not a step"):
        ScriptedModelServer([text("hi"), "oops"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="port must be between 0 and 65535"):
        ScriptedModelServer([text("hi")], port=70000)
