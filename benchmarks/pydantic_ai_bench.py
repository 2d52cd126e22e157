"""Durable PydanticAI runs side by side with PydanticAI's own DBOS integration: step overhead, LLM calls re-paid.

Per-step overhead: one K-turn tool loop (one tool call per model response, then an
answer) with an in-process ``FunctionModel`` that answers at once, run three ways in
this process, interleaved: a plain ``Agent``; the same agent with PydanticAI's
``DBOSDurability`` capability inside a ``@DBOS.workflow()`` (``pydantic_ai.durable_exec.dbos``,
its SQLite system database; the tool over a ``@DBOS.step()``, since DBOS does not make
function tools steps by itself); and ``DaprAgent`` on the embedded engine (model request and
tool call both activities). The first run of each kind is a warm-up. A step is one model
call and one tool call. Prints the ms per step (p50 / p90), what each durable option adds
over the plain agent and the ratio ours / DBOS.

Re-paid LLM calls: a 15-request run (14 tool turns, then the answer) on PydanticAI's
``OpenAIChatModel`` against the scripted HTTP model server, in a child process SIGKILLed
while request 13 is in flight, then started again with the same run id (DBOS: the same
workflow id, recovered by ``DBOS.launch()``; ours: ``DaprAgent.run(run_id=...)``). Prints the
requests paid in all and the tool calls run twice. Needs the pydantic-ai extra and ``dbos``
(both in ``nox -s bench``)::

    python benchmarks/pydantic_ai_bench.py --turns 15 --repeats 9
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dbos import DBOS, SetWorkflowID
from pydantic_ai import Agent
from pydantic_ai.durable_exec.dbos import DBOSDurability
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import UsageLimits

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent

PROMPT = "Record the steps, one tool call per turn."
LIMITS = UsageLimits(request_limit=None)
"""No request limit (PydanticAI's default of 50 would end runs of K >= 50)."""
STEPS, CRASH_AT = 14, 13


def loop_model(turns: int) -> FunctionModel:
    """Calls ``record_step`` until ``turns`` results are in, then answers; no latency."""

    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        done = sum(1 for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart))
        if done < turns:
            return ModelResponse(parts=[ToolCallPart("record_step", {"n": done + 1}, tool_call_id=f"c{done + 1}")])
        return ModelResponse(parts=[TextPart(f"all {done} steps recorded")])

    return FunctionModel(answer, model_name="loop")


@DBOS.step()
async def record_step_step(n: int, log: str | None) -> str:
    if log:
        _log(log, n)
    return f"step {n} recorded"


def _log(path: str, n: int) -> None:
    with open(path, "a") as out:
        out.write(json.dumps({"n": n, "pid": os.getpid()}) + "\n")
        out.flush()
        os.fsync(out.fileno())


def plain_agent(name: str, model: Model | str, log: str | None = None) -> Agent[None, str]:
    agent = Agent(model, name=name, instructions="Record every step.")

    @agent.tool_plain
    def record_step(n: int) -> str:
        """Record step n of the plan."""
        if log:
            _log(log, n)
        return f"step {n} recorded"

    return agent


def dbos_agent(name: str, model: Model | str, log: str | None = None) -> Agent[None, str]:
    agent = Agent(model, name=name, instructions="Record every step.", capabilities=[DBOSDurability()])

    @agent.tool_plain
    async def record_step(n: int) -> str:
        """Record step n of the plan."""
        return await record_step_step(n, log)

    return agent


_DBOS_AGENTS: dict[str, Agent[None, str]] = {}


@DBOS.workflow()
async def dbos_run(name: str) -> str:
    return (await _DBOS_AGENTS[name].run(PROMPT, usage_limits=LIMITS)).output


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _timed(call: Callable[[], Awaitable[Any]], turns: int) -> float:
    started = time.perf_counter()
    result = await call()
    output = getattr(result, "output", result)
    if output != f"all {turns} steps recorded":
        raise RuntimeError(f"unexpected output {output!r}")
    return time.perf_counter() - started


async def per_step(turns: int, repeats: int) -> dict[str, list[float]]:
    """ms per step of ``repeats`` runs of each kind, interleaved, after one warm-up of each."""
    plain = plain_agent(f"plain_{turns}", loop_model(turns))
    _DBOS_AGENTS[f"dbos_{turns}"] = dbos_agent(f"dbos_{turns}", loop_model(turns))
    ours = DaprAgent(plain_agent(f"ours_{turns}", loop_model(turns)))
    kinds: dict[str, Callable[[int], Callable[[], Awaitable[Any]]]] = {
        "plain": lambda i: lambda: plain.run(PROMPT, usage_limits=LIMITS),
        "dbos": lambda i: lambda: dbos_run(f"dbos_{turns}"),
        "ours": lambda i: lambda: ours.run(PROMPT, run_id=f"pai-bench-{turns}-{i}", usage_limits=LIMITS),
    }
    for make in kinds.values():
        await _timed(make(-1), turns)
    figures: dict[str, list[float]] = {name: [] for name in kinds}
    for repeat in range(repeats):
        for name, make in kinds.items():
            figures[name].append(await _timed(make(repeat), turns) * 1000 / turns)
    return figures


