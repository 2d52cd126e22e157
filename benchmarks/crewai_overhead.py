"""Per-step overhead of durable CrewAI crews against native ``crewai.Crew``, and LLM calls re-paid after a kill.

Overhead: the same one-agent, one-task crew (a tool loop of N turns, one tool call per
LLM response, then an answer) kicked off with CrewAI's own ``Crew`` and with the durable
``Crew`` on the embedded engine, in this process, several times each; prints the wall
time per step (one LLM call + one tool call), the overhead per step and the ratio. The
LLM is an in-process scripted ``BaseLLM``. The first run of each kind is a warm-up.

Re-paid calls: a three-task crew (each task one tool call and an answer) in a child
process against the scripted HTTP model server, SIGKILLed during the first LLM request
of the last task, restarted with the same run id; prints how many LLM requests the
restart made beyond the ones a run without a kill makes. Needs the crewai extra::

    python benchmarks/crewai_overhead.py --turns 20 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

for name, value in (("CREWAI_DISABLE_TELEMETRY", "true"), ("OTEL_SDK_DISABLED", "true"),
                    ("CREWAI_TRACING_ENABLED", "false"), ("CREWAI_TESTING", "true")):
    os.environ.setdefault(name, value)
_HOME = tempfile.mkdtemp(prefix="crewai-bench-")
os.environ.setdefault("CREWAI_STORAGE_DIR", os.path.join(_HOME, "storage"))

import crewai  # noqa: E402
from crewai import LLM, Agent, Task  # noqa: E402
from crewai.llms.base_llm import BaseLLM  # noqa: E402
from crewai.tools import tool  # noqa: E402

from dapr_agents_durable.adapters.crewai import Crew  # noqa: E402


class LoopLLM(BaseLLM):
    """Calls the tool until ``turns`` results are in, then answers."""

    llm_type: str = "bench"
    turns: int = 10

    def call(self, messages: Any, tools: Any = None, *args: Any, **kwargs: Any) -> Any:
        done = sum(1 for m in messages if m.get("role") == "tool")
        if done < self.turns:
            return [{"id": f"c{done}", "type": "function", "function": {"name": "note", "arguments": json.dumps({"n": done})}}]
        return f"{done} notes"

    def supports_function_calling(self) -> bool:
        return True

    def get_context_window_size(self) -> int:
        return 128000


@tool("note")
def note(n: int) -> str:
    """Take note n."""
    return f"note {n}"


def build(crew_class: type[crewai.Crew], turns: int) -> crewai.Crew:
    agent = Agent(role="clerk", goal="take notes", backstory="a clerk", llm=LoopLLM(model="bench", turns=turns),
                  tools=[note], max_iter=turns + 5)
    task = Task(description="Take the notes.", expected_output="a count", agent=agent)
    return crew_class(name="bench-crew", agents=[agent], tasks=[task])


def per_step(turns: int, repeats: int) -> None:
    native, durable = [], []
    for index in range(repeats + 1):
        started = time.perf_counter()
        build(crewai.Crew, turns).kickoff()
        native.append(time.perf_counter() - started)
        started = time.perf_counter()
        build(Crew, turns).kickoff(run_id=f"bench-{os.getpid()}-{index}")
        durable.append(time.perf_counter() - started)
    n, d = statistics.median(native[1:]) / turns, statistics.median(durable[1:]) / turns
    print(f"{turns}-turn tool loop, median of {repeats}: native {n * 1000:.1f} ms/step, durable {d * 1000:.1f} ms/step, "
          f"overhead {(d - n) * 1000:.1f} ms/step ({d / n:.1f}x)")


def app(base_url: str, run_id: str) -> None:
    llm = LLM(model="openai/scripted", base_url=base_url, api_key="sk-bench")
    agent = Agent(role="clerk", goal="take notes", backstory="a clerk", llm=llm, tools=[note])
    tasks = [Task(description=f"Take note {n}.", expected_output="a note", agent=agent) for n in (1, 2, 3)]
    print(Crew(name="bench-three", agents=[agent], tasks=tasks).kickoff(run_id=run_id).raw, flush=True)


def repaid_after_kill() -> None:
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, embedded_app_env, kill_during_request
    from dapr_agents_durable.testing import text, tool_call

    def answer(request: RecordedRequest) -> Any:
        task = next(n for n in (1, 2, 3) if f"Take note {n}." in json.dumps(request.body))
        if not request.tool_outputs:
            return tool_call("note", {"n": task}, delay=60.0 if task == 3 else 0.0)
        return text(f"note {task} taken")

    with tempfile.TemporaryDirectory() as tmp, ScriptedModelServer(rule=answer) as server:
        env = embedded_app_env(os.path.join(tmp, "engine.db"), {"HOME": tmp, "PYTHONPATH": os.pathsep.join(sys.path)})

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen([sys.executable, __file__, "--app", server.base_url, "bench-kill"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

        kill_during_request(start(), server, 5)
        restarted = start()
        restarted.communicate(timeout=180)
        print(f"kill during the last task's first LLM request: {server.request_count} requests in all "
              f"(6 without a kill): {server.request_count - 6} re-paid (the one in flight)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--app", nargs=2, metavar=("BASE_URL", "RUN_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app:
        app(*args.app)
        return
    os.environ.setdefault("DAPR_AGENTS_DURABLE_DB", os.path.join(_HOME, "engine.db"))
    per_step(args.turns, args.repeats)
    repaid_after_kill()
    from dapr_agents_durable.runtime import get_runtime

    get_runtime().stop()


if __name__ == "__main__":
    main()
