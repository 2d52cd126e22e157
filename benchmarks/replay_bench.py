"""Orchestrator CPU per step of an N-turn agent tool loop, warm executions on and off.

Every orchestrator work item is timed around the SDK's ``_OrchestrationExecutor.execute``
with the CPU clock of the worker thread running it (so the in-process engine and the
activity threads do not count): the SDK's own work, the warm bookkeeping, and the
time spent stepping the durable loop (the framework's code, its seams, the loop's
scheduling). Each turn of the agent is one model activity and one tool activity, so
two work items; a turn's figure is the mean of its two work items, the median over
``--repeat`` runs. "all" is the whole work item, "off-loop" the part outside the
durable loop. With warm executions on, each work item continues the live execution;
off (``DAPR_AGENTS_DURABLE_WARM_EXECUTIONS=0``), every work item replays the whole run
from its start.

Agents:

* ``plain``: a framework-free async agent loop (model call with the whole conversation,
  one tool call per turn) on the durable loop; runs in the core environment.
* ``openai``: the real OpenAI Agents SDK through this project's ``Runner``, with a
  scripted in-process model; needs the openai-agents environment.

Usage::

    python benchmarks/replay_bench.py --agent plain --turns 80
    python benchmarks/replay_bench.py --agent openai --turns 80
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dapr.ext.workflow._durabletask import worker as sdk_worker

from dapr_agents_durable.loop import DurableExecution, current_execution, drive, warm


@dataclass
class Bench:
    """Runs one agent run to its end under a given run id; stop() shuts everything down.

    ``native``, when the framework can run without durability, runs it so and returns
    the CPU (s) of each of its turns.
    """

    run: Callable[[str], None]
    stop: Callable[[], None]
    native: Callable[[], list[float]] | None = None


@dataclass(frozen=True)
class Sample:
    """One work item: tasks completed in its history, CPU in all, CPU on the durable loop."""

    completed: int
    total: float
    on_loop: float


class WorkItemMeter:
    """CPU time of every orchestrator work item, by instance.

    ``on_loop`` is the part spent stepping the durable loop (the framework's code, its
    seams and the loop's scheduling); the rest is the SDK's and the warm bookkeeping.
    """

    def __init__(self) -> None:
        self.samples: dict[str, list[Sample]] = defaultdict(list)
        self._lock = threading.Lock()
        self._local = threading.local()

    def install(self) -> None:
        execute = sdk_worker._OrchestrationExecutor.execute

        def timed(
            executor: Any,
            instance_id: str,
            old_events: Sequence[Any],
            new_events: Sequence[Any],
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            self._local.on_loop = 0.0
            began = time.thread_time()
            try:
                return execute(
                    executor, instance_id, old_events, new_events, *args, **kwargs
                )
            finally:
                spent = time.thread_time() - began
                completed = sum(
                    1 for e in (*old_events, *new_events) if e.HasField("taskCompleted")
                )
                with self._lock:
                    self.samples[instance_id].append(
                        Sample(completed, spent, self._local.on_loop)
                    )

        sdk_worker._OrchestrationExecutor.execute = timed  # type: ignore[method-assign]
        for method in ("advance", "resume"):
            self._time_loop(method)

    def _time_loop(self, method: str) -> None:
        step = getattr(DurableExecution, method)

        def timed(execution: DurableExecution) -> Any:
            began = time.thread_time()
            try:
                return step(execution)
            finally:
                self._local.on_loop += time.thread_time() - began

        setattr(DurableExecution, method, timed)

    def turn_ms(self, instance_id: str, turn: int) -> tuple[float, float]:
        """Mean CPU (ms) per work item of ``turn`` (it completes tasks 2t-1 and 2t).

        Returns (all of it, the part off the durable loop).
        """
        samples = [
            sample
            for sample in self.samples[instance_id]
            if sample.completed and (sample.completed + 1) // 2 == turn
        ]
        total = statistics.mean(sample.total for sample in samples) * 1000
        on_loop = statistics.mean(sample.on_loop for sample in samples) * 1000
        return total, total - on_loop

    def total_s(self, instance_id: str) -> float:
        return sum(sample.total for sample in self.samples[instance_id])


# ---------------------------------------------------------------- framework-free agent


def plain_model(ctx: Any, request: dict) -> dict:
    turn = request["turn"]
    if turn < request["turns"]:
        return {
            "role": "assistant",
            "tool_call": {"id": f"call-{turn}", "city": f"city-{turn}"},
        }
    return {"role": "assistant", "content": f"done after {turn} tools"}


def plain_tool(ctx: Any, call: dict) -> str:
    return f"sunny in {call['city']}"


async def plain_agent(task: str, turns: int) -> dict:
    """A miniature agent: the model sees the whole conversation; one tool call per turn."""
    durable = current_execution()
    messages: list[dict] = [{"role": "user", "content": task}]
    for turn in range(turns + 1):
        reply = await durable.call_activity(
            "bench.model", {"messages": messages, "turn": turn, "turns": turns}
        )
        messages.append(reply)
        if "tool_call" not in reply:
            return {"answer": reply["content"], "messages": len(messages)}
        call = reply["tool_call"]
        result = await durable.call_activity("bench.tool", call)
        messages.append({"role": "tool", "id": call["id"], "content": result})
    raise RuntimeError("the model never answered")


def plain_workflow(ctx: Any, request: dict):
    return (
        yield from drive(ctx, lambda: plain_agent(request["task"], request["turns"]))
    )


def plain_bench(turns: int) -> Bench:
    from dapr.ext.workflow import DaprWorkflowClient, WorkflowRuntime, WorkflowStatus

    from dapr_agents_durable.engine import EmbeddedEngine

    tmp = tempfile.mkdtemp()
    engine = EmbeddedEngine(db_path=os.path.join(tmp, "bench.db"), port=0).start()
    runtime = WorkflowRuntime(host="127.0.0.1", port=str(engine.port))
    runtime.register_workflow(plain_workflow, name="bench.plain")
    runtime.register_activity(plain_model, name="bench.model")
    runtime.register_activity(plain_tool, name="bench.tool")
    runtime.start()
    client = DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))

    def one(run_id: str) -> None:
        client.schedule_new_workflow(
            "bench.plain",
            input={"task": "weather?", "turns": turns},
            instance_id=run_id,
        )
        state = client.wait_for_workflow_completion(run_id, timeout_in_seconds=600)
        assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED, (
            state
        )
        assert json.loads(state.serialized_output)["messages"] == 2 * turns + 2

    def stop() -> None:
        client.close()
        runtime.shutdown()
        engine.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    return Bench(one, stop)


# ---------------------------------------------------------------- OpenAI Agents SDK


def openai_bench(turns: int) -> Bench:
    from agents import Agent, Usage, function_tool
    from agents import Runner as NativeRunner
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    from dapr_agents_durable.adapters.openai_agents import Runner
    from dapr_agents_durable.runtime import get_runtime

    class ScriptedModel(Model):
        """Calls the tool once per turn for ``turns`` turns, then answers.

        Notes the CPU clock of its thread at each call (``calls``).
        """

        def __init__(self) -> None:
            self.calls: list[float] = []

        async def get_response(
            self,
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            *,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        ):
            self.calls.append(time.thread_time())
            items = [] if isinstance(input, str) else list(input)
            done = sum(
                1
                for i in items
                if isinstance(i, dict) and i.get("type") == "function_call_output"
            )
            if done < turns:
                output: list[Any] = [
                    ResponseFunctionToolCall(
                        type="function_call",
                        name="get_weather",
                        arguments=json.dumps({"city": f"city-{done}"}),
                        call_id=f"c{done}",
                        id=f"fc_{done}",
                        status="completed",
                    )
                ]
            else:
                output = [
                    ResponseOutputMessage(
                        type="message",
                        id="msg_1",
                        role="assistant",
                        status="completed",
                        content=[
                            ResponseOutputText(
                                type="output_text",
                                text=f"done after {done}",
                                annotations=[],
                            )
                        ],
                    )
                ]
            return ModelResponse(
                output=output,
                usage=Usage(
                    requests=1, input_tokens=10, output_tokens=5, total_tokens=15
                ),
                response_id=None,
            )

        def stream_response(self, *args: Any, **kwargs: Any):
            raise NotImplementedError

    @function_tool
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        return f"sunny in {city}"

    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT", "DAPR_API_TOKEN"):
        os.environ.pop(name, None)
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(tempfile.mkdtemp(), "bench.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"

    def new_agent() -> Agent[Any]:
        return Agent(
            name="bench-weather",
            instructions="be brief",
            tools=[get_weather],
            model=ScriptedModel(),
        )

    agent = new_agent()

    def one(run_id: str) -> None:
        result = asyncio.run(
            Runner.run(agent, "weather?", run_id=run_id, max_turns=turns + 5)
        )
        assert result.final_output == f"done after {turns}", result.final_output

    def native() -> list[float]:
        plain = new_agent()
        result = asyncio.run(NativeRunner.run(plain, "weather?", max_turns=turns + 5))
        assert result.final_output == f"done after {turns}", result.final_output
        calls = plain.model.calls  # type: ignore[union-attr]
        return [after - before for before, after in itertools.pairwise(calls)]

    return Bench(one, lambda: get_runtime().stop(), native)


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class Row:
    """The medians of one mode (warm executions on or off)."""

    label: str
    early: tuple[float, float]
    last: tuple[float, float]
    work_items: float
    total_s: float


def measure(
    bench: Bench, meter: WorkItemMeter, label: str, args: argparse.Namespace
) -> Row:
    ids = [f"{args.agent}-{label.replace(' ', '-')}-{n}" for n in range(args.repeat)]
    for run_id in ids:
        bench.run(run_id)

    def median(turn: int, part: int) -> float:
        return statistics.median(meter.turn_ms(run_id, turn)[part] for run_id in ids)

    return Row(
        label,
        (median(args.early, 0), median(args.early, 1)),
        (median(args.turns, 0), median(args.turns, 1)),
        statistics.median(len(meter.samples[run_id]) for run_id in ids),
        statistics.median(meter.total_s(run_id) for run_id in ids),
    )


def report(rows: list[Row], args: argparse.Namespace) -> None:
    early, last = f"turn {args.early}", f"turn {args.turns}"
    print(
        f"agent: {args.agent}, {args.turns} turns ({2 * args.turns + 1} activities), "
        f"median of {args.repeat} runs; orchestrator CPU per work item (ms)"
    )
    print(
        f"{'':9} | {'all: ' + early:>13} {last:>8} {'ratio':>6} "
        f"| {'off-loop: ' + early:>17} {last:>8} {'ratio':>6} "
        f"| {'work items':>10} {'run CPU':>8}"
    )
    for row in rows:
        print(
            f"{row.label:9} | {row.early[0]:13.2f} {row.last[0]:8.2f} "
            f"{row.last[0] / row.early[0]:5.1f}x "
            f"| {row.early[1]:17.2f} {row.last[1]:8.2f} "
            f"{row.last[1] / row.early[1]:5.1f}x "
            f"| {row.work_items:10.0f} {row.total_s:7.2f}s"
        )
    warm_row, cold_row = rows
    print(
        f"{last}: warm executions make a work item "
        f"{cold_row.last[0] / warm_row.last[0]:.0f}x cheaper than a cold replay"
    )


def report_native(turns: list[list[float]], args: argparse.Namespace) -> None:
    """The framework alone, without durability: CPU per turn (both of its steps)."""

    def median(turn: int) -> float:
        return statistics.median(run[turn - 1] for run in turns) * 1000

    early, last = median(args.early), median(args.turns)
    print(
        f"{args.agent} without durability, CPU per turn (ms): turn {args.early} "
        f"{early:.2f}, turn {args.turns} {last:.2f}, ratio {last / early:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", choices=["plain", "openai"], default="plain")
    parser.add_argument("--turns", type=int, default=80)
    parser.add_argument(
        "--early", type=int, default=5, help="the early turn to compare with the last"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per mode (median per turn)"
    )
    args = parser.parse_args()

    meter = WorkItemMeter()
    meter.install()
    bench = (plain_bench if args.agent == "plain" else openai_bench)(args.turns)
    capacity = warm.capacity() or warm.DEFAULT_CAPACITY
    rows = []
    native = []
    try:
        bench.run(f"warmup-{args.agent}")
        for label, mode_capacity in (("warm on", capacity), ("warm off", 0)):
            warm.configure(mode_capacity)
            rows.append(measure(bench, meter, label, args))
        if bench.native is not None:
            native = [bench.native() for _ in range(args.repeat)]
    finally:
        warm.configure(capacity)
        bench.stop()
    report(rows, args)
    if native:
        report_native(native, args)


if __name__ == "__main__":
    main()
