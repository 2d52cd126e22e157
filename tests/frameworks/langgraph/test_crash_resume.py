"""Durable graphs in real processes: kill -9 mid-run, start the same command again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dapr_agents_durable.testing import (
    RecordedRequest,
    ScriptedModelServer,
    assert_each_once,
    assert_key_sent_not_stored,
    embedded_app_env,
    finish,
    kill_during_request,
    read_jsonl,
    step_loop,
    text,
)

APP = Path(__file__).parent / "apps" / "graph_app.py"
STEPS = 14  # tool turns; the 15th model request answers
CRASH_AT = 13
API_KEY = "sk-test-planted-key-5b7d1e9c2a"


def _start(server: ScriptedModelServer, tmp: Path, thread: str, mode: str, *args: str,
           extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "PYTHONPATH": os.pathsep.join(sys.path),
                                               **(extra or {})})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, thread, str(tmp / "tools.jsonl"), mode, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _assert_key_absent(tmp: Path, server: ScriptedModelServer) -> None:
    assert_key_sent_not_stored(server, API_KEY, tmp / "engine.db")


def test_kill_during_request_13_resumes_without_paying_twice(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=step_loop(STEPS, CRASH_AT)) as server:
        assert kill_during_request(_start(server, tmp_path, "loop-crash", "loop"), server, CRASH_AT) == CRASH_AT

        result = finish(_start(server, tmp_path, "loop-crash", "loop"))
        assert result["messages"][-1] == f"all {STEPS} steps recorded"
        assert len(result["messages"]) == 2 + 2 * STEPS  # the question, 14 calls and results, the answer
        assert server.request_count == STEPS + 2  # 15 requests + the one in flight at the kill

        tools = read_jsonl(tmp_path / "tools.jsonl")
        assert sorted(t["n"] for t in tools) == list(range(1, STEPS + 1))
        assert_each_once(t["n"] for t in tools)
        assert len({t["key"] for t in tools}) == STEPS

        paid = server.request_count
        assert finish(_start(server, tmp_path, "loop-crash", "loop")) == result
        assert server.request_count == paid  # a finished thread answers from its history
    _assert_key_absent(tmp_path, server)


def fanout_answer(request: RecordedRequest):
    asked = request.body["messages"][-1]["content"]
    if asked == "Which cities?":
        return text("Paris,Oslo,Rome")
    city = asked.removeprefix("Report the weather in ").removesuffix(".")
    return text(f"{city}: sunny", delay=60.0 if city == "Oslo" and request.number <= 4 else 0.0)


def test_kill_during_a_parallel_super_step_repeats_only_the_branch_in_flight(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=fanout_answer) as server:
        app = _start(server, tmp_path, "fan-crash", "fanout")
        server.wait_for_request(4, timeout=120)
        time.sleep(3.0)  # Paris and Rome are answered at once; Oslo's request stays in flight
        assert kill_during_request(app, server, 4) == 4

        result = finish(_start(server, tmp_path, "fan-crash", "fanout"))
        assert result["reports"] == ["Oslo: sunny", "Paris: sunny", "Rome: sunny"]
        cities = [r.body["messages"][-1]["content"] for r in server.requests[1:]]
        assert sorted(cities) == sorted(["Report the weather in Oslo."] * 2 + [
            "Report the weather in Paris.", "Report the weather in Rome."])  # only Oslo asked again
    _assert_key_absent(tmp_path, server)


def turns_answer(request: RecordedRequest):
    said = [m["content"] for m in request.body["messages"] if m["role"] == "user"]
    return text(f"heard {len(said)}: {' / '.join(said)}")


def test_a_three_turn_conversation_survives_restarts_between_turns(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=turns_answer) as server:
        for text_said in ("hi", "my name is Ada", "what is my name?"):
            result = finish(_start(server, tmp_path, "chat", "turns", text_said))
        assert result["messages"] == [
            "hi", "heard 1: hi",
            "my name is Ada", "heard 2: hi / my name is Ada",
            "what is my name?", "heard 3: hi / my name is Ada / what is my name?",
        ]
        assert server.request_count == 3  # one model request per turn: earlier turns are not re-run
    _assert_key_absent(tmp_path, server)


def review_answer(request: RecordedRequest):
    last = request.body["messages"][-1]["content"]
    return text("Published." if last.startswith("The reviewer says") else "A sunny draft.")


def test_kill_during_an_interrupt_wait_resumes_the_wait(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=review_answer) as server:
        app = _start(server, tmp_path, "review-crash", "review")
        assert app.stdout is not None
        assert app.stdout.readline().startswith("waiting ")
        app.kill()
        app.wait()
        assert server.request_count == 1

        result = finish(_start(server, tmp_path, "review-crash", "review", extra={"VERDICT": "ship it"}))
        assert result["verdict"] == "ship it"
        assert result["messages"] == ["Write a forecast.", "A sunny draft.", "The reviewer says: ship it", "Published."]
        assert server.request_count == 2  # the draft is not written again
    _assert_key_absent(tmp_path, server)


def _approvals(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dapr_agents_durable", "approvals", *args, "--db", str(tmp / "engine.db")],
                          capture_output=True, text=True, timeout=120, env=embedded_app_env(tmp / "engine.db"))


def test_the_cli_resumes_an_interrupt_while_the_app_is_down(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=review_answer) as server:
        app = _start(server, tmp_path, "review-cli", "review")
        assert app.stdout is not None
        interrupt_id = app.stdout.readline().split()[1]
        app.kill()
        app.wait()

        refused = _approvals(tmp_path, "approve", "review-cli-1", interrupt_id, "--arguments", "[1]")
        assert refused.returncode == 2 and "'arguments' must be a JSON object" in refused.stderr
        listed = _approvals(tmp_path, "list", "review-cli-1")
        assert json.loads(listed.stdout)["call_id"] == interrupt_id  # the refused decision changed nothing
        decided = _approvals(tmp_path, "approve", "review-cli-1", interrupt_id, "--message", "ship it")
        assert decided.returncode == 0, decided.stderr

        result = finish(_start(server, tmp_path, "review-cli", "review"))
        assert result["verdict"] == "ship it"
        assert server.request_count == 2
