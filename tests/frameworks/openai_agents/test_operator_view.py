"""``runs show`` / ``runs list`` of a real durable run: the timeline read from the run's history.

The agent uses the SDK's own Chat Completions model over HTTP against the scripted server,
calls a function tool and an agent used as a tool (a child workflow with its own model call).
"""

from __future__ import annotations

import pytest
from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.operator.summary import Timeline, summarize, timeline
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.testing import ScriptedModelServer, text, tool_call

pytestmark = pytest.mark.anyio


@function_tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    return f"sunny in {city}"


def _view(run_id: str) -> Timeline | None:
    runtime = get_runtime()
    state = runtime.state(run_id)
    return None if state is None else timeline(state, runtime.raw_history(run_id), _view)


async def test_timeline_names_the_model_its_tokens_and_the_tool_calls() -> None:
    script = [tool_call("get_weather", {"city": "Paris"}), tool_call("to_french", {"input": "sunny in Paris"}),
              text("Il fait beau à Paris."), text("Paris: il fait beau.")]
    with ScriptedModelServer(script) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        translator = Agent(name="translator", instructions="Translate to French.",
                           model=OpenAIChatCompletionsModel(model="scripted-fr", openai_client=client))
        agent = Agent(name="forecaster", instructions="Answer.", tools=[
            get_weather, translator.as_tool(tool_name="to_french", tool_description="Translate to French.")],
            model=OpenAIChatCompletionsModel(model="scripted", openai_client=client))
        result = await Runner.run(agent, "Weather in Paris, in French?", run_id="view-openai")
    assert result.final_output == "Paris: il fait beau."

    view = _view("view-openai")
    assert view is not None and view.summary.agent == "forecaster"
    assert [(s.name, s.status) for s in view.steps] == [
        ("openai_agents.model", "completed"), ("openai_agents.tool", "completed"), ("openai_agents.model", "completed"),
        ("openai_agents.agent_tool", "completed"), ("openai_agents.model", "completed")]
    usages = [r.usage for r in result.raw_responses]
    assert usages[0].input_tokens > 0 and usages[0].output_tokens > 0
    assert [s.detail for s in view.steps if s.name == "openai_agents.model"] == [
        f"scripted {u.input_tokens} in / {u.output_tokens} out tokens" for u in usages]
    assert view.steps[1].detail == 'get_weather {"city": "Paris"} -> sunny in Paris'
    assert view.steps[3].detail == 'to_french {"input": "sunny in Paris"} -> Il fait beau à Paris.'

    child = view.steps[3].child
    assert child is not None and child.summary.agent == "to_french"
    [nested] = child.steps
    assert nested.name == "openai_agents.model" and nested.detail.startswith("scripted-fr ")
    assert nested.detail.endswith(" out tokens")

    listed = summarize(get_runtime().state("view-openai"), get_runtime().raw_history("view-openai"))
    assert (listed.framework, listed.agent, listed.steps) == ("openai_agents", "forecaster", 4)
    assert view.to_json()["timeline"][1]["detail"] == view.steps[1].detail  # --json carries the detail