def app(kind: str, base_url: str, run_id: str, work: str) -> None:
    """One run on the scripted server (a child process of :func:`repaid_after_kill`)."""
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=base_url, api_key="sk-bench"))
    log = os.path.join(work, f"{kind}-tools.jsonl")
    if kind == "ours":
        output = DaprAgent(plain_agent("pai_kill_ours", model, log)).run_sync(PROMPT, run_id=run_id).output
    else:
        _DBOS_AGENTS["pai_kill_dbos"] = dbos_agent("pai_kill_dbos", model, log)
        DBOS(config={"name": "pai-bench-kill", "system_database_url": f"sqlite:///{os.path.join(work, 'dbos.sqlite')}"})
        DBOS.launch()

        async def go() -> str:
            with SetWorkflowID(run_id):
                handle = await DBOS.start_workflow_async(dbos_run, "pai_kill_dbos")
            return str(await handle.get_result())

        output = asyncio.run(go())
    print(json.dumps({"output": output}), flush=True)


def repaid_after_kill(kind: str) -> tuple[int, int]:
    """(requests paid in all, tool calls run more than once) of a run killed during request 13 of 15."""
    from dapr_agents_durable.testing import ScriptedModelServer, embedded_app_env, kill_during_request, step_loop

    with tempfile.TemporaryDirectory() as work, ScriptedModelServer(rule=step_loop(STEPS, CRASH_AT)) as server:
        env = embedded_app_env(os.path.join(work, "engine.db"), {"PYTHONPATH": os.pathsep.join(sys.path),
                                                                  "OTEL_SDK_DISABLED": "true"})

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen([sys.executable, __file__, "--app", kind, server.base_url, f"pai-kill-{kind}", work],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

        kill_during_request(start(), server, CRASH_AT)
        restarted = start()
        out, err = restarted.communicate(timeout=300)
        if restarted.returncode != 0 or json.loads(out.splitlines()[-1])["output"] != f"all {STEPS} steps recorded":
            raise RuntimeError(f"{kind} restart failed: {err[-2000:]}")
        steps = [json.loads(line)["n"] for line in Path(work, f"{kind}-tools.jsonl").read_text().splitlines()]
        return server.request_count, len(steps) - len(set(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[15], help="tool turns per run (K)")
    parser.add_argument("--repeats", type=int, default=9, help="measured runs of each kind per K")
    parser.add_argument("--no-kill", action="store_true", help="skip the re-paid calls after a kill")
    parser.add_argument("--app", nargs=4, metavar=("KIND", "BASE_URL", "RUN_ID", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app:
        app(*args.app)
        return
    work = tempfile.mkdtemp(prefix="pai-bench-")
    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT"):
        os.environ.pop(name, None)
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(work, "engine.db")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    DBOS(config={"name": "pai-bench", "system_database_url": f"sqlite:///{os.path.join(work, 'dbos.sqlite')}"})
    DBOS.launch()

    print(f"PydanticAI tool loop, zero-latency in-process FunctionModel, {os.cpu_count()} cores; ms per step")
    print("| K | plain p50 / p90 | DBOS p50 / p90 | ours p50 / p90 | added: DBOS | added: ours | ours / DBOS added |")
    print("|---|---|---|---|---|---|---|")
    for turns in args.turns:
        figures = asyncio.run(per_step(turns, args.repeats))
        p50 = {k: statistics.median(v) for k, v in figures.items()}
        p90 = {k: _percentile(v, 0.9) for k, v in figures.items()}
        added = {k: p50[k] - p50["plain"] for k in ("dbos", "ours")}
        print(f"| {turns} | {p50['plain']:.2f} / {p90['plain']:.2f} | {p50['dbos']:.2f} / {p90['dbos']:.2f} | "
              f"{p50['ours']:.2f} / {p90['ours']:.2f} | {added['dbos']:.2f} | {added['ours']:.2f} | "
              f"{added['ours'] / added['dbos']:.2f}x |")
    from dapr_agents_durable.runtime import get_runtime

    get_runtime().stop()
    DBOS.destroy()
    if args.no_kill:
        return
    print(f"\nSIGKILL during LLM request {CRASH_AT} of {STEPS + 1}, restarted with the same run id:")
    print("| | requests in all | re-paid | tool calls run twice |")
    print("|---|---|---|---|")
    for kind, label in (("dbos", "DBOS"), ("ours", "ours")):
        paid, twice = repaid_after_kill(kind)
        print(f"| {label} | {paid} | {paid - STEPS - 1} | {twice} |")


if __name__ == "__main__":
    main()
