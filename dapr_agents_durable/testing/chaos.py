"""Fault injection: kill an app at seeded random points until its run completes, and count the cost.

A chaos trial runs one durable run of an app to its end while killing the app (SIGKILL)
at random points of a :class:`KillPlan`: during a model request, during a tool call,
at a random moment, or right after start (while the embedded engine starts). After each
kill the same command starts again. :class:`ChaosFigures` adds up what it cost:
model requests re-paid beyond the one in flight at a kill, tool executions repeated,
the longest time from a restart to the run's next progress.

Everything random comes from one seed (``DAPR_AGENTS_DURABLE_CHAOS_SEED`` or a fresh
one), printed so a failing trial can be run again exactly.

Example::

    plan = KillPlan.seeded(requests=15, tools=14)
    for points in plan.trials(10):
        trial = ChaosTrial(start_app, server, tmp / "starts.jsonl", state_of=lambda r: len(r.tool_outputs))
        code, out, err = trial.run(points)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dapr_agents_durable.testing.server import ScriptedModelServer

KillKind = Literal["request", "tool", "moment", "startup"]

SEED_ENV = "DAPR_AGENTS_DURABLE_CHAOS_SEED"


@dataclass(frozen=True)
class KillPoint:
    """Where one kill lands: during model request ``value``, during tool call ``value``,
    ``value`` seconds after the app started, or ``value`` seconds into its start."""

    kind: KillKind
    value: float

    def describe(self) -> str:
        if self.kind == "request":
            return f"during model request {int(self.value)}"
        if self.kind == "tool":
            return f"during tool call {int(self.value)}"
        if self.kind == "startup":
            return f"{self.value:.2f} s into the app's start"
        return f"{self.value:.2f} s after the app started"


@dataclass
class KillPlan:
    """Seeded random kill points for a run of ``requests`` model requests and ``tools`` tool calls."""

    seed: int
    requests: int
    tools: int
    moment_range: tuple[float, float] = (0.5, 4.0)
    startup_range: tuple[float, float] = (0.05, 1.5)
    random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    @classmethod
    def seeded(cls, requests: int, tools: int, seed: int | None = None) -> KillPlan:
        """A plan from ``seed``, else ``$DAPR_AGENTS_DURABLE_CHAOS_SEED``, else a fresh seed."""
        if seed is None:
            seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(1, 2**31))
        return cls(seed, requests, tools)

    def point(self) -> KillPoint:
        kind: KillKind = self.random.choice(["request", "request", "tool", "tool", "moment", "startup"])
        if kind == "request":
            return KillPoint(kind, self.random.randint(1, self.requests))
        if kind == "tool":
            return KillPoint(kind, self.random.randint(1, self.tools))
        low, high = self.startup_range if kind == "startup" else self.moment_range
        return KillPoint(kind, round(self.random.uniform(low, high), 3))

    def trials(self, count: int, kills_per_trial: tuple[int, int] = (1, 3)) -> Iterator[list[KillPoint]]:
        """``count`` trials, each with between ``kills_per_trial`` kill points."""
        for _ in range(count):
            yield [self.point() for _ in range(self.random.randint(*kills_per_trial))]


@dataclass
class ChaosFigures:
    """What the kills cost, added up over trials."""

    seed: int
    trials: int = 0
    kills: int = 0
    restarts: int = 0
    repaid: int = 0
    duplicate_tools: int = 0
    worst_recovery: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"chaos seed={self.seed}: {self.trials} runs, {self.kills} kills, {self.restarts} restarts, "
                f"completed model calls re-paid {self.repaid}, duplicate tool executions {self.duplicate_tools}, "
                f"worst recovery {self.worst_recovery:.2f} s")


StartApp = Callable[[dict[str, str]], "subprocess.Popen[str]"]
"""Starts the app with these extra environment variables (``CHAOS_SLOW_TOOL``: the tool call to hold)."""


class ChaosTrial:
    """One durable run of an app, killed at given points and restarted until it completes.

    ``start`` starts the app (the same command each time); ``server`` is the scripted model
    server it calls, whose rule holds the request for conversation state :attr:`slow_state`
    (so a kill lands while it is in flight); ``tool_starts`` is the file the app's tool
    appends a JSON line ``{"n": ...}`` to when call ``n`` starts, before it holds call
    ``$CHAOS_SLOW_TOOL``; ``state_of`` maps a model request to its conversation state
    (requests for the same state are the same call paid again); request ``n`` of an
    uncrashed run has state ``n - 1``.
    """

    def __init__(
        self,
        start: StartApp,
        server: ScriptedModelServer,
        tool_starts: Path,
        state_of: Callable[[object], object],
        *,
        timeout: float = 120.0,
    ) -> None:
        self._start = start
        self._server = server
        self._tool_starts = tool_starts
        self._state_of = state_of
        self._timeout = timeout
        self.kills = 0
        self.restarts = 0
        self.worst_recovery = 0.0
        self.excused: Counter[object] = Counter()
        self.slow_state: object | None = None

    def run(self, points: list[KillPoint]) -> tuple[int, str, str]:
        """Kill at each point in turn (skipping points the run has passed), then let the run finish.

        Returns the final process's exit code, stdout and stderr.
        """
        for point in points:
            app = self._launch(point)
            if not self._kill_at(app, point):
                out, err = app.communicate(timeout=self._timeout)
                return app.returncode, out, err
        app = self._launch(None)
        out, err = app.communicate(timeout=self._timeout)
        return app.returncode, out, err

    def _launch(self, point: KillPoint | None) -> subprocess.Popen[str]:
        requests_before = self._server.request_count
        self.slow_state = int(point.value) - 1 if point is not None and point.kind == "request" else None
        slow_tool = str(int(point.value)) if point is not None and point.kind == "tool" else ""
        app = self._start({"CHAOS_SLOW_TOOL": slow_tool})
        if self.kills:
            self.restarts += 1
            self._watch_recovery(app, requests_before)
        return app

    def _watch_recovery(self, app: subprocess.Popen[str], requests_before: int) -> None:
        started = time.monotonic()
        while app.poll() is None and self._server.request_count == requests_before:
            if time.monotonic() - started > self._timeout:
                break
            time.sleep(0.02)
        self.worst_recovery = max(self.worst_recovery, time.monotonic() - started)

    def _kill_at(self, app: subprocess.Popen[str], point: KillPoint) -> bool:
        """SIGKILL ``app`` at ``point``; False when the run ended (or passed the point) first."""
        deadline = time.monotonic() + self._timeout
        if point.kind in ("moment", "startup"):
            target = time.monotonic() + point.value
            while time.monotonic() < target and app.poll() is None:
                time.sleep(0.01)
        else:
            while not self._reached(point):
                if app.poll() is not None or time.monotonic() > deadline:
                    return False
                if point.kind == "request" and self._passed_request(point):
                    return False
                if point.kind == "tool" and self._passed_tool(point):
                    return False
                time.sleep(0.005)
        if app.poll() is not None:
            return False
        last = self._server.requests[-1] if self._server.requests else None
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
        self.slow_state = None
        self.kills += 1
        if last is not None:
            self.excused[self._state_of(last)] += 1  # the call in flight at the kill may be paid again
        return True

    def _reached(self, point: KillPoint) -> bool:
        if point.kind == "request":
            latest = self._server.requests[-1:]
            return bool(latest) and self._state_of(latest[0]) == int(point.value) - 1
        return int(point.value) in {entry["n"] for entry in read_jsonl(self._tool_starts)[-1:]}

    def _passed_request(self, point: KillPoint) -> bool:
        """The run has already made the request after the wanted one (it was paid before this launch)."""
        return any(self._state_of(r) == int(point.value) for r in self._server.requests)

    def _passed_tool(self, point: KillPoint) -> bool:
        return any(entry["n"] > point.value for entry in read_jsonl(self._tool_starts))

    def duplicate_tools(self) -> int:
        """Tool calls started more than once."""
        counts = Counter(entry["n"] for entry in read_jsonl(self._tool_starts))
        return sum(count - 1 for count in counts.values())

    def repaid(self) -> int:
        """Model calls paid again beyond the one in flight at each kill."""
        counts = Counter(self._state_of(r) for r in self._server.requests)
        return sum(max(0, count - 1 - self.excused[state]) for state, count in counts.items())


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
