"""Real processes for the crash tests: engine and worker subprocesses, the activity log.

Every process runs in its own process group and is registered with a :class:`Lab`,
which kills the groups (SIGKILL) when the test ends, whatever the outcome. Workers
run ``apps/chain_worker.py``; see its docstring for the workflow they serve.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from dapr.ext.workflow import DaprWorkflowClient, WorkflowStatus
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType as EventType

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_APP = Path(__file__).resolve().parent / "apps" / "chain_worker.py"

STARTUP_TIMEOUT = 60.0
"""Seconds a process may take to report ready on a loaded machine."""
WORKFLOW_TIMEOUT = 120
"""Seconds a workflow may take to finish once nothing blocks it any more."""

T = TypeVar("T")


def child_env() -> dict[str, str]:
    """The environment of every subprocess: no Dapr settings, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_until(
    probe: Callable[[], T | None], what: str, *, timeout: float = WORKFLOW_TIMEOUT, watch: Sequence[Spawned] = ()
) -> T:
    """Poll ``probe`` until it returns something truthy; fail if a watched process dies."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        for spawned in watch:
            spawned.check_alive(what)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Spawned:
    """A subprocess with its combined stdout/stderr in a file."""

    name: str
    process: subprocess.Popen
    output: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def check_alive(self, what: str) -> None:
        if not self.alive():
            tail = "\n".join(self.text().splitlines()[-30:])
            raise AssertionError(
                f"{self.name} (pid {self.pid}) exited with {self.process.returncode} "
                f"while waiting for {what}; its output ends with:\n{tail}"
            )

    def wait_for_output(self, pattern: str, what: str) -> re.Match[str]:
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(self.text()), what, timeout=STARTUP_TIMEOUT, watch=[self])

    def sigkill(self) -> None:
        """``kill -9`` the process itself (not its group) and reap it."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


class EngineProcess:
    """``python -m dapr_agents_durable engine`` on a fixed database, restartable on its port."""

    def __init__(self, lab: Lab, db_path: Path, options: Sequence[str]) -> None:
        self.lab = lab
        self.db_path = db_path
        self.options = list(options)
        self.port = 0
        self.current: Spawned | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "dapr_agents_durable", "engine",
            "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db_path), *self.options,
        ]  # fmt: skip

    def start(self) -> EngineProcess:
        """Start serving (on the port of the previous run, if any) and wait for ``ready``."""
        self.current = self.lab.spawn("engine", self.command())
        match = self.current.wait_for_output(r"ready on [^\s:]+:(\d+)", "the engine to be ready")
        self.port = int(match.group(1))
        return self

    def kill(self) -> None:
        assert self.current is not None, "the engine is not running"
        self.current.sigkill()
        self.current = None

    def restart(self) -> EngineProcess:
        """``kill -9`` the engine and start it again at once on the same port and database."""
        self.kill()
        return self.start()

    def client(self) -> DaprWorkflowClient:
        return self.lab.client(self.port)


