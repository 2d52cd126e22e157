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
from dapr_agents_durable.runtime.payloads import model_call
from dapr_agents_durable.runtime.telemetry import StepInfo, describe_step

_lock = threading.Lock()
_agents: dict[str, str] = {}


def describe_model_step(run_id: str, payload: Any, result: Any) -> StepInfo:
    """The span of one ``openai_agents.model`` step: GenAI ``chat`` with model, agent and usage."""
    named = payload.get("set", {}).get("agent") if isinstance(payload, dict) else None
    with _lock:
        if isinstance(named, str):
            _agents[run_id] = named
        agent_name = _agents.get(run_id)
    info = model_call(MODEL_ACTIVITY, payload, result)
    model = info.model if info is not None else None
    if model is None and agent_name is not None:  # a result stored before it named its model
        try:
            agent = find_agent(run_id, agent_name)
        except LookupError:
            agent = None
        model = getattr(agent, "model", None)
        model = model if isinstance(model, str) else getattr(model, "model", None)
    return StepInfo("chat", agent=agent_name, model=model if isinstance(model, str) else None,
                    input_tokens=info.input_tokens if info is not None else None,
                    output_tokens=info.output_tokens if info is not None else None)


def install() -> None:
    """Describe this adapter's model spans (tool spans use the runtime's default description)."""
    describe_step(MODEL_ACTIVITY, describe_model_step)
