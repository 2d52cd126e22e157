"""``Task(human_input=True)`` as workflow external events, in the format of ``runtime/approvals.py``.

Inside a durable run CrewAI's human-input provider is :class:`DurableHumanInput`: each
time the executor asks for feedback on an answer, the run publishes one pending entry
(tool ``"human_input"``, the agent's role, and the task and answer as JSON arguments)
and waits for one approval event for it. ``Decision.message`` is the feedback, for
another round; a decision without a message (``approve``) accepts the answer. Any
process can answer: ``DurableRuntime.approve / reject / decide`` or
``dapr-agents-durable approvals``.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from crewai.core.providers.human_input import SyncHumanInputProvider

from dapr_agents_durable.adapters.crewai.errors import aborting
from dapr_agents_durable.adapters.crewai.names import HUMAN_INPUT_TOOL
from dapr_agents_durable.adapters.crewai.scope import next_call_id
from dapr_agents_durable.loop import await_only, current_execution
from dapr_agents_durable.runtime.approvals import PendingApproval, collect_decisions, encode_status

_ASKING: ContextVar[Any] = ContextVar("dapr_agents_durable_crewai_feedback_context", default=None)


class DurableHumanInput(SyncHumanInputProvider):
    """CrewAI's human-input provider whose prompt is a durable wait for a decision."""

    def handle_feedback(self, formatted_answer: Any, context: Any) -> Any:
        token = _ASKING.set(context)
        try:
            return super().handle_feedback(formatted_answer, context)
        finally:
            _ASKING.reset(token)

    async def handle_feedback_async(self, formatted_answer: Any, context: Any) -> Any:
        token = _ASKING.set(context)
        try:
            return await super().handle_feedback_async(formatted_answer, context)
        finally:
            _ASKING.reset(token)

    def _prompt_input(self, crew: Any) -> str:  # type: ignore[override]
        return await_only(self._feedback())

    async def _prompt_input_async(self, crew: Any) -> str:  # type: ignore[override]
        return await self._feedback()

    @staticmethod
    async def _feedback() -> str:
        """Publish the answer awaiting feedback and wait for the decision; its message, or "" to accept."""
        with aborting():
            context = _ASKING.get()
            execution = current_execution()
            call_id = next_call_id("feedback")
            messages = getattr(context, "messages", None) or []
            answer = next((m.get("content") for m in reversed(messages) if m.get("role") == "assistant"), "")
            task = getattr(context, "task", None)
            agent = getattr(context, "agent", None)
            pending = PendingApproval(
                call_id=call_id,
                tool=HUMAN_INPUT_TOOL,
                agent=str(getattr(agent, "role", "")),
                arguments=json.dumps({"task": getattr(task, "description", ""), "answer": answer}),
            )
            decisions = await collect_decisions(execution, {call_id: pending}, None)
            execution.context.set_custom_status(encode_status([]))
            return decisions[call_id].message or ""
