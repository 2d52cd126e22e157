"""Fidelity: a durable run returns what the native ``agents.Runner.run`` returns.

Every scenario builds its agent graph twice from one factory (fresh tools, fresh
scripted models from the same rule), runs one copy with the SDK's own ``Runner`` and
the other with the durable ``Runner``, and compares the two results field by field,
plus what each model call was asked. Agent names are unique per scenario because
durable runs register agents by name process-wide.
"""

from __future__ import annotations

import asyncio
import types
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from dapr.ext.workflow.workflow_management import WorkflowHistoryEventType
from agents import (
    Agent,
    AgentHooks,
    GuardrailFunctionOutput,
    Handoff,
    HandoffOutputItem,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    OutputGuardrailTripwireTriggered,
    RunContextWrapper,
    RunHooks,
    RunResult,
    ToolCallOutputItem,
    ToolOutputText,
    UserError,
    function_tool,
    handoff,
    input_guardrail,
    output_guardrail,
)
from agents import Runner as NativeRunner
from agents.exceptions import AgentsException
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import get_runtime

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------------------- comparison


@dataclass
class Graph:
    """One copy of a scenario's agent graph: its entry agent, its models, and what its tools and
    callbacks recorded."""

    agent: Agent[Any]
    models: list[ScriptedModel]
    log: list[str] = field(default_factory=list)

    def requests(self) -> list[list[dict[str, Any]]]:
        """What each model of the graph was asked, call by call."""
        return [model.requests for model in self.models]


def jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=repr)


def item_views(items: list[Any]) -> list[dict[str, Any]]:
    """Each run item as its type, agent, replayable input item and (for tool outputs) raw output."""
    views = []
    for item in items:
        view = {"type": item.type, "agent": item.agent.name, "raw": jsonable(item.to_input_item())}
        if isinstance(item, HandoffOutputItem):
            view["handoff"] = [item.source_agent.name, item.target_agent.name]
        if isinstance(item, ToolCallOutputItem):
            view["output"] = [type(item.output).__name__, jsonable(item.output)]
        views.append(view)
    return views


