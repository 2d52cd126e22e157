"""Fault injection: kill an app (and a separate engine) at seeded random points until its run completes.

A chaos trial runs one durable run of a tool-loop app to its end while killing it (SIGKILL)
at the points of a :class:`KillPlan`: during a model request, during a tool call, while the
run waits for an approval, at a random moment of the run, or while the engine starts. The
steps may run in a child workflow (an outer agent's ``child_call``), and one step may need
approval (the app approves it after :func:`hold_approval`). With ``separate_engine`` the app runs against
``dapr-agents-durable engine`` in its own process, and kills land on the engine as well.
After each kill the same command starts again (the engine on the same port and database;
an app that exits because its engine went away is started again too). :class:`ChaosFigures`
adds up what it cost: model calls paid again beyond the one in flight at a kill, tool
executions repeated, the longest time from a restart to the run's next progress.

Everything random comes from one seed (``DAPR_AGENTS_DURABLE_CHAOS_SEED`` or a fresh one),
printed with the figures so a failing campaign can be run again exactly. The app's tool
calls :func:`hold_tool_call` first, so the trial sees it start and can hold it in flight
(:func:`recorded_step` is such a tool's whole body).

Example::

    figures = run_chaos(lambda url, work: [sys.executable, "app.py", url, "run-1", str(work / "tools.jsonl")],
                        {"OPENAI_API_KEY": "sk-chaos"}, tmp_path, steps=14, kills=chaos_kills(20))
    print(figures.line())
    figures.check(kills=20)
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dapr_agents_durable.testing.crash import SIDECAR_ENV, embedded_app_env
from dapr_agents_durable.testing.recording import RecordedRequest
from dapr_agents_durable.testing.script import Step, text, tool_call
from dapr_agents_durable.testing.server import ScriptedModelServer

KillKind = Literal["request", "tool", "approval", "moment", "startup"]
KillTarget = Literal["app", "engine"]

SEED_ENV = "DAPR_AGENTS_DURABLE_CHAOS_SEED"
KILLS_ENV = "DAPR_AGENTS_DURABLE_CHAOS_KILLS"
TOOL_STARTS_ENV = "CHAOS_TOOL_STARTS"
"""The file a chaos app's tool appends ``{"n": ...}`` to as call ``n`` starts."""
TOOL_HOLD_ENV = "CHAOS_TOOL_HOLD"
"""The file naming the tool call to hold in flight (``approval``: the approval wait; empty or missing: none)."""
APPROVAL_WAITS_ENV = "CHAOS_APPROVAL_WAITS"
"""The file a chaos app appends a line to each time its run waits for an approval."""
OUTER_MODEL = "chaos-outer"
"""The model name an outer agent's requests carry when the steps run in a child workflow."""
HOLD = 30.0
"""Seconds a model request or tool call is held for a kill to land on it."""
SETTLE = 0.2
"""Seconds after a kill for the requests the killed process sent to reach the model server."""


def chaos_kills(default: int) -> int:
    """How many kills a chaos test lands: ``$DAPR_AGENTS_DURABLE_CHAOS_KILLS``, else ``default``."""
    return int(os.environ.get(KILLS_ENV) or default)


def hold_tool_call(n: int) -> None:
    """Call first in a chaos app's tool: log that call ``n`` started, and hold it while asked.

    Does nothing unless ``$CHAOS_TOOL_STARTS`` names the log. The call is held (at most
    30 s) while the file ``$CHAOS_TOOL_HOLD`` reads ``n``, so a kill can land while it runs.
    """
    _log_and_hold(TOOL_STARTS_ENV, {"n": n}, str(n))


def hold_approval() -> None:
    """Call in a chaos app when its run waits for an approval, before deciding: log the wait, and hold it while asked.

    Does nothing unless ``$CHAOS_APPROVAL_WAITS`` names the log. The wait is held (at most
    30 s) while the file ``$CHAOS_TOOL_HOLD`` reads ``approval``, so a kill can land on it.
    """
    _log_and_hold(APPROVAL_WAITS_ENV, {"pid": os.getpid()}, "approval")


def _log_and_hold(log_env: str, entry: dict[str, Any], marker: str) -> None:
    """Append ``entry`` to the log ``$<log_env>`` names (none: do nothing), then wait (at most
    30 s) while the file ``$CHAOS_TOOL_HOLD`` reads ``marker``."""
    path = os.environ.get(log_env)
    if not path:
        return
    with open(path, "a") as log:
        log.write(json.dumps(entry) + "\n")
    hold = Path(os.environ[TOOL_HOLD_ENV])
    deadline = time.monotonic() + HOLD
    while time.monotonic() < deadline and hold.exists() and hold.read_text() == marker:
        time.sleep(0.02)


