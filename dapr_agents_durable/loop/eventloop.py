"""DurableEventLoop: an asyncio event loop that an orchestrator steps, deterministically.

It has no selector and no clock of its own. Callbacks run in FIFO order; timers run on
*workflow time* (the orchestration's replay-stable clock), so ``asyncio.sleep`` and
``call_later`` become durable timers; ``run_in_executor`` (and so ``asyncio.to_thread``)
runs the function in a greenlet on the loop's own thread. Network, file, subprocess and
signal I/O raise :class:`DurableLoopError`: in a workflow they belong in an activity.

The loop is stepped by its owner (see :mod:`dapr_agents_durable.loop.driver`)::

    loop = DurableEventLoop(clock=lambda: workflow_seconds())
    with loop.running():
        task = loop.create_task(main())
        loop.run_until_idle()          # run every ready callback and due timer
    loop.next_deadline()               # earliest asyncio timer, for a durable timer
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import inspect
import itertools
import logging
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, TypeVar, TypeVarTuple, Unpack

from dapr_agents_durable.loop.bridge import (
    BridgeGreenlet,
    end_bridges,
    run_sync_in_greenlet,
)
from dapr_agents_durable.loop.errors import DurableLoopError
from dapr_agents_durable.loop.inbox import Inbox
from dapr_agents_durable.loop.timers import TimerHeap

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]
TaskFactory = Callable[..., "asyncio.Future[Any]"]

_log = logging.getLogger("dapr_agents_durable.loop")

_TEARDOWN_ROUNDS = 5


def _refuse_io(method: str) -> Any:
    def refuse(self: DurableEventLoop, *args: Any, **kwargs: Any) -> Any:
        raise DurableLoopError(
            f"loop.{method}() is not available inside a durable workflow: the workflow's "
            "code re-runs on every replay, so network, file, subprocess and signal I/O "
            "here would repeat and would not be recorded. Do the I/O in an activity "
            "(await current_execution().call_activity(name, input)), whose result the "
            "engine records once."
        )

    refuse.__name__ = method
    refuse.__qualname__ = f"DurableEventLoop.{method}"
    refuse.__doc__ = f"Refused: {method} is I/O, which belongs in an activity."
    return refuse


class DurableEventLoop(asyncio.AbstractEventLoop):
    """An asyncio loop without I/O whose time is workflow time; stepped by a driver.

    ``clock`` returns workflow time in seconds since the epoch; ``quiet`` says when
    errors must not be logged (replay, teardown), so a replay does not repeat them.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        quiet: Callable[[], bool] = lambda: False,
    ) -> None:
        self._clock = clock
        self._quiet = quiet
        self._floor = float("-inf")
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._timers = TimerHeap()
        self._inbox = Inbox()
        self._thread: int | None = None
        self._started = False
        self._closed = False
        self._debug = False
        self._exception_handler: ExceptionHandler | None = None
        self._task_factory: TaskFactory | None = None
        self._tasks: weakref.WeakKeyDictionary[asyncio.Future[Any], int] = (
            weakref.WeakKeyDictionary()
        )
        self._task_order = itertools.count()
        self._asyncgens: weakref.WeakSet[Any] = weakref.WeakSet()
        self._bridges: weakref.WeakSet[BridgeGreenlet] = weakref.WeakSet()
        self._foreign_outstanding = 0

    # ------------------------------------------------------------------ stepping

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Make this the running loop of the calling thread for the duration of the block."""
        self._check_closed()
        if self._thread is not None:
            raise DurableLoopError(
                "The durable loop is already being stepped; it cannot be entered twice."
            )
        outer_loop = asyncio._get_running_loop()
        outer_hooks = sys.get_asyncgen_hooks()
        self._thread = threading.get_ident()
        self._started = True
        asyncio._set_running_loop(self)
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter, finalizer=self._asyncgen_finalizer
        )
        try:
            yield
        finally:
            sys.set_asyncgen_hooks(*outer_hooks)
            asyncio._set_running_loop(outer_loop)
            self._thread = None

    def run_until_idle(self) -> None:
        """Run ready callbacks, foreign callbacks and due timers until none is left."""
        self._check_thread("run_until_idle")
        while True:
            self._ready.extend(self._inbox.drain())
            self._ready.extend(self._timers.pop_due(self.time()))
            if not self._ready:
                return
            for _ in range(len(self._ready)):
                handle = self._ready.popleft()
                if not handle.cancelled():
                    handle._run()

    def next_deadline(self) -> float | None:
        """Workflow time of the earliest pending asyncio timer, or None."""
        return self._timers.next_deadline()

    def advance_to(self, deadline: float) -> None:
        """Move workflow time forward to ``deadline`` (a durable timer fired)."""
        self._floor = max(self._floor, deadline)

    def wait_for_foreign(self, timeout: float) -> bool:
        """Block until a foreign thread hands the loop a callback; False after ``timeout`` s."""
        return self._inbox.wait(timeout)

    def has_suspended_bridges(self) -> bool:
        """True while sync code run by the loop is suspended in a greenlet.

        A greenlet belongs to the thread that started it, so the loop can only be
        stepped on that thread until the greenlet finishes.
        """
        return any(not bridge.dead for bridge in self._bridges)

    @property
    def foreign_outstanding(self) -> int:
        """How many futures from :meth:`wrap_foreign` a foreign thread has yet to complete."""
        return self._foreign_outstanding

    def wrap_foreign(self, future: concurrent.futures.Future[T]) -> asyncio.Future[T]:
        """Await a future that a foreign thread completes, at a deterministic point.

        Like ``asyncio.wrap_future``, but the driver blocks for it before the loop waits
        on the engine, so its result is seen at the same point on every replay.

        Example::

            done = await loop.wrap_foreign(event_bus.emit(event))
        """
        self._check_thread("wrap_foreign")
        result = self.create_future()
        self._foreign_outstanding += 1

        def deliver(done: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(
                RuntimeError
            ):  # loop closed: its run was abandoned
                self.call_soon_threadsafe(self._settle_foreign, result, done)

        future.add_done_callback(deliver)
        return result

    def _settle_foreign(
        self, result: asyncio.Future[T], done: concurrent.futures.Future[T]
    ) -> None:
        self._foreign_outstanding -= 1
        if result.cancelled():
            return
        if done.cancelled():
            result.cancel()
        elif done.exception() is not None:
            result.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            result.set_result(done.result())

    def cancel_everything(self) -> None:
        """Tear down: cancel every task, close async generators and greenlets.

        Runs their cleanup code on this thread, now, rather than at garbage collection
        on whatever thread that happens to be. Call while :meth:`running`.
        """
        self._check_thread("cancel_everything")
        for _ in range(_TEARDOWN_ROUNDS):
            tasks = self._live_tasks()
            if not tasks and not self._asyncgens:
                break
            for task in tasks:
                task.cancel()
            if self._asyncgens:
                self.create_task(self.shutdown_asyncgens())
            self.run_until_idle()
        end_bridges(self._bridges)
        for task in self._live_tasks():
            coro = task.get_coro() if isinstance(task, asyncio.Task) else None
            if inspect.iscoroutine(coro):
                with contextlib.suppress(RuntimeError):
                    coro.close()

    def _live_tasks(self) -> list[asyncio.Future[Any]]:
        ordered = sorted(
            ((order, task) for task, order in self._tasks.items() if not task.done()),
            key=lambda item: item[0],
        )
        known = [task for _, task in ordered]
        others = sorted(
            (task for task in asyncio.all_tasks(self) if task not in self._tasks),
            key=lambda task: task.get_name(),
        )
        return [*known, *others]

    # ------------------------------------------------------------------ lifecycle

    def run_forever(self) -> None:
        """Not available: a durable loop is stepped by its workflow, never run."""
        raise self._not_runnable("run_forever")

    def run_until_complete(self, future: Generator[Any, None, T] | Awaitable[T]) -> T:
        """Not available: a durable loop is stepped by its workflow, never run."""
        if inspect.iscoroutine(future):
            future.close()
        raise self._not_runnable("run_until_complete")

    def stop(self) -> None:
        """Not available: a durable loop stops when its workflow's main coroutine ends."""
        raise self._not_runnable("stop")

    def is_running(self) -> bool:
        """True from the first step until the loop is closed."""
        return self._started and not self._closed

    def is_closed(self) -> bool:
        """True once the loop has been closed."""
        return self._closed

    def close(self) -> None:
        """Close the loop and drop whatever is still queued."""
        if self._thread is not None:
            raise DurableLoopError(
                "The durable loop cannot be closed while it is being stepped."
            )
        self._closed = True
        self._ready.clear()
        self._timers.clear()
        self._inbox.clear()

    async def shutdown_asyncgens(self) -> None:
        """Close every async generator first iterated on this loop."""
        agens = list(self._asyncgens)
        self._asyncgens.clear()
        await asyncio.gather(*(agen.aclose() for agen in agens), return_exceptions=True)

    async def shutdown_default_executor(self) -> None:
        """Nothing to shut down: executor work runs in greenlets on the loop thread."""

    def _not_runnable(self, method: str) -> DurableLoopError:
        return DurableLoopError(
            f"loop.{method}() is not available on the durable loop: a workflow steps it, "
            "and it stops when the workflow's main coroutine returns. Await the work "
            "instead (from sync code run by the loop, use await_only())."
        )

    # ------------------------------------------------------------------ scheduling

    def time(self) -> float:
        """Workflow time in seconds since the epoch; the same at each point of every replay."""
        return max(self._clock(), self._floor)

    def call_soon(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        """Run ``callback(*args)`` after the callbacks already queued."""
        self._check_closed()
        self._check_thread("call_soon")
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        """Like call_soon, from any thread: foreign callbacks go through the inbox."""
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context)
        if self._thread == threading.get_ident():
            self._ready.append(handle)
        else:
            self._inbox.put(handle)
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds of workflow time."""
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """Run ``callback(*args)`` once workflow time reaches ``when``."""
        self._check_closed()
        self._check_thread("call_at")
        handle = asyncio.TimerHandle(when, callback, args, self, context)
        self._timers.push(handle)
        return handle

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        """Cancelled timers are dropped lazily by the timer heap."""

    def create_future(self) -> asyncio.Future[Any]:
        """A new future bound to this loop."""
        return asyncio.Future(loop=self)

    def create_task(
        self,
        coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]:
        """Schedule ``coro`` as a task; tasks start in creation order."""
        self._check_closed()
        self._check_thread("create_task")
        if self._task_factory is None:
            task: asyncio.Task[T] = asyncio.Task(
                coro, loop=self, name=name, context=context
            )
        else:
            if context is None:
                task = self._task_factory(self, coro)  # type: ignore[assignment]
            else:
                task = self._task_factory(self, coro, context=context)  # type: ignore[assignment]
            if name is not None:
                task.set_name(name)
        self._tasks[task] = next(self._task_order)
        return task

    def set_task_factory(self, factory: TaskFactory | None) -> None:
        """Use ``factory(loop, coro[, context=...])`` to build tasks (None: asyncio.Task)."""
        self._task_factory = factory

    def get_task_factory(self) -> TaskFactory | None:
        """The task factory set with set_task_factory, or None."""
        return self._task_factory

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]:
        """Run ``func(*args)`` in a greenlet on the loop thread (``executor`` is not used).

        Sync code inside may suspend on durable work with ``await_only(awaitable)``.
        """
        if inspect.iscoroutinefunction(func):
            raise TypeError("coroutines cannot be used with run_in_executor()")
        name = f"run_in_executor:{getattr(func, '__qualname__', type(func).__name__)}"
        return self.create_task(
            run_sync_in_greenlet(self, self._bridges, func, args), name=name
        )

    def set_default_executor(self, executor: Any) -> None:
        """Accepted and ignored: executor work runs in greenlets on the loop thread."""

    # ------------------------------------------------------------------ errors

    def get_exception_handler(self) -> ExceptionHandler | None:
        """The handler set with set_exception_handler, or None."""
        return self._exception_handler

    def set_exception_handler(self, handler: ExceptionHandler | None) -> None:
        """Call ``handler(loop, context)`` for unhandled errors (None: log them)."""
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """Log an unhandled error to the ``dapr_agents_durable.loop`` logger."""
        message = context.get("message") or "Unhandled exception in the durable loop"
        exception = context.get("exception")
        details = ", ".join(
            f"{key}={value!r}"
            for key, value in sorted(context.items())
            if key not in ("message", "exception")
        )
        _log.error(
            "%s%s",
            message,
            f" ({details})" if details else "",
            exc_info=(type(exception), exception, exception.__traceback__)
            if isinstance(exception, BaseException)
            else None,
        )

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Report an unhandled error, unless replaying, tearing down or closed."""
        if self._closed or self._quiet():
            return
        if self._exception_handler is None:
            self.default_exception_handler(context)
            return
        try:
            self._exception_handler(self, context)
        except Exception:  # noqa: BLE001 - as asyncio does: a broken handler is logged
            _log.exception("The durable loop's exception handler failed")

    def get_debug(self) -> bool:
        """Whether asyncio debug mode is on for this loop."""
        return self._debug

    def set_debug(self, enabled: bool) -> None:
        """Turn asyncio debug mode on or off for this loop."""
        self._debug = enabled

    # ------------------------------------------------------------------ internals

    def _check_closed(self) -> None:
        if self._closed:
            raise RuntimeError("Event loop is closed")

    def _check_thread(self, method: str) -> None:
        if self._thread != threading.get_ident():
            raise DurableLoopError(
                f"loop.{method}() was called from a thread that is not stepping the durable "
                "loop. Other threads may only use loop.call_soon_threadsafe(); work that "
                "must run elsewhere belongs in an activity."
            )

    def _asyncgen_firstiter(self, agen: Any) -> None:
        self._asyncgens.add(agen)

    def _asyncgen_finalizer(self, agen: Any) -> None:
        self._asyncgens.discard(agen)
        with contextlib.suppress(RuntimeError):  # loop closed: its run was abandoned
            self.call_soon_threadsafe(self._close_asyncgen, agen)

    def _close_asyncgen(self, agen: Any) -> None:
        self.create_task(agen.aclose())

    # ------------------------------------------------------------------ I/O, refused

    getaddrinfo = _refuse_io("getaddrinfo")
    getnameinfo = _refuse_io("getnameinfo")
    create_connection = _refuse_io("create_connection")
    create_server = _refuse_io("create_server")
    sendfile = _refuse_io("sendfile")
    start_tls = _refuse_io("start_tls")
    create_unix_connection = _refuse_io("create_unix_connection")
    create_unix_server = _refuse_io("create_unix_server")
    connect_accepted_socket = _refuse_io("connect_accepted_socket")
    create_datagram_endpoint = _refuse_io("create_datagram_endpoint")
    connect_read_pipe = _refuse_io("connect_read_pipe")
    connect_write_pipe = _refuse_io("connect_write_pipe")
    subprocess_shell = _refuse_io("subprocess_shell")
    subprocess_exec = _refuse_io("subprocess_exec")
    add_reader = _refuse_io("add_reader")
    remove_reader = _refuse_io("remove_reader")
    add_writer = _refuse_io("add_writer")
    remove_writer = _refuse_io("remove_writer")
    sock_recv = _refuse_io("sock_recv")
    sock_recv_into = _refuse_io("sock_recv_into")
    sock_recvfrom = _refuse_io("sock_recvfrom")
    sock_recvfrom_into = _refuse_io("sock_recvfrom_into")
    sock_sendall = _refuse_io("sock_sendall")
    sock_sendto = _refuse_io("sock_sendto")
    sock_connect = _refuse_io("sock_connect")
    sock_accept = _refuse_io("sock_accept")
    sock_sendfile = _refuse_io("sock_sendfile")
    add_signal_handler = _refuse_io("add_signal_handler")
    remove_signal_handler = _refuse_io("remove_signal_handler")
