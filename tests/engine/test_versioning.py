"""Patches and named workflow versions: recorded in history, STALLED on mismatch, resumed on redeploy."""

from __future__ import annotations

import grpc
import pytest
from dapr.ext.workflow import WorkflowStatus
from engine_harness import (
    Versioned,
    assert_rpc_error,
    kind,
    of_kind,
    output_of,
    wait_until,
)

PATCH_MISMATCH = 0
VERSION_NOT_AVAILABLE = 1


def act_tag(ctx, tag):
    return tag


def wf_with_patch(ctx, _):
    if ctx.is_patched("p1"):
        tagged = yield ctx.call_activity("act_tag", input="new")
    else:
        tagged = yield ctx.call_activity("act_tag", input="old")
    yield ctx.wait_for_external_event("go")
    return tagged


def wf_without_patch(ctx, _):
    tagged = yield ctx.call_activity("act_tag", input="old")
    yield ctx.wait_for_external_event("go")
    return tagged


def wf_version_one(ctx, _):
    yield ctx.wait_for_external_event("go")
    return "v1"


def wf_version_two(ctx, _):
    yield ctx.wait_for_external_event("go")
    return "v2"


PATCHED = [("wf_patch_demo", wf_with_patch)]
UNPATCHED = [("wf_patch_demo", wf_without_patch)]
BOTH_VERSIONS = [
    Versioned("wf_version_demo", "v1", wf_version_one, is_latest=False),
    Versioned("wf_version_demo", "v2", wf_version_two, is_latest=True),
]
ONLY_V1 = [Versioned("wf_version_demo", "v1", wf_version_one, is_latest=True)]


@pytest.fixture(scope="module")
def app(module_factory):
    """An engine and a client; each test deploys worker code itself, one runtime at a time."""
    return module_factory.client_app()


def _deploy(factory, app, workflows):
    return factory.runtime(app.port, workflows, [act_tag])


def _wait_stalled(app, instance_id):
    """Wait until the turn that follows the raised event has been decided, then expect STALLED."""

    def settled():
        state = app.state(instance_id)
        return state if state.runtime_status != WorkflowStatus.RUNNING else None

    state = wait_until(settled, message=f"{instance_id} to leave RUNNING")
    assert state.runtime_status == WorkflowStatus.STALLED, (state.runtime_status, state.serialized_output)


def _stall_of(app, instance_id):
    events = app.wait_history(instance_id, lambda e: bool(e) and kind(e[-1]) == "executionStalled",
                              message="an executionStalled event")
    return events[-1].executionStalled


def test_is_patched_records_the_patch_on_the_turns_workflow_started(factory, app):
    """Scenario 39: is_patched('p1') stores version.patches == ['p1'] on the turn's workflowStarted."""
    runtime = _deploy(factory, app, PATCHED)
    instance_id = app.client.schedule_new_workflow("wf_patch_demo", instance_id="patch-recorded")
    app.wait_waiting_for_event(instance_id)
    started = of_kind(app.raw_history(instance_id), "workflowStarted")
    assert list(started[0].workflowStarted.version.patches) == ["p1"]
    all_patches = [p for e in started for p in e.workflowStarted.version.patches]
    assert all_patches == ["p1"]
    app.client.raise_workflow_event(instance_id, "go", data=1)
    assert output_of(app.wait_done(instance_id)) == "new"
    runtime.shutdown()


def test_replay_without_the_patch_stalls_and_redeploy_with_it_resumes(factory, app):
    """Scenario 39: code lacking the patch -> STALLED(PATCH_MISMATCH); reconnecting with the patch resumes."""
    runtime = _deploy(factory, app, PATCHED)
    instance_id = app.client.schedule_new_workflow("wf_patch_demo", instance_id="patch-mismatch")
    app.wait_waiting_for_event(instance_id)
    runtime.shutdown()

    runtime = _deploy(factory, app, UNPATCHED)
    app.client.raise_workflow_event(instance_id, "go", data=1)
    _wait_stalled(app, instance_id)
    stall = _stall_of(app, instance_id)
    assert stall.reason == PATCH_MISMATCH
    assert "p1" in stall.description
    assert_rpc_error(lambda: app.client.raise_workflow_event(instance_id, "other", data=2), contains="stalled")
    runtime.shutdown()

    _deploy(factory, app, PATCHED)
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "new"


def test_versioned_workflow_records_the_version_name(factory, app):
    """Scenario 40: a versioned workflow runs the latest version and records version.name on the first turn."""
    runtime = _deploy(factory, app, BOTH_VERSIONS)
    instance_id = app.client.schedule_new_workflow("wf_version_demo", instance_id="version-recorded")
    app.wait_waiting_for_event(instance_id)
    started = of_kind(app.raw_history(instance_id), "workflowStarted")
    assert started[0].workflowStarted.version.name == "v2"
    app.client.raise_workflow_event(instance_id, "go", data=1)
    assert output_of(app.wait_done(instance_id)) == "v2"
    runtime.shutdown()


def test_removed_version_stalls_and_redeploy_with_it_resumes(factory, app):
    """Scenario 40: removing v2 -> STALLED(VERSION_NOT_AVAILABLE); redeploying v2 resumes the workflow."""
    runtime = _deploy(factory, app, BOTH_VERSIONS)
    instance_id = app.client.schedule_new_workflow("wf_version_demo", instance_id="version-removed")
    app.wait_waiting_for_event(instance_id)
    runtime.shutdown()

    runtime = _deploy(factory, app, ONLY_V1)
    app.client.raise_workflow_event(instance_id, "go", data=1)
    _wait_stalled(app, instance_id)
    stall = _stall_of(app, instance_id)
    assert stall.reason == VERSION_NOT_AVAILABLE
    assert "v2" in stall.description
    runtime.shutdown()

    _deploy(factory, app, BOTH_VERSIONS)
    state = app.wait_done(instance_id)
    assert state.runtime_status == WorkflowStatus.COMPLETED
    assert output_of(state) == "v2"


def test_stalled_instance_rejects_raised_events_with_a_clear_error(factory, app):
    """Scenario 39: RaiseEvent on a STALLED instance fails with 'workflow is stalled'."""
    runtime = _deploy(factory, app, BOTH_VERSIONS)
    instance_id = app.client.schedule_new_workflow("wf_version_demo", instance_id="stalled-raise")
    app.wait_waiting_for_event(instance_id)
    runtime.shutdown()
    runtime = _deploy(factory, app, ONLY_V1)
    app.client.raise_workflow_event(instance_id, "go", data=1)
    _wait_stalled(app, instance_id)
    error = assert_rpc_error(lambda: app.client.raise_workflow_event(instance_id, "go", data=2), contains="stalled")
    assert error.code() != grpc.StatusCode.OK
    runtime.shutdown()