def usage_view(result: RunResult) -> dict[str, int]:
    usage = result.context_wrapper.usage
    return {"requests": usage.requests, "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens, "total_tokens": usage.total_tokens}


def guardrail_views(result: RunResult) -> dict[str, Any]:
    """Name, tripwire and info of every guardrail result of the run."""
    return {
        "input": [[r.guardrail.get_name(), r.output.tripwire_triggered, jsonable(r.output.output_info)]
                  for r in result.input_guardrail_results],
        "output": [[r.guardrail.get_name(), r.agent.name, jsonable(r.agent_output), r.output.tripwire_triggered,
                    jsonable(r.output.output_info)] for r in result.output_guardrail_results],
        "tool_input": len(result.tool_input_guardrail_results),
        "tool_output": len(result.tool_output_guardrail_results),
    }


def assert_same_result(durable: RunResult, native: RunResult) -> None:
    """The durable result equals the native one in every field the caller reads."""
    assert type(durable.final_output) is type(native.final_output)
    assert durable.final_output == native.final_output
    assert durable.last_agent.name == native.last_agent.name
    assert item_views(durable.new_items) == item_views(native.new_items)
    assert len(durable.raw_responses) == len(native.raw_responses)
    assert usage_view(durable) == usage_view(native)
    assert guardrail_views(durable) == guardrail_views(native)


def run_data_view(exc: AgentsException) -> dict[str, Any]:
    """The partial run an SDK exception carries (``run_data``)."""
    data = exc.run_data
    assert data is not None, f"{type(exc).__name__} carries no run data"
    return {"last_agent": data.last_agent.name, "new_items": item_views(data.new_items),
            "raw_responses": len(data.raw_responses)}


async def raised(run: Awaitable[Any]) -> Exception:
    """The exception ``run`` raises (a run that returns fails the test)."""
    try:
        await run
    except Exception as exc:  # noqa: BLE001 - the caller compares types
        return exc
    raise AssertionError("the run returned instead of raising")


async def run_both(build: Callable[[], Graph], input: str, run_id: str,
                   **kwargs: Any) -> tuple[RunResult, RunResult, Graph, Graph]:
    """Run a fresh copy of the graph natively, another durably; return both results and graphs."""
    native_graph, durable_graph = build(), build()
    native = await NativeRunner.run(native_graph.agent, input, **kwargs)
    durable = await Runner.run(durable_graph.agent, input, run_id=run_id, **kwargs)
    return native, durable, native_graph, durable_graph


# ---------------------------------------------------------------------------- function tools


def tools_graph(prefix: str = "fid_tools") -> Graph:
    """Four sequential tool turns (str, int and dict results, one tool that fails), then an answer."""
    log: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        log.append(f"get_weather:{city}")
        return f"sunny in {city}"

    @function_tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        log.append(f"add:{a}+{b}")
        return a + b

    @function_tool
    def forecast(city: str) -> dict[str, Any]:
        """Return a forecast table."""
        log.append(f"forecast:{city}")
        return {"city": city, "highs": [21, 23]}

    @function_tool
    def tides(port: str) -> str:
        """Return the tides of a port."""
        log.append(f"tides:{port}")
        raise ValueError(f"no tide table for {port}")

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        script = [tool_call("get_weather", {"city": "Paris"}, "t1"), tool_call("add", {"a": 2, "b": 3}, "t2"),
                  tool_call("forecast", {"city": "Rome"}, "t3"), tool_call("tides", {"port": "Brest"}, "t4")]
        if len(done) < len(script):
            return [script[len(done)]]
        return [message(" | ".join(str(o["output"]) for o in done))]

    model = ScriptedModel(rule)
    agent = Agent(name=prefix, instructions="Use the tools.", tools=[get_weather, add, forecast, tides],
                  model=model)
    return Graph(agent, [model], log)


async def test_function_tools() -> None:
    native, durable, native_graph, durable_graph = await run_both(tools_graph, "weather and sums", "fid-tools")
    assert native.final_output == ("sunny in Paris | 5 | {'city': 'Rome', 'highs': [21, 23]} | "
                                   "An error occurred while running the tool. Please try again.")
    assert_same_result(durable, native)
    assert durable_graph.log == native_graph.log
    assert durable_graph.requests() == native_graph.requests()


def failing_tool_graph() -> Graph:
    """A tool without a failure handler: its error ends the run."""

    @function_tool(failure_error_function=None)
    def charge_card(amount: int) -> str:
        """Charge the customer's card."""
        raise ValueError(f"card declined for {amount} EUR")

    model = ScriptedModel(lambda items: [tool_call("charge_card", {"amount": 40}, "c1")])
    agent = Agent(name="fid_tool_error", instructions="Charge the card.", tools=[charge_card], model=model)
    return Graph(agent, [model])


async def test_tool_error_ends_the_run_alike() -> None:
    native = await raised(NativeRunner.run(failing_tool_graph().agent, "charge 40"))
    durable = await raised(Runner.run(failing_tool_graph().agent, "charge 40", run_id="fid-tool-error"))
    assert isinstance(native, UserError) and isinstance(native.__cause__, ValueError)
    assert type(durable) is type(native)
    assert str(durable) == str(native) == "Error running tool charge_card: card declined for 40 EUR"
    assert type(durable.__cause__) is type(native.__cause__)
    assert str(durable.__cause__) == str(native.__cause__)


@dataclass
class Forecast:
    """A dataclass tool result."""

    city: str
    high: int


@pytest.mark.parametrize(
    ("output_type", "make_output"),
    [
        (Forecast, lambda: Forecast("Oslo", 4)),
        (ToolOutputText, lambda: ToolOutputText(text="4 degrees in Oslo")),
        (list[ToolOutputText], lambda: [ToolOutputText(text="4 degrees"), ToolOutputText(text="in Oslo")]),
    ],
    ids=["dataclass", "tool-output-text", "tool-output-list"],
)
async def test_tool_result_object_as_final_output(output_type: Any, make_output: Callable[[], Any]) -> None:
    """With ``stop_on_first_tool`` and the tool's result type as output type, the object the tool
    returned is the run's final output."""
    name = {Forecast: "dataclass", ToolOutputText: "text"}.get(output_type, "list")

    def build() -> Graph:
        @function_tool
        def forecast(city: str) -> Any:
            """Return the forecast of a city."""
            return make_output()

        model = ScriptedModel(lambda items: [tool_call("forecast", {"city": "Oslo"}, "f1")])
        agent = Agent(name=f"fid_tool_object_{name}", instructions="Forecast.", tools=[forecast], model=model,
                      output_type=output_type, tool_use_behavior="stop_on_first_tool")
        return Graph(agent, [model])

    native, durable, _, _ = await run_both(build, "forecast Oslo", f"fid-tool-object-{name}")
    assert native.final_output == make_output()
    assert_same_result(durable, native)


class Reading(BaseModel):
    """A structured tool result."""

    city: str
    celsius: int


def model_result_graph() -> Graph:
    """One tool returning a pydantic model, then an answer quoting the tool output."""

    @function_tool
    def read_sensor(city: str) -> Reading:
        """Read the temperature sensor of a city."""
        return Reading(city=city, celsius=19)

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("read_sensor", {"city": "Oslo"}, "s1")]
        return [message(f"sensor says {done[0]['output']}")]

    model = ScriptedModel(rule)
    agent = Agent(name="fid_model_result", instructions="Read the sensor.", tools=[read_sensor], model=model)
    return Graph(agent, [model])


