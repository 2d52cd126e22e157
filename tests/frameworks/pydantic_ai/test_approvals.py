"""Deferred tools with approval: the run returns ``DeferredToolRequests`` while its workflow waits.

Each flow runs natively and durably under the same ``FunctionModel`` script and is compared on
what a user reads back: the paused result, the final one (output, messages, usage), the tool's
side effects. Durably the workflow waits on one approval event per call, so the native resume
(``deferred_tool_results=`` with the same run id) and ``DurableRuntime.approve / reject`` from
any caller or process both continue it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from compare import same_run
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from dapr.ext.workflow.workflow_state import WorkflowStatus
from pydantic_ai import (
    Agent,
    ApprovalRequired,
    CallDeferred,
    DeferredToolRequests,
    DeferredToolResults,
    RunContext,
    ToolApproved,
    ToolDenied,
)
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.run import AgentRunResult

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent
from dapr_agents_durable.runtime import Decision, PendingApproval, get_runtime

refunds: list[int] = []
calls: Counter[str] = Counter()


def _returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def _script(amounts: list[int], tool: str = "refund") -> Callable[[list[ModelMessage], AgentInfo], ModelResponse]:
    """Ask for one call of ``tool`` per amount (ids c1, c2, ...), then report what the tools returned."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = _returns(messages)
        if not returns:
            return ModelResponse(
                parts=[ToolCallPart(tool, {"amount": a}, tool_call_id=f"c{i}") for i, a in enumerate(amounts, 1)]
            )
        return ModelResponse(parts=[TextPart("; ".join(str(p.content) for p in returns))])

    return answer


def _agent(name: str, amounts: list[int]) -> Agent[None, str | DeferredToolRequests]:
    script = _script(amounts)

    async def counted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls[name] += 1
        return script(messages, info)

    agent = Agent(FunctionModel(counted, model_name=name), name=name, output_type=[str, DeferredToolRequests])

    @agent.tool_plain(requires_approval=True)
    def refund(amount: int) -> str:
        """Refund an amount."""
        refunds.append(amount)
        return f"refunded {amount}"

    return agent


def _native(agent: Agent[Any, Any], results: DeferredToolResults) -> tuple[AgentRunResult[Any], AgentRunResult[Any]]:
    first = agent.run_sync("refund my orders")
    return first, agent.run_sync(message_history=first.all_messages(), deferred_tool_results=results)


def _events(run_id: str, kind: WorkflowHistoryEventType) -> list[Any]:
    return [e for e in get_runtime().history(run_id) if e.event_type == kind]


def _scheduled(run_id: str) -> list[str]:
    return [e.name for e in _events(run_id, WorkflowHistoryEventType.TASK_SCHEDULED)]


def test_a_paused_run_waits_and_the_native_resume_with_the_same_run_id_finishes_it() -> None:
    refunds.clear()
    agent = _agent("appr-native", [5])
    results = DeferredToolResults(approvals={"c1": True})
    native_first, native_final = _native(agent, results)

    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders", run_id="appr-native-1")
    same_run(native_first, first)
    assert isinstance(first.output, DeferredToolRequests)
    assert [p.tool_call_id for p in first.output.approvals] == ["c1"]
    assert refunds == [5]  # the native run's only
    assert get_runtime().state("appr-native-1").runtime_status == WorkflowStatus.RUNNING
    assert get_runtime().pending_approvals("appr-native-1") == [
        PendingApproval("c1", "refund", "appr-native", '{"amount":5}')
    ]
    assert dagent.run_sync("refund my orders", run_id="appr-native-1").output == first.output  # attached, still paused

    before = calls["appr-native"]
    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results, run_id="appr-native-1")
    same_run(native_final, final)
    assert final.output == "refunded 5"
    assert refunds == [5, 5]  # once native, once durable
    assert calls["appr-native"] == before + 1
    assert get_runtime().state("appr-native-1").runtime_status == WorkflowStatus.COMPLETED
    assert get_runtime().pending_approvals("appr-native-1") == []
    # the decision, and the barrier of the caller that attached while the run was paused
    assert len(_events("appr-native-1", WorkflowHistoryEventType.EVENT_RAISED)) == 2
    assert _scheduled("appr-native-1") == ["pydantic_ai.model", "pydantic_ai.tool", "pydantic_ai.model"]

    again = dagent.run_sync("refund my orders", run_id="appr-native-1")  # finished: from history
    same_run(native_final, again)
    assert calls["appr-native"] == before + 1 and refunds == [5, 5]


