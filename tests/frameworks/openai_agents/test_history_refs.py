"""Model requests name earlier model and tool results by reference, and stay exact.

Each scenario runs a multi-turn tool loop with the SDK's own ``Runner`` and with the
durable one, and checks that every model call of the durable run was asked exactly what
the native run's was, while the run's history holds each model output and each string
tool output once. Every recorded request is then expanded again from the history alone
(an empty cache, as after a restart or on another worker) and compared with the native
request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents import Agent, Usage, function_tool
from agents import Runner as NativeRunner
from agents.items import ModelResponse
from agents.usage import InputTokensDetails, OutputTokensDetails, RequestUsage
from scripted import ScriptedModel, message, outputs, request_view, tool_call
from test_fidelity import Graph, assert_same_result

from dapr_agents_durable.adapters.openai_agents import Runner, model_codec, refs
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY, TOOL_ACTIVITY, WORKFLOW
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.deltas import DeltaCache

pytestmark = pytest.mark.anyio

TURNS = 6


class FlakyModel(ScriptedModel):
    """A scripted model whose call ``fail_at`` fails once with a retryable provider error."""

    def __init__(self, rule: Any, fail_at: int | None) -> None:
        super().__init__(rule)
        self.fail_at = fail_at
        self.attempts = 0

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.attempts += 1
        if self.attempts == self.fail_at:
            error = RuntimeError("provider unavailable")
            error.status_code = 503  # type: ignore[attr-defined]
            raise error
        return await super().get_response(*args, **kwargs)


class ChainedModel(FlakyModel):
    """A scripted model that answers with response ids, for server-side conversation state."""

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = await super().get_response(*args, **kwargs)
        response.response_id = f"resp_{self.calls}"
        return response


def loop_graph(name: str, fail_at: int | None = None, model_type: type[FlakyModel] = FlakyModel) -> Graph:
    """Each turn: a string tool call, and on even turns a tool returning a dict alongside it."""

    @function_tool
    def note(n: int) -> str:
        """Note step n."""
        return f"noted {n}: the runtime checkpoints step {n} before acknowledging it"

    @function_tool
    def stats(n: int) -> dict[str, int]:
        """Statistics of step n."""
        return {"step": n, "square": n * n}

    def rule(items: list[Any]) -> list[Any]:
        # The step after the latest noted one (requests may carry only the items since the last response).
        noted = [int(o["call_id"][4:]) for o in outputs(items) if o["call_id"].startswith("note")]
        n = max(noted) + 1 if noted else 0
        if n == TURNS:
            return [message(f"noted {n} steps")]
        calls = [tool_call("note", {"n": n}, f"note{n}")]
        if n % 2 == 0:
            calls.append(tool_call("stats", {"n": n}, f"stats{n}"))
        return calls

    model = model_type(rule, fail_at)
    agent = Agent(name=name, instructions="Note every step.", tools=[note, stats], model=model)
    return Graph(agent, [model])


async def run_both(name: str, fail_at: int | None = None, model_type: type[FlakyModel] = FlakyModel,
                   **run: Any) -> tuple[Graph, Graph]:
    native_graph, durable_graph = loop_graph(name, model_type=model_type), loop_graph(name, fail_at, model_type)
    native = await NativeRunner.run(native_graph.agent, "Note the steps.", **run)
    result = await Runner.run(durable_graph.agent, "Note the steps.", run_id=name, **run)
    assert native.final_output == f"noted {TURNS} steps"
    assert_same_result(result, native)
    assert durable_graph.requests() == native_graph.requests()
    # The same items, keys in the same order, as the model client serializes them.
    assert json.dumps(durable_graph.models[0].inputs) == json.dumps(native_graph.models[0].inputs)
    return native_graph, durable_graph


def recorded(run_id: str, activity: str) -> list[tuple[int, str]]:
    """The (task id, input JSON) of every ``activity`` the run scheduled."""
    return [(e.eventId, e.taskScheduled.input.value) for e in get_runtime().raw_history(run_id)
            if e.HasField("taskScheduled") and e.taskScheduled.name == activity]


def references(payload: dict[str, Any]) -> list[int]:
    """The task ids a model request payload refers to."""
    items = payload.get("extend", {}).get("input", []) + payload.get("set", {}).get("input", [])
    return [task_id for item in items
            if isinstance(item, dict) and isinstance(item.get("$ref"), list) for task_id, _ in item["$ref"]]


def expanded_from_history(run_id: str, agent: Agent[Any]) -> list[dict[str, Any]]:
    """Every model request (once, however many attempts), expanded by an empty cache from the history alone."""
    views = []
    payloads = {p["seq"]: p for p in (json.loads(text) for _, text in recorded(run_id, MODEL_ACTIVITY))}
    for payload in payloads.values():
        full = DeltaCache().expand(run_id, payload, lambda: refs.recorded_run(run_id))
        call = model_codec.decode_request(agent, full)
        views.append(request_view(call["system_instructions"], call["input"], call["model_settings"], call["tools"],
                                  call["output_schema"], call["handoffs"]))
    return views


def assert_expands_to_native(run_id: str, native_graph: Graph, durable_graph: Graph) -> None:
    """Expanded from the history alone, every request is the native run's, keys in the same order."""
    expanded = expanded_from_history(run_id, durable_graph.agent)
    assert json.dumps(expanded) == json.dumps(native_graph.requests()[0])


def history_texts(run_id: str) -> list[str]:
    """Every activity input and result of the run, as stored."""
    texts = []
    for e in get_runtime().raw_history(run_id):
        if e.HasField("taskScheduled"):
            texts.append(e.taskScheduled.input.value)
        elif e.HasField("taskCompleted"):
            texts.append(e.taskCompleted.result.value)
    return texts


