"""History size of a long OpenAI Agents run: model requests stored as deltas vs in full.

Runs an N-turn tool loop (one tool call per turn, tiny messages, scripted in-process
model) through the durable ``Runner`` on the embedded engine, then reads the run's
history and prints its size against the conversation's own size (the final input
list as JSON). The "in full" figure is what the same history would hold if every
model request carried the whole conversation (each delta expanded, references
included), as it would without delta encoding. The breakdown splits the history into
the activities' payloads and the rest (the protocol's per-event envelope).

Needs the openai-agents extra::

    python benchmarks/history_bench.py --turns 100                      # tiny messages
    python benchmarks/history_bench.py --turns 100 --note-sentences 4   # ~350-byte tool outputs
    python benchmarks/history_bench.py --turns 100 --token-usage        # with token counts
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from agents import Agent, Usage, function_tool
from agents.items import ModelResponse
from agents.usage import InputTokensDetails
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY, TOOL_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.refs import recorded_run
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.deltas import DeltaCache


class LoopModel(Model):
    """Calls the tool until ``turns`` results are in, then answers.

    Reports one request and no tokens, unless ``token_usage``: then token counts like a
    provider's (input tokens from the input's size, most of them cached, a few output tokens).
    """

    def __init__(self, turns: int, token_usage: bool = False) -> None:
        self.turns = turns
        self.token_usage = token_usage

    async def get_response(self, system_instructions, input, *args, **kwargs) -> ModelResponse:
        done = sum(1 for i in input if isinstance(i, dict) and i.get("type") == "function_call_output")
        if done < self.turns:
            item = ResponseFunctionToolCall(type="function_call", name="note", arguments=json.dumps({"n": done}),
                                            call_id=f"c{done}", id=f"fc{done}", status="completed")
        else:
            item = ResponseOutputMessage(type="message", id="m", role="assistant", status="completed",
                                         content=[ResponseOutputText(type="output_text", text="done", annotations=[])])
        return ModelResponse(output=[item], usage=self._usage(input), response_id=None)

    def _usage(self, input: list) -> Usage:
        if not self.token_usage:
            return Usage(requests=1)
        tokens = 250 + len(json.dumps(input)) // 4
        return Usage(requests=1, input_tokens=tokens, output_tokens=19, total_tokens=tokens + 19,
                     input_tokens_details=InputTokensDetails(cached_tokens=tokens // 128 * 128, cache_write_tokens=0))

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
    parser.add_argument("--token-usage", action="store_true",
                        help="the scripted model reports token counts like a provider (default: none)")
    args = parser.parse_args()
    global NOTE_REPEAT
    NOTE_REPEAT = args.note_sentences
    os.environ["DAPR_AGENTS_DURABLE_DB"] = os.path.join(tempfile.mkdtemp(), "engine.db")
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    model = LoopModel(args.turns, args.token_usage)
    agent = Agent(name="noter", instructions="Note every step.", tools=[note], model=model)
    result = Runner.run_sync(agent, "Note the steps.", run_id="history-bench", max_turns=args.turns + 5)
    conversation = len(json.dumps(result.to_input_list()).encode())

    events = get_runtime().raw_history("history-bench")
    stored = sum(event.ByteSize() for event in events)
    payloads = [json.loads(e.taskScheduled.input.value) for e in events
                if e.HasField("taskScheduled") and e.taskScheduled.name == MODEL_ACTIVITY]
    delta_bytes = sum(len(json.dumps(p).encode()) for p in payloads)
    expanded = DeltaCache()  # no results remembered: references resolve from the history
    full_bytes = sum(len(json.dumps(expanded.expand("history-bench", p, lambda: recorded_run("history-bench")))
                         .encode()) for p in payloads)
    in_full = stored - delta_bytes + full_bytes
    parts = _payload_bytes(events)
    envelope = stored - sum(parts.values())
    usage = ", token counts" if args.token_usage else ""
    print(f"{args.turns} turns, {args.note_sentences} sentences per tool output{usage}, {len(events)} history events; "
          f"conversation {conversation / 1024:.1f} KiB")
    print(f"history with deltas: {stored / 1024:.1f} KiB = {stored / conversation:.2f}x the conversation")
    print(f"history in full:     {in_full / 1024:.1f} KiB = {in_full / conversation:.2f}x the conversation "
          f"({in_full / stored:.1f}x the delta history)")
    print("history bytes per turn: " + ", ".join(f"{name} {size / args.turns:.0f}" for name, size in parts.items())
          + f", envelope {envelope / args.turns:.0f}; conversation {conversation / args.turns:.0f}")
    get_runtime().stop()


def _payload_bytes(events: list) -> dict[str, int]:
    """Bytes of the model and tool activities' inputs and results in ``events``."""
    names = {e.eventId: e.taskScheduled.name for e in events if e.HasField("taskScheduled")}
    parts = {"model requests": 0, "model results": 0, "tool requests": 0, "tool results": 0}
    kinds = {MODEL_ACTIVITY: "model", TOOL_ACTIVITY: "tool"}
    for e in events:
        if e.HasField("taskScheduled") and e.taskScheduled.name in kinds:
            parts[f"{kinds[e.taskScheduled.name]} requests"] += len(e.taskScheduled.input.value.encode())
        elif e.HasField("taskCompleted") and names.get(e.taskCompleted.taskScheduledId) in kinds:
            kind = kinds[names[e.taskCompleted.taskScheduledId]]
            parts[f"{kind} results"] += len(e.taskCompleted.result.value.encode())
    return parts


if __name__ == "__main__":
    main()
