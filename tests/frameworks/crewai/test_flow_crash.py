"""A durable flow in real processes: kill -9 during its last LLM request, restart with the same run id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dapr_agents_durable.testing import (
    RecordedRequest,
    ScriptedModelServer,
    assert_key_sent_not_stored,
    embedded_app_env,
    finish,
    kill_during_request,
    read_jsonl,
    text,
    tool_call,
)

APP = Path(__file__).parent / "apps" / "flow_app.py"
API_KEY = "sk-test-planted-key-4b7d9e2a6c"
REQUESTS = 4  # pick, the crew's tool call, the crew's answer, the postcard
CREWAI_OFFLINE = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}


def trip_script(crash_at: int):
    """The four requests; request ``crash_at`` is held so a kill lands while it is in flight."""

    def answer(request: RecordedRequest):
        hold = 60.0 if request.number == crash_at else 0.0
        body = json.dumps(request.body)
        if "Pick a city to visit." in body:
            return text("Lisbon", delay=hold)
        if "Book the trip to Lisbon." in body:
            if request.tool_outputs:
                return text("Booked: Lisbon, step 1 recorded", delay=hold)
            return tool_call("record_step", {"n": 1}, delay=hold)
        return text("Greetings from Lisbon!", delay=hold)

    return answer


def _start(server: ScriptedModelServer, tmp: Path, run_id: str) -> subprocess.Popen[str]:
    env = embedded_app_env(
        tmp / "engine.db",
        {"OPENAI_API_KEY": API_KEY, "PYTHONPATH": os.pathsep.join(sys.path), "HOME": str(tmp),
         "CREWAI_STORAGE_DIR": str(tmp / "crewai"), **CREWAI_OFFLINE},
    )
    return subprocess.Popen([sys.executable, str(APP), server.base_url, run_id, str(tmp)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("crash_at", [3, 4], ids=["in-the-crew", "in-the-last-method"])
def test_kill_mid_flow_resumes_without_repaying_earlier_methods(tmp_path: Path, crash_at: int) -> None:
    with ScriptedModelServer(rule=trip_script(crash_at)) as server:
        assert kill_during_request(_start(server, tmp_path, "flow-crash"), server, crash_at) == crash_at

        result = finish(_start(server, tmp_path, "flow-crash"))
        assert result == {"result": "Greetings from Lisbon!",
                          "state": {"city": "Lisbon", "booking": "Booked: Lisbon, step 1 recorded"}}
        # Every request once, bar the one in flight at the kill: the earlier methods' calls are not paid again.
        assert server.request_count == REQUESTS + 1
        assert [r.number for r in server.requests if "Pick a city" in json.dumps(r.body)] == [1]
        assert [t["n"] for t in read_jsonl(tmp_path / "tools.jsonl")] == [1]
        # Methods are workflow code: the restart's replays ran them again (once per cold replay),
        # their durable calls answered from history.
        methods = [m["method"] for m in read_jsonl(tmp_path / "methods.jsonl")]
        before = ["pick", "book", *(["postcard"] if crash_at == 4 else [])]
        assert methods[: len(before)] == before
        rest = methods[len(before):]
        assert rest[:2] == ["pick", "book"] and rest[-1] == "postcard"

        paid = server.request_count
        assert finish(_start(server, tmp_path, "flow-crash")) == result
        assert server.request_count == paid
        assert [m["method"] for m in read_jsonl(tmp_path / "methods.jsonl")] == methods  # a finished run runs no method
    assert_key_sent_not_stored(server, API_KEY, tmp_path / "engine.db")
