from __future__ import annotations

from datetime import timedelta

import dapr.ext.workflow as wf
import pytest

from dapr_agents_durable.runtime import DurableRuntime
from dapr_agents_durable.runtime.recorded import RecordedActivities

_RETRY = wf.RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=3)


def _flow(ctx, _):
    first = yield ctx.call_activity("t.echo", input={"n": 1})
    second = yield ctx.call_activity("t.flaky", input={"n": 2}, retry_policy=_RETRY)
    try:
        yield ctx.call_activity("t.fails", input=None)
    except Exception:
        pass
    return [first, second]


def test_inputs_and_results_as_the_history_recorded_them(runtime: DurableRuntime) -> None:
    attempts: list[int] = []

    def flaky(ctx, value):
        attempts.append(ctx.task_id)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return {"got": value["n"]}

    runtime.register_activity("t.echo", lambda ctx, value: {"echo": value})
    runtime.register_activity("t.flaky", flaky)
    runtime.register_activity("t.fails", lambda ctx, value: 1 / 0)
    runtime.register_workflow("t.recorded", _flow)
    runtime.run("t.recorded", None, run_id="recorded", timeout=30)

    events = runtime.raw_history("recorded")
    recorded = RecordedActivities(events)
    assert recorded.inputs("t.echo") == [{"n": 1}]
    assert recorded.inputs("t.flaky") == [{"n": 2}, {"n": 2}]  # one per attempt
    echo = next(e.eventId for e in events if e.HasField("taskScheduled") and e.taskScheduled.name == "t.echo")
    assert recorded.call(echo) == ("t.echo", {"n": 1}, {"echo": {"n": 1}})
    first_attempt, retry = attempts
    assert first_attempt != retry
    # The first attempt's id leads to the retry's result (same task execution id).
    assert recorded.call(first_attempt) == ("t.flaky", {"n": 2}, {"got": 2})
    assert recorded.call(retry) == ("t.flaky", {"n": 2}, {"got": 2})
    failed = next(e.eventId for e in events if e.HasField("taskScheduled") and e.taskScheduled.name == "t.fails")
    with pytest.raises(LookupError, match=f"activity {failed} \\('t.fails'\\) has no recorded result"):
        recorded.call(failed)
    with pytest.raises(LookupError, match="no activity with task id 999"):
        recorded.call(999)