def recorded_step(n: int, log: str | os.PathLike[str], key: str) -> str:
    """The body of a chaos app's tool: :func:`hold_tool_call`, then log the call and answer.

    Appends ``{"n", "key", "pid"}`` (``key``: the call's idempotency key) to ``log``, on
    disk before the tool returns, so a kill right after cannot hide an execution, and
    returns ``"step <n> recorded"``.
    """
    hold_tool_call(n)
    with open(log, "a") as file:
        file.write(json.dumps({"n": n, "key": key, "pid": os.getpid()}) + "\n")
        file.flush()
        os.fsync(file.fileno())
    return f"step {n} recorded"


@dataclass(frozen=True)
class KillPoint:
    """Where one kill lands on ``target``: during model request ``value``, during tool call
    ``value``, during the approval wait, ``value`` seconds after the run (re)started making progress, or ``value``
    seconds after the target's engine took the database lock (its start; for an app on a
    separate engine: ``value`` seconds after the app started)."""

    kind: KillKind
    value: float
    target: KillTarget = "app"

    def describe(self) -> str:
        who = "" if self.target == "app" else "engine "
        if self.kind == "request":
            return f"{who}during model request {int(self.value)}"
        if self.kind == "tool":
            return f"{who}during tool call {int(self.value)}"
        if self.kind == "approval":
            return f"{who}during the approval wait"
        if self.kind == "startup":
            return f"{self.value:.2f} s into the {self.target}'s engine start" if self.target == "app" \
                else f"{self.value:.2f} s into the engine's start"
        return f"{who}{self.value:.2f} s after progress"


@dataclass
class KillPlan:
    """Seeded random kill points for a run of ``requests`` model requests and ``tools`` tool calls
    (and an approval wait, with ``approval``)."""

    seed: int
    requests: int
    tools: int
    targets: tuple[KillTarget, ...] = ("app",)
    approval: bool = False
    moment_range: tuple[float, float] = (0.02, 1.2)
    startup_range: tuple[float, float] = (0.0, 0.6)
    random: random.Random = field(init=False, repr=False)
    _uncovered: list[KillKind] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self._uncovered = list(dict.fromkeys(self._kinds()))
        self.random.shuffle(self._uncovered)

    @classmethod
    def seeded(cls, requests: int, tools: int, seed: int | None = None,
               targets: tuple[KillTarget, ...] = ("app",), approval: bool = False) -> KillPlan:
        """A plan from ``seed``, else ``$DAPR_AGENTS_DURABLE_CHAOS_SEED``, else a fresh seed."""
        if seed is None:
            seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(1, 2**31))
        return cls(seed, requests, tools, targets, approval)

    def point(self, kind: KillKind | None = None) -> KillPoint:
        """A random point (of ``kind``, else of a random kind)."""
        chosen = kind if kind is not None else self.random.choice(self._kinds())
        if chosen == "request":
            value: float = self.random.randint(1, self.requests)
        elif chosen == "tool":
            value = self.random.randint(1, self.tools)
        else:
            low, high = self.startup_range if chosen == "startup" else self.moment_range
            value = round(self.random.uniform(low, high), 3)
        target = self.random.choice(self.targets) if len(self.targets) > 1 else self.targets[0]
        return KillPoint(chosen, value, target)

    def _kinds(self) -> list[KillKind]:
        """The kinds a random point is drawn from, model requests and tool calls twice as likely."""
        kinds: list[KillKind] = ["request", "request", "tool", "tool", "moment", "startup"]
        return [*kinds, "approval"] if self.approval else kinds

    def trials(self, count: int, kills_per_trial: tuple[int, int] = (1, 3)) -> Iterator[list[KillPoint]]:
        """``count`` trials: first one of each kind of kill alone (so every kind lands), then
        trials of between ``kills_per_trial`` random points."""
        for _ in range(count):
            if self._uncovered:
                yield [self.point(self._uncovered.pop())]
                continue
            yield [self.point() for _ in range(self.random.randint(*kills_per_trial))]


