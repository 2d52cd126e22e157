"""A PydanticAI coordinator that delegates to a researcher agent, for the delegation crash test.

Usage: python delegation_app.py BASE_URL RUN_ID TOOL_LOG MODE
MODE "durable": both agents wrapped in ``DaprAgent``; the coordinator's ``ask_researcher`` tool
runs in the workflow, so the researcher's run is a ``pydantic_ai.delegate`` child workflow, with
the coordinator's deps (in-process objects, never persisted) and usage, as natively.
MODE "native": the same agents run natively. Both agents are PydanticAI ``OpenAIChatModel``s on
the scripted server (key from OPENAI_API_KEY); the engine database comes from
DAPR_AGENTS_DURABLE_DB. Prints one JSON line with the output and the run's usage.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from pydantic_ai import Agent, RunContext
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent, durable_options, idempotency_key

base_url, run_id, tool_log, mode = sys.argv[1:5]
durable = mode == "durable"


def model() -> OpenAIChatModel:
    return OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=base_url))


@dataclass
class Deps:
    tool_log: str


def log(deps: Deps, tool: str, n: int) -> None:
    with open(deps.tool_log, "a") as out:
        key = idempotency_key() if durable else None
        out.write(json.dumps({"tool": tool, "n": n, "key": key, "pid": os.getpid()}) + "\n")
        out.flush()
        os.fsync(out.fileno())


researcher = Agent(model(), name="researcher", deps_type=Deps,
                   instructions="Research: look up three facts, one per turn.")
coordinator = Agent(model(), name="coordinator", deps_type=Deps,
                    instructions="Coordinate: note, then ask the researcher.")


@researcher.tool
def lookup(ctx: RunContext[Deps], n: int) -> str:
    """Look up fact n."""
    log(ctx.deps, "lookup", n)
    return f"fact {n}"


@coordinator.tool
def note(ctx: RunContext[Deps], n: int) -> str:
    """Note step n."""
    log(ctx.deps, "note", n)
    return f"noted {n}"


research: Any = DaprAgent(researcher) if durable else researcher


@coordinator.tool(retries=0)
async def ask_researcher(ctx: RunContext[Deps], question: str) -> str:
    """Ask the researcher a question."""
    result = await research.run(question, deps=ctx.deps, usage=ctx.usage)
    return str(result.output)


if durable:
    durable_options(coordinator, tool="ask_researcher", activity=False)
    result = DaprAgent(coordinator).run_sync("Write the report.", run_id=run_id, deps=Deps(tool_log))
else:
    result = coordinator.run_sync("Write the report.", deps=Deps(tool_log))
usage = result.usage
print(json.dumps({"output": result.output, "requests": usage.requests, "tool_calls": usage.tool_calls,
                  "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}), flush=True)
