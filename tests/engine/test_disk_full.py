"""A full disk: results that finish while writes fail are kept and stored once space is back.

The disk is simulated with SQLite's ``max_page_count`` on the engine's connection: set to
the current page count, every write that needs a new page fails with SQLITE_FULL.
"""

from __future__ import annotations

import time

import grpc
from dapr.ext.workflow import WorkflowStatus
from engine_harness import GATES, CallLog, new_id, output_of

CALLS = CallLog()
BIG = 200_000  # needs many new pages, so storing it cannot fit in the file's free space


def act_big_after_gate(ctx, key):
    CALLS.add(key)
    GATES.enter(key)
    return "x" * BIG


def wf_big(ctx, key):
    result = yield ctx.call_activity("act_big_after_gate", input=key)
    return len(result)


def _set_max_pages(engine, pages: int | None) -> None:
    """Cap the database at its current size (``None``: lift the cap)."""
    with engine._dispatcher.lock:
        db = engine._store._db
        limit = db.execute("PRAGMA page_count").fetchone()[0] if pages is None else pages
        db.execute(f"PRAGMA max_page_count={limit}")


def test_activity_finishing_on_a_full_disk_completes_within_seconds_of_space_returning(factory):
    app = factory.app([wf_big], [act_big_after_gate], via_proxy=True)
    key = new_id("full")
    instance_id = app.schedule("wf_big", input=key)
    GATES.wait_entered(key)

    _set_max_pages(app.engine, None)
    try:
        GATES.release(key)
        call = app.proxy.wait_answered("CompleteActivityTask")
        assert call.code in (None, grpc.StatusCode.OK), f"the result was refused: {call.code}"
        time.sleep(1.5)
        assert app.state(instance_id).runtime_status == WorkflowStatus.RUNNING
    finally:
        _set_max_pages(app.engine, 2**31 - 1)

    started = time.monotonic()
    state = app.wait_done(instance_id, timeout=20)
    assert time.monotonic() - started < 10
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == BIG
    assert CALLS.count(key) == 1, "the activity ran again"