async def test_function_tool_returning_a_pydantic_model() -> None:
    native, durable, native_graph, durable_graph = await run_both(model_result_graph, "how warm?", "fid-model-result")
    assert native.final_output == "sensor says city='Oslo' celsius=19"
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()


# ---------------------------------------------------------------------------- parallel tool calls


def parallel_graph() -> Graph:
    """Three tool calls in one model response; they finish in the reverse of call order."""
    log: list[str] = []

    @function_tool
    async def slow_lookup(key: str, delay_ms: int) -> str:
        """Look a key up, slowly."""
        await asyncio.sleep(delay_ms / 1000)
        log.append(key)
        return f"value of {key}"

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("slow_lookup", {"key": key, "delay_ms": delay}, f"p{n}")
                    for n, (key, delay) in enumerate([("a", 120), ("b", 60), ("c", 0)])]
        return [message(", ".join(f"{o['call_id']}={o['output']}" for o in done))]

    model = ScriptedModel(rule)
    agent = Agent(name="fid_parallel", instructions="Look up a, b and c.", tools=[slow_lookup], model=model)
    return Graph(agent, [model], log)


async def test_parallel_tool_calls() -> None:
    native, durable, native_graph, durable_graph = await run_both(parallel_graph, "look up", "fid-parallel")
    assert native.final_output == "p0=value of a, p1=value of b, p2=value of c"
    assert_same_result(durable, native)
    assert sorted(durable_graph.log) == sorted(native_graph.log) == ["a", "b", "c"]
    assert durable_graph.requests() == native_graph.requests()


# ---------------------------------------------------------------------------- handoffs


def handoff_graph(prefix: str = "fid_handoff") -> Graph:
    """triage -> billing (one tool call) -> refunds, handed off inside one run."""

    @function_tool
    def lookup_invoice(number: str) -> str:
        """Find an invoice."""
        return f"invoice {number}: 40 EUR, paid twice"

    refunds_model = ScriptedModel(lambda items: [message("Refund of 40 EUR issued.")])
    refunds = Agent(name=f"{prefix}_refunds", instructions="Issue refunds.", model=refunds_model)
    to_refunds = Handoff.default_tool_name(refunds)

    def billing_rule(items: list[Any]) -> list[Any]:
        if not any(o["call_id"] == "b1" for o in outputs(items)):
            return [tool_call("lookup_invoice", {"number": "F-7"}, "b1")]
        return [tool_call(to_refunds, {}, "b2")]

    billing_model = ScriptedModel(billing_rule)
    billing = Agent(name=f"{prefix}_billing", instructions="Check invoices.", tools=[lookup_invoice],
                    handoffs=[refunds], model=billing_model)
    to_billing = Handoff.default_tool_name(billing)
    triage_model = ScriptedModel(lambda items: [tool_call(to_billing, {}, "h1")])
    triage = Agent(name=f"{prefix}_triage", instructions="Route the customer.", handoffs=[billing],
                   model=triage_model)
    return Graph(triage, [triage_model, billing_model, refunds_model])


