"""Tools with ``needs_approval``: the workflow waits on an event per call; the SDK's resume pattern works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, function_tool
from agents import Runner as NativeRunner
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from dapr.ext.workflow.workflow_state import WorkflowStatus
from openai.types.responses import ResponseFunctionToolCall
from scripted import ScriptedModel, message, one_refund, outputs, two_refunds

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import APPROVAL_EVENT, PendingApproval, get_runtime
from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, assert_not_stored, embedded_app_env, text
from dapr_agents_durable.testing import tool_call as script_tool_call

pytestmark = pytest.mark.anyio

refunds: list[int] = []


@function_tool(needs_approval=True)
def refund(amount: int) -> str:
    """Refund an amount."""
    refunds.append(amount)
    return f"refunded {amount}"


def _agent(name: str, rule: Any) -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel(rule)
    return Agent(name=name, instructions="refund politely", tools=[refund], model=model), model


async def _native(rule: Any, decide: Any) -> tuple[Any, ScriptedModel]:
    """The same flow with the SDK's own Runner: the reference result and what its model was asked."""
    agent, model = _agent("native-refunds", rule)
    result = await NativeRunner.run(agent, "refund my orders")
    while result.interruptions:
        state = result.to_state()
        decide(state, state.get_interruptions())
        result = await NativeRunner.run(agent, state)
    return result, model


def _events(run_id: str, kind: WorkflowHistoryEventType) -> list[Any]:
    return [e for e in get_runtime().history(run_id) if e.event_type == kind]


async def test_interrupted_run_waits_and_approval_resumes_it_like_the_sdk() -> None:
    refunds.clear()
    agent, model = _agent("refunds-approve", two_refunds)
    result = await Runner.run(agent, "refund my orders", run_id="approve-1")

    assert [i.raw_item.call_id for i in result.interruptions] == ["c1", "c2"]
    assert result.final_output is None
    assert refunds == []
    assert get_runtime().state("approve-1").runtime_status == WorkflowStatus.RUNNING
    assert get_runtime().pending_approvals("approve-1") == [
        PendingApproval("c1", "refund", "refunds-approve", '{"amount": 5}'),
        PendingApproval("c2", "refund", "refunds-approve", '{"amount": 7}'),
    ]

    state = result.to_state()
    state.approve(result.interruptions[0])
    state.reject(result.interruptions[1], rejection_message="only one refund per day")
    final = await Runner.run(agent, state, run_id="approve-1")

    native, native_model = await _native(
        two_refunds, lambda s, items: (s.approve(items[0]), s.reject(items[1], rejection_message="only one refund per day"))
    )
    assert final.final_output == native.final_output == "refunded 5; only one refund per day"
    assert [type(i).__name__ for i in final.new_items] == [type(i).__name__ for i in native.new_items]
    assert final.to_input_list() == native.to_input_list()
    assert model.requests == native_model.requests  # the model saw the same conversations
    assert final.interruptions == []
    assert refunds == [5, 5]  # once durable, once native
    assert model.calls == 2
    assert len(_events("approve-1", WorkflowHistoryEventType.EVENT_RAISED)) == 2
    assert [e.name for e in _events("approve-1", WorkflowHistoryEventType.TASK_SCHEDULED)] == [
        "openai_agents.model", "openai_agents.tool", "openai_agents.model"
    ]

    again = await Runner.run(agent, "refund my orders", run_id="approve-1")
    assert again.final_output == final.final_output
    assert model.calls == 2 and refunds == [5, 5]


async def test_partial_decisions_leave_the_undecided_call_pending() -> None:
    refunds.clear()
    agent, _ = _agent("refunds-partial", two_refunds)
    result = await Runner.run(agent, "refund my orders", run_id="partial-1")
    state = result.to_state()
    state.approve(result.interruptions[0])
    still = await Runner.run(agent, state, run_id="partial-1")

    assert [i.raw_item.call_id for i in still.interruptions] == ["c2"]
    assert [p.call_id for p in get_runtime().pending_approvals("partial-1")] == ["c2"]
    assert refunds == []  # the batch waits for every decision

    state = still.to_state()
    state.approve(still.interruptions[0])
    final = await Runner.run(agent, state, run_id="partial-1")
    assert final.final_output == "refunded 5; refunded 7"
    assert sorted(refunds) == [5, 7]


async def test_runtime_api_approves_by_run_id_and_call_id() -> None:
    refunds.clear()
    agent, _ = _agent("refunds-api", one_refund)
    result = await Runner.run(agent, "refund", run_id="api-1")
    assert len(result.interruptions) == 1

    with pytest.raises(ValueError, match="not waiting for a decision on tool call 'nope'"):
        get_runtime().approve("api-1", "nope")
    get_runtime().approve("api-1", "c1")
    get_runtime().wait("api-1", timeout=30)  # the event is delivered asynchronously, as Dapr's are
    final = await Runner.run(agent, "refund", run_id="api-1")
    assert final.final_output == "refunded 5"
    assert refunds == [5]
    assert get_runtime().pending_approvals("api-1") == []


