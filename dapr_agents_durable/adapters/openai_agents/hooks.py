"""Lifecycle hooks that fire once per step, not once per replay.

A durable run replays its finished steps from history after a restart, and a
finished run's result is rebuilt by replaying it; the SDK would call ``RunHooks``
and ``AgentHooks`` again for every replayed step. ``make_replay_aware`` wraps a
hooks object's ``on_*`` callbacks in place so that, on a durable loop, they run only
for live steps; off the loop (plain ``agents.Runner`` runs) they are untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from dapr_agents_durable.loop import side_effects_suppressed

_MARK = "_dapr_agents_durable_replay_aware"


def _guard(callback: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(callback)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if side_effects_suppressed():
            return None
        return await callback(*args, **kwargs)

    return call


def make_replay_aware(hooks: Any) -> None:
    """Wrap every ``on_*`` callback of ``hooks`` (RunHooks or AgentHooks) once."""
    if hooks is None or getattr(hooks, _MARK, False):
        return
    for name in dir(hooks):
        if name.startswith("on_") and callable(getattr(hooks, name)):
            setattr(hooks, name, _guard(getattr(hooks, name)))
    setattr(hooks, _MARK, True)
