"""LangChain callbacks of durable runs: each event once, from live code, model and tool events where the call runs.

A call's ``config["callbacks"]`` is kept for its thread in this process and handed to the
graph in the workflow, and to its subgraphs' children (their runs nested under the calling
node's, as natively). There, on a durable loop, the app's handlers (every handler but
LangGraph's own stream handlers, which rebuild stream chunks and so see every event) get:

* chain events (the graph, its nodes, inner runnables) only while the run is live:
  not while it replays after a restart or to rebuild a finished run's result, and an
  end, error or token only when this process delivered the run's start;
* model and tool events in the activity that makes the call, once per real call: the
  workflow holds a chat model's start for its activity, which delivers it, the model's
  tokens and its end or error; the tool activity runs the tool with the app's handlers.
  A call answered from history (a replay, a resumed node) reports nothing.

Handlers bound on a model (``callbacks=``, ``with_config``) and LangSmith's tracer go the
same way. Run ids are replay-stable (:mod:`dapr_agents_durable.loop.framework_shims.langgraph`).

Example::

    report_to("t1", config.get("callbacks"))          # the caller, before the run
    config["callbacks"] = callbacks_of("t1")          # the workflow
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    BaseCallbackManager,
)
from langchain_core.callbacks import manager as callback_manager
from langchain_core.language_models.chat_models import _generate_response_from_error
from langchain_core.outputs import ChatResult, LLMResult

from dapr_agents_durable.loop import DurableExecution, register_shim

_STARTS = frozenset({"on_chain_start", "on_chat_model_start", "on_llm_start", "on_tool_start", "on_retriever_start"})

_lock = threading.Lock()
_by_thread: dict[str, Any] = {}
_started: set[UUID | None] = set()


@dataclass(frozen=True)
class ModelStart:
    """A chat model run's start event, held in the workflow for the activity that makes the call."""

    handlers: list[BaseCallbackHandler]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


_held: weakref.WeakKeyDictionary[DurableExecution, dict[UUID | None, ModelStart | None]] = weakref.WeakKeyDictionary()
_originals: dict[str, Callable[..., Any]] = {}
_installed = False


def install() -> None:
    """Filter LangChain's event dispatch on durable loops (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name in ("handle_event", "ahandle_event"):
        _originals[name] = register_shim(getattr(callback_manager, name), functools.partial(_dispatch, name))


def report_to(thread: str, callbacks: Any) -> None:
    """Give thread ``thread``'s runs in this process the handlers of a call's config (None: none)."""
    with _lock:
        if callbacks:
            _by_thread[thread] = callbacks
        else:
            _by_thread.pop(thread, None)


def callbacks_of(thread: str) -> Any:
    """The handlers the latest call on ``thread`` passed, for the graph's config."""
    with _lock:
        return _by_thread.get(thread)


def for_child(thread: str, own: list[BaseCallbackHandler], parent_run: str | None) -> Any:
    """A subgraph child's callbacks: ``own`` and the thread's app handlers, its runs under ``parent_run``."""
    app = app_handlers(callbacks_of(thread))
    if not app:
        return own or None
    handlers = [*app, *own]
    return AsyncCallbackManager(handlers, handlers, parent_run_id=UUID(parent_run) if parent_run else None)


def parent_run(config: Any) -> str | None:
    """The run a subgraph called with ``config`` nests under (its calling node's), for its child."""
    run_id = getattr(config.get("callbacks"), "parent_run_id", None)
    return None if run_id is None else str(run_id)


def app_handlers(callbacks: Any) -> list[BaseCallbackHandler]:
    """The app's handlers among a config's callbacks (a list or a manager's inheritable ones)."""
    if isinstance(callbacks, BaseCallbackManager):
        callbacks = callbacks.inheritable_handlers
    return [h for h in callbacks or () if not _langgraphs(h)]


def forget_thread(thread: str) -> None:
    """Drop the handlers of a thread whose run ended."""
    with _lock:
        _by_thread.pop(thread, None)


def app_only(callbacks: Any) -> Any:
    """A config's callbacks without LangGraph's own handlers (for a call run in an activity)."""
    if isinstance(callbacks, BaseCallbackManager):
        kept = callbacks.copy()
        for handler in [*kept.handlers, *kept.inheritable_handlers]:
            if _langgraphs(handler):
                kept.remove_handler(handler)
        return kept
    return app_handlers(callbacks) if isinstance(callbacks, list) else callbacks


def take_start(execution: DurableExecution, run_manager: Any) -> ModelStart | None:
    """The held start of the model run ``run_manager`` reports, for its activity (once)."""
    held = _held.get(execution)
    run_id = getattr(run_manager, "run_id", None)
    if held is None or run_id not in held:
        return None
    start, held[run_id] = held[run_id], None  # the run's later events stay with the activity
    return start


async def run_model(start: ModelStart | None, generate: Callable[[Any], Awaitable[ChatResult]]) -> ChatResult:
    """``generate(run_manager)`` as the model run ``start`` describes: the app's handlers get its
    start, tokens and end or error; without a held start, ``generate(None)``."""
    if start is None:
        return await generate(None)
    await callback_manager.ahandle_event(start.handlers, "on_chat_model_start", "ignore_chat_model", *start.args, **start.kwargs)
    run = AsyncCallbackManagerForLLMRun(
        run_id=start.kwargs["run_id"], handlers=start.handlers, inheritable_handlers=[],
        parent_run_id=start.kwargs.get("parent_run_id"), tags=start.kwargs.get("tags"),
        metadata=start.kwargs.get("metadata"),
    )
    try:
        result = await generate(run)
    except BaseException as exc:
        await run.on_llm_error(exc, response=LLMResult(generations=[_generate_response_from_error(exc)]))
        raise
    await run.on_llm_end(LLMResult(generations=[result.generations], llm_output=result.llm_output))
    return result


def _langgraphs(handler: BaseCallbackHandler) -> bool:
    """A handler of LangGraph's own (stream and progress handlers)."""
    return type(handler).__module__.split(".")[0] == "langgraph"


def _dispatch(shimmed: str, execution: DurableExecution, handlers: list[BaseCallbackHandler], event: str,
              ignore: str | None, /, *args: Any, **kwargs: Any) -> Any:
    return _originals[shimmed](_deliverable(execution, handlers, event, args, kwargs), event, ignore, *args, **kwargs)


def _deliverable(execution: DurableExecution, handlers: list[BaseCallbackHandler], event: str,
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[BaseCallbackHandler]:
    """The handlers an event on a durable loop goes to (see the module's doc)."""
    app = [h for h in handlers if not _langgraphs(h)]
    if not app:
        return handlers
    run_id = kwargs.get("run_id")
    held = _held.setdefault(execution, {})
    if event == "on_chat_model_start":  # the async manager dispatches it once per handler
        earlier = held.get(run_id)
        held[run_id] = ModelStart([*(earlier.handlers if earlier else ()), *app], args, kwargs)
        deliver = False
    elif run_id in held:
        deliver = False
        if event.endswith(("_end", "_error")):
            del held[run_id]
    elif execution.suppress_side_effects:
        deliver = False
    else:
        with _lock:
            deliver = event in _STARTS or run_id in _started
            if event in _STARTS:
                _started.add(run_id)
            elif event.endswith(("_end", "_error")):
                _started.discard(run_id)
    return handlers if deliver else [h for h in handlers if _langgraphs(h)]