async def test_a_malformed_approval_event_is_ignored_and_the_run_keeps_waiting() -> None:
    agent, _ = _agent("refunds-bad-event", one_refund)
    await Runner.run(agent, "refund", run_id="bad-event-1")
    get_runtime().raise_event("bad-event-1", APPROVAL_EVENT, {"call_id": "c1", "approved": "yes"})
    get_runtime().reject("bad-event-1", "c1", message="denied")
    get_runtime().wait("bad-event-1", timeout=30)
    final = await Runner.run(agent, "refund", run_id="bad-event-1")
    assert final.final_output == "denied"


async def test_undecided_calls_are_rejected_after_the_approval_timeout() -> None:
    refunds.clear()
    agent, _ = _agent("refunds-timeout", one_refund)
    first = await Runner.run(agent, "refund", run_id="timeout-1", approval_timeout=1)
    assert len(first.interruptions) == 1
    get_runtime().wait("timeout-1", timeout=30)
    final = await Runner.run(agent, "refund", run_id="timeout-1")
    assert final.final_output == "Tool call was not approved within 0:00:01."
    assert refunds == []
    assert len(_events("timeout-1", WorkflowHistoryEventType.TIMER_FIRED)) == 1


async def test_bad_arguments_are_refused_with_clear_errors() -> None:
    agent, _ = _agent("refunds-bad-args", one_refund)
    with pytest.raises(ValueError, match="approval_timeout must be a positive"):
        await Runner.run(agent, "refund", approval_timeout=-3)
    with pytest.raises(LookupError, match="no durable run with id 'missing-run'"):
        get_runtime().approve("missing-run", "c1")


async def test_the_sdks_resume_pattern_without_a_run_id_continues_the_same_durable_run() -> None:
    refunds.clear()
    agent, model = _agent("refunds-no-id", one_refund)
    first = await Runner.run(agent, "refund")
    run_id = first.to_state()._dapr_agents_durable_run_id  # type: ignore[attr-defined]
    state = first.to_state()
    state.approve(first.interruptions[0])
    final = await Runner.run(agent, state)
    assert final.final_output == "refunded 5"
    assert refunds == [5]
    assert model.calls == 2
    assert get_runtime().state(run_id).runtime_status.name == "COMPLETED"


async def test_a_native_run_state_without_a_run_id_starts_a_new_durable_run() -> None:
    refunds.clear()
    agent, model = _agent("refunds-native-no-id", one_refund)
    native = await NativeRunner.run(agent, "refund")
    state = native.to_state()
    state.approve(native.interruptions[0])
    final = await Runner.run(agent, state)
    assert final.final_output == "refunded 5"
    assert refunds == [5]
    assert model.calls == 2  # one native call, one durable


async def test_a_native_run_state_starts_a_durable_run() -> None:
    refunds.clear()
    agent, model = _agent("refunds-from-state", one_refund)
    native = await NativeRunner.run(agent, "refund")
    state = native.to_state()
    state.approve(native.interruptions[0])
    final = await Runner.run(agent, state, run_id="from-state-1")
    assert final.final_output == "refunded 5"
    assert refunds == [5]
    assert model.calls == 2  # one native call, one durable
    assert [e.name for e in _events("from-state-1", WorkflowHistoryEventType.TASK_SCHEDULED)] == [
        "openai_agents.tool", "openai_agents.model"
    ]


APPROVER = """
import sys
from dapr_agents_durable.runtime import get_runtime
runtime = get_runtime()
print([p.call_id for p in runtime.pending_approvals(sys.argv[1])])
runtime.approve(sys.argv[1], sys.argv[2])
runtime.stop()
"""