def test_denials_with_a_message_and_overridden_arguments_as_natively() -> None:
    refunds.clear()
    agent = _agent("appr-mixed", [5, 7])
    results = DeferredToolResults(
        approvals={"c1": ToolApproved(override_args={"amount": 3}), "c2": ToolDenied("only one refund per day")}
    )
    native_first, native_final = _native(agent, results)

    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders", run_id="appr-mixed-1")
    same_run(native_first, first)
    assert [p.call_id for p in get_runtime().pending_approvals("appr-mixed-1")] == ["c1", "c2"]
    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results, run_id="appr-mixed-1")
    same_run(native_final, final)
    assert final.output == "refunded 3; only one refund per day"
    assert refunds == [3, 3]
    assert len(_events("appr-mixed-1", WorkflowHistoryEventType.EVENT_RAISED)) == 2


def test_a_plain_false_denies_with_pydantic_ais_default_message() -> None:
    refunds.clear()
    agent = _agent("appr-false", [5])
    results = DeferredToolResults(approvals={"c1": False})
    _, native_final = _native(agent, results)
    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders", run_id="appr-false-1")
    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results, run_id="appr-false-1")
    same_run(native_final, final)
    assert refunds == []


def test_results_for_only_some_calls_raise_as_natively_and_leave_the_run_waiting() -> None:
    agent = _agent("appr-partial", [5, 7])
    partial = DeferredToolResults(approvals={"c1": True})
    first = agent.run_sync("refund my orders")
    with pytest.raises(UserError) as native:
        agent.run_sync(message_history=first.all_messages(), deferred_tool_results=partial)

    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders", run_id="appr-partial-1")
    with pytest.raises(UserError) as durable:
        dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=partial, run_id="appr-partial-1")
    assert str(durable.value) == str(native.value)
    assert [p.call_id for p in get_runtime().pending_approvals("appr-partial-1")] == ["c1", "c2"]
    assert _events("appr-partial-1", WorkflowHistoryEventType.EVENT_RAISED) == []

    refunds.clear()
    both = DeferredToolResults(approvals={"c1": True, "c2": True})
    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=both, run_id="appr-partial-1")
    assert final.output == "refunded 5; refunded 7"
    assert sorted(refunds) == [5, 7]


def test_the_runtime_api_approves_and_rejects_by_run_id_and_call_id_for_another_caller() -> None:
    refunds.clear()
    agent = _agent("appr-api", [5, 7])
    _, native_final = _native(agent, DeferredToolResults(approvals={"c1": True, "c2": ToolDenied("not today")}))
    refunds.clear()

    first = DaprAgent(agent).run_sync("refund my orders", run_id="appr-api-1")
    assert isinstance(first.output, DeferredToolRequests)
    runtime = get_runtime()
    with pytest.raises(ValueError, match="not waiting for a decision on tool call 'nope'"):
        runtime.approve("appr-api-1", "nope")
    runtime.approve("appr-api-1", "c1")
    runtime.reject("appr-api-1", "c2", message="not today")
    runtime.wait("appr-api-1", timeout=30)  # the events are delivered asynchronously, as Dapr's are
    assert refunds == [5]

    before = calls["appr-api"]
    final = DaprAgent(agent).run_sync("refund my orders", run_id="appr-api-1")  # another caller, same id
    same_run(native_final, final)
    assert final.output == "refunded 5; not today"
    assert calls["appr-api"] == before and refunds == [5]
    assert runtime.pending_approvals("appr-api-1") == []


APPROVER = """
import sys
from dapr_agents_durable.runtime import get_runtime
runtime = get_runtime()
print([p.call_id for p in runtime.pending_approvals(sys.argv[1])])
runtime.approve(sys.argv[1], sys.argv[2])
runtime.stop()
"""


