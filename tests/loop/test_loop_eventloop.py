"""DurableEventLoop on its own: ordering, workflow time, foreign threads, refusals, errors."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

import pytest

from dapr_agents_durable.loop import DurableEventLoop, DurableLoopError


class Clock:
    """Workflow time under the test's control."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_callbacks_run_in_fifo_order_including_ones_scheduled_while_running() -> None:
    loop = DurableEventLoop(Clock())
    seen: list[str] = []
    with loop.running():
        loop.call_soon(seen.append, "a")
        loop.call_soon(lambda: (seen.append("b"), loop.call_soon(seen.append, "d")))
        loop.call_soon(seen.append, "c")
        loop.run_until_idle()
    assert seen == ["a", "b", "c", "d"]


def test_timers_run_on_workflow_time_in_deadline_then_creation_order() -> None:
    clock = Clock(100.0)
    loop = DurableEventLoop(clock)
    seen: list[str] = []
    with loop.running():
        loop.call_later(5, seen.append, "five")
        loop.call_later(2, seen.append, "two-first")
        loop.call_at(102.0, seen.append, "two-second")
        cancelled = loop.call_later(1, seen.append, "cancelled")
        cancelled.cancel()
        loop.run_until_idle()
        assert seen == []
        assert loop.next_deadline() == 102.0
        loop.advance_to(102.0)
        loop.run_until_idle()
        assert seen == ["two-first", "two-second"]
        clock.now = 105.0
        loop.run_until_idle()
    assert seen == ["two-first", "two-second", "five"]
    assert loop.next_deadline() is None


def test_time_never_goes_back_after_a_timer_fired() -> None:
    clock = Clock(50.0)
    loop = DurableEventLoop(clock)
    loop.advance_to(60.0)
    assert loop.time() == 60.0
    clock.now = 70.0
    assert loop.time() == 70.0


def test_tasks_and_sleep_zero_interleave_deterministically() -> None:
    loop = DurableEventLoop(Clock())
    seen: list[str] = []

    async def worker(name: str) -> None:
        for step in range(2):
            seen.append(f"{name}{step}")
            await asyncio.sleep(0)

    with loop.running():
        for name in "abc":
            loop.create_task(worker(name))
        loop.run_until_idle()
    assert seen == ["a0", "b0", "c0", "a1", "b1", "c1"]


def test_asyncio_sees_the_loop_as_running_only_while_it_is_stepped() -> None:
    loop = DurableEventLoop(Clock())
    with loop.running():
        assert asyncio.get_running_loop() is loop
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_call_soon_threadsafe_from_a_foreign_thread_lands_in_the_inbox() -> None:
    loop = DurableEventLoop(Clock())
    seen: list[tuple[str, int]] = []
    loop_thread = threading.get_ident()

    def from_thread() -> None:
        loop.call_soon_threadsafe(lambda: seen.append(("ran", threading.get_ident())))

    thread = threading.Thread(target=from_thread)
    thread.start()
    thread.join()
    assert seen == []
    assert loop.wait_for_foreign(timeout=10)
    with loop.running():
        loop.run_until_idle()
    assert seen == [("ran", loop_thread)]


def test_wait_for_foreign_returns_false_when_nothing_arrives() -> None:
    loop = DurableEventLoop(Clock())
    assert loop.wait_for_foreign(timeout=0.01) is False


def test_call_soon_from_a_thread_that_is_not_stepping_the_loop_is_refused() -> None:
    loop = DurableEventLoop(Clock())
    errors: list[BaseException] = []

    def from_thread() -> None:
        try:
            loop.call_soon(print)
        except DurableLoopError as exc:
            errors.append(exc)

    with loop.running():
        thread = threading.Thread(target=from_thread)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert "call_soon_threadsafe" in str(errors[0])


def test_wrap_foreign_counts_outstanding_futures_until_their_result_is_delivered() -> (
    None
):
    loop = DurableEventLoop(Clock())
    foreign: concurrent.futures.Future[str] = concurrent.futures.Future()
    with loop.running():
        wrapped = loop.wrap_foreign(foreign)
    assert loop.foreign_outstanding == 1
    threading.Thread(target=foreign.set_result, args=("done",)).start()
    assert loop.wait_for_foreign(timeout=10)
    with loop.running():
        loop.run_until_idle()
    assert loop.foreign_outstanding == 0
    assert wrapped.result() == "done"


@pytest.mark.parametrize(
    "call",
    [
        lambda loop: loop.create_connection(lambda: None, "127.0.0.1", 80),
        lambda loop: loop.getaddrinfo("example.org", 80),
        lambda loop: loop.subprocess_exec(lambda: None, "true"),
        lambda loop: loop.add_signal_handler(2, print),
        lambda loop: loop.sock_connect(None, ("127.0.0.1", 80)),
        lambda loop: loop.add_reader(0, print),
    ],
)
def test_io_is_refused_with_a_pointer_to_activities(call) -> None:
    loop = DurableEventLoop(Clock())
    with pytest.raises(
        DurableLoopError, match="belongs in an activity|Do the I/O in an activity"
    ):
        call(loop)


def test_running_the_loop_directly_is_refused() -> None:
    loop = DurableEventLoop(Clock())

    async def nothing() -> None:
        return None

    with pytest.raises(DurableLoopError, match="run_until_complete"):
        loop.run_until_complete(nothing())
    with pytest.raises(DurableLoopError, match="run_forever"):
        loop.run_forever()


def test_unhandled_errors_go_to_the_handler_and_are_logged_by_default(caplog) -> None:
    quiet = {"on": False}
    loop = DurableEventLoop(Clock(), quiet=lambda: quiet["on"])

    def boom() -> None:
        raise ValueError("boom")

    with (
        caplog.at_level(logging.ERROR, logger="dapr_agents_durable.loop"),
        loop.running(),
    ):
        loop.call_soon(boom)
        loop.run_until_idle()
    assert any(
        "boom" in str(record.exc_info[1])
        for record in caplog.records
        if record.exc_info
    )

    handled: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: handled.append(context))
    with loop.running():
        loop.call_soon(boom)
        loop.run_until_idle()
        quiet["on"] = True
        loop.call_soon(boom)
        loop.run_until_idle()
    assert [type(context["exception"]) for context in handled] == [ValueError]


def test_task_factory_builds_tasks() -> None:
    loop = DurableEventLoop(Clock())
    built: list[str] = []

    def factory(loop, coro, **kwargs):
        built.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def job() -> int:
        return 7

    loop.set_task_factory(factory)
    with loop.running():
        task = loop.create_task(job(), name="job")
        loop.run_until_idle()
    assert built == ["test_task_factory_builds_tasks.<locals>.job"]
    assert task.get_name() == "job"
    assert task.result() == 7


def test_a_closed_loop_refuses_new_work() -> None:
    loop = DurableEventLoop(Clock())
    loop.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon_threadsafe(print)


def test_cancel_everything_runs_cleanup_now_in_creation_order() -> None:
    loop = DurableEventLoop(Clock())
    cleaned: list[str] = []

    async def waits_forever(name: str) -> None:
        try:
            await loop.create_future()
        finally:
            cleaned.append(name)

    with loop.running():
        for name in ("first", "second", "third"):
            loop.create_task(waits_forever(name))
        loop.run_until_idle()
        loop.cancel_everything()
    assert cleaned == ["first", "second", "third"]