async def test_handoff_chain() -> None:
    native, durable, native_graph, durable_graph = await run_both(handoff_graph, "I paid twice", "fid-handoff")
    assert native.last_agent.name == "fid_handoff_refunds"
    assert [m.calls for m in native_graph.models] == [1, 2, 1]
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()


@pytest.mark.parametrize(("prefix", "build"), [("fid_rebuilt_tools", tools_graph),
                                               ("fid_rebuilt_handoff", handoff_graph)], ids=["tools", "handoffs"])
async def test_result_rebuilt_from_history(prefix: str, build: Callable[[str], Graph]) -> None:
    """A second call with a finished run's id rebuilds the result from history, without model calls."""
    native_graph, durable_graph = build(prefix), build(prefix)
    run_id = prefix.replace("_", "-")
    native = await NativeRunner.run(native_graph.agent, "rebuild me")
    await Runner.run(durable_graph.agent, "rebuild me", run_id=run_id)
    calls = [model.calls for model in durable_graph.models]
    rebuilt = await Runner.run(durable_graph.agent, "rebuild me", run_id=run_id)
    assert [model.calls for model in durable_graph.models] == calls
    assert_same_result(rebuilt, native)


# ---------------------------------------------------------------------------- agent as tool


def agent_tool_graph() -> Graph:
    """An orchestrator calling a translator agent through ``as_tool``."""
    translator_model = ScriptedModel(lambda items: [message("bonjour le monde")])
    translator = Agent(name="fid_as_tool_translator", instructions="Translate to French.", model=translator_model)

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("translate_to_french", {"input": "hello world"}, "x1")]
        return [message(f"In French: {done[0]['output']}")]

    model = ScriptedModel(rule)
    agent = Agent(name="fid_as_tool_orchestrator", instructions="Delegate translations.", model=model,
                  tools=[translator.as_tool("translate_to_french", "Translate text to French.")])
    return Graph(agent, [model, translator_model])


async def test_agent_as_tool() -> None:
    native, durable, native_graph, durable_graph = await run_both(agent_tool_graph, "say hello world", "fid-as-tool")
    assert native.final_output == "In French: bonjour le monde"
    assert [m.calls for m in native_graph.models] == [2, 1]
    assert_same_result(durable, native)
    assert [m.calls for m in durable_graph.models] == [2, 1]
    assert durable_graph.requests() == native_graph.requests()


# ---------------------------------------------------------------------------- guardrails


@input_guardrail
def no_passwords(ctx: RunContextWrapper[Any], agent: Agent[Any], input: Any) -> GuardrailFunctionOutput:
    """Trip on any input mentioning a password."""
    text = input if isinstance(input, str) else str(input)
    return GuardrailFunctionOutput(output_info={"mentions_password": "password" in text},
                                   tripwire_triggered="password" in text)


@output_guardrail
def no_card_numbers(ctx: RunContextWrapper[Any], agent: Agent[Any], output: Any) -> GuardrailFunctionOutput:
    """Trip on an answer that contains a card number."""
    leaked = "4111" in str(output)
    return GuardrailFunctionOutput(output_info={"leaked": leaked, "length": len(str(output))},
                                   tripwire_triggered=leaked)


def guarded_graph(name: str, answer: str) -> Callable[[], Graph]:
    def build() -> Graph:
        model = ScriptedModel(lambda items: [message(answer)])
        agent = Agent(name=name, instructions="Answer.", model=model, input_guardrails=[no_passwords],
                      output_guardrails=[no_card_numbers])
        return Graph(agent, [model])

    return build


async def test_guardrails_that_pass() -> None:
    build = guarded_graph("fid_guard_pass", "Your order ships Monday.")
    native, durable, native_graph, durable_graph = await run_both(build, "when does it ship?", "fid-guard-pass")
    assert guardrail_views(native)["input"] == [["no_passwords", False, {"mentions_password": False}]]
    assert guardrail_views(native)["output"][0][3] is False
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()


