"""A durable agent app for crash tests of nested runs, against an OpenAI-compatible server.

Usage: python nested_runs_app.py BASE_URL RUN_ID MODE
(the engine database comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY).

MODE ``agent-tool``: a desk agent asks a researcher agent through ``as_tool``; the
researcher takes two model turns (a tool call, then its answer).
MODE ``tool-runner``: a desk agent calls a function tool that runs a summariser agent
twice with the durable ``Runner``.
Every agent's instructions name it, so the model server can tell them apart.
Prints one JSON line with the final output.
"""

from __future__ import annotations

import json
import os
import sys

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner

base_url, run_id, mode = sys.argv[1:4]
client = AsyncOpenAI(base_url=base_url, api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
model = OpenAIChatCompletionsModel(model="scripted", openai_client=client)


@function_tool
def note(topic: str) -> str:
    """Take a note on a topic."""
    return f"noted {topic}"


summariser = Agent(name="summariser", instructions="You are the summariser.", model=model)


@function_tool
async def summarise(text: str) -> str:
    """Summarise a text in two parts."""
    first = await Runner.run(summariser, f"part 1 of {text}")
    second = await Runner.run(summariser, f"part 2 of {text}")
    return f"{first.final_output} / {second.final_output}"


if mode == "agent-tool":
    researcher = Agent(name="researcher", instructions="You are the researcher.", tools=[note], model=model)
    tools = [researcher.as_tool("research", "Research a topic.")]
else:
    tools = [summarise]
desk = Agent(name="desk", instructions="You are the desk.", tools=tools, model=model)
result = Runner.run_sync(desk, "Go.", run_id=run_id)
print(json.dumps({"final_output": result.final_output}), flush=True)
