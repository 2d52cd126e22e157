"""Callbacks that fire once per live step, not again for every replayed one.

A durable run replays its finished steps from history after a restart, and a
finished run's result is rebuilt by replaying it: a framework would call its hooks
and callbacks again for every replayed step. :func:`replay_aware` wraps one callback
(sync or async) so that, on a durable loop, it runs only while the run is live; off
the loop (plain framework runs) it is unchanged. :func:`make_replay_aware` wraps every
``on_*`` method of a hooks object in place.

Example::

    crew.step_callback = replay_aware(print_step)
    make_replay_aware(run_hooks)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from dapr_agents_durable.loop.execution import side_effects_suppressed

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "_dapr_agents_durable_replay_aware"


def replay_aware(callback: F) -> F:
    """``callback``, skipped (returning None) while a durable run replays; idempotent."""
    if getattr(callback, _MARK, False):
        return callback
    if inspect.iscoroutinefunction(callback):

        @functools.wraps(callback)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            if side_effects_suppressed():
                return None
            return await callback(*args, **kwargs)

        wrapped: Any = call_async
    else:

        @functools.wraps(callback)
        def call(*args: Any, **kwargs: Any) -> Any:
            if side_effects_suppressed():
                return None
            return callback(*args, **kwargs)

        wrapped = call
    setattr(wrapped, _MARK, True)
    return wrapped  # type: ignore[no-any-return]


def make_replay_aware(hooks: Any, prefix: str = "on_") -> None:
    """Wrap every callable attribute of ``hooks`` named ``prefix*`` once, in place."""
    if hooks is None or getattr(hooks, _MARK, False):
        return
    for name in dir(hooks):
        if name.startswith(prefix) and callable(getattr(hooks, name)):
            setattr(hooks, name, replay_aware(getattr(hooks, name)))
    setattr(hooks, _MARK, True)
