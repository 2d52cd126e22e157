"""``max_rpm`` (crew and agent) on workflow time, its waits durable timers.

Natively CrewAI's ``RPMController`` counts an agent's LLM requests, a
``threading.Timer`` resets the count every minute, and at the limit ``check_or_wait``
sleeps a minute with ``time.sleep``. Inside a durable run :func:`install` makes
``check_or_wait`` count on workflow time instead: a window opens with the first request
after the last one closed and lasts a minute; at the limit the run waits a minute on a
durable timer (``asyncio.sleep`` on the durable loop), which a replay finds fired in its
history instead of waiting again, and the request opens the next window.

The counts belong to the run, by controller (``"crew"`` or the agent's place in the
crew): each task and delegation child gets them with its request and hands them back
with its result (:func:`absorb`), so a crew-level limit spans the crew's tasks as
natively, the same on every replay and in any process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from crewai.utilities.rpm_controller import RPMController

from dapr_agents_durable.adapters.crewai import runs
from dapr_agents_durable.adapters.crewai.errors import aborting
from dapr_agents_durable.adapters.crewai.scope import RunScope, flow_scope, run_scope
from dapr_agents_durable.loop import await_only, current_execution, on_durable_loop

MINUTE = 60.0
"""What CrewAI waits at the limit, and how long a window lasts (seconds of workflow time)."""

Windows = dict[str, list[float]]
"""Per controller: ``[start of the current window, requests in it]``."""

_native_check_or_wait = RPMController.check_or_wait


def _controller_slot(scope: RunScope, controller: RPMController) -> str:
    crew = scope.crew
    if controller is crew._rpm_controller:
        return "crew"
    for agent in [*crew.agents, *([crew.manager_agent] if crew.manager_agent is not None else [])]:
        if agent._rpm_controller is controller:
            return runs.agent_slot(crew, agent)
    raise LookupError(
        f"an agent with max_rpm={controller.max_rpm} made an LLM request in a durable run of crew "
        f"{crew.name!r} but is not one of its agents; give the agent to the crew"
    )


def _check_or_wait(self: RPMController) -> bool:
    if self.max_rpm is None or not on_durable_loop() or flow_scope() is not None:
        return _native_check_or_wait(self)
    with aborting():
        scope = run_scope()
        loop = current_execution().loop
        slot = _controller_slot(scope, self)
        start, count = scope.rpm.get(slot, [loop.time(), 0])
        if loop.time() - start >= MINUTE:
            start, count = loop.time(), 0
        if count >= self.max_rpm:
            self.logger.log("info", "Max RPM reached, waiting for next minute to start.")
            await_only(asyncio.sleep(MINUTE))
            start, count = loop.time(), 0
        scope.rpm[slot] = [start, count + 1]
    return True


def absorb(scope: RunScope, sent: Windows, returned: Windows) -> None:
    """Count in ``scope`` the requests a child made: it started from ``sent`` and ended at
    ``returned`` (children running at once each add theirs to the window they share)."""
    for slot, (start, count) in returned.items():
        before = sent.get(slot)
        added = count - before[1] if before is not None and before[0] == start else count
        current = scope.rpm.get(slot)
        if current is not None and current[0] == start:
            current[1] += added
        elif current is None or start > current[0]:
            scope.rpm[slot] = [start, count]


def snapshot(scope: RunScope) -> Windows:
    """The run's windows as they stand, for a child's request."""
    return {slot: list(window) for slot, window in scope.rpm.items()}


def install() -> None:
    """Route RPM checks inside durable runs to workflow time (idempotent)."""
    RPMController.check_or_wait = _check_or_wait  # type: ignore[method-assign]


def windows_of(request: dict[str, Any]) -> Windows:
    """The windows a child's request carries (none in a request made before ``max_rpm`` was durable)."""
    return {slot: list(window) for slot, window in (request.get("rpm") or {}).items()}
