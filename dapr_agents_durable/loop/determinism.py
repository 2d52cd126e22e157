"""Determinism shims: id and clock helpers that become replay-stable on durable loops.

Frameworks stamp messages with ``uuid.uuid4()`` or ``datetime.now()``-style helpers; on
replay those values would differ and activity inputs would drift. A shim swaps the
helper's ``__code__`` so that *every* alias of it (``from uuid import uuid4``, a
dataclass ``default_factory``) is covered. On a thread stepping a durable execution the
call goes to ``replacement(execution, *args, **kwargs)``; everywhere else the original
code runs, unchanged. Builtins (``time.time``, ``datetime.now``) cannot be shimmed.

Example (an adapter making pydantic-ai's clock replay-stable)::

    from pydantic_ai import _utils
    register_shim(_utils.now_utc, lambda execution: execution.now())
"""

from __future__ import annotations

import inspect
import threading
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dapr_agents_durable.loop.execution import DurableExecution, bound_execution

Replacement = Callable[..., Any]

_DISPATCH_MARKER = "dapr_agents_durable.loop.determinism:dispatch"


def _trampoline(*args: Any, **kwargs: Any) -> Any:
    # The string constant is replaced by the shim's dispatch function in each copy.
    return "dapr_agents_durable.loop.determinism:dispatch".__call__(*args, **kwargs)  # type: ignore[operator]


@dataclass
class _Shim:
    original: types.FunctionType
    original_code: types.CodeType
    replacement: Replacement


_shims: dict[types.FunctionType, _Shim] = {}
_lock = threading.Lock()


def register_shim(target: types.FunctionType, replacement: Replacement) -> Callable[..., Any]:
    """Route calls of ``target`` made on a durable loop to ``replacement(execution, ...)``.

    Registering the same target again replaces its replacement. Returns the target's
    original code as a function, for a replacement that wraps it.

    Example::

        register_shim(uuid.uuid4, lambda execution: execution.new_uuid4())
    """
    if not isinstance(target, types.FunctionType):
        raise TypeError(
            f"Only pure-Python functions can be shimmed, not {target!r}; builtins such as "
            "time.time cannot be made replay-stable this way."
        )
    if target.__closure__:
        raise TypeError(
            f"{target.__qualname__} is a closure and cannot be shimmed; shim the "
            "module-level function that uses it instead."
        )
    with _lock:
        existing = _shims.get(target)
        if existing is not None:
            existing.replacement = replacement
            return existing.original
        original = types.FunctionType(
            target.__code__, target.__globals__, target.__name__, target.__defaults__
        )
        original.__kwdefaults__ = target.__kwdefaults__
        shim = _Shim(original, target.__code__, replacement)
        target.__signature__ = inspect.signature(target)  # type: ignore[attr-defined]
        target.__code__ = _trampoline_code(target, _dispatcher(shim))
        _shims[target] = shim
        return original


def remove_shim(target: types.FunctionType) -> None:
    """Give ``target`` back its original code (no-op when it is not shimmed)."""
    with _lock:
        shim = _shims.pop(target, None)
        if shim is None:
            return
        target.__code__ = shim.original_code
        del target.__signature__  # type: ignore[attr-defined]


def install_default_shims() -> None:
    """Shim the helpers every framework uses: ``uuid.uuid4``."""
    if uuid.uuid4 not in _shims:
        register_shim(uuid.uuid4, _durable_uuid4)  # type: ignore[arg-type]


def _durable_uuid4(execution: DurableExecution) -> uuid.UUID:
    return execution.new_uuid4()


def _dispatcher(shim: _Shim) -> Callable[..., Any]:
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        execution = bound_execution()
        if execution is None:
            return shim.original(*args, **kwargs)
        return shim.replacement(execution, *args, **kwargs)

    return dispatch


def _trampoline_code(
    target: types.FunctionType, dispatch: Callable[..., Any]
) -> types.CodeType:
    template = _trampoline.__code__
    consts = tuple(
        dispatch if isinstance(const, str) and const == _DISPATCH_MARKER else const
        for const in template.co_consts
    )
    return template.replace(
        co_consts=consts,
        co_name=target.__code__.co_name,
        co_qualname=target.__code__.co_qualname,
    )
