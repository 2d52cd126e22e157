"""LangGraph's own control flow in a durable graph, compared with the native run of the same graph:
``Send`` fan-out to parallel branches that call a model (sync ``invoke``, so LangGraph runs them on
its thread pool), a reducer over their results, ``Command(goto=..., update=...)`` and conditional edges."""

from __future__ import annotations

import operator
import threading
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from langgraph.graph import END, START
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.types import Command, Send

from dapr_agents_durable.adapters.langgraph import StateGraph
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.recorded import RecordedActivities


class EchoModel(GenericFakeChatModel):
    """Answers each prompt with ``forecast for <its text>``, whatever the order of the calls; counts them."""

    calls: list[str] = []

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        prompt = str(messages[-1].content)
        with _lock:
            self.calls.append(prompt)
        self.messages = iter([AIMessage(f"forecast for {prompt}")])
        return super()._generate(messages, *args, **kwargs)


_lock = threading.Lock()


class Trip(TypedDict):
    cities: list[str]
    forecasts: Annotated[list[str], operator.add]
    verdict: str


class Branch(TypedDict):
    city: str


def build(builder_type: Any, model: EchoModel) -> Any:
    def plan(state: Trip) -> Command[Literal["judge"]]:
        return Command(goto="judge", update={"cities": sorted(state["cities"])})

    def forecast(branch: Branch) -> dict[str, Any]:
        return {"forecasts": [str(model.invoke([HumanMessage(branch["city"])]).content)]}

    def judge(state: Trip) -> dict[str, Any]:
        return {"verdict": "go" if len(state["forecasts"]) == len(state["cities"]) else "wait"}

    def fan_out(state: Trip) -> list[Send] | str:
        if state["forecasts"]:
            return END
        return [Send("forecast", {"city": city}) for city in state["cities"]]

    builder = builder_type(Trip)
    builder.add_node("plan", plan)
    builder.add_node("forecast", forecast)
    builder.add_node("judge", judge)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("judge", fan_out, ["forecast", END])
    builder.add_edge("forecast", "judge")
    return builder.compile(**({} if builder_type is NativeStateGraph else {"name": "trip"}))


def test_send_fan_out_command_and_conditional_edges_match_native() -> None:
    question: Trip = {"cities": ["Rome", "Oslo", "Lima", "Nice"], "forecasts": [], "verdict": ""}
    native_model, durable_model = EchoModel(messages=iter([])), EchoModel(messages=iter([]))
    native_model.calls, durable_model.calls = [], []
    native = build(NativeStateGraph, native_model).invoke(question)
    durable = build(StateGraph, durable_model).invoke(question, {"configurable": {"thread_id": "trip-1"}})

    assert durable == native
    assert native["verdict"] == "go" and len(native["forecasts"]) == 4
    assert sorted(durable_model.calls) == sorted(native_model.calls) == ["Lima", "Nice", "Oslo", "Rome"]
    # Every model call of the parallel branches is a recorded activity: none slipped past on a pool thread.
    requests = RecordedActivities(get_runtime().raw_history("trip-1")).inputs(MODEL_ACTIVITY)
    assert len(requests) == 4

    again = build(StateGraph, durable_model).invoke(question, {"configurable": {"thread_id": "trip-1"}})
    assert again == native and len(durable_model.calls) == 4  # finished: from history
