"""A worker stream that takes work and never answers stops getting work once a lease expires."""

from __future__ import annotations

import time

from dapr.ext.workflow import WorkflowStatus
from engine_harness import RawStream, new_id, output_of, raw_stub, wait_until

LEASE = 2.0
WORKFLOWS = 8


def act_inc(ctx, value):
    return value + 1


def wf_three_steps(ctx, value):
    for _ in range(3):
        value = yield ctx.call_activity("act_inc", input=value)
    return value


def test_silent_stream_is_skipped_after_its_first_expiry(factory):
    app = factory.client_app(turn_timeout=LEASE, activity_lease_timeout=LEASE)
    silent = RawStream(raw_stub(app.channel))
    try:
        first = app.schedule("wf_three_steps", input=0, instance_id=new_id("silent-first"))
        wait_until(lambda: silent.items, message="the silent stream's first work item")
        started = time.monotonic()
        factory.runtime(app.port, [wf_three_steps], [act_inc])
        ids = [first] + [app.schedule("wf_three_steps", input=i) for i in range(1, WORKFLOWS)]
        for i, instance_id in enumerate(ids):
            state = app.wait_done(instance_id)
            assert state.runtime_status == WorkflowStatus.COMPLETED
            assert output_of(state) == i + 3
        elapsed = time.monotonic() - started
        assert elapsed < 4 * LEASE, f"{WORKFLOWS} workflows took {elapsed:.1f}s"
        first_expiry = silent.arrivals[0] + LEASE + 1.0  # plus the housekeeping period and slack
        late = [t - silent.arrivals[0] for t in silent.arrivals if t > first_expiry]
        assert not late, f"the silent stream got work {late} s after its first item"
    finally:
        silent.cancel()