@dataclass
class ChaosFigures:
    """What the kills cost, added up over trials; ``failures`` names every trial that went wrong."""

    seed: int
    trials: int = 0
    kills: int = 0
    engine_kills: int = 0
    restarts: int = 0
    repaid: int = 0
    duplicate_tools: int = 0
    worst_recovery: float = 0.0
    reference: Any = None
    """The output of the uncrashed run every trial must repeat."""
    kinds: Counter[str] = field(default_factory=Counter)
    """Kills that landed, by where (``request``, ``tool``, ``approval``, ``moment``, ``startup``)."""
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        engine = f" ({self.engine_kills} of the engine)" if self.engine_kills else ""
        where = ", ".join(f"{kind} {count}" for kind, count in sorted(self.kinds.items()))
        return (f"chaos seed={self.seed}: {self.trials} runs, {self.kills} kills{engine} ({where}), "
                f"{self.restarts} restarts, "
                f"completed model calls re-paid {self.repaid}, duplicate tool executions {self.duplicate_tools}, "
                f"worst recovery {self.worst_recovery:.2f} s")

    def check(self, kills: int, kinds: Sequence[KillKind] = ()) -> None:
        """Fail listing every failed trial, or when fewer than ``kills`` kills landed, or none of one of ``kinds``."""
        if self.failures:
            raise AssertionError("\n".join(self.failures))
        if self.kills < kills:
            raise AssertionError(f"only {self.kills} of {kills} kills landed in {self.trials} runs")
        missing = [kind for kind in kinds if not self.kinds[kind]]
        if missing:
            raise AssertionError(f"no kill landed {' or '.join(missing)}: {self.line()}")


