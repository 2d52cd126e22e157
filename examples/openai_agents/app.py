"""A durable OpenAI Agents SDK app: the SDK's own example, with one import changed.

Offline (no OPENAI_API_KEY): a scripted OpenAI-compatible model server stands in for
the LLM and the embedded engine runs in this process::

    python examples/openai_agents/app.py "What is the weather in Paris and Rome?"

Against a real model, with a Dapr sidecar (the runtime finds it via DAPR_GRPC_PORT)::

    export OPENAI_API_KEY=sk-...
    dapr run --app-id weather-agent --resources-path ./components -- \
        python examples/openai_agents/app.py "What is the weather in Paris?" --run-id trip-1

Run it again with the same --run-id after killing it: the run resumes where it was, and
a finished run answers from its stored result without calling the model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
from collections.abc import Iterator

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner  # was: from agents import Runner
from dapr_agents_durable.runtime import serve


@function_tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    return f"sunny and 22 C in {city}"


@contextlib.contextmanager
def offline_model() -> Iterator[OpenAIChatCompletionsModel]:
    """A scripted model server: weather for every city asked about, then a summary."""
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, text, tool_call, tool_calls

    def answer(request: RecordedRequest):
        if not request.tool_outputs:
            question = str(request.body.get("messages", [{}])[-1].get("content", ""))
            cities = [c for c in ("Paris", "Rome", "Oslo", "Tokyo") if c in question] or ["Paris"]
            return tool_calls(*(tool_call("get_weather", {"city": c}) for c in cities))
        return text("; ".join(request.tool_outputs) + ".")

    with ScriptedModelServer(rule=answer) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-offline-example", max_retries=0)
        yield OpenAIChatCompletionsModel(model="scripted", openai_client=client)


def main() -> None:
    parser = argparse.ArgumentParser(description="a durable weather agent")
    parser.add_argument("question", nargs="?", default="What is the weather in Paris and Rome?")
    parser.add_argument("--run-id", default=None, help="durable run id (default: a new run)")
    parser.add_argument("--serve", action="store_true",
                        help="then keep serving durable runs until SIGTERM, as a replica under a Dapr sidecar does")
    args = parser.parse_args()
    run_id = args.run_id or f"weather-{uuid.uuid4().hex[:8]}"

    with contextlib.ExitStack() as stack:
        model = "gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else stack.enter_context(offline_model())
        agent = Agent(name="weather", instructions="Answer with the weather tool.", tools=[get_weather], model=model)
        result = Runner.run_sync(agent, args.question, run_id=run_id)
        print(f"run {run_id}: {result.final_output}", flush=True)
        if args.serve:
            serve()


if __name__ == "__main__":
    main()
