"""The engine against whichever Dapr workflow SDK is installed.

The core test environment runs these with ``dapr`` 1.19 (workflow SDK inside the
``dapr`` wheel); the ``sdk-1.18`` environment runs them with the older protocol of
``dapr-ext-workflow`` 1.18.3, where the engine feature-detects the fields it uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import dapr.ext.workflow as wf
import pytest

from dapr_agents_durable.engine import EmbeddedEngine

calls: list[str] = []


def greet(ctx: wf.WorkflowActivityContext, name: str) -> str:
    calls.append(name)
    return f"hello {name}"


def child(ctx: wf.DaprWorkflowContext, name: str):
    greeting = yield ctx.call_activity(greet, input=name)
    return greeting + "!"


def main(ctx: wf.DaprWorkflowContext, round_: int):
    first = yield ctx.call_activity(greet, input=f"r{round_}")
    yield ctx.create_timer(timedelta(seconds=0.5))
    kid = yield ctx.call_child_workflow(child, input=f"kid{round_}")
    event = yield ctx.wait_for_external_event("go")
    many = yield wf.when_all([ctx.call_activity(greet, input=f"fan{i}") for i in range(3)])
    if round_ == 0:
        ctx.continue_as_new(1, save_events=True)
        return None
    return [first, kid, event, many]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedEngine, wf.DaprWorkflowClient]]:
    engine = EmbeddedEngine(db_path=str(tmp_path_factory.mktemp("compat") / "e.db"), port=0, health_ping_interval=0.3)
    engine.start()
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(engine.port))
    runtime.register_activity(greet)
    runtime.register_workflow(child)
    runtime.register_workflow(main)
    runtime.start()
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
    yield engine, client
    runtime.shutdown()
    engine.stop()


def test_activities_timer_child_events_and_continue_as_new(setup) -> None:
    _, client = setup
    iid = client.schedule_new_workflow(main, input=0, instance_id="compat-main")
    client.raise_workflow_event(iid, "go", data={"n": 1})
    client.raise_workflow_event(iid, "go", data={"n": 2})
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
    assert state is not None and state.runtime_status.name == "COMPLETED"
    assert state.serialized_output == (
        '["hello r1", "hello kid1!", {"n": 2}, ["hello fan0", "hello fan1", "hello fan2"]]'
    )
    assert sorted(calls).count("r0") == 1 and sorted(calls).count("fan0") == 2


def test_suspend_resume_and_terminate(setup) -> None:
    _, client = setup
    iid = client.schedule_new_workflow(main, input=1, instance_id="compat-lifecycle")
    client.wait_for_workflow_start(iid, timeout_in_seconds=30)
    client.pause_workflow(iid)
    assert client.get_workflow_state(iid).runtime_status.name == "SUSPENDED"
    client.resume_workflow(iid)
    assert client.get_workflow_state(iid).runtime_status.name == "RUNNING"
    client.terminate_workflow(iid, output="stopped")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=30)
    assert state.runtime_status.name == "TERMINATED"
    assert state.serialized_output == '"stopped"'


def test_idle_worker_sees_no_unexpected_work_items(setup, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        time.sleep(1.5)  # several health-ping intervals with nothing to do
    assert not [r for r in caplog.records if "Unexpected work item" in r.getMessage()]
