"""Bad input at the entry points: a clear error naming what is wrong and the fix, and stored state intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, function_tool
from dapr.ext.workflow import RetryPolicy, WorkflowStatus
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner, durable_options
from dapr_agents_durable.runtime import RunIdInUse, get_runtime
from dapr_agents_durable.testing import embedded_app_env

pytestmark = pytest.mark.anyio

APP = Path(__file__).parent / "apps" / "changed_agent_app.py"


@function_tool
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city} is lovely"


def _rule(items: list[Any]) -> list[Any]:
    done = outputs(items)
    return [message(done[0]["output"])] if done else [tool_call("lookup", {"city": "Oslo"}, "c1")]


async def test_a_run_id_of_another_agent_is_refused_and_its_run_keeps_its_result() -> None:
    model = ScriptedModel(_rule)
    first = await Runner.run(Agent(name="guide", tools=[lookup], model=model), "Oslo?", run_id="bad-owner-1")
    with pytest.raises(RunIdInUse, match=r"durable run 'bad-owner-1' belongs to agent 'guide', not 'critic'.*"
                                         r"pass a new run_id for a run of 'critic'"):
        await Runner.run(Agent(name="critic", tools=[lookup], model=model), "Oslo?", run_id="bad-owner-1")
    again = await Runner.run(Agent(name="guide", tools=[lookup], model=model), "Oslo?", run_id="bad-owner-1")
    assert again.final_output == first.final_output == "Oslo is lovely"
    assert model.calls == 2  # the refused call and the stored result paid nothing


async def test_a_run_id_of_another_kind_of_workflow_is_refused() -> None:
    runtime = get_runtime()
    runtime.register_workflow("bad_input.other", lambda ctx, value: value)
    runtime.run("bad_input.other", 3, run_id="bad-kind-1", timeout=30)
    model = ScriptedModel(_rule)
    with pytest.raises(RunIdInUse, match=r"durable run 'bad-kind-1' is a bad_input.other run, "
                                         r"not a openai_agents.run run: a run id names one run"):
        await Runner.run(Agent(name="guide", tools=[lookup], model=model), "Oslo?", run_id="bad-kind-1")
    assert model.calls == 0
    assert runtime.state("bad-kind-1").serialized_output == "3"


def _app(tmp_path: Path, variant: str, *flags: str) -> dict[str, Any]:
    env = embedded_app_env(tmp_path / "engine.db", {
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path]),
        "OPENAI_AGENTS_DISABLE_TRACING": "1", "REFUND_LOG": str(tmp_path / "refunds.log"),
    })
    done = subprocess.run([sys.executable, str(APP), variant, "changed-1", *flags], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_changed_agent_code_holds_an_in_flight_run_until_its_own_code_comes_back(tmp_path: Path) -> None:
    assert _app(tmp_path, "original") == {"final_output": None, "pending": ["c1"], "model_calls": 1}
    for variant, drift in (
        ("instructions", 'first differ at set.system_instructions: recorded "Refund what is asked.", '
                         'now "Refund what is asked, politely."'),
        ("tool-added", "first differ at set.tools[1]: recorded absent, now {"),
        ("tool-removed", "first differ at set.tools[0]: recorded {"),
    ):
        got = _app(tmp_path, variant, "--approve")
        assert got["error"] == "RunHeld", got
        assert "is not deterministic at step 1" in got["message"] and drift in got["message"], got["message"]
        assert "Durable run 'changed-1' is held, not failed: its history is kept." in got["message"]
        assert "dapr-agents-durable runs terminate changed-1" in got["message"]
        assert got["model_calls"] == 0
        assert not (tmp_path / "refunds.log").exists()  # the approval was never delivered

    resumed = _app(tmp_path, "original", "--approve")  # the code the run started with: it goes on
    assert resumed == {"final_output": "done: refunded 5", "pending": [], "model_calls": 1}
    assert (tmp_path / "refunds.log").read_text() == "5\n"


@function_tool
def dump(size: int) -> str:
    """Return a long text."""
    return "x" * size


async def test_an_oversized_tool_result_fails_naming_the_tool_the_size_and_the_fix() -> None:
    def rule(items: list[Any]) -> list[Any]:
        return [message("done")] if outputs(items) else [tool_call("dump", {"size": 4 * 1024 * 1024}, "c1")]

    model = ScriptedModel(rule)
    with pytest.raises(Exception, match=r"result of tool 'dump' of agent 'dumper': \d+ bytes encoded, more than "
                                        r"the \d+-byte limit for one durable step; return less data") as raised:
        await Runner.run(Agent(name="dumper", tools=[dump], model=model), "dump", run_id="bad-size-1")
    assert type(raised.value).__name__ == "UserError"  # the SDK's own error for a failing tool
    state = get_runtime().state("bad-size-1")
    assert state.runtime_status == WorkflowStatus.FAILED and model.calls == 1


@function_tool
def dump_retried(size: int) -> str:
    """Return a long text, counting the calls."""
    DUMPS.append(size)
    return "x" * size


DUMPS: list[int] = []
durable_options(dump_retried, retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=1),
                                                      max_number_of_attempts=3))


async def test_an_oversized_tool_result_is_not_retried_even_with_a_retry_policy() -> None:
    def rule(items: list[Any]) -> list[Any]:
        return [message("done")] if outputs(items) else [tool_call("dump_retried", {"size": 4 * 1024 * 1024}, "c1")]

    with pytest.raises(Exception, match=r"result of tool 'dump_retried' .* limit for one durable step"):
        await Runner.run(Agent(name="dumper", tools=[dump_retried], model=ScriptedModel(rule)), "dump",
                         run_id="bad-size-3")
    assert DUMPS == [4 * 1024 * 1024]  # run once: a retry would run the tool again for the same refusal
    assert get_runtime().state("bad-size-3").runtime_status == WorkflowStatus.FAILED


async def test_a_model_response_too_large_to_store_fails_at_once_without_asking_the_model_again() -> None:
    model = ScriptedModel(lambda items: [message("y" * 4_000_000)])
    with pytest.raises(Exception, match=r"model response of agent 'rambler': \d+ bytes encoded, more than the "
                                        r"\d+-byte limit for one durable step; return less data"):
        await Runner.run(Agent(name="rambler", model=model), "talk", run_id="bad-size-2")
    assert model.calls == 1  # not retried: a retry would pay for the same refusal
    assert get_runtime().state("bad-size-2").runtime_status == WorkflowStatus.FAILED