async def test_model_outputs_and_tool_outputs_are_stored_once() -> None:
    native_graph, durable_graph = await run_both("refs_loop")
    payloads = [json.loads(text) for _, text in recorded("refs_loop", MODEL_ACTIVITY)]
    tool_ids = {task_id for task_id, _ in recorded("refs_loop", TOOL_ACTIVITY)}
    model_ids = {task_id for task_id, _ in recorded("refs_loop", MODEL_ACTIVITY)}
    assert len(payloads) == TURNS + 1
    for payload in payloads[1:]:
        named = references(payload)
        assert len([i for i in named if i in model_ids]) == 1  # the previous response's output
        assert len([i for i in named if i in tool_ids]) == 1  # the note tool's output
    texts = history_texts("refs_loop")
    for n in range(TURNS):
        output = f"noted {n}: the runtime checkpoints step {n} before acknowledging it"
        assert sum(text.count(output) for text in texts) == 1
        assert sum(text.count(f'"call_id": "note{n}", "name"') for text in texts) == 1  # the model's function call
    # A dict result reaches the model as the SDK's text of it, not the recorded value: it stays literal.
    literal = [item for p in payloads for item in p.get("extend", {}).get("input", [])
               if isinstance(item, dict) and item.get("type") == "function_call_output"]
    assert sorted(item["call_id"] for item in literal) == [f"stats{n}" for n in range(0, TURNS, 2)]
    assert_expands_to_native("refs_loop", native_graph, durable_graph)


async def test_every_request_expands_from_history_when_nothing_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refs, "EXPANDED", DeltaCache(per_run=0, results_per_run=0))
    native_graph, durable_graph = await run_both("refs_no_cache")
    assert any(references(json.loads(text)) for _, text in recorded("refs_no_cache", MODEL_ACTIVITY))
    assert_expands_to_native("refs_no_cache", native_graph, durable_graph)


async def test_a_retried_model_call_is_referred_to_by_its_first_attempt() -> None:
    native_graph, durable_graph = await run_both("refs_retry", fail_at=3)
    events = get_runtime().raw_history("refs_retry")
    failed = {e.taskFailed.taskScheduledId for e in events if e.HasField("taskFailed")}
    assert len(failed) == 1
    payloads = [json.loads(text) for _, text in recorded("refs_retry", MODEL_ACTIVITY)]
    assert any(failed & set(references(p)) for p in payloads)  # resolved through the retry's execution id
    assert_expands_to_native("refs_retry", native_graph, durable_graph)


async def test_server_side_conversations_refer_to_the_tool_outputs_they_send() -> None:
    # With previous_response_id each request carries only the items since the last response.
    native_graph, durable_graph = await run_both("refs_chained", model_type=ChainedModel,
                                                 auto_previous_response_id=True)
    payloads = [json.loads(text) for _, text in recorded("refs_chained", MODEL_ACTIVITY)]
    tool_ids = {task_id for task_id, _ in recorded("refs_chained", TOOL_ACTIVITY)}
    assert all("input" in p.get("set", {}) for p in payloads)  # a new list each time, not an extension
    assert all(len(set(references(p)) & tool_ids) == 1 for p in payloads[1:])
    assert_expands_to_native("refs_chained", native_graph, durable_graph)


@pytest.mark.usefixtures("cold_replay")
async def test_replays_produce_the_recorded_payloads() -> None:
    # Warm executions off: every step replays the run from its start and the engine checks
    # each re-encoded request against the one recorded.
    await run_both("refs_cold")
    get_runtime().replay(WORKFLOW, "refs_cold")
    again = loop_graph("refs_cold_again")
    await Runner.run(again.agent, "Note the steps.", run_id="refs_cold_again")
    assert [t for _, t in recorded("refs_cold_again", MODEL_ACTIVITY)] == [
        t.replace("refs_cold", "refs_cold_again") for _, t in recorded("refs_cold", MODEL_ACTIVITY)
    ]


@pytest.mark.parametrize(
    "usage",
    [
        Usage(requests=1),
        Usage(requests=1, input_tokens=812, output_tokens=40, total_tokens=852,
              input_tokens_details=InputTokensDetails(cached_tokens=512, cache_write_tokens=0),
              output_tokens_details=OutputTokensDetails(reasoning_tokens=12)),
        Usage(requests=1, input_tokens=5, output_tokens=1, total_tokens=6, request_usage_entries=[
            RequestUsage(input_tokens=5, output_tokens=1, total_tokens=6,
                         input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                         output_tokens_details=OutputTokensDetails(reasoning_tokens=0))]),
    ],
)
def test_model_responses_round_trip_without_defaults(usage: Usage) -> None:
    for response in (
        ModelResponse(output=[tool_call("note", {"n": 1}, "c1")], usage=usage, response_id=None),
        ModelResponse(output=[message("hi")], usage=usage, response_id="resp_1", request_id="req_1",
                      raw_usage={"input_tokens": 5}),
    ):
        data = model_codec.encode_response(response, what="test")
        assert None not in data.values()
        assert model_codec.decode_response(json.loads(json.dumps(data)), what="test") == response
        full = model_codec.MODEL_RESPONSE.encode(response)
        assert model_codec.decode_response(full, what="test") == response  # the earlier, full encoding


def test_zero_usage_is_stored_as_the_request_count_only() -> None:
    response = ModelResponse(output=[], usage=Usage(requests=1), response_id=None)
    assert model_codec.encode_response(response, what="test") == {"output": [], "usage": {"requests": 1}}