async def test_another_process_approves_through_the_sidecar_variables() -> None:
    refunds.clear()
    agent, _ = _agent("refunds-remote", one_refund)
    await Runner.run(agent, "refund", run_id="remote-1")
    engine = get_runtime()._engine
    assert engine is not None
    env = {**os.environ, "DAPR_GRPC_PORT": str(engine.port), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", APPROVER, "remote-1", "c1"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')) == ["c1"]
    get_runtime().wait("remote-1", timeout=30)
    final = await Runner.run(agent, "refund", run_id="remote-1")
    assert final.final_output == "refunded 5"
    assert refunds == [5]


APP = Path(__file__).parent / "apps" / "approval_app.py"
API_KEY = "sk-test-approval-key-91ab3f"


def _pay(request: RecordedRequest) -> Any:
    if not request.tool_outputs:
        return script_tool_call("wire_money", {"amount": 120})
    return text(f"done: {request.tool_outputs[0]}")


def _app(server: ScriptedModelServer, tmp: Path, mode: str) -> subprocess.Popen[str]:
    env = embedded_app_env(tmp / "engine.db", {"OPENAI_API_KEY": API_KEY, "OPENAI_AGENTS_DISABLE_TRACING": "1",
                                                "PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.Popen([sys.executable, str(APP), server.base_url, "pay-1", str(tmp / "tools.jsonl"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_a_run_waiting_for_approval_survives_kill_9_and_the_approved_call_runs_once(tmp_path: Path) -> None:
    with ScriptedModelServer(rule=_pay) as server:
        asking = _app(server, tmp_path, "ask")
        assert asking.stdout is not None
        pending = json.loads(asking.stdout.readline())["pending"]
        assert len(pending) == 1
        asking.send_signal(signal.SIGKILL)
        asking.wait(timeout=30)
        assert server.request_count == 1

        approving = _app(server, tmp_path, "approve")
        out, err = approving.communicate(timeout=120)
        assert approving.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in out.strip().splitlines()]
        assert lines[0]["pending"] == pending  # the interrupted result, rebuilt from history
        assert lines[1] == {"final_output": "done: wired 120", "pending": 0}
        assert server.request_count == 2  # the first request was not paid again

    tools = [json.loads(line) for line in (tmp_path / "tools.jsonl").read_text().splitlines()]
    assert [t["amount"] for t in tools] == [120]
    assert_not_stored(API_KEY, tmp_path / "engine.db")


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = embedded_app_env(db, {"PYTHONPATH": os.pathsep.join(sys.path)})
    return subprocess.run([sys.executable, "-m", "dapr_agents_durable", "approvals", *args, "--db", str(db)],
                          env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_answers_a_run_whether_its_app_runs_or_not(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    with ScriptedModelServer(rule=_pay) as server:
        asking = _app(server, tmp_path, "ask")
        assert asking.stdout is not None
        pending = json.loads(asking.stdout.readline())["pending"]

        listed = _cli("list", "pay-1", db=db)  # reaches the engine the running app started
        assert listed.returncode == 0, listed.stderr[-2000:]
        assert [json.loads(line)["call_id"] for line in listed.stdout.splitlines()] == pending
        asking.send_signal(signal.SIGKILL)
        asking.wait(timeout=30)

        wrong = _cli("approve", "pay-1", "call-nope", db=db)  # no app now: the CLI opens the database
        assert wrong.returncode == 2
        assert "not waiting for a decision on tool call 'call-nope'" in wrong.stderr
        approved = _cli("approve", "pay-1", pending[0], db=db)
        assert approved.returncode == 0, approved.stderr[-2000:]

        resumed = _app(server, tmp_path, "approve")
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"final_output": "done: wired 120", "pending": 0}
        assert server.request_count == 2

    tools = [json.loads(line) for line in (tmp_path / "tools.jsonl").read_text().splitlines()]
    assert [t["amount"] for t in tools] == [120]


payments: list[int] = []


async def _over_100(context: Any, arguments: dict[str, Any], call_id: str) -> bool:
    return int(arguments.get("amount", 0)) > 100


@function_tool(needs_approval=_over_100)
def pay(amount: int = 500) -> str:
    """Pay an amount (500 unless told)."""
    payments.append(amount)
    return f"paid {amount}"


@pytest.mark.parametrize("arguments", ["{}", '{"amount": 5', '{"amount": 500}'])
async def test_a_policy_guarded_call_stops_for_approval_wherever_the_sdk_stops(arguments: str) -> None:
    # {} would run with the default 500, which the policy never saw; broken JSON cannot be judged at all.
    def rule(items: list[Any]) -> list[Any]:
        if outputs(items):
            return [message("done")]
        return [ResponseFunctionToolCall(type="function_call", name="pay", arguments=arguments, call_id="p1",
                                         id="fc_p1", status="completed")]

    outcomes = []
    for runner, extra in ((NativeRunner, {}), (Runner, {"run_id": f"policy-{len(arguments)}"})):
        payments.clear()
        agent = Agent(name="payer", tools=[pay], model=ScriptedModel(rule))
        result = await runner.run(agent, "pay the supplier", **extra)
        outcomes.append(([item.raw_item.call_id for item in result.interruptions], list(payments)))
    assert outcomes[1] == outcomes[0] == (["p1"], [])


def test_a_durable_tool_keeps_its_wrapped_callable() -> None:
    from dapr_agents_durable.adapters.openai_agents.tool_seam import make_durable

    make_durable(pay)
    assert pay.__wrapped__(amount=3) == "paid 3"
