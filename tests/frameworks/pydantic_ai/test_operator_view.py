"""``runs show`` / ``runs list`` of a real durable run: the timeline read from the run's history.

The agent uses PydanticAI's own OpenAI chat model over HTTP against the scripted server; its
tool asks the model to retry once, then answers.
"""

from __future__ import annotations

import pytest
from pydantic_ai import Agent, ModelRetry, models
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent
from dapr_agents_durable.operator.summary import Timeline, summarize, timeline
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import ScriptedModelServer, text, tool_call
from dapr_agents_durable.testing.spans import captured_spans


def _view(run_id: str) -> Timeline | None:
    runtime = get_runtime()
    state = runtime.state(run_id)
    return None if state is None else timeline(state, runtime.raw_history(run_id), _view)


def test_timeline_and_spans_name_the_model_its_tokens_and_the_tool_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)
    spans = captured_spans()
    spans.clear()
    script = [tool_call("get_weather", {"city": "Atlantis"}), tool_call("get_weather", {"city": "Paris"}),
              text("Sunny in Paris.")]
    with ScriptedModelServer(script) as server:
        model = OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=server.base_url, api_key="sk-test"))
        agent = Agent(model, name="forecaster", instructions="Answer.")

        @agent.tool_plain
        def get_weather(city: str) -> str:
            """Return the weather for a city."""
            if city == "Atlantis":
                raise ModelRetry("no such city")
            return f"sunny in {city}"

        result = DaprAgent(agent).run_sync("Weather in Paris?", run_id="view-pydantic")
    assert result.output == "Sunny in Paris."

    view = _view("view-pydantic")
    assert view is not None and view.summary.agent == "forecaster"
    assert [s.name for s in view.steps] == ["pydantic_ai.model", "pydantic_ai.tool", "pydantic_ai.model",
                                            "pydantic_ai.tool", "pydantic_ai.model"]
    responses = [m for m in result.all_messages() if m.kind == "response"]
    assert responses[0].usage.input_tokens > 0 and responses[0].usage.output_tokens > 0
    assert [s.detail for s in view.steps if s.name == "pydantic_ai.model"] == [
        f"scripted {r.usage.input_tokens} in / {r.usage.output_tokens} out tokens" for r in responses]
    assert view.steps[1].detail == 'get_weather {"city": "Atlantis"} -> retry: no such city'
    assert view.steps[3].detail == 'get_weather {"city": "Paris"} -> sunny in Paris'

    listed = summarize(get_runtime().state("view-pydantic"), get_runtime().raw_history("view-pydantic"))
    assert (listed.framework, listed.agent, listed.steps) == ("pydantic_ai", "forecaster", 5)
    assert view.to_json()["timeline"][3]["detail"] == view.steps[3].detail  # --json carries the detail
    assert spans.models() == [("scripted", r.usage.input_tokens, r.usage.output_tokens) for r in responses]
    assert spans.tools() == ["get_weather", "get_weather"] and len(spans.trace_ids()) == 1