class EngineProcess:
    """``python -m dapr_agents_durable engine`` on one database, started again on the same port."""

    def __init__(self, db_path: Path, logs: Path, env: Mapping[str, str], options: Sequence[str] = ()) -> None:
        self._db_path = db_path
        self._logs = logs
        self._env = dict(env)
        self._options = list(options)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.ready = False
        """Whether the process serves (it was started, and not killed since)."""
        self._starts = 0

    def spawn(self) -> None:
        """Start the process without waiting for it to serve."""
        self._starts += 1
        self.ready = False
        with open(self._log(), "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dapr_agents_durable", "engine", "--host", "127.0.0.1",
                 "--port", str(self.port), "--db", str(self._db_path), *self._options],
                stdout=log, stderr=subprocess.STDOUT, env=self._env)

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until it serves (learning its port on the first start)."""
        self.spawn()
        deadline = time.monotonic() + timeout
        while not (ready := re.search(rb"ready on [^\s:]+:(\d+)", self._log().read_bytes())):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the engine did not start: {self._log().read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)
        self.port = int(ready.group(1))
        self.ready = True

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        self.ready = False
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM the process (SIGKILL if it does not stop within 15 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def _log(self) -> Path:
        return self._logs / f"engine-{self._starts}.log"


AppCommand = Callable[[str], list[str]]
"""The app's command line, given the scripted model server's base URL."""


class ChaosTrial:
    """One durable run of a tool-loop app, killed at given points and restarted until it completes.

    The app runs ``command`` with ``env`` on the engine database ``work/engine.db``
    (embedded, or in a separate engine process). Its model is a scripted server: request
    ``k`` (conversation state ``k - 1``: tool results so far) asks for ``tool(n=k)`` up to
    ``steps``, then answers ``"all <steps> steps recorded"``; requests for the same state
    are the same call paid again. The tool calls :func:`hold_tool_call`; with
    ``approval_step``, the run waits for an approval before tool call ``approval_step``
    (that call needs it, or the child call before step 1 does), which the app gives after
    :func:`hold_approval`.

    With ``child_call`` (a tool name and its arguments) the steps run in a child workflow:
    an outer agent, whose requests name the model :data:`OUTER_MODEL`, first asks for that
    call (its tool runs the agent that makes the steps' requests, in a conversation of its
    own) and, given its result, answers with that result.
    """

    def __init__(
        self,
        command: AppCommand,
        env: Mapping[str, str],
        work: Path,
        *,
        steps: int,
        tool: str = "record_step",
        child_call: tuple[str, dict[str, Any]] | None = None,
        approval_step: int | None = None,
        separate_engine: bool = False,
        engine_options: Sequence[str] = (),
        timeout: float = 120.0,
    ) -> None:
        self._command = command
        self._env = dict(env)
        self._work = work
        self._steps = steps
        self._tool = tool
        self._child_call = child_call
        self._approval_step = approval_step
        self._timeout = timeout
        self.server = ScriptedModelServer(rule=self._answer)
        self.tool_starts = work / "tool-starts.jsonl"
        self.approval_waits = work / "approval-waits.jsonl"
        self._waits_at_aim = 0
        self._hold = work / "tool-hold"
        self.engine = (EngineProcess(work / "engine.db", work, self._process_env(), engine_options)
                       if separate_engine else None)
        self.kills = 0
        self.engine_kills = 0
        self.restarts = 0
        self.kinds: Counter[str] = Counter()
        self.worst_recovery = 0.0
        self.excused: Counter[int] = Counter()
        self._slow_state: int | None = None
        self._app: subprocess.Popen[bytes] | None = None
        self._launches = 0
        self._app_spawned_at = 0.0
        self._engine_hit: int | None = None  # requests paid when an engine kill hit the running app
        self._lock_seen: dict[int, float] = {}

    def _answer(self, request: RecordedRequest) -> Step:
        state = self._state(request)
        delay = HOLD if self._slow_state == state else 0.0
        if self._child_call is not None and state == 0:
            name, arguments = self._child_call
            return tool_call(name, arguments, delay=delay)
        step = state + 1 - (self._child_call is not None)
        if step <= self._steps:
            return tool_call(self._tool, {"n": step}, delay=delay)
        if step > self._steps + 1:  # the outer agent, given the child's result: repeat it
            return text(request.tool_outputs[-1], delay=delay)
        return text(f"all {self._steps} steps recorded", delay=delay)

    def _state(self, request: RecordedRequest) -> int:
        """Where in the run a request lies: ``k - 1`` for request ``k`` of the uncrashed run."""
        done = len(request.tool_outputs)
        if self._child_call is None:
            return done
        if request.body.get("model") == OUTER_MODEL:
            return self._steps + 2 if done else 0
        return done + 1

    def run(self, points: Sequence[KillPoint]) -> tuple[int, str, str]:
        """Kill at each point in turn (skipping points the run has passed), then let the run finish.

        Returns the final app process's exit code, stdout and stderr.
        """
        with self.server:
            try:
                if self.engine is not None:
                    self.engine.start()
                self._launch()
                for point in points:
                    self._aim(point)
                    if self._kill_at(point):
                        self._recover(point.target)
                self._aim(None)
                return self._finish()
            finally:
                self._aim(None)
                if self._app is not None and self._app.poll() is None:
                    self._app.kill()
                    self._app.wait(timeout=30)
                if self.engine is not None:
                    self.engine.stop()

    # -- processes ---------------------------------------------------------------------

    def _process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SIDECAR_ENV}
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        return env

    def _launch(self) -> None:
        extra = {"PYTHONPATH": os.pathsep.join(sys.path), TOOL_STARTS_ENV: str(self.tool_starts),
                 TOOL_HOLD_ENV: str(self._hold), APPROVAL_WAITS_ENV: str(self.approval_waits), **self._env}
        env = embedded_app_env(self._work / "engine.db", extra)
        if self.engine is not None:
            del env["DAPR_AGENTS_DURABLE_DB"]
            env["DAPR_GRPC_PORT"] = str(self.engine.port)
        self._launches += 1
        with open(self._output("out"), "wb") as out, open(self._output("err"), "wb") as err:
            self._app = subprocess.Popen(self._command(self.server.base_url), stdout=out, stderr=err, env=env)
        self._app_spawned_at = time.monotonic()
        # An app started while its engine is down exits at its first call: start it again then.
        self._engine_hit = None if self.engine is None or self.engine.ready else self.server.request_count

    def _output(self, stream: str) -> Path:
        return self._work / f"app-{self._launches}.{stream}"

    def _revive(self) -> bool:
        """Start the app again if an engine kill made it exit; False once it has exited for good."""
        assert self._app is not None
        if self._app.poll() is None:
            return True
        if self._app.returncode == 0 or self._engine_hit is None:
            return False
        if self.server.request_count > self._engine_hit:
            self._excuse_in_flight()  # the app went down with a model call in flight
        self._launch()
        self.restarts += 1
        return True

    def _finish(self) -> tuple[int, str, str]:
        deadline = time.monotonic() + self._timeout
        while self._revive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self._app is not None
        if self._app.poll() is None:
            return -1, "", f"the run did not finish within {self._timeout:.0f} s"
        return self._app.returncode, self._output("out").read_text(), self._output("err").read_text()

    # -- kills -------------------------------------------------------------------------

    def _aim(self, point: KillPoint | None) -> None:
        """Hold the model request or tool call ``point`` waits for (release everything for None)."""
        self._slow_state = int(point.value) - 1 if point is not None and point.kind == "request" else None
        hold = "" if point is None else str(int(point.value)) if point.kind == "tool" \
            else "approval" if point.kind == "approval" else ""
        self._waits_at_aim = len(read_jsonl(self.approval_waits))
        self._hold.write_text(hold)

    def _kill_at(self, point: KillPoint) -> bool:
        """SIGKILL the target at ``point``; False when the run ended (or passed the point) first."""
        if point.kind == "request":
            reached = self._wait_for(lambda: self._in_request(int(point.value)),
                                     lambda: self._requested(int(point.value)))
        elif point.kind == "tool":
            reached = self._wait_for(lambda: self._in_tool(int(point.value)), lambda: self._tool_passed(point.value))
        elif point.kind == "approval":
            assert self._approval_step is not None, "an approval kill needs the trial's approval_step"
            approved = self._approval_step - 0.5
            reached = self._wait_for(lambda: len(read_jsonl(self.approval_waits)) > self._waits_at_aim,
                                     lambda: self._tool_passed(approved))
        elif point.kind == "startup":
            started = self._started_at(point.target)
            if started is not None and time.monotonic() > started + point.value:  # its start is over: start again
                if not self._kill(point.target):
                    return False
                self._spawn(point.target)
            reached = self._wait_for(lambda: time.monotonic() >= (self._started_at(point.target) or math.inf)
                                     + point.value, lambda: False)
        else:
            reached = self._wait_for(lambda: self.server.request_count > 0, lambda: False)
            moment = time.monotonic() + point.value
            reached = reached and self._wait_for(lambda: time.monotonic() >= moment, lambda: False)
        if reached and self._kill(point.target):
            self.kinds[point.kind] += 1
            return True
        return False

    def _wait_for(self, reached: Callable[[], bool], passed: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + self._timeout
        while not reached():
            if passed() or not self._revive() or time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _kill(self, target: KillTarget) -> bool:
        assert self._app is not None
        if not self._revive():
            return False
        if target == "app":
            self._app.send_signal(signal.SIGKILL)
            self._app.wait(timeout=30)
        else:
            assert self.engine is not None
            self.engine.kill()
            self.engine_kills += 1
            if self._engine_hit is None:
                self._engine_hit = self.server.request_count
        self.kills += 1
        # A request sent just before the kill reaches the server just after it: let it arrive,
        # then the last request is the call in flight at the kill (it may be paid again).
        time.sleep(SETTLE)
        self._excuse_in_flight()
        self._aim(None)
        return True

    def _spawn(self, target: KillTarget) -> None:
        if target == "app":
            self._launch()
            self.restarts += 1
        else:
            assert self.engine is not None
            self.engine.spawn()

    def _started_at(self, target: KillTarget) -> float | None:
        """When the target's engine took the database lock (None: not yet); an app on a separate
        engine: when it was started."""
        if target == "app" and self.engine is not None:
            return self._app_spawned_at
        process = self._app if target == "app" else self.engine.process if self.engine is not None else None
        lock = self._work / "engine.db.lock"
        try:
            holder = lock.read_text().split(" ")
            listening_for = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return None
        if process is None or holder[0] != str(process.pid):
            return None
        seen = time.monotonic() - listening_for if len(holder) > 1 else time.monotonic()
        return self._lock_seen.setdefault(process.pid, seen)

    def _recover(self, target: KillTarget) -> None:
        """Start the killed process again; wait for the run's next progress (or its end)."""
        started = time.monotonic()
        requests, tools = self.server.request_count, len(read_jsonl(self.tool_starts))
        if target == "engine":
            assert self.engine is not None
            self.engine.start()
        else:
            self._launch()
        self.restarts += 1
        while time.monotonic() - started < self._timeout and self._revive():
            if self.server.request_count > requests or len(read_jsonl(self.tool_starts)) > tools:
                break
            time.sleep(0.02)
        self.worst_recovery = max(self.worst_recovery, time.monotonic() - started)

    def _excuse_in_flight(self) -> None:
        last = self.server.requests[-1:]
        if last:
            self.excused[self._state(last[0])] += 1

    # -- what the run did --------------------------------------------------------------

    def _in_request(self, number: int) -> bool:
        latest = self.server.requests[-1:]
        return bool(latest) and self._state(latest[0]) == number - 1

    def _requested(self, number: int) -> bool:
        """The run has already made the request after request ``number``."""
        return any(self._state(r) == number for r in self.server.requests)

    def _in_tool(self, number: int) -> bool:
        return int(number) in {entry["n"] for entry in read_jsonl(self.tool_starts)[-1:]}

    def _tool_passed(self, number: float) -> bool:
        return any(entry["n"] > number for entry in read_jsonl(self.tool_starts))

    def duplicate_tools(self) -> int:
        """Tool calls started more than once."""
        counts = Counter(entry["n"] for entry in read_jsonl(self.tool_starts))
        return sum(count - 1 for count in counts.values())

    def repaid(self) -> int:
        """Model calls paid again beyond the one in flight at each kill."""
        counts = Counter(self._state(r) for r in self.server.requests)
        return sum(max(0, count - 1 - self.excused[state]) for state, count in counts.items())


