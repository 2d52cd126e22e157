"""Replays that diverge from history hold the run (RUNNING, history intact) naming the step and the fix.

Changed code meets an old history when a cold replay runs it (after a restart, an
upgrade, on another replica): these tests change the code between the work items of
one process, so they turn warm executions off to replay every work item cold.
"""

from __future__ import annotations

import asyncio

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import current_execution, drive

HINT = "Finish or purge old runs before upgrading, or use versioning"

pytestmark = pytest.mark.usefixtures("cold_replay")


def test_a_changed_activity_input_holds_the_run_naming_both_inputs() -> None:
    host = OfflineHost()
    executions: list[int] = []

    @host.activity("lookup")
    def lookup(ctx, query):
        return query

    async def main() -> str:
        executions.append(1)
        return await current_execution().call_activity(
            "lookup", {"q": f"run {len(executions)}"}
        )

    @host.workflow("drifting")
    def drifting(ctx, _):
        return (yield from drive(ctx, main, label="agent 'triage'"))

    result = host.run("drifting")
    assert (result.status, result.failure_type) == ("HELD", "NonDeterminismError")
    assert result.failure_message.startswith(
        "Workflow 'drifting' (instance 'wf-1', agent 'triage') is not deterministic at step 1: "
        'its history recorded activity \'lookup\' with input {"q":"run 1"}, but the code now '
        'requested activity \'lookup\' with input {"q":"run 2"}. The inputs first differ at q: '
        'recorded "run 1", now "run 2". Likely cause: the agent\'s '
        "code or its framework version changed while this run was in flight."
    )
    assert HINT in result.failure_message
    assert host.calls_of("lookup") == [{"q": "run 1"}]


def test_a_renamed_step_after_an_upgrade_names_what_history_expected() -> None:
    host = OfflineHost()
    deployed = {"version": 1}

    @host.activity("search")
    def search(ctx, q):
        return q

    @host.activity("deploy")
    def deploy(ctx, _):
        deployed["version"] = 2

    async def main() -> None:
        durable = current_execution()
        tool = "search" if deployed["version"] == 1 else "web_search"
        await durable.call_activity(tool, "dapr")
        await durable.call_activity("deploy")
        await durable.call_activity(tool, "again")

    @host.workflow("upgraded")
    def upgraded(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("upgraded")
    assert result.failure_type == "NonDeterminismError"
    assert (
        "at step 1: its history recorded activity 'search' with input \"dapr\", but the code "
        "now requested activity 'web_search' with input \"dapr\"."
    ) in result.failure_message
    assert HINT in result.failure_message


def test_code_that_now_finishes_before_its_recorded_steps_is_held() -> None:
    host = OfflineHost()
    deployed = {"version": 1}

    @host.activity("a")
    def a(ctx, _):
        return "a"

    @host.activity("b")
    def b(ctx, _):
        deployed["version"] = 2
        return "b"

    async def main() -> str:
        durable = current_execution()
        out = await durable.call_activity("a")
        if deployed["version"] == 1:
            out += await durable.call_activity("b")
        return out

    @host.workflow("shortened")
    def shortened(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("shortened")
    assert result.failure_type == "NonDeterminismError"
    assert (
        "after step 1: the code finished, but its history recorded activity 'b' with no input next."
    ) in result.failure_message


def test_the_sdks_own_non_determinism_error_gets_the_workflow_name_and_the_fix() -> (
    None
):
    host = OfflineHost()
    deployed = {"version": 1}

    @host.activity("a")
    def a(ctx, _):
        return "a"

    @host.activity("b")
    def b(ctx, _):
        deployed["version"] = 2
        return "b"

    async def main() -> list:
        durable = current_execution()
        requests = [durable.call_activity("a")]
        if deployed["version"] == 1:
            requests.append(durable.call_activity("b"))
        return list(await asyncio.gather(*requests))

    @host.workflow("fewer")
    def fewer(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("fewer")
    assert result.failure_type == "NonDeterminismError"
    assert result.failure_message.startswith(
        "Workflow 'fewer' (instance 'wf-1') is not deterministic on replay: A previous "
        "execution called call_activity with ID=2"
    )
    assert HINT in result.failure_message


def test_the_message_names_where_two_inputs_first_differ() -> None:
    from dapr_agents_durable.loop.requests import DurableStep, HistoryStep

    def step(text: str) -> DurableStep:
        return DurableStep(1, "activity", "model", text, 2)

    recorded = HistoryStep("activity", "model", '{"set": {"tools": [{"name": "a"}], "x": 1}}')
    assert step('{"set": {"tools": [{"name": "a"}, {"name": "b"}], "x": 1}}').difference(recorded) == (
        ' The inputs first differ at set.tools[1]: recorded absent, now {"name": "b"}.'
    )
    assert step('{"set": {"tools": [{"name": "a"}], "x": 1.0}}').difference(recorded) == (
        " The inputs first differ at set.x: recorded 1, now 1.0."
    )
    assert step('{"set": {"tools": [{"name": "a"}], "x": 1}}').difference(recorded) == ""
    assert step('"text"').difference(recorded) == (
        ' The inputs first differ at the top: recorded {"set": {"tools": [{"name": "a"}], "x": 1}}, now "text".'
    )
    assert step("not json").difference(recorded) == ""
    assert step("{}").difference(HistoryStep("activity", "other", "{}")) == ""
