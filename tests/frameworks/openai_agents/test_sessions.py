"""Sessions in durable runs: the SDK's history handling, every session call an activity.

Each test runs the same conversation natively (``agents.Runner``) and durably on real
``SQLiteSession`` files, and compares what the model saw and what the sessions hold.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, RunConfig, SessionSettings, SQLiteSession
from agents import Runner as NativeRunner
from agents.memory import OpenAIConversationsSession, OpenAIResponsesCompactionSession
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from openai import AsyncOpenAI
from scripted import ScriptedModel, message

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.adapters.openai_agents.graph import register_graph
from dapr_agents_durable.adapters.openai_agents.names import WORKFLOW
from dapr_agents_durable.adapters.openai_agents.session_seam import (
    describe,
    durable_session,
    register,
    unregister,
)
from dapr_agents_durable.loop import drive
from dapr_agents_durable.runtime import get_runtime

pytestmark = pytest.mark.anyio


class CountingSession(SQLiteSession):
    """The SDK's ``SQLiteSession``, recording every call made on it."""

    def __init__(self, session_id: str, db_path: Path, **kwargs: Any) -> None:
        super().__init__(session_id, db_path, **kwargs)
        self.calls: list[str] = []

    async def get_items(self, limit: int | None = None) -> list[Any]:
        self.calls.append("get_items" if limit is None else f"get_items({limit})")
        return await super().get_items(limit)

    async def add_items(self, items: list[Any]) -> None:
        self.calls.append(f"add_items({len(items)})")
        await super().add_items(items)

    async def pop_item(self) -> Any:
        self.calls.append("pop_item")
        return await super().pop_item()

    async def clear_session(self) -> None:
        self.calls.append("clear_session")
        await super().clear_session()


def recall_rule(items: list[Any]) -> list[Any]:
    """Answers with every user message the model was given, oldest first."""
    said = [i["content"] for i in items if isinstance(i, dict) and i.get("role") == "user"]
    return [message(" / ".join(str(s) for s in said))]


def scheduled(run_id: str) -> list[str]:
    return [e.name for e in get_runtime().history(run_id) if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]


def _agent(name: str, model: ScriptedModel) -> Agent[Any]:
    return Agent(name=name, instructions="remember the user", model=model)


async def _two_turns(runner: Any, agent: Agent[Any], session: Any, run_ids: list[str], **options: Any) -> list[Any]:
    results = []
    for text, run_id in zip(["I'm Ada", "what's my name?"], run_ids, strict=True):
        extra = {"run_id": run_id} if runner is Runner else {}
        results.append(await runner.run(agent, text, session=session, **options, **extra))
    return results


async def test_history_is_loaded_and_saved_as_natively(tmp_path: Path) -> None:
    native_model, durable_model = ScriptedModel(recall_rule), ScriptedModel(recall_rule)
    native_session = CountingSession("user-1", tmp_path / "native.db")
    durable_session_ = CountingSession("user-1", tmp_path / "durable.db")

    native = await _two_turns(NativeRunner, _agent("memo-1", native_model), native_session, ["", ""])
    durable = await _two_turns(Runner, _agent("memo-1", durable_model), durable_session_, ["sess-1a", "sess-1b"])

    assert [r.final_output for r in durable] == [r.final_output for r in native]
    assert durable[1].final_output == "I'm Ada / what's my name?"
    assert durable_model.requests == native_model.requests
    assert await durable_session_.get_items() == await native_session.get_items()
    assert durable_session_.calls == native_session.calls
    assert native_session.calls[:4] == ["get_items", "add_items(1)", "add_items(1)", "get_items"]
    # History read, input saved, model call, output saved: each session call a step of the run.
    for run_id in ("sess-1a", "sess-1b"):
        assert scheduled(run_id) == [
            "openai_agents.session", "openai_agents.session", "openai_agents.model", "openai_agents.session"
        ]


async def test_session_settings_and_input_callback_are_respected(tmp_path: Path) -> None:
    def last_exchange_only(history: list[Any], new_input: list[Any]) -> list[Any]:
        return history[-2:] + new_input

    config = RunConfig(session_input_callback=last_exchange_only)
    results: dict[str, tuple[ScriptedModel, CountingSession]] = {}
    for kind, runner in (("native", NativeRunner), ("durable", Runner)):
        model = ScriptedModel(recall_rule)
        session = CountingSession("user-2", tmp_path / f"{kind}.db", session_settings=SessionSettings(limit=3))
        agent = _agent("memo-2", model)
        for n, text in enumerate(["one", "two", "three"]):
            extra = {"run_id": f"sess-2-{n}"} if runner is Runner else {}
            await runner.run(agent, text, session=session, run_config=config, **extra)
        results[kind] = (model, session)

    (native_model, native_session), (durable_model, durable_session_) = results["native"], results["durable"]
    assert durable_model.requests == native_model.requests
    assert durable_model.inputs[-1][-1] == {"role": "user", "content": "three"}
    assert len(durable_model.inputs[-1]) == 3  # the callback's two history items and the new input
    assert "get_items(3)" in durable_session_.calls
    assert durable_session_.calls == native_session.calls
    assert await durable_session_.get_items() == await native_session.get_items()