async def test_input_guardrail_tripwire() -> None:
    build = guarded_graph("fid_guard_input", "Here you go.")
    native_graph, durable_graph = build(), build()
    native = await raised(NativeRunner.run(native_graph.agent, "my password is hunter2"))
    durable = await raised(Runner.run(durable_graph.agent, "my password is hunter2", run_id="fid-guard-input"))
    assert isinstance(native, InputGuardrailTripwireTriggered)
    assert type(durable) is type(native)
    assert isinstance(durable, InputGuardrailTripwireTriggered)
    for exc in (native, durable):
        assert exc.guardrail_result.output.tripwire_triggered
    assert durable.guardrail_result.guardrail.get_name() == native.guardrail_result.guardrail.get_name()
    assert durable.guardrail_result.output.output_info == native.guardrail_result.output.output_info
    assert run_data_view(durable) == run_data_view(native)
    assert durable_graph.requests() == native_graph.requests()


async def test_output_guardrail_tripwire() -> None:
    build = guarded_graph("fid_guard_output", "Card on file: 4111 1111 1111 1111")
    native_graph, durable_graph = build(), build()
    native = await raised(NativeRunner.run(native_graph.agent, "which card do I use?"))
    durable = await raised(Runner.run(durable_graph.agent, "which card do I use?", run_id="fid-guard-output"))
    assert isinstance(native, OutputGuardrailTripwireTriggered)
    assert type(durable) is type(native)
    assert isinstance(durable, OutputGuardrailTripwireTriggered)
    got, want = durable.guardrail_result, native.guardrail_result
    assert want.output.tripwire_triggered and got.output.tripwire_triggered
    assert got.guardrail.get_name() == want.guardrail.get_name()
    assert got.output.output_info == want.output.output_info
    assert got.agent_output == want.agent_output
    assert got.agent.name == want.agent.name
    assert run_data_view(durable) == run_data_view(native)
    assert durable_graph.requests() == native_graph.requests()


# ---------------------------------------------------------------------------- structured output


class TripPlan(BaseModel):
    """A structured final output (pydantic)."""

    city: str
    days: int
    sights: list[str]


@dataclass
class Booking:
    """A structured final output (dataclass)."""

    hotel: str
    nights: int
    confirmed: bool


PLAN_JSON = '{"city": "Lisbon", "days": 3, "sights": ["Belem", "Alfama"]}'
BOOKING_JSON = '{"response": {"hotel": "Tivoli", "nights": 2, "confirmed": true}}'
"""The SDK wraps a dataclass output type's schema in a ``response`` object."""


@pytest.mark.parametrize(
    ("name", "output_type", "answer", "expected"),
    [
        ("pydantic", TripPlan, PLAN_JSON, TripPlan(city="Lisbon", days=3, sights=["Belem", "Alfama"])),
        ("dataclass", Booking, BOOKING_JSON, Booking("Tivoli", 2, True)),
    ],
    ids=["pydantic", "dataclass"],
)
async def test_structured_output(name: str, output_type: type, answer: str, expected: Any) -> None:
    def build() -> Graph:
        model = ScriptedModel(lambda items: [message(answer)])
        agent = Agent(name=f"fid_structured_{name}", instructions="Plan.", output_type=output_type, model=model)
        return Graph(agent, [model])

    native, durable, native_graph, durable_graph = await run_both(build, "plan it", f"fid-structured-{name}")
    assert native.final_output == expected
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()
    assert native_graph.requests()[0][0]["output_schema"]["plain_text"] is False


# ---------------------------------------------------------------------------- max turns


def endless_graph() -> Graph:
    """A model that calls its tool on every turn and never answers."""

    @function_tool
    def poll() -> str:
        """Poll the queue."""
        return "still waiting"

    model = ScriptedModel(lambda items: [tool_call("poll", {}, f"q{len(outputs(items))}")])
    agent = Agent(name="fid_max_turns", instructions="Poll until done.", tools=[poll], model=model)
    return Graph(agent, [model])


async def test_max_turns_exceeded() -> None:
    native_graph, durable_graph = endless_graph(), endless_graph()
    native = await raised(NativeRunner.run(native_graph.agent, "wait for it", max_turns=3))
    durable = await raised(Runner.run(durable_graph.agent, "wait for it", max_turns=3, run_id="fid-max-turns"))
    assert isinstance(native, MaxTurnsExceeded)
    assert type(durable) is type(native)
    assert isinstance(durable, MaxTurnsExceeded)
    assert str(durable) == str(native)
    assert run_data_view(durable) == run_data_view(native)
    assert durable_graph.models[0].calls == native_graph.models[0].calls == 3


