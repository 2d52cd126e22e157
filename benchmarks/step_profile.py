"""Where a durable OpenAI Agents step spends its CPU, by layer, against the native run's.

Runs the tool loop of ``openai_agents_overhead.py`` (in-process scripted model, no
latency) natively and durably on the embedded engine, each after a warm-up run, under
yappi's CPU clock on every thread (SDK worker threads, gRPC threads, the engine's), and
prints the CPU per step of each layer: the agents SDK, asyncio, gRPC, the Dapr workflow
SDK, our loop, runtime, adapter and engine, threading. CPU clocks are not skewed by
other processes on a shared machine the way wall time is; the profiler inflates every
figure about alike, so read the shares and the durable-minus-native column. Needs the
openai-agents extra and yappi (both in ``nox -s bench``)::

    python benchmarks/step_profile.py --turns 30 --runs 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import yappi
from agents import Runner as NativeRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_agents_overhead import make_agent  # noqa: E402  (the same agent and scripted model)

from dapr_agents_durable.adapters.openai_agents import Runner  # noqa: E402
from dapr_agents_durable.runtime import get_runtime  # noqa: E402

LAYERS = (  # the first fragment of a function's file path that matches names its layer
    ("dapr_agents_durable/engine", "our engine"), ("dapr_agents_durable/loop", "our loop"),
    ("dapr_agents_durable/runtime", "our runtime"), ("dapr_agents_durable/adapters", "our adapter"),
    ("dapr/ext/workflow", "Dapr workflow SDK"), ("site-packages/grpc", "gRPC"), ("google/protobuf", "protobuf"),
    ("site-packages/agents", "agents SDK"), ("site-packages/openai", "openai"), ("pydantic", "pydantic"),
    ("/asyncio/", "asyncio"), ("/json/", "json"), ("threading.py", "threads"), ("/concurrent/", "threads"),
    ("queue.py", "threads"), ("sqlite3", "sqlite"),
)


def layer_of(path: str) -> str:
    return next((name for fragment, name in LAYERS if fragment in path), "other")


def profile(run: Callable[[int], Awaitable[object]], runs: int, steps: int) -> tuple[dict[str, float], float, float]:
    """CPU ms per step by layer under yappi, and the unprofiled process CPU and wall ms per step."""
    async def measured(profiled: bool) -> tuple[float, float]:
        if profiled:
            yappi.clear_stats()
            yappi.set_clock_type("cpu")
            yappi.start(builtins=False, profile_threads=True)
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(runs):
            await run(index + (runs if profiled else 0))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiled:
            yappi.stop()
        return wall * 1000 / (runs * steps), cpu * 1000 / (runs * steps)

    async def both() -> tuple[float, float]:
        await run(-1)  # warm-up: imports, engine start, registration
        plain = await measured(False)
        await measured(True)
        return plain

    wall, cpu = asyncio.run(both())
    layers: collections.Counter[str] = collections.Counter()
    for stat in yappi.get_func_stats():
        layers[layer_of(stat.module)] += stat.tsub * 1000 / (runs * steps)
    return dict(layers), cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30, help="tool turns per run (steps)")
    parser.add_argument("--runs", type=int, default=10, help="measured runs of each kind")
    args = parser.parse_args()
    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT"):
        os.environ.pop(name, None)  # always the embedded engine, in this process
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(tempfile.mkdtemp(), "engine.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    agent = make_agent("profiled", args.turns, 0.0)
    max_turns = args.turns + 5

    native, native_cpu, native_wall = profile(
        lambda i: NativeRunner.run(agent, "Note the steps.", max_turns=max_turns), args.runs, args.turns)
    durable, durable_cpu, durable_wall = profile(
        lambda i: Runner.run(agent, "Note the steps.", max_turns=max_turns, run_id=f"profiled-{i}"),
        args.runs, args.turns)
    get_runtime().stop()

    print(f"{args.turns} turns x {args.runs} runs, in-process scripted model, embedded engine in this process")
    print(f"unprofiled: native {native_cpu:.2f} ms CPU ({native_wall:.2f} wall) per step, "
          f"durable {durable_cpu:.2f} ms CPU ({durable_wall:.2f} wall) per step")
    added = sum(durable.values()) - sum(native.values())
    print(f"profiled CPU per step by layer (ms; added = durable - native, {added:.2f} ms in all):")
    print(f"{'layer':<20} {'native':>8} {'durable':>8} {'added':>8} {'share of added':>15}")
    for name in sorted({*native, *durable}, key=lambda n: native.get(n, 0.0) - durable.get(n, 0.0)):
        extra = durable.get(name, 0.0) - native.get(name, 0.0)
        print(f"{name:<20} {native.get(name, 0.0):8.2f} {durable.get(name, 0.0):8.2f} {extra:8.2f} "
              f"{100 * extra / added if added else 0.0:14.1f}%")


if __name__ == "__main__":
    main()