async def test_finished_run_makes_no_new_session_calls(tmp_path: Path) -> None:
    session = CountingSession("user-3", tmp_path / "durable.db")
    model = ScriptedModel(recall_rule)
    agent = _agent("memo-3", model)
    first = await Runner.run(agent, "I'm Ada", session=session, run_id="sess-3")
    calls, items = list(session.calls), await session.get_items()
    session.calls.clear()

    again = await Runner.run(agent, "I'm Ada", session=session, run_id="sess-3")

    assert again.final_output == first.final_output == "I'm Ada"
    assert session.calls == [] and model.calls == 1
    assert await session.get_items() == items
    assert calls and scheduled("sess-3").count("openai_agents.session") == len(calls)


async def test_a_session_step_waits_for_the_session_to_be_registered(tmp_path: Path) -> None:
    """As after a restart: the run is going before this process's Runner.run brings its session."""
    session = CountingSession("user-4", tmp_path / "durable.db")
    await session.add_items([{"role": "user", "content": "I'm Ada"}])
    session.calls.clear()
    agent = _agent("memo-4", ScriptedModel(recall_rule))
    await Runner.run(agent, "warm up", run_id="sess-4-warm-up")  # registers the adapter's workflow
    register_graph(agent)
    request = {"agent": agent.name, "input": "what's my name?", "max_turns": 10, "session": describe(session)}
    runtime = get_runtime()
    await asyncio.to_thread(runtime.start_or_attach, WORKFLOW, request, "sess-4")
    await asyncio.sleep(1.5)
    assert session.calls == []

    result = await Runner.run(agent, "what's my name?", session=session, run_id="sess-4")

    assert result.final_output == "I'm Ada / what's my name?"
    assert session.calls[0] == "get_items"


def session_ops_workflow(ctx: Any, description: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Every operation of the session protocol, from a workflow's durable loop."""

    async def main() -> dict[str, Any]:
        session = durable_session(description)
        assert session is not None
        last = await session.get_items(limit=1)
        popped = await session.pop_item()
        await session.clear_session()
        return {"last": last, "popped": popped, "left": await session.get_items()}

    return (yield from drive(ctx, main))


async def test_every_session_operation_is_an_activity(tmp_path: Path) -> None:
    session = CountingSession("user-7", tmp_path / "durable.db")
    await session.add_items([{"role": "user", "content": "one"}, {"role": "user", "content": "two"}])
    session.calls.clear()
    await Runner.run(_agent("memo-7", ScriptedModel(recall_rule)), "warm up", run_id="sess-7-warm-up")
    runtime = get_runtime()
    runtime.register_workflow("tests.session_ops", session_ops_workflow)
    register(run_id="sess-7", session=session)
    try:
        state = await asyncio.to_thread(runtime.run, "tests.session_ops", describe(session), "sess-7")
    finally:
        unregister("sess-7")

    two = {"role": "user", "content": "two"}
    assert json.loads(state.serialized_output) == {"last": [two], "popped": two, "left": []}
    assert session.calls == ["get_items(1)", "pop_item", "clear_session", "get_items"]
    assert scheduled("sess-7") == ["openai_agents.session"] * 4
    assert await session.get_items() == []


async def test_the_sdk_sees_the_session_type_it_checks_for() -> None:
    client = AsyncOpenAI(api_key="sk-test-not-used", base_url="http://127.0.0.1:9")
    conversation = OpenAIConversationsSession(conversation_id="conv_1", openai_client=client)
    proxy = durable_session(describe(conversation))
    assert isinstance(proxy, OpenAIConversationsSession)
    assert proxy.session_id == "conv_1"

    plain = durable_session(describe(SQLiteSession("user-5", session_settings=SessionSettings(limit=4))))
    assert not isinstance(plain, OpenAIConversationsSession)
    assert (plain.session_id, plain.session_settings) == ("user-5", SessionSettings(limit=4))

    compacting = OpenAIResponsesCompactionSession("user-6", SQLiteSession("user-6"), client=client)
    with pytest.raises(NotImplementedError, match="compaction"):
        await Runner.run(_agent("memo-6", ScriptedModel(recall_rule)), "hi", session=compacting, run_id="sess-6")
