"""Three loads on the embedded engine running as its own process, and what they leave behind.

* :func:`run_from_threads`: chains scheduled and awaited from many threads, each with its
  own ``DaprWorkflowClient``, served by a ``WorkflowRuntime`` in this process;
* :func:`run_with_churning_workers`: chains served by worker processes
  (``load_worker.py``) that are stopped (SIGTERM) or SIGKILLed and started again while
  the chains run;
* :func:`open_and_drop_connections`: raw gRPC channels that make one call and close,
  or leave a ``GetWorkItems`` stream or a ``WaitForInstanceCompletion`` call open and
  drop it (closing the channel, or SIGKILLing the process holding it).

Every execution of activity ``step`` appends ``<instance> <step> <pid>`` to an
:class:`ExecutionLog`, so executions are counted across processes killed at any moment.
The engine's resident memory and open file descriptors are read from ``/proc``.
Shared by ``test_load.py`` (which asserts) and ``benchmarks/load_bench.py`` (which prints).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc as stubs
import dapr.ext.workflow._durabletask.internal.protos as pb
import grpc
from dapr.ext.workflow import DaprWorkflowClient, WorkflowRuntime, WorkflowState, WorkflowStatus
from google.protobuf import empty_pb2

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
WORKER_APP = HERE / "load_worker.py"
STARTUP_TIMEOUT = 60.0
"""Seconds a process may take to report ready on a loaded machine."""
LOAD_TIMEOUT = 150.0
"""Upper bound of one load; only there to turn a hang into a failure."""


def wait_until(probe: Callable[[], Any], what: str, timeout: float = LOAD_TIMEOUT, interval: float = 0.05) -> Any:
    """Poll ``probe`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def child_env() -> dict[str, str]:
    """The environment of every subprocess: no Dapr settings, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- the workflow ----------------------------------------------------------------------


def chain(ctx: Any, steps: int):
    """``steps`` activities one after the other; their results in order."""
    results = []
    for n in range(steps):
        results.append((yield ctx.call_activity("step", input=n)))
    return results


def expected_output(instance_id: str, steps: int) -> list[str]:
    return [f"{n}:{instance_id}" for n in range(steps)]


class ExecutionLog:
    """The file every execution of ``step`` appends ``<instance> <step> <pid>`` to (one write each)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, instance_id: str, step: int) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{instance_id} {step} {os.getpid()}\n".encode())
        finally:
            os.close(fd)

    def entries(self) -> list[tuple[str, int, int]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines(keepends=True)
        return [(i, int(s), int(p)) for i, s, p in (line.split() for line in lines if line.endswith("\n"))]

    def last_pid(self) -> int | None:
        """The pid of the newest execution (None before the first)."""
        with contextlib.suppress(FileNotFoundError), open(self.path, "rb") as file:
            file.seek(max(0, os.path.getsize(self.path) - 256))
            lines = file.read().decode().splitlines()
            return int(lines[-1].split()[2]) if lines else None
        return None

    def counts(self) -> Counter[tuple[str, int]]:
        return Counter((instance, step) for instance, step, _ in self.entries())


def step_activity(log: ExecutionLog, seconds: float) -> Callable[[Any, int], str]:
    """Activity ``step``: logs its execution, takes ``seconds``, returns ``"<step>:<instance>"``."""

    def step(ctx: Any, n: int) -> str:
        log.record(ctx.workflow_id, n)
        if seconds:
            time.sleep(seconds)
        return f"{n}:{ctx.workflow_id}"

    return step


def serve(port: int, log: ExecutionLog, *, step_seconds: float = 0.0, activity_concurrency: int | None = None,
          threads: int | None = None) -> WorkflowRuntime:
    """A started ``WorkflowRuntime`` serving ``chain`` and ``step``."""
    runtime = WorkflowRuntime(host="127.0.0.1", port=str(port),
                              maximum_concurrent_activity_work_items=activity_concurrency,
                              maximum_thread_pool_workers=threads)
    # a new function object each time: the SDK lets one object be registered with one runtime only
    runtime.register_workflow(types.FunctionType(chain.__code__, chain.__globals__, "chain"), name="chain")
    runtime.register_activity(step_activity(log, step_seconds), name="step")
    runtime.start()
    return runtime


# -- the engine process ----------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The engine process's resident memory (now and its peak) and open file descriptors."""

    rss_kib: int
    peak_rss_kib: int
    fds: int


class EngineProcess:
    """``python -m dapr_agents_durable engine --port 0`` on a database in ``directory``."""

    def __init__(self, directory: Path, *options: str) -> None:
        self.output = directory / "engine.out"
        with open(self.output, "wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dapr_agents_durable", "engine", "--port", "0",
                 "--db", str(directory / "engine.db"), *options],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=child_env(), cwd=directory,
            )  # fmt: skip
        match = wait_until(lambda: self._ready() or self._exited(), "the engine to be ready", STARTUP_TIMEOUT)
        self.port = int(match.group(1))

    def _ready(self) -> re.Match[str] | None:
        return re.search(r"ready on [^\s:]+:(\d+)", self.output.read_text(errors="replace"))

    def _exited(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"the engine exited with {self.process.returncode}: {self.output.read_text()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self) -> Sample:
        self._exited()
        status = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return Sample(
            rss_kib=int(fields["VmRSS"].split()[0]),
            peak_rss_kib=int(fields["VmHWM"].split()[0]),
            fds=len(os.listdir(f"/proc/{self.pid}/fd")),
        )

    def settle_fds(self, target: int, timeout: float = 30.0) -> Sample:
        """Wait (up to ``timeout``) until at most ``target`` descriptors are open; the last sample."""
        deadline = time.monotonic() + timeout
        while True:
            sample = self.sample()
            if sample.fds <= target or time.monotonic() > deadline:
                return sample
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass
class ChainRun:
    """What a load of chains ended with."""

    instance_ids: list[str]
    states: dict[str, WorkflowState]
    seconds: float
    """From the first schedule to the last completion seen."""

    @property
    def throughput(self) -> float:
        return len(self.instance_ids) / self.seconds

    def completion_seconds(self) -> list[float]:
        """Per instance, from its creation to its last update, as the engine stamped them."""
        return [(s.last_updated_at - s.created_at).total_seconds() for s in self.states.values()]

    def p50_p99(self) -> tuple[float, float]:
        times = self.completion_seconds()
        return statistics.median(times), percentile(times, 0.99)

    def not_completed(self, steps: int) -> dict[str, str]:
        """Instances that did not complete with their expected output, and how they ended."""
        wrong = {}
        for iid in self.instance_ids:
            state = self.states.get(iid)
            if state is None:
                wrong[iid] = "never finished"
            elif state.runtime_status != WorkflowStatus.COMPLETED:
                wrong[iid] = f"{state.runtime_status.name}: {state.failure_details}"
            elif json.loads(state.serialized_output or "null") != expected_output(iid, steps):
                wrong[iid] = f"output {state.serialized_output}"
        return wrong


# -- load (a): many threads scheduling --------------------------------------------------


def run_from_threads(port: int, workflows: int, threads: int, steps: int, prefix: str = "threads") -> ChainRun:
    """Each of ``threads`` threads schedules its share of ``workflows`` chains with its own
    client, then waits for each of them to finish."""
    states: dict[str, WorkflowState] = {}
    ids = [f"{prefix}-{n:04d}" for n in range(workflows)]
    shares = [ids[t::threads] for t in range(threads)]
    start = threading.Barrier(threads)

    def caller(share: list[str]) -> None:
        client = DaprWorkflowClient(host="127.0.0.1", port=str(port))
        try:
            start.wait()
            for iid in share:
                client.schedule_new_workflow("chain", input=steps, instance_id=iid)
            for iid in share:
                state = client.wait_for_workflow_completion(iid, timeout_in_seconds=int(LOAD_TIMEOUT))
                if state is not None:
                    states[iid] = state
        finally:
            client.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(caller, shares))
    return ChainRun(ids, states, time.perf_counter() - began)


# -- load (b): workers connecting and disconnecting --------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen
    output: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> bool:
        return "worker ready" in self.output.read_text(errors="replace")


@dataclass
class ChurnRun:
    run: ChainRun
    stopped: dict[int, Path]
    """Pid and output file of every worker stopped with SIGTERM."""
    killed_pids: set[int]
    workers_started: int
    progress_at_actions: list[int] = field(default_factory=list)
    """Executions logged when each stop or kill was made."""


class WorkerFleet:
    """Worker processes (``load_worker.py``) against one engine, each in its own session."""

    def __init__(self, directory: Path, port: int, log: ExecutionLog, step_seconds: float) -> None:
        self.directory = directory
        self.port = port
        self.log = log
        self.step_seconds = step_seconds
        self.started: list[Worker] = []

    def start(self) -> Worker:
        output = self.directory / f"worker-{len(self.started) + 1}.out"
        with open(output, "wb") as sink:
            process = subprocess.Popen(
                [sys.executable, str(WORKER_APP), "--port", str(self.port), "--log", str(self.log.path),
                 "--step-seconds", str(self.step_seconds)],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=child_env(),
                cwd=self.directory, start_new_session=True,
            )  # fmt: skip
        worker = Worker(process, output)
        self.started.append(worker)
        return worker

    def wait_ready(self, workers: Sequence[Worker]) -> None:
        def all_ready() -> bool:
            for worker in workers:
                if worker.process.poll() is not None:
                    raise AssertionError(f"worker {worker.pid} exited: {worker.output.read_text()[-3000:]}")
            return all(worker.ready() for worker in workers)

        wait_until(all_ready, "the workers to connect", STARTUP_TIMEOUT)

    @staticmethod
    def stop(worker: Worker) -> None:
        """SIGTERM: the worker's runtime shuts down (sending what it finished) and the process exits."""
        worker.process.terminate()
        worker.process.wait(timeout=60)

    @staticmethod
    def kill(worker: Worker) -> None:
        os.kill(worker.pid, signal.SIGKILL)
        worker.process.wait(timeout=30)

    def close(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.process.wait(timeout=30)


def run_with_churning_workers(directory: Path, port: int, log: ExecutionLog, *, workflows: int, workers: int,
                              steps: int, step_seconds: float, kills: int, seed: int = 7) -> ChurnRun:
    """``workers`` worker processes serve ``workflows`` chains; as the chains progress each
    worker in turn is stopped (``kills`` of them SIGKILLed instead) and a new one started."""
    fleet = WorkerFleet(directory, port, log, step_seconds)
    try:
        live = [fleet.start() for _ in range(workers)]
        fleet.wait_ready(live)
        client = DaprWorkflowClient(host="127.0.0.1", port=str(port))
        try:
            ids = [f"churn-{n:03d}" for n in range(workflows)]
            began = time.perf_counter()
            for iid in ids:
                client.schedule_new_workflow("chain", input=steps, instance_id=iid)
            killed = set(random.Random(seed).sample(range(workers), kills))
            total = workflows * steps
            killed_pids: set[int] = set()
            stopped: dict[int, Path] = {}
            progress: list[int] = []
            for turn in range(workers):
                # spread the disconnections over the run: the k-th once k/(workers+1) of the steps ran
                target = total * (turn + 1) // (workers + 1)
                wait_until(lambda: len(log.entries()) >= target, f"{target} executions")
                progress.append(len(log.entries()))
                if turn in killed:
                    # most likely during an execution: right after the worker logged one
                    pid = live[turn].pid
                    wait_until(lambda: log.last_pid() == pid, f"worker {pid} to run a step", interval=0.002)
                    killed_pids.add(pid)
                    fleet.kill(live[turn])
                else:
                    stopped[live[turn].pid] = live[turn].output
                    fleet.stop(live[turn])
                live[turn] = fleet.start()
            fleet.wait_ready(live)
            states: dict[str, WorkflowState] = {}
            for iid in ids:
                state = client.wait_for_workflow_completion(iid, timeout_in_seconds=int(LOAD_TIMEOUT))
                if state is not None:
                    states[iid] = state
            seconds = time.perf_counter() - began
        finally:
            client.close()
        for worker in live:
            fleet.stop(worker)
    finally:
        fleet.close()
    return ChurnRun(ChainRun(ids, states, seconds), stopped, killed_pids, len(fleet.started), progress)


def undelivered_results(output: Path) -> set[str]:
    """Instances whose activity result a stopped worker's SDK reported it could not deliver.

    ``WorkflowRuntime.shutdown()`` waits for results being sent, not for activities still
    running: one that finishes after the connection is closed is dropped (the SDK logs it)
    and the engine dispatches it again.
    """
    return set(re.findall(r"Could not deliver activity response for '[^']*' of orchestration ID '([^']+)'",
                          output.read_text(errors="replace")))


def repeated_executions(log: ExecutionLog) -> dict[tuple[str, int], list[int]]:
    """Steps executed more than once, with the pids that executed them in order."""
    pids: dict[tuple[str, int], list[int]] = {}
    for instance, step, pid in log.entries():
        pids.setdefault((instance, step), []).append(pid)
    return {key: run_by for key, run_by in pids.items() if len(run_by) > 1}


# -- load (c): connections opened and dropped ---------------------------------------------


@dataclass
class ConnectionRun:
    opened: int
    calls_ok: int
    dropped_streams: int
    dropped_waits: int
    killed_holders: int
    """Streams and waits open in the process when it was SIGKILLed."""
    killed_refused: int
    """Streams and waits that process was refused (RESOURCE_EXHAUSTED: more than the limits at once)."""
    exhausted: int
    """Calls of this process answered RESOURCE_EXHAUSTED."""
    unexpected: list[str]


def _stub(channel: grpc.Channel) -> stubs.TaskHubSidecarServiceStub:
    return stubs.TaskHubSidecarServiceStub(channel)


def _drop_after(call: Any, seconds: float) -> str:
    """Let ``call`` run ``seconds`` unless it ends first; its status code name then (OPEN if still running)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if call.done():
            return call.code().name
        time.sleep(0.01)
    return "OPEN"


OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
"""Channel option: a connection of the channel's own (channels of one process share one otherwise)."""


def one_connection(port: int, kind: int, waiting_instance: str) -> str:
    """Open a channel, do one thing on it, close it; what happened (a status code name or OPEN)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=OWN_CONNECTION)
    try:
        stub = _stub(channel)
        if kind == 0:
            stub.Hello(empty_pb2.Empty(), timeout=30)
            return "OK"
        if kind == 1:
            response = stub.GetInstance(pb.GetInstanceRequest(instanceId=waiting_instance), timeout=30)
            return "OK" if response.exists else "MISSING"
        if kind == 2:
            request = pb.GetWorkItemsRequest()
            stream = stub.GetWorkItems(request)
            return _drop_after(stream, 0.05)
        call = stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=waiting_instance))
        return _drop_after(call, 0.05)
    except grpc.RpcError as error:
        return error.code().name
    finally:
        channel.close()


HOLDER = """
import sys, time, grpc
import dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc as stubs
import dapr.ext.workflow._durabletask.internal.protos as pb
port, count, instance = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = []
for n in range(count):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
    stub = stubs.TaskHubSidecarServiceStub(channel)
    if n % 2:
        calls.append(stub.GetWorkItems(pb.GetWorkItemsRequest()))
    else:
        calls.append(stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=instance)))
time.sleep(0.5)
refused = sum(c.done() and c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for c in calls)
print("holding", sum(not c.done() for c in calls), "refused", refused, flush=True)
time.sleep(600)
"""
"""A process that opens ``count`` channels, each with a stream or a wait left open, until SIGKILLed."""


def open_and_drop_connections(directory: Path, port: int, *, connections: int, killed: int, threads: int,
                              waiting_instance: str) -> ConnectionRun:
    """``connections - killed`` channels from ``threads`` threads (Hello, GetInstance, a dropped
    stream, a dropped wait in turn), then ``killed`` channels held by a process that is SIGKILLed."""
    in_process = connections - killed
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(lambda n: (n % 4, one_connection(port, n % 4, waiting_instance)), range(in_process)))
    output = directory / "holder.out"
    with open(output, "wb") as sink:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(port), str(killed), waiting_instance],
                                  stdout=sink, stderr=subprocess.STDOUT, env=child_env())
    try:
        held = wait_until(lambda: re.search(r"holding (\d+) refused (\d+)", output.read_text()), "the holder",
                          STARTUP_TIMEOUT)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    codes = Counter(code for _, code in outcomes)
    expected = {0: {"OK"}, 1: {"OK"}, 2: {"OPEN"}, 3: {"OPEN"}}
    unexpected = [f"kind {kind}: {code}" for kind, code in outcomes
                  if code not in expected[kind] and code != "RESOURCE_EXHAUSTED"]
    return ConnectionRun(
        opened=connections,
        calls_ok=codes["OK"],
        dropped_streams=sum(1 for kind, code in outcomes if kind == 2 and code == "OPEN"),
        dropped_waits=sum(1 for kind, code in outcomes if kind == 3 and code == "OPEN"),
        killed_holders=int(held.group(1)),
        killed_refused=int(held.group(2)),
        exhausted=codes["RESOURCE_EXHAUSTED"],
        unexpected=unexpected,
    )


def limits_free(port: int, streams: int, waits: int, waiting_instance: str) -> Counter[str]:
    """Open ``streams`` work-item streams and ``waits`` waits at once, each with a 3 s deadline;
    how they ended (DEADLINE_EXCEEDED for all when every slot was free)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = _stub(channel)
        calls = [stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=3) for _ in range(streams)]
        calls += [stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=waiting_instance), timeout=3)
                  for _ in range(waits)]
        codes: Counter[str] = Counter()
        for call in calls:
            wait_until(call.done, "a call to end", 30)
            codes[call.code().name] += 1
        return codes
    finally:
        channel.close()