# ---------------------------------------------------------------------------- run context


@dataclass
class Traveller:
    """The app's run context: tools and instructions read it."""

    name: str
    home: str
    visited: list[str] = field(default_factory=list)


def context_graph() -> Graph:
    """Instructions and a tool that read the run context; the tool records into it."""

    @function_tool
    def distance_home(ctx: RunContextWrapper[Traveller], city: str) -> str:
        """Distance from a city to the traveller's home."""
        ctx.context.visited.append(city)
        return f"{ctx.context.name} is 1200 km from {ctx.context.home} in {city}"

    def instructions(ctx: RunContextWrapper[Traveller], agent: Agent[Traveller]) -> str:
        return f"You help {ctx.context.name}, who lives in {ctx.context.home}."

    def rule(items: list[Any]) -> list[Any]:
        done = outputs(items)
        if not done:
            return [tool_call("distance_home", {"city": "Madrid"}, "d1")]
        return [message(done[0]["output"])]

    model = ScriptedModel(rule)
    agent = Agent[Traveller](name="fid_context", instructions=instructions, tools=[distance_home], model=model)
    return Graph(agent, [model])


async def test_run_context_reaches_tools() -> None:
    native_graph, durable_graph = context_graph(), context_graph()
    native_context, durable_context = Traveller("Ana", "Porto"), Traveller("Ana", "Porto")
    native = await NativeRunner.run(native_graph.agent, "how far?", context=native_context)
    durable = await Runner.run(durable_graph.agent, "how far?", context=durable_context, run_id="fid-context")
    assert native.final_output == "Ana is 1200 km from Porto in Madrid"
    assert_same_result(durable, native)
    assert durable_context == native_context == Traveller("Ana", "Porto", ["Madrid"])
    assert durable.context_wrapper.context is durable_context
    assert durable_graph.requests() == native_graph.requests()


# ---------------------------------------------------------------------------- hooks


RUN_CALLBACKS = ("on_agent_start", "on_agent_end", "on_llm_start", "on_llm_end", "on_tool_start", "on_tool_end",
                 "on_handoff")
AGENT_CALLBACKS = ("on_start", "on_end", "on_llm_start", "on_llm_end", "on_tool_start", "on_tool_end", "on_handoff")


def counting_hooks(base: type[Any], callbacks: tuple[str, ...]) -> Any:
    """An instance of ``base`` (RunHooks or AgentHooks) whose ``callbacks`` count their calls in ``.counts``."""

    def counter(name: str) -> Callable[..., Awaitable[None]]:
        async def count(self: Any, *args: Any, **kwargs: Any) -> None:
            self.counts[name] += 1

        return count

    methods = {name: counter(name) for name in callbacks}
    hooks = types.new_class(f"Counting{base.__name__}", (base,), {}, lambda ns: ns.update(methods))()
    hooks.counts = Counter()
    return hooks


def hooks_graph() -> tuple[Graph, Any]:
    """A front desk handing off (with an ``on_handoff`` callback) to a concierge that calls a tool
    on two turns; the concierge has agent hooks."""
    agent_hooks = counting_hooks(AgentHooks, AGENT_CALLBACKS)
    log: list[str] = []

    @function_tool
    def book_table(time: str) -> str:
        """Book a table."""
        return f"table at {time}"

    def concierge_rule(items: list[Any]) -> list[Any]:
        done = [o for o in outputs(items) if o["call_id"].startswith("k")]
        if len(done) < 2:
            return [tool_call("book_table", {"time": f"{19 + len(done)}:00"}, f"k{len(done)}")]
        return [message("Booked 19:00 and 20:00.")]

    concierge_model = ScriptedModel(concierge_rule)
    concierge = Agent(name="fid_hooks_concierge", instructions="Book tables.", tools=[book_table],
                      model=concierge_model, hooks=agent_hooks)
    to_concierge = handoff(concierge, on_handoff=lambda ctx: log.append("on_handoff callback"))
    desk_model = ScriptedModel(lambda items: [tool_call(to_concierge.tool_name, {}, "h1")])
    desk = Agent(name="fid_hooks_desk", instructions="Route guests.", handoffs=[to_concierge], model=desk_model)
    return Graph(desk, [desk_model, concierge_model], log), agent_hooks


