"""A durable PydanticAI app: a weather agent, wrapped in ``DaprAgent`` and otherwise unchanged.

Offline (no OPENAI_API_KEY): a scripted OpenAI-compatible model server stands in for the
LLM, reached through PydanticAI's own OpenAI provider, and the embedded engine runs in
this process::

    python examples/pydantic_ai/app.py --run-id weather-1

Against a real model, with a Dapr sidecar (the runtime finds it via DAPR_GRPC_PORT)::

    export OPENAI_API_KEY=sk-...
    dapr run --app-id pydantic-weather --resources-path ./components -- \
        python examples/pydantic_ai/app.py --run-id weather-1

Each model request and tool call is a workflow activity. Kill the app and run it again with
the same --run-id: the run resumes where it was; a finished run answers from its stored
result without calling the model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections.abc import Iterator

from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent
from dapr_agents_durable.runtime import serve

CITIES = ("Paris", "Rome", "Oslo", "Tokyo")


@contextlib.contextmanager
def offline_model() -> Iterator[Model]:
    """A scripted model server: weather for every city asked about, then a summary."""
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, Step, text, tool_call, tool_calls

    def answer(request: RecordedRequest) -> Step:
        if not request.tool_outputs:
            question = str(request.body.get("messages", [{}])[-1].get("content", ""))
            cities = [c for c in CITIES if c in question] or ["Paris"]
            return tool_calls(*(tool_call("get_weather", {"city": c}) for c in cities))
        return text("; ".join(request.tool_outputs) + ".")

    with ScriptedModelServer(rule=answer) as server:
        yield OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=server.base_url, api_key="sk-offline"))
        print(f"(offline: the scripted model server answered {server.request_count} requests)", file=sys.stderr)


def build_agent(model: Model | str) -> Agent[None, str]:
    agent = Agent(model, name="weather", instructions="Answer with the weather tool, one call per city.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        return f"sunny and 22 C in {city}"

    return agent


def main() -> None:
    parser = argparse.ArgumentParser(description="a durable PydanticAI weather agent")
    parser.add_argument("question", nargs="?", default="What is the weather in Paris and Rome?")
    parser.add_argument("--run-id", default=None, help="durable run id (default: a new run)")
    parser.add_argument("--serve", action="store_true",
                        help="then keep serving durable runs until SIGTERM, as a replica under a Dapr sidecar does")
    args = parser.parse_args()
    run_id = args.run_id or f"weather-{uuid.uuid4().hex[:8]}"

    with contextlib.ExitStack() as stack:
        model = "openai:gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else stack.enter_context(offline_model())
        weather = DaprAgent(build_agent(model))  # was: build_agent(model)
        result = weather.run_sync(args.question, run_id=run_id)
        print(f"run {run_id}: {result.output} ({result.usage.requests} LLM requests)", flush=True)
        if args.serve:
            serve()


if __name__ == "__main__":
    main()
