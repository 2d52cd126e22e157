"""``dapr-agents-durable demo``: a durable agent run killed at step 13 of 15, then resumed.

Everything is local and offline: the embedded engine (inside the agent app) and
a scripted OpenAI-compatible model server standing in for the LLM. The app, an
OpenAI Agents SDK agent whose only change is the ``Runner`` import, is SIGKILLed
while its 13th model call is in flight, started again with the same run id, and
finishes; the report compares what was paid with a non-durable restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid

from dapr_agents_durable.testing import (
    RecordedRequest,
    ScriptedModelServer,
    Step,
    embedded_app_env,
    kill_during_request,
    text,
    tool_call,
)

STEPS = 15
CRASH_AT = 13


def _answer(request: RecordedRequest) -> Step:
    done = len(request.tool_outputs)
    step = done + 1
    if step < STEPS:
        # Hold the first request of the crash step long enough to kill the app during it.
        delay = 120.0 if request.number == CRASH_AT else 0.0
        print(f"  model call {request.number:>2}: step {step:>2} -> save_finding", flush=True)
        return tool_call("save_finding", {"step": step, "finding": f"runtime #{step} checkpoints"}, delay=delay)
    print(f"  model call {request.number:>2}: step {step:>2} -> final answer", flush=True)
    return text(f"Surveyed {done} runtimes: all of them checkpoint every step.")


def _start_app(model_url: str, run_id: str, workdir: str) -> subprocess.Popen[str]:
    env = embedded_app_env(
        os.path.join(workdir, "engine.db"),
        {"OPENAI_API_KEY": "sk-demo-not-a-real-key", "OPENAI_AGENTS_DISABLE_TRACING": "1"},
    )
    command = [sys.executable, "-m", "dapr_agents_durable.demo.app", "--model-url", model_url,
               "--run-id", run_id, "--notes", os.path.join(workdir, "notes.jsonl")]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_demo(workdir: str | None = None) -> int:
    """Run the demo and print its report; returns the process exit code."""
    try:
        import agents  # noqa: F401
    except ImportError:
        print("the demo runs an OpenAI Agents SDK agent: pip install 'dapr-agents-durable[openai-agents]'",
              file=sys.stderr)
        return 2
    workdir = workdir or tempfile.mkdtemp(prefix="dapr-agents-durable-demo-")
    os.makedirs(workdir, exist_ok=True)
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    print(f"dapr-agents-durable demo: a {STEPS}-step agent, killed during step {CRASH_AT}, then restarted")
    print(f"  embedded engine database: {os.path.join(workdir, 'engine.db')}\n  run id: {run_id}\n")
    with ScriptedModelServer(rule=_answer) as server:
        print("run 1:", flush=True)
        paid_before = kill_during_request(_start_app(server.base_url, run_id, workdir), server, CRASH_AT)
        print(f"  -- SIGKILL during model call {CRASH_AT} (the app and its embedded engine die) --\n")
        print("run 2 (same run id):", flush=True)
        app = _start_app(server.base_url, run_id, workdir)
        out, err = app.communicate(timeout=180)
        paid_total = server.request_count
    if app.returncode != 0:
        print(f"\nthe resumed run failed:\n{err[-2000:]}", file=sys.stderr)
        return 1
    result = json.loads(out.strip().splitlines()[-1])
    with open(os.path.join(workdir, "notes.jsonl")) as notes:
        saved = [json.loads(line)["step"] for line in notes]
    completed_before = paid_before - 1
    naive = paid_before + STEPS
    print(
        f"\nreport\n"
        f"  final output:                  {result['final_output']!r}\n"
        f"  model calls in the result:     {result['model_calls']} (the same run an uncrashed process makes)\n"
        f"  run 1:                         {completed_before} steps completed, killed during step {CRASH_AT}\n"
        f"  run 2 replayed from history:   {completed_before} steps (no model or tool call)\n"
        f"  run 2 executed:                {paid_total - paid_before} steps ({CRASH_AT}-{STEPS})\n"
        f"  tool calls:                    {len(saved)} findings saved, each once: {sorted(saved) == sorted(set(saved))}\n"
        f"  model calls paid:              {paid_total} ({paid_before} before the crash, "
        f"{paid_total - paid_before} after; only the call in flight was paid twice)\n"
        f"  a non-durable restart pays:    {naive} ({paid_before} before the crash + {STEPS} from scratch)"
    )
    return 0
