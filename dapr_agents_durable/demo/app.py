"""The demo's agent app: an OpenAI Agents SDK agent made durable by one import.

Run by :mod:`dapr_agents_durable.demo.run` as its own process, which kills it
during a model call and starts it again. With no Dapr sidecar around, the
runtime starts the embedded engine in this process (database from
``DAPR_AGENTS_DURABLE_DB``), so a kill takes the engine down too; the restart
resumes the run from the database file.

Usage::

    python -m dapr_agents_durable.demo.app --model-url http://127.0.0.1:PORT/v1 --run-id demo-1 --notes notes.txt
"""

from __future__ import annotations

import argparse
import json
import os

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner  # the one changed import

STEPS = 15
"""Model calls of the run: 14 tool turns and the final answer."""


def build_agent(model_url: str, notes_path: str) -> Agent:
    @function_tool
    def save_finding(step: int, finding: str) -> str:
        """Save one finding of the survey."""
        with open(notes_path, "a") as notes:
            notes.write(json.dumps({"step": step, "finding": finding}) + "\n")
        return f"finding {step} saved"

    client = AsyncOpenAI(base_url=model_url, api_key=os.environ.get("OPENAI_API_KEY", "sk-demo"), max_retries=0)
    return Agent(
        name="researcher",
        instructions="Survey durable agent runtimes; save each finding with save_finding, then summarise.",
        tools=[save_finding],
        model=OpenAIChatCompletionsModel(model="demo-model", openai_client=client),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="the demo agent app")
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--notes", required=True)
    args = parser.parse_args()
    agent = build_agent(args.model_url, args.notes)
    result = Runner.run_sync(agent, "Survey durable agent runtimes.", run_id=args.run_id, max_turns=STEPS + 5)
    print(json.dumps({"final_output": result.final_output, "model_calls": len(result.raw_responses)}), flush=True)


if __name__ == "__main__":
    main()
