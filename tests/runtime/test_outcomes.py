"""wait_at_rest when a decision arrived while no worker ran: the run's custom status is stale until it runs."""

from __future__ import annotations

from pathlib import Path

from dapr.ext.workflow.workflow_state import WorkflowStatus

from dapr_agents_durable.loop import current_execution, drive
from dapr_agents_durable.runtime import DurableRuntime, PendingApproval
from dapr_agents_durable.runtime.approvals import collect_decisions, pending_call_ids
from dapr_agents_durable.runtime.outcomes import wait_at_rest

CALL = PendingApproval(call_id="c1", tool="refund", agent="cashier", arguments='{"amount": 5}')


async def _ask() -> dict[str, bool]:
    decisions = await collect_decisions(current_execution(), {CALL.call_id: CALL}, None)
    return {cid: d.approved for cid, d in decisions.items()}


def _approval_flow(ctx, _):
    return (yield from drive(ctx, _ask))


def _app(db: Path) -> DurableRuntime:
    runtime = DurableRuntime(db_path=str(db))
    runtime.register_workflow("t.approval", _approval_flow)
    return runtime


def test_a_decision_given_while_the_app_was_down_is_seen_by_the_next_caller(tmp_path: Path, clean_env) -> None:
    db = tmp_path / "engine.db"
    app = _app(db)
    waiting = wait_at_rest(app, "t.approval", None, "r1", [])
    assert not waiting.ended and pending_call_ids(waiting.state.serialized_custom_status) == {"c1"}
    app.stop()  # the app goes down while its run waits

    operator = DurableRuntime(db_path=str(db))  # a client only, as the approvals command is
    operator.approve("r1", "c1")
    operator.stop()

    app = _app(db)
    try:
        rest = wait_at_rest(app, "t.approval", None, "r1", [])
        assert rest.ended, rest.state.serialized_custom_status  # not the status published before the approval
        assert rest.state.runtime_status == WorkflowStatus.COMPLETED
        assert rest.state.serialized_output == '{"c1": true}'
    finally:
        app.stop()


def test_attaching_to_a_run_that_really_waits_still_comes_back_waiting(tmp_path: Path, clean_env) -> None:
    app = _app(tmp_path / "engine.db")
    try:
        wait_at_rest(app, "t.approval", None, "r2", [])
        again = wait_at_rest(app, "t.approval", None, "r2", [])  # a second caller, nothing decided
        assert not again.ended
        assert pending_call_ids(again.state.serialized_custom_status) == {"c1"}
        assert [p.call_id for p in app.pending_approvals("r2")] == ["c1"]
        app.approve("r2", "c1")
        assert app.wait("r2", timeout=30).serialized_output == '{"c1": true}'
    finally:
        app.stop()
