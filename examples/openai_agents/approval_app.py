"""A refund agent whose tool needs a person's approval: the durable run waits, the app can exit.

Offline (no OPENAI_API_KEY), on the embedded engine::

    python examples/openai_agents/approval_app.py --run-id refund-7
    # run refund-7 waits for approval of issue_refund {"order":7,"amount":120} (call call_...)
    python examples/openai_agents/approval_app.py --run-id refund-7 --approve
    # run refund-7: Refunded 120 for order 7.

Decisions can also come from any other process, by run id and call id::

    dapr-agents-durable approvals list refund-7
    dapr-agents-durable approvals reject refund-7 CALL_ID --message "over the limit"
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from agents import Agent, OpenAIChatCompletionsModel, function_tool
from openai import AsyncOpenAI

from dapr_agents_durable.adapters.openai_agents import Runner
from dapr_agents_durable.runtime import serve


@function_tool(needs_approval=True)
def issue_refund(order: int, amount: int) -> str:
    """Refund an amount for an order (a person approves every refund)."""
    return f"Refunded {amount} for order {order}."


@contextlib.contextmanager
def offline_model() -> Iterator[OpenAIChatCompletionsModel]:
    """A scripted model server: ask for the refund, then report the tool's answer."""
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, text, tool_call

    def answer(request: RecordedRequest):
        if not request.tool_outputs:
            return tool_call("issue_refund", {"order": 7, "amount": 120})
        return text(request.tool_outputs[-1])

    with ScriptedModelServer(rule=answer) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-offline-example", max_retries=0)
        yield OpenAIChatCompletionsModel(model="scripted", openai_client=client)


def main() -> None:
    parser = argparse.ArgumentParser(description="a durable refund agent with human approval")
    parser.add_argument("--run-id", required=True, help="durable run id")
    decision = parser.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true", help="approve the pending refund")
    decision.add_argument("--reject", metavar="MESSAGE", help="reject it, telling the model why")
    parser.add_argument("--serve", action="store_true",
                        help="then keep serving durable runs until SIGTERM, as a replica under a Dapr sidecar does")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        model = "gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else stack.enter_context(offline_model())
        agent = Agent(name="refunds", instructions="Refund order 7: 120.", tools=[issue_refund], model=model)
        result = Runner.run_sync(agent, "Please refund order 7.", run_id=args.run_id)
        if result.interruptions and (args.approve or args.reject):
            state = result.to_state()
            for item in result.interruptions:
                if args.approve:
                    state.approve(item)
                else:
                    state.reject(item, rejection_message=args.reject)
            result = Runner.run_sync(agent, state, run_id=args.run_id)
        for item in result.interruptions:
            print(f"run {args.run_id} waits for approval of {item.tool_name} {item.arguments} "
                  f"(call {item.raw_item.call_id})", flush=True)
        if not result.interruptions:
            print(f"run {args.run_id}: {result.final_output}", flush=True)
        if args.serve:  # an approval given from anywhere now finishes the run here
            serve()


if __name__ == "__main__":
    main()