def test_another_process_approves_through_the_sidecar_variables() -> None:
    refunds.clear()
    agent = _agent("appr-remote", [5])
    DaprAgent(agent).run_sync("refund my orders", run_id="appr-remote-1")
    engine = get_runtime()._engine  # noqa: SLF001
    assert engine is not None
    env = {**os.environ, "DAPR_GRPC_PORT": str(engine.port), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", APPROVER, "appr-remote-1", "c1"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')) == ["c1"]
    get_runtime().wait("appr-remote-1", timeout=30)
    final = DaprAgent(agent).run_sync("refund my orders", run_id="appr-remote-1")
    assert final.output == "refunded 5"
    assert refunds == [5]


def test_undecided_calls_are_denied_after_the_approval_timeout() -> None:
    refunds.clear()
    agent = _agent("appr-timeout", [5])
    first = DaprAgent(agent).run_sync("refund my orders", run_id="appr-timeout-1", approval_timeout=1)
    assert isinstance(first.output, DeferredToolRequests)
    get_runtime().wait("appr-timeout-1", timeout=30)
    final = DaprAgent(agent).run_sync("refund my orders", run_id="appr-timeout-1")
    assert final.output == "Tool call was not approved within 0:00:01."
    assert refunds == []
    assert len(_events("appr-timeout-1", WorkflowHistoryEventType.TIMER_FIRED)) == 1


wires: list[int] = []


def test_approval_required_raised_by_a_tool_and_its_approved_rerun_as_natively() -> None:
    agent = Agent(FunctionModel(_script([900], "wire")), name="appr-raised", output_type=[str, DeferredToolRequests])

    @agent.tool
    def wire(ctx: RunContext[None], amount: int) -> str:
        if amount > 500 and not ctx.tool_call_approved:
            raise ApprovalRequired(metadata={"reason": "over 500"})
        wires.append(amount)
        return f"wired {amount}"

    results = DeferredToolResults(approvals={"c1": True})
    native_first, native_final = _native(agent, results)
    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders", run_id="appr-raised-1")
    same_run(native_first, first)
    assert isinstance(first.output, DeferredToolRequests) and first.output.metadata == {"c1": {"reason": "over 500"}}
    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results, run_id="appr-raised-1")
    same_run(native_final, final)
    assert final.output == "wired 900"
    assert wires == [900, 900]  # once native, once durable: only after approval


def test_without_deferred_tool_requests_among_the_output_types_the_run_fails_as_natively() -> None:
    agent = Agent(FunctionModel(_script([5])), name="appr-no-output")

    @agent.tool_plain(requires_approval=True)
    def refund(amount: int) -> str:
        return f"refunded {amount}"

    with pytest.raises(UserError) as native:
        agent.run_sync("refund my orders")
    with pytest.raises(UserError) as durable:
        DaprAgent(agent).run_sync("refund my orders", run_id="appr-no-output-1")
    assert str(durable.value) == str(native.value)


def test_the_native_resume_without_a_run_id_continues_the_durable_run_that_paused() -> None:
    refunds.clear()
    agent = _agent("appr-no-id", [5, 7])
    results = DeferredToolResults(approvals={"c1": True, "c2": ToolDenied("no")})
    native_first, native_final = _native(agent, results)
    refunds.clear()

    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders")
    same_run(native_first, first)
    run_id = first.all_messages()[-1].run_id  # PydanticAI's run id is the durable one
    assert run_id and get_runtime().state(run_id).runtime_status == WorkflowStatus.RUNNING

    before = calls["appr-no-id"]
    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results)
    same_run(native_final, final)
    assert refunds == [5] and calls["appr-no-id"] == before + 1
    assert get_runtime().state(run_id).runtime_status == WorkflowStatus.COMPLETED  # not left waiting
    assert {m.run_id for m in final.all_messages()} == {run_id, f"{run_id}-resumed-1"}


def test_a_native_paused_result_resumed_durably_starts_a_new_durable_run() -> None:
    refunds.clear()
    agent = _agent("appr-from-native", [5])
    results = DeferredToolResults(approvals={"c1": True})
    native_first, native_final = _native(agent, results)
    refunds.clear()

    final = DaprAgent(agent).run_sync(
        message_history=native_first.all_messages(), deferred_tool_results=results, run_id="appr-from-native-1"
    )
    same_run(native_final, final)
    assert refunds == [5]
    assert _scheduled("appr-from-native-1") == ["pydantic_ai.tool", "pydantic_ai.model"]