def run_chaos(
    command: Callable[[str, Path], list[str]],
    env: Mapping[str, str],
    workdir: Path,
    *,
    steps: int,
    kills: int,
    child_call: tuple[str, dict[str, Any]] | None = None,
    approval_step: int | None = None,
    separate_engine: bool = False,
    engine_options: Sequence[str] = (),
    seed: int | None = None,
) -> ChaosFigures:
    """An uncrashed run, then seeded random trials of a tool-loop app until ``kills`` kills landed.

    ``command(base_url, work)`` is the app's command line for a run in folder ``work``; the
    app prints its output as the JSON of its last line. ``child_call`` and ``approval_step``
    are as in :class:`ChaosTrial` (with an approval step, kills land in its wait too). Every trial must exit 0 with the
    uncrashed run's output, pay no completed model call again, repeat at most one tool call
    per kill and leave a sound database; each one that does not is listed in ``failures``.
    """
    targets: tuple[KillTarget, ...] = ("app", "engine") if separate_engine else ("app",)
    plan = KillPlan.seeded(requests=steps + (3 if child_call else 1), tools=steps, seed=seed, targets=targets,
                           approval=approval_step is not None)
    figures = ChaosFigures(plan.seed)

    def trial(name: str, points: list[KillPoint]) -> None:
        work = workdir / name
        work.mkdir()
        run = ChaosTrial(lambda url: command(url, work), env, work, steps=steps, child_call=child_call,
                         approval_step=approval_step, separate_engine=separate_engine, engine_options=engine_options)
        code, out, err = run.run(points)
        where = f"{name} (seed {plan.seed}, kills {[p.describe() for p in points]})"
        figures.kills += run.kills
        figures.engine_kills += run.engine_kills
        figures.restarts += run.restarts
        figures.kinds.update(run.kinds)
        figures.repaid += run.repaid()
        figures.duplicate_tools += run.duplicate_tools()
        figures.worst_recovery = max(figures.worst_recovery, run.worst_recovery)
        if code != 0:
            figures.failures.append(f"{where}: exit {code}: {err[-2000:]}")
            return
        output = json.loads(out.strip().splitlines()[-1])
        if not points:
            figures.reference = output
        elif output != figures.reference:
            figures.failures.append(f"{where}: output {output!r}, uncrashed {figures.reference!r}")
        if run.repaid():
            figures.failures.append(f"{where}: {run.repaid()} completed model calls paid again")
        if run.duplicate_tools() > run.kills:
            figures.failures.append(f"{where}: {run.duplicate_tools()} tool calls repeated for {run.kills} kills")
        figures.failures.extend(f"{where}: {problem}" for problem in database_is_sound(work / "engine.db"))

    trial("uncrashed", [])
    if figures.failures:
        return figures
    while figures.kills < kills and figures.trials < 3 * kills:
        trial(f"trial-{figures.trials}", next(plan.trials(1)))
        figures.trials += 1
    return figures


def read_jsonl(path: Path) -> list[dict]:
    """The JSON lines of ``path`` (none when it does not exist yet); a torn last line is skipped."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def database_is_sound(db_path: Path) -> list[str]:
    """Problems of an engine database after the kills: a failed integrity check, unfinished runs."""
    problems = []
    with sqlite3.connect(db_path) as connection:
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            problems.append(f"integrity_check: {check}")
        from dapr.ext.workflow._durabletask.internal import protos as pb

        completed = pb.ORCHESTRATION_STATUS_COMPLETED
        for instance, status in connection.execute("SELECT instance_id, status FROM instances"):
            if status != completed:
                problems.append(f"run {instance!r} left in status {status}")
    return problems
