"""What the OpenAI Agents adapter's model spans say: the agent and its model's name.

A model activity's input is a delta of the run's previous request
(:mod:`dapr_agents_durable.runtime.deltas`), naming the agent only when it changes, so
the agent of each run is followed from request to request.
"""

from __future__ import annotations

import threading
from typing import Any

from dapr_agents_durable.adapters.openai_agents.graph import find_agent
from dapr_agents_durable.adapters.openai_agents.names import MODEL_ACTIVITY
from dapr_agents_durable.runtime.telemetry import StepInfo, default_description, describe_step

_lock = threading.Lock()
_agents: dict[str, str] = {}


def describe_model_step(run_id: str, payload: Any, result: Any) -> StepInfo:
    """The span of one ``openai_agents.model`` step: GenAI ``chat`` with model, agent and usage."""
    named = payload.get("set", {}).get("agent") if isinstance(payload, dict) else None
    with _lock:
        if isinstance(named, str):
            _agents[run_id] = named
        agent_name = _agents.get(run_id)
    info = default_description(run_id, {}, result)
    model = None
    if agent_name is not None:
        try:
            agent = find_agent(run_id, agent_name)
        except LookupError:
            agent = None
        model = getattr(agent, "model", None)
        model = model if isinstance(model, str) else getattr(model, "model", None)
    return StepInfo("chat", agent=agent_name, model=model if isinstance(model, str) else None,
                    input_tokens=info.input_tokens, output_tokens=info.output_tokens)


def install() -> None:
    """Describe this adapter's model spans (tool spans use the runtime's default description)."""
    describe_step(MODEL_ACTIVITY, describe_model_step)
