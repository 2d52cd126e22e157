"""The durable step side by side with DBOS's: the same OpenAI Agents tool loop, native, on DBOS, and ours.

Runs one K-turn tool loop (one tool call per turn, then an answer; an in-process
scripted model that answers at once) three ways in one process, interleaved:
the SDK's own ``Runner.run``; ``dbos-openai-agents``' ``DBOSRunner.run`` inside a
``@DBOS.workflow()`` with the tool over a ``@DBOS.step()``, on a SQLite system
database (its README's set-up); and the durable ``Runner.run`` of this project on the
embedded engine. Prints, per K, the ms per step (p50 and p90 over the runs), the ms
each durable path adds over native, and the ratio of what we add to what DBOS adds;
then the wall time of C concurrent runs of each. Needs its own environment (nox -s
bench, or ``pip install dbos-openai-agents dbos`` beside the openai-agents extra)::

    python benchmarks/peers/dbos_peer.py --turns 15 50 --repeats 7 --concurrent 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents import Agent, function_tool  # noqa: E402
from agents import Runner as NativeRunner  # noqa: E402
from dbos import DBOS  # noqa: E402
from dbos_openai_agents import DBOSRunner  # noqa: E402
from openai_agents_overhead import LoopModel, make_agent  # noqa: E402

from dapr_agents_durable.adapters.openai_agents import Runner  # noqa: E402
from dapr_agents_durable.runtime import get_runtime  # noqa: E402


@DBOS.step()
async def note_step(n: int) -> str:
    return f"noted {n}"


@function_tool
async def note(n: int) -> str:
    """Note step n."""
    return await note_step(n)


_DBOS_AGENTS: dict[int, Agent[Any]] = {}


@DBOS.workflow()
async def dbos_loop(turns: int) -> str:
    result = await DBOSRunner.run(_DBOS_AGENTS[turns], "Note the steps.", max_turns=turns + 5)
    return str(result.final_output)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    result = await call()
    output = getattr(result, "final_output", result)
    if output != "done":
        raise RuntimeError(f"unexpected final output {output!r}")
    return time.perf_counter() - started


async def per_step(turns: int, repeats: int) -> dict[str, list[float]]:
    """ms per step of ``repeats`` runs of each kind, interleaved, after one warm-up of each."""
    _DBOS_AGENTS[turns] = Agent(name=f"dbos_{turns}", instructions="Note every step.", tools=[note],
                                model=LoopModel(turns, 0.0))
    native_agent = make_agent(f"native_{turns}", turns, 0.0)
    ours_agent = make_agent(f"ours_{turns}", turns, 0.0)
    kinds: dict[str, Callable[[int], Callable[[], Awaitable[Any]]]] = {
        "native": lambda i: lambda: NativeRunner.run(native_agent, "Note the steps.", max_turns=turns + 5),
        "dbos": lambda i: lambda: dbos_loop(turns),
        "ours": lambda i: lambda: Runner.run(ours_agent, "Note the steps.", max_turns=turns + 5,
                                             run_id=f"peer-{turns}-{i}"),
    }
    for name, make in kinds.items():
        await _timed(make(-1))
    figures: dict[str, list[float]] = {name: [] for name in kinds}
    for repeat in range(repeats):
        for name, make in kinds.items():
            figures[name].append(await _timed(make(repeat)) * 1000 / turns)
    return figures


async def concurrent(count: int, turns: int) -> dict[str, float]:
    """Wall seconds of ``count`` concurrent ``turns``-step runs of each kind."""
    _DBOS_AGENTS[turns] = Agent(name=f"dbos_c{turns}", instructions="Note every step.", tools=[note],
                                model=LoopModel(turns, 0.0))
    native_agent = make_agent(f"native_c{turns}", turns, 0.0)
    ours_agent = make_agent(f"ours_c{turns}", turns, 0.0)
    walls: dict[str, float] = {}
    runs: dict[str, Callable[[int], Awaitable[Any]]] = {
        "native": lambda i: NativeRunner.run(native_agent, "Note the steps.", max_turns=turns + 5),
        "dbos": lambda i: dbos_loop(turns),
        "ours": lambda i: Runner.run(ours_agent, "Note the steps.", max_turns=turns + 5, run_id=f"peer-c-{i}"),
    }
    for name, run in runs.items():
        started = time.perf_counter()
        await asyncio.gather(*(run(i) for i in range(count)))
        walls[name] = time.perf_counter() - started
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[15, 50], help="tool turns per run (K)")
    parser.add_argument("--repeats", type=int, default=7, help="measured runs of each kind per K")
    parser.add_argument("--concurrent", type=int, default=50, help="concurrent 10-step runs (0: skip)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="peer-bench-")
    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT"):
        os.environ.pop(name, None)
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(work, "engine.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    DBOS(config={"name": "peer-bench", "system_database_url": f"sqlite:///{os.path.join(work, 'dbos.sqlite')}"})
    DBOS.launch()

    synchronous = os.environ.get("DAPR_AGENTS_DURABLE_SYNCHRONOUS", "NORMAL").strip().upper()
    print(f"OpenAI Agents tool loop, zero-latency in-process model, {os.cpu_count()} cores; ms per step; "
          f"ours with SQLite synchronous={synchronous} (WAL), DBOS with SQLite's defaults (rollback journal, FULL)")
    print("| K | native p50 / p90 | DBOS p50 / p90 | ours p50 / p90 | added: DBOS | added: ours | ours / DBOS added |")
    print("|---|---|---|---|---|---|---|")
    for turns in args.turns:
        figures = asyncio.run(per_step(turns, args.repeats))
        p50 = {k: statistics.median(v) for k, v in figures.items()}
        p90 = {k: _percentile(v, 0.9) for k, v in figures.items()}
        added = {k: p50[k] - p50["native"] for k in ("dbos", "ours")}
        print(f"| {turns} | {p50['native']:.1f} / {p90['native']:.1f} | {p50['dbos']:.1f} / {p90['dbos']:.1f} | "
              f"{p50['ours']:.1f} / {p90['ours']:.1f} | {added['dbos']:.1f} | {added['ours']:.1f} | "
              f"{added['ours'] / added['dbos']:.2f}x |")
    if args.concurrent:
        walls = asyncio.run(concurrent(args.concurrent, 10))
        print(f"\n{args.concurrent} concurrent 10-step runs, wall s: native {walls['native']:.2f}, "
              f"DBOS {walls['dbos']:.2f}, ours {walls['ours']:.2f}; ours / DBOS = {walls['ours'] / walls['dbos']:.2f}x")
    get_runtime().stop()
    DBOS.destroy()


if __name__ == "__main__":
    main()
