"""Per-step overhead of durable OpenAI Agents runs against native ``agents.Runner`` runs.

Runs the same N-turn tool loop (one tool call per turn, then an answer) with the
SDK's own ``Runner.run`` and with the durable ``Runner.run`` on the embedded engine,
in this process, several times each, and prints the wall time per step (one model
call + one tool call; the final answering model call is counted in the run's time
but not as a step), the overhead per step and the ratio. The model is an in-process
scripted ``Model`` that sleeps ``--model-latency`` seconds per call to emulate an LLM.
The first run of each kind (engine start, registration, imports) is a warm-up and is
not measured. Needs the openai-agents extra::

    python benchmarks/openai_agents_overhead.py --turns 20 --repeats 5 --model-latency 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from agents import Agent, FunctionTool, Usage, function_tool
from agents import Runner as NativeRunner
from agents.items import ModelResponse
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import get_runtime


class LoopModel(Model):
    """Calls the tool until ``turns`` results are in, then answers; sleeps ``latency`` s per call."""

    def __init__(self, turns: int, latency: float) -> None:
        self.turns = turns
        self.latency = latency

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        done = sum(1 for i in input if isinstance(i, dict) and i.get("type") == "function_call_output")
        if done < self.turns:
            item: Any = ResponseFunctionToolCall(type="function_call", name="note", arguments=json.dumps({"n": done}),
                                                 call_id=f"c{done}", id=f"fc{done}", status="completed")
        else:
            item = ResponseOutputMessage(type="message", id="m", role="assistant", status="completed",
                                         content=[ResponseOutputText(type="output_text", text="done", annotations=[])])
        return ModelResponse(output=[item], usage=Usage(requests=1), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def note_tool() -> FunctionTool:
    """A fresh trivial tool (each agent gets its own, so native runs use an untouched tool)."""

    @function_tool
    def note(n: int) -> str:
        """Note step n."""
        return f"noted {n}"

    return note


def make_agent(name: str, turns: int, latency: float) -> Agent[Any]:
    return Agent(name=name, instructions="Note every step.", tools=[note_tool()], model=LoopModel(turns, latency))


async def timed(run: Any) -> float:
    """Wall seconds of one run; checks that it completed."""
    started = time.perf_counter()
    result = await run
    elapsed = time.perf_counter() - started
    if result.final_output != "done":
        raise RuntimeError(f"unexpected final output {result.final_output!r}")
    return elapsed


async def measure(turns: int, repeats: int, latency: float) -> tuple[list[float], list[float]]:
    """Wall seconds of ``repeats`` native and durable runs, interleaved, after one warm-up of each."""
    native_agent = make_agent("overhead_native", turns, latency)
    durable_agent = make_agent("overhead_durable", turns, latency)
    max_turns = turns + 5
    await timed(NativeRunner.run(native_agent, "Note the steps.", max_turns=max_turns))
    await timed(Runner.run(durable_agent, "Note the steps.", max_turns=max_turns, run_id="overhead-warmup"))
    native: list[float] = []
    durable: list[float] = []
    for repeat in range(repeats):
        native.append(await timed(NativeRunner.run(native_agent, "Note the steps.", max_turns=max_turns)))
        durable.append(await timed(Runner.run(durable_agent, "Note the steps.", max_turns=max_turns,
                                              run_id=f"overhead-{repeat}")))
    return native, durable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="tool turns per run (steps)")
    parser.add_argument("--repeats", type=int, default=5, help="measured runs of each kind")
    parser.add_argument("--model-latency", type=float, default=0.0, help="seconds the model sleeps per call")
    args = parser.parse_args()
    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT"):
        os.environ.pop(name, None)  # always the embedded engine, in this process
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(tempfile.mkdtemp(), "engine.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"

    native, durable = asyncio.run(measure(args.turns, args.repeats, args.model_latency))
    get_runtime().stop()

    def per_step_ms(seconds: list[float]) -> list[float]:
        return [s * 1000 / args.turns for s in seconds]

    native_ms, durable_ms = per_step_ms(native), per_step_ms(durable)
    native_median, durable_median = statistics.median(native_ms), statistics.median(durable_ms)
    print(f"{args.turns} turns x {args.repeats} runs, model latency {args.model_latency * 1000:.0f} ms per call, "
          "embedded engine; ms per step (model call + tool call)")
    print(f"native : median {native_median:8.2f}  runs {' '.join(f'{v:.2f}' for v in native_ms)}")
    print(f"durable: median {durable_median:8.2f}  runs {' '.join(f'{v:.2f}' for v in durable_ms)}")
    print(f"overhead per step: {durable_median - native_median:.2f} ms; durable / native = "
          f"{durable_median / native_median:.2f}x")


if __name__ == "__main__":
    main()