def _one_at_a_time(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returns = _returns(messages)
    if len(returns) < 2:
        n = len(returns) + 1
        return ModelResponse(parts=[ToolCallPart("refund", {"amount": 10 * n}, tool_call_id=f"c{n}")])
    return ModelResponse(parts=[TextPart("; ".join(str(p.content) for p in returns))])


@pytest.mark.parametrize("with_id", [True, False], ids=["same-run-id", "no-run-id"])
def test_two_approval_rounds_continue_one_durable_run_as_natively(with_id: bool) -> None:
    name = f"appr-rounds-{with_id}"
    agent = Agent(FunctionModel(_one_at_a_time), name=name, output_type=[str, DeferredToolRequests])

    @agent.tool_plain(requires_approval=True)
    def refund(amount: int) -> str:
        refunds.append(amount)
        return f"refunded {amount}"

    def rounds(run: Callable[..., AgentRunResult[Any]]) -> list[AgentRunResult[Any]]:
        results = [run("refund my orders")]
        while isinstance(results[-1].output, DeferredToolRequests):
            call_id = results[-1].output.approvals[0].tool_call_id
            approve = DeferredToolResults(approvals={call_id: True})
            results.append(run(message_history=results[-1].all_messages(), deferred_tool_results=approve))
        return results

    refunds.clear()
    native = rounds(agent.run_sync)
    dagent, run_id = DaprAgent(agent), f"{name}-1" if with_id else None
    durable = rounds(lambda *args, **kwargs: dagent.run_sync(*args, run_id=run_id, **kwargs))
    assert len(durable) == len(native) == 3
    for native_result, durable_result in zip(native, durable, strict=True):
        same_run(native_result, durable_result)
    assert durable[-1].output == "refunded 10; refunded 20"
    assert refunds == [10, 20, 10, 20]
    durable_id = durable[0].all_messages()[-1].run_id
    assert durable_id == run_id or run_id is None
    assert get_runtime().state(durable_id).runtime_status == WorkflowStatus.COMPLETED
    assert len(_events(durable_id, WorkflowHistoryEventType.EVENT_RAISED)) == 2


def test_external_calls_end_the_run_as_natively_and_their_results_go_to_a_new_run() -> None:
    agent = Agent(FunctionModel(_script([5], "compute")), name="appr-external", output_type=[str, DeferredToolRequests])

    @agent.tool_plain
    def compute(amount: int) -> str:
        raise CallDeferred(metadata={"job": f"job-{amount}"})

    results = DeferredToolResults(calls={"c1": "computed 25"})
    native_first, native_final = _native(agent, results)
    dagent = DaprAgent(agent)
    first = dagent.run_sync("refund my orders", run_id="appr-external-1")
    same_run(native_first, first)
    assert get_runtime().state("appr-external-1").runtime_status == WorkflowStatus.COMPLETED
    assert get_runtime().pending_approvals("appr-external-1") == []

    with pytest.raises(UserError, match="'appr-external-1' ended with deferred external calls"):
        dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results, run_id="appr-external-1")
    assert dagent.run_sync("refund my orders", run_id="appr-external-1").output == first.output  # stored result

    final = dagent.run_sync(message_history=first.all_messages(), deferred_tool_results=results)
    same_run(native_final, final)
    assert final.output == "computed 25"


def test_an_edited_approval_through_the_runtime_reaches_a_tool_with_deps_as_natively() -> None:
    agent = Agent(
        FunctionModel(_script([900])), name="appr-edit", deps_type=dict, output_type=[str, DeferredToolRequests]
    )
    paid: list[tuple[str, int]] = []

    @agent.tool(requires_approval=True)
    def refund(ctx: RunContext[dict[str, str]], amount: int) -> str:
        paid.append((ctx.deps["account"], amount))
        return f"refunded {amount} to {ctx.deps['account']}"

    deps = {"account": "acct-7"}
    first = agent.run_sync("refund my orders", deps=deps)
    edited = DeferredToolResults(approvals={"c1": ToolApproved(override_args={"amount": 90})})
    native_final = agent.run_sync(message_history=first.all_messages(), deps=deps, deferred_tool_results=edited)

    dagent = DaprAgent(agent)
    dagent.run_sync("refund my orders", run_id="appr-edit-1", deps=deps)
    get_runtime().decide("appr-edit-1", Decision("c1", approved=True, arguments='{"amount": 90}'))
    get_runtime().wait("appr-edit-1", timeout=30)
    final = dagent.run_sync("refund my orders", run_id="appr-edit-1", deps=deps)
    same_run(native_final, final)
    assert final.output == "refunded 90 to acct-7"
    assert paid == [("acct-7", 90), ("acct-7", 90)]
