"""Observers of live durable steps: what telemetry and progress reporting hook into.

An observer hears of each durable step (activity or child workflow) when its outcome
reaches the workflow live, and of each run when its main coroutine ends live. Replayed
steps are never reported, so an observer emits once per step however often a run
replays; only a crash between the report and the engine's commit of that turn can
report a step twice.

Example::

    class Printer:
        def step_finished(self, execution, step):
            print(step.name, step.ended - step.started)

        def run_finished(self, execution, run):
            print("run", execution.instance_id, run.error)

    add_observer(Printer())
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from dapr_agents_durable.loop.execution import DurableExecution

log = logging.getLogger("dapr_agents_durable.loop")


@dataclass(frozen=True)
class FinishedStep:
    """A durable step whose outcome the workflow just received (times are workflow time, UTC)."""

    kind: Literal["activity", "child workflow"]
    name: str
    input: Any
    result: Any
    error: BaseException | None
    started: datetime
    ended: datetime
    instance_id: str | None = None


@dataclass(frozen=True)
class FinishedRun:
    """A workflow execution whose main coroutine just ended."""

    started: datetime
    ended: datetime
    error: BaseException | None


class StepObserver(Protocol):
    def step_finished(self, execution: DurableExecution, step: FinishedStep) -> None: ...

    def run_finished(self, execution: DurableExecution, run: FinishedRun) -> None: ...


_lock = threading.Lock()
_observers: tuple[StepObserver, ...] = ()


def add_observer(observer: StepObserver) -> None:
    """Report live steps and runs to ``observer`` (once per object)."""
    global _observers
    with _lock:
        if observer not in _observers:
            _observers = (*_observers, observer)


def remove_observer(observer: StepObserver) -> None:
    global _observers
    with _lock:
        _observers = tuple(o for o in _observers if o is not observer)


def report_step(execution: DurableExecution, step: FinishedStep) -> None:
    """Tell every observer about ``step``, unless the execution replays; an observer's error is logged."""
    _notify(execution, "step_finished", step)


def report_run(execution: DurableExecution, run: FinishedRun) -> None:
    """Tell every observer that the execution's run ended, unless it replays."""
    _notify(execution, "run_finished", run)


def _notify(execution: DurableExecution, method: str, event: FinishedStep | FinishedRun) -> None:
    if execution.suppress_side_effects:
        return
    for observer in _observers:
        try:
            getattr(observer, method)(execution, event)
        except Exception:  # an observer must never break a run
            log.exception("%s of observer %r failed", method, observer)