class ActivityLog:
    """The file every execution of activity ``step`` appends ``<instance> <step> <pid>`` to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[tuple[str, str, int]]:
        if not self.path.exists():
            return []
        text = self.path.read_text()
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
        return [(i, s, int(p)) for i, s, p in (line.split(" ") for line in lines)]

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((instance, step) for instance, step, _ in self.entries())

    def pids(self, instance_id: str, step: str) -> list[int]:
        return [p for i, s, p in self.entries() if (i, s) == (instance_id, step)]

    def wait_for(self, instance_id: str, step: str, *, watch: Sequence[Spawned] = ()) -> list[int]:
        """Wait until ``step`` of ``instance_id`` has started somewhere; return the pids so far."""
        return wait_until(lambda: self.pids(instance_id, step), f"step {step!r} of {instance_id} to start", watch=watch)


class Lab:
    """Owns everything one test starts: processes, clients, files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.activity_log = ActivityLog(directory / "activities.log")
        self._spawned: list[Spawned] = []
        self._clients: list[DaprWorkflowClient] = []

    def spawn(self, name: str, command: Sequence[str]) -> Spawned:
        output = self.directory / f"{name}-{len(self._spawned) + 1}.out"
        with open(output, "wb") as sink:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=self.directory,
                start_new_session=True,
            )
        spawned = Spawned(name, process, output)
        self._spawned.append(spawned)
        return spawned

    def engine(self, *options: str, db_name: str = "engine.db") -> EngineProcess:
        """Start an engine subprocess on a free port with a database in this test's directory."""
        return EngineProcess(self, self.directory / db_name, options).start()

    def worker(
        self,
        engine: EngineProcess,
        *,
        step_seconds: float = 0.0,
        block_step: str | None = None,
        release_file: Path | None = None,
    ) -> Spawned:
        """Start a ``chain`` worker against ``engine`` and wait until its stream is open."""
        command = [
            sys.executable, str(WORKER_APP), "--port", str(engine.port),
            "--log", str(self.activity_log.path), "--step-seconds", str(step_seconds),
        ]  # fmt: skip
        if block_step is not None:
            assert release_file is not None
            command += ["--block-step", block_step, "--release-file", str(release_file)]
        spawned = self.spawn("worker", command)
        spawned.wait_for_output(r"worker ready", "the worker to connect")
        return spawned

    def client(self, port: int) -> DaprWorkflowClient:
        client = DaprWorkflowClient(host="127.0.0.1", port=str(port))
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Kill every process group still running, reap the processes, close the clients."""
        for spawned in self._spawned:
            if spawned.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(spawned.pid, signal.SIGKILL)
        for spawned in self._spawned:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spawned.process.wait(timeout=30)
        for client in self._clients:
            client.close()


# -- the chain workflow --------------------------------------------------------------------


def chain_plan(*steps: str | float) -> dict:
    """A plan for workflow ``chain``: names are activity steps, numbers are timers in seconds."""
    return {"steps": [s if isinstance(s, str) else {"timer": s} for s in steps]}


def activity_steps(plan: dict) -> list[str]:
    return [s for s in plan["steps"] if isinstance(s, str)]


def expected_output(instance_id: str, plan: dict) -> list[str]:
    return [f"{step}:{instance_id}" for step in activity_steps(plan)]


def assert_completed(client: DaprWorkflowClient, instance_id: str, plan: dict) -> None:
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=WORKFLOW_TIMEOUT)
    assert state is not None, f"{instance_id} does not exist"
    assert state.runtime_status == WorkflowStatus.COMPLETED, (
        f"{instance_id} ended {state.runtime_status.name}: {state.failure_details}"
    )
    assert json.loads(state.serialized_output) == expected_output(instance_id, plan)


def assert_history_not_doubled(client: DaprWorkflowClient, instance_id: str) -> None:
    """Each scheduled task, its completion, each timer and the execution appear exactly once."""
    history = client.get_workflow_history(instance_id)
    by_type = Counter(event.event_type for event in history)
    scheduled = Counter(e.event_id for e in history if e.event_type == EventType.TASK_SCHEDULED)
    completed = Counter(e.task_scheduled_id for e in history if e.event_type == EventType.TASK_COMPLETED)
    assert by_type[EventType.EXECUTION_STARTED] == 1, by_type
    assert by_type[EventType.EXECUTION_COMPLETED] == 1, by_type
    assert by_type[EventType.TASK_FAILED] == 0, by_type
    assert all(n == 1 for n in scheduled.values()), f"taskScheduled ids repeated: {scheduled}"
    assert all(n == 1 for n in completed.values()), f"taskCompleted repeated: {completed}"
    assert set(completed) == set(scheduled), f"scheduled {set(scheduled)}, completed {set(completed)}"
    assert by_type[EventType.TIMER_FIRED] == by_type[EventType.TIMER_CREATED], by_type
    assert history[-1].event_type == EventType.EXECUTION_COMPLETED


def start_chains(client: DaprWorkflowClient, prefix: str, count: int, plan: dict) -> list[str]:
    return [
        client.schedule_new_workflow("chain", input=plan, instance_id=f"{prefix}-{n:03d}") for n in range(count)
    ]


def step_times(client: DaprWorkflowClient, instance_id: str, plan: dict) -> dict[str, tuple[float, float]]:
    """Per activity step of a finished ``chain``: when the engine committed its scheduling
    and when it took in its result (epoch seconds of the history events)."""
    history = client.get_workflow_history(instance_id)
    scheduled = [e for e in history if e.event_type == EventType.TASK_SCHEDULED]
    step_of = dict(zip((e.event_id for e in scheduled), activity_steps(plan), strict=True))
    scheduled_at = {step_of[e.event_id]: _epoch(e.timestamp) for e in scheduled}
    completed_at = {
        step_of[e.task_scheduled_id]: _epoch(e.timestamp)
        for e in history
        if e.event_type == EventType.TASK_COMPLETED and e.task_scheduled_id is not None
    }
    return {step: (scheduled_at[step], completed_at[step]) for step in scheduled_at}


def _epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=UTC).timestamp()
