"""Waits of PydanticAI's own agent graph are durable timers in a durable run.

A model that suspends a response (OpenAI background mode, a batch job) asks the graph to
wait ``continuation_delay`` seconds before it continues the response. Natively the graph
sleeps; in a durable run that wait is a workflow timer between the two model activities,
recorded in the run's history like them (a replay finds it fired instead of waiting again).
"""

from __future__ import annotations

from collections import Counter

from compare import same_run
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent
from dapr_agents_durable.adapters.pydantic_ai.names import MODEL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime

calls: Counter[str] = Counter()
DELAY = 1.5


class BackgroundModel(FunctionModel):
    """A scripted model whose suspended responses are continued after ``DELAY`` seconds."""

    def continuation_delay(self, response: ModelResponse) -> float | None:
        return DELAY if response.state == "suspended" else None


def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    calls["model"] += 1
    last = messages[-1]
    if isinstance(last, ModelResponse) and last.state == "suspended":
        return ModelResponse(parts=[TextPart("report ready")], provider_response_id="job-1")
    return ModelResponse(parts=[TextPart("working")], state="suspended", provider_response_id="job-1")


def test_the_wait_before_continuing_a_suspended_response_is_a_workflow_timer() -> None:
    agent = Agent(BackgroundModel(answer, model_name="background"), name="background")
    native = agent.run_sync("Write the report.")
    assert calls["model"] == 2

    durable = DaprAgent(agent).run_sync("Write the report.", run_id="sleep-1")
    same_run(native, durable)
    assert durable.output == "report ready" and calls["model"] == 4

    events = get_runtime().raw_history("sleep-1")
    kinds = [e.WhichOneof("eventType") for e in events]
    steps = [k for k in kinds if k in ("taskScheduled", "timerCreated", "timerFired")]
    assert steps == ["taskScheduled", "timerCreated", "timerFired", "taskScheduled"]
    assert all(e.taskScheduled.name == MODEL_ACTIVITY for e in events if e.HasField("taskScheduled"))
    [created] = [e for e in events if e.HasField("timerCreated")]
    [started] = [e for e in events if e.HasField("executionStarted")]
    waited = created.timerCreated.fireAt.ToDatetime() - created.timestamp.ToDatetime()
    assert abs(waited.total_seconds() - DELAY) < 0.5, waited  # on workflow time: the delay the model asked for
    assert started.executionStarted.name == "pydantic_ai.run"

    again = DaprAgent(agent).run_sync("Write the report.", run_id="sleep-1")  # finished: from history, no model call
    same_run(durable, again)
    assert calls["model"] == 4