@pytest.mark.parametrize("replay", ["warm", "cold"])
async def test_hooks_fire_as_often_as_in_a_native_run(replay: str, request: pytest.FixtureRequest) -> None:
    if replay == "cold":
        request.getfixturevalue("cold_replay")  # every work item replays the finished steps
    (native_graph, native_agent_hooks), (durable_graph, durable_agent_hooks) = hooks_graph(), hooks_graph()
    native_hooks, durable_hooks = counting_hooks(RunHooks, RUN_CALLBACKS), counting_hooks(RunHooks, RUN_CALLBACKS)
    native = await NativeRunner.run(native_graph.agent, "two tables", hooks=native_hooks)
    durable = await Runner.run(durable_graph.agent, "two tables", hooks=durable_hooks, run_id=f"fid-hooks-{replay}")
    assert native_hooks.counts == Counter(on_agent_start=2, on_agent_end=1, on_llm_start=4, on_llm_end=4,
                                          on_tool_start=2, on_tool_end=2, on_handoff=1)
    assert native_graph.log == ["on_handoff callback"]
    assert_same_result(durable, native)
    assert dict(durable_hooks.counts) == dict(native_hooks.counts)
    assert dict(durable_agent_hooks.counts) == dict(native_agent_hooks.counts)
    if replay == "warm":
        assert durable_graph.log == native_graph.log  # handoff callbacks are not replay-aware yet

    again = await Runner.run(durable_graph.agent, "two tables", hooks=durable_hooks, run_id=f"fid-hooks-{replay}")
    assert_same_result(again, native)
    assert dict(durable_hooks.counts) == dict(native_hooks.counts), "rebuilding the result fired hooks again"


def agent_guarded_graph(runner: Any = NativeRunner, name: str = "fid_guard_agent", unsafe: str = "drop table") -> Graph:
    """An input guardrail that runs a checker agent with ``runner`` (the SDK's or the durable one),
    as the SDK's documentation shows; the checker calls input containing ``unsafe`` unsafe."""
    checker_model = ScriptedModel(lambda items: [message("unsafe" if unsafe in str(items) else "safe")])
    checker = Agent(name=f"{name}_checker", instructions="Reply safe or unsafe.", model=checker_model)

    @input_guardrail
    async def checked_by_agent(ctx: RunContextWrapper[Any], agent: Agent[Any], input: Any) -> GuardrailFunctionOutput:
        verdict = await runner.run(checker, input, context=ctx.context)
        return GuardrailFunctionOutput(output_info=verdict.final_output,
                                       tripwire_triggered=verdict.final_output == "unsafe")

    model = ScriptedModel(lambda items: [message("Done.")])
    agent = Agent(name=name, instructions="Answer.", model=model, input_guardrails=[checked_by_agent])
    return Graph(agent, [model, checker_model])


async def test_guardrail_running_an_agent_makes_its_model_calls_activities_too() -> None:
    native, durable, native_graph, durable_graph = await run_both(agent_guarded_graph, "hello", "fid-guard-agent")
    assert guardrail_views(native)["input"][0][1:] == [False, "safe"]
    assert_same_result(durable, native)
    assert durable_graph.requests() == native_graph.requests()
    scheduled = [e.name for e in get_runtime().history("fid-guard-agent")
                 if e.event_type == WorkflowHistoryEventType.TASK_SCHEDULED]
    assert scheduled.count("openai_agents.model") == 2


async def test_guardrail_agent_tripwire_raises_like_the_native_run() -> None:
    native = await raised(NativeRunner.run(agent_guarded_graph().agent, "drop table users"))
    durable = await raised(Runner.run(agent_guarded_graph().agent, "drop table users", run_id="fid-guard-agent-trip"))
    assert isinstance(native, InputGuardrailTripwireTriggered)
    assert type(durable) is type(native)
    assert durable.guardrail_result.output.output_info == native.guardrail_result.output.output_info == "unsafe"
