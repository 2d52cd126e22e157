"""History size of a long OpenAI Agents run: model requests stored as deltas vs in full.

Runs an N-turn tool loop (one tool call per turn, tiny messages, scripted in-process
model) through the durable ``Runner`` on the embedded engine, then reads the run's
history and prints its size against the conversation's own size (the final input
list as JSON). The "in full" figure is what the same history would hold if every
model request carried the whole conversation (each delta expanded), as it would
without delta encoding.

Needs the openai-agents extra::

    python benchmarks/history_bench.py --turns 100                      # tiny messages
    python benchmarks/history_bench.py --turns 100 --note-sentences 4   # ~350-byte tool outputs
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from agents import Agent, Usage, function_tool
from agents.items import ModelResponse
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.deltas import apply


class LoopModel(Model):
    """Calls the tool until ``turns`` results are in, then answers."""

    def __init__(self, turns: int) -> None:
        self.turns = turns

    async def get_response(self, system_instructions, input, *args, **kwargs) -> ModelResponse:
        done = sum(1 for i in input if isinstance(i, dict) and i.get("type") == "function_call_output")
        if done < self.turns:
            item = ResponseFunctionToolCall(type="function_call", name="note", arguments=json.dumps({"n": done}),
                                            call_id=f"c{done}", id=f"fc{done}", status="completed")
        else:
            item = ResponseOutputMessage(type="message", id="m", role="assistant", status="completed",
                                         content=[ResponseOutputText(type="output_text", text="done", annotations=[])])
        return ModelResponse(output=[item], usage=Usage(requests=1), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


FINDING = "The runtime checkpoints every step to its state store before acknowledging it. "


@function_tool
def note(n: int) -> str:
    """Note step n."""
    return f"noted {n}: " + FINDING * NOTE_REPEAT


NOTE_REPEAT = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--note-sentences", type=int, default=0,
                        help="sentences in each tool output (0: tiny messages, the worst case)")
    args = parser.parse_args()
    global NOTE_REPEAT
    NOTE_REPEAT = args.note_sentences
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(tempfile.mkdtemp(), "engine.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    agent = Agent(name="noter", instructions="Note every step.", tools=[note], model=LoopModel(args.turns))
    result = Runner.run_sync(agent, "Note the steps.", run_id="history-bench", max_turns=args.turns + 5)
    conversation = len(json.dumps(result.to_input_list()).encode())

    events = get_runtime().raw_history("history-bench")
    stored = sum(event.ByteSize() for event in events)
    payloads = [json.loads(e.taskScheduled.input.value) for e in events
                if e.HasField("taskScheduled") and e.taskScheduled.name == MODEL_ACTIVITY]
    delta_bytes = sum(len(json.dumps(p).encode()) for p in payloads)
    full, full_bytes = None, 0
    for payload in payloads:
        full = apply(full, payload)
        full_bytes += len(json.dumps(full).encode())
    in_full = stored - delta_bytes + full_bytes
    print(f"{args.turns} turns, {args.note_sentences} sentences per tool output, {len(events)} history events; "
          f"conversation {conversation / 1024:.1f} KiB")
    print(f"history with deltas: {stored / 1024:.1f} KiB = {stored / conversation:.2f}x the conversation")
    print(f"history in full:     {in_full / 1024:.1f} KiB = {in_full / conversation:.2f}x the conversation "
          f"({in_full / stored:.1f}x the delta history)")
    get_runtime().stop()


if __name__ == "__main__":
    main()
