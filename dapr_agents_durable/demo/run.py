"""``dapr-agents-durable demo``: a durable agent run killed at step 13 of 15, then resumed.

Everything is local and offline: the embedded engine (inside the agent app), and a
scripted OpenAI-compatible model server standing in for the LLM. The app is
SIGKILLed while its 13th model call is in flight, started again with the same run
id, and finishes; the report compares what was paid with a non-durable restart.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field

from dapr_agents_durable.demo.app import STEPS
from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, TextStep, text

CRASH_AT = 13
_STEP = re.compile(r"step (\d+)")


@dataclass
class AppRun:
    """What one start of the agent app printed."""

    executed_steps: list[int] = field(default_factory=list)
    resumed: bool = False
    finished: dict | None = None


def _answer(request: RecordedRequest) -> TextStep:
    content = json.dumps(request.body.get("messages", []))
    match = _STEP.search(content)
    step = int(match.group(1)) if match else 0
    # Hold the first request of the crash step long enough to kill the app during it.
    delay = 120.0 if step == CRASH_AT and request.number == CRASH_AT else 0.0
    return text(f"finding {step}: runtime #{step} checkpoints every call", delay=delay)


def _start_app(db: str, model_url: str, run_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dapr_agents_durable.demo.app", "--db", db, "--model-url", model_url, "--run-id", run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "DEMO_API_KEY": "sk-demo-secret"},
    )


def _read(process: subprocess.Popen, run: AppRun, until_step: int | None = None) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["event"] == "started":
            run.resumed = event["resumed"]
        elif event["event"] == "step":
            run.executed_steps.append(event["step"])
            print(f"  step {event['step']:>2} done", flush=True)
            if until_step is not None and event["step"] == until_step:
                return
        elif event["event"] == "finished":
            run.finished = event


def run_demo(db: str | None = None) -> int:
    """Run the demo and print its report; returns the process exit code."""
    workdir = tempfile.mkdtemp(prefix="dapr-agents-durable-demo-")
    db = db or os.path.join(workdir, "engine.db")
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    print(f"dapr-agents-durable demo: a {STEPS}-step agent, killed during step {CRASH_AT}, then restarted")
    print(f"  embedded engine database: {db}\n  run id: {run_id}\n")
    with ScriptedModelServer(rule=_answer) as server:
        first, second = AppRun(), AppRun()
        print("run 1:", flush=True)
        app = _start_app(db, server.base_url, run_id)
        try:
            _read(app, first, until_step=CRASH_AT - 1)
            server.wait_for_request(CRASH_AT, timeout=60)
            app.send_signal(signal.SIGKILL)
            app.wait(timeout=30)
        finally:
            if app.poll() is None:
                app.kill()
        paid_before = server.request_count
        print(f"  -- SIGKILL during model call {CRASH_AT} (the app and its embedded engine die) --\n")
        print("run 2 (same run id):", flush=True)
        app = _start_app(db, server.base_url, run_id)
        _read(app, second)
        app.wait(timeout=60)
        paid_total = server.request_count
    if second.finished is None or second.finished["status"] != "COMPLETED":
        print(f"\nthe resumed run did not complete: {second.finished}", file=sys.stderr)
        return 1
    output = second.finished["output"]
    replayed = STEPS - len(second.executed_steps)
    naive = (CRASH_AT - 1) + 1 + STEPS
    print(
        f"\nreport\n"
        f"  result:                        {output['steps']} steps, final answer {output['summary']!r}\n"
        f"  run 1 completed steps:         {len(first.executed_steps)} (1-{CRASH_AT - 1}), then killed in step {CRASH_AT}\n"
        f"  run 2 replayed from history:   {replayed} steps (no model call)\n"
        f"  run 2 executed:                {len(second.executed_steps)} steps "
        f"({second.executed_steps[0]}-{second.executed_steps[-1]})\n"
        f"  model calls paid:              {paid_total} ({paid_before} before the crash, "
        f"{paid_total - paid_before} after; the in-flight call is the only one paid twice)\n"
        f"  a non-durable restart pays:    {naive} ({CRASH_AT} before the crash + {STEPS} from scratch)"
    )
    return 0
