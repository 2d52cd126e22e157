"""An agent whose code changes between runs of the app: instructions, or a tool added or removed.

Usage: python changed_agent_app.py VARIANT RUN_ID [--approve]
VARIANT: original, instructions, tool-added, tool-removed. The run asks for approval of a
refund; the app prints one JSON line (the run's state, or the error it got).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from agents import Agent, function_tool
from scripted import ScriptedModel, message, outputs, tool_call

from dapr_agents_durable.adapters.openai_agents import Runner

variant, run_id = sys.argv[1:3]


@function_tool(needs_approval=True)
def refund(amount: int) -> str:
    """Refund an amount."""
    with open(os.environ["REFUND_LOG"], "a") as log:
        log.write(f"{amount}\n")
    return f"refunded {amount}"


@function_tool
def note(text: str) -> str:
    """Write a note."""
    return "noted"


def rule(items):
    done = outputs(items)
    return [message(f"done: {done[0]['output']}")] if done else [tool_call("refund", {"amount": 5}, "c1")]


SHAPES = {
    "original": {"instructions": "Refund what is asked.", "tools": [refund]},
    "instructions": {"instructions": "Refund what is asked, politely.", "tools": [refund]},
    "tool-added": {"instructions": "Refund what is asked.", "tools": [refund, note]},
    "tool-removed": {"instructions": "Refund what is asked.", "tools": []},
}


async def main() -> dict:
    model = ScriptedModel(rule)
    agent = Agent(name="cashier", model=model, **SHAPES[variant])
    try:
        result = await Runner.run(agent, "Refund 5.", run_id=run_id)
        if result.interruptions and "--approve" in sys.argv:
            state = result.to_state()
            state.approve(result.interruptions[0])
            result = await Runner.run(agent, state, run_id=run_id)
    except Exception as exc:  # the test reads what the app got
        return {"error": type(exc).__name__, "message": str(exc), "model_calls": model.calls}
    return {"final_output": result.final_output, "pending": [i.raw_item.call_id for i in result.interruptions],
            "model_calls": model.calls}


print(json.dumps(asyncio.run(main())), flush=True)
