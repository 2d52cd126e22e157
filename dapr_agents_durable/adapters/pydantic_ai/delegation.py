"""Agent delegation: a ``DaprAgent.run`` from a workflow-side tool is a ``pydantic_ai.delegate`` child workflow.

PydanticAI delegates by running another agent inside a tool
(``await delegate.run(..., deps=ctx.deps, usage=ctx.usage)``). When that tool runs in the
workflow (``durable_options(agent, tool=..., activity=False)``) and ``delegate`` is a
``DaprAgent``, the run becomes a child workflow of the calling run, with the id
``<run id>-delegate-<tool call id>-<n>`` (so a replayed or recovered parent attaches to it
instead of paying again). The delegate's model and tool calls are activities in the child's
own history. The tool gets PydanticAI's own ``AgentRunResult`` back, and the ``usage`` object
it passed holds the delegate's usage added to its own, as natively.

Example::

    @support.tool(retries=0)
    async def ask_billing(ctx: RunContext[Deps], question: str) -> str:
        result = await billing.run(question, deps=ctx.deps, usage=ctx.usage)   # billing = DaprAgent(...)
        return result.output

    durable_options(support_agent, tool="ask_billing", activity=False)
"""

from __future__ import annotations

import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from pydantic_ai._agent_graph import GraphAgentState
from pydantic_ai.exceptions import UserError
from pydantic_ai.run import AgentRunResult

from dapr_agents_durable.adapters.pydantic_ai import arguments
from dapr_agents_durable.adapters.pydantic_ai.codec import MESSAGES, USAGE
from dapr_agents_durable.adapters.pydantic_ai.errors import rebuilt
from dapr_agents_durable.adapters.pydantic_ai.names import DELEGATE_KIND, DELEGATE_WORKFLOW
from dapr_agents_durable.adapters.pydantic_ai.runs import SPECS, RunSpec
from dapr_agents_durable.adapters.pydantic_ai.tool_seam import calling_tool
from dapr_agents_durable.loop import DurableExecution, current_execution
from dapr_agents_durable.loop.errors import ChildWorkflowError
from dapr_agents_durable.runtime.outcomes import OUTCOMES
from dapr_agents_durable.runtime.run_ids import derived_run_id

if TYPE_CHECKING:
    from dapr_agents_durable.adapters.pydantic_ai.agent import DaprAgent

_NUMBERS: weakref.WeakKeyDictionary[DurableExecution, Counter[str]] = weakref.WeakKeyDictionary()


def _child_id(execution: DurableExecution, call_id: str) -> str:
    numbers = _NUMBERS.setdefault(execution, Counter())
    numbers[call_id] += 1
    return derived_run_id(execution.instance_id, DELEGATE_KIND, call_id, str(numbers[call_id]))


async def run_delegate(
    dagent: DaprAgent[Any, Any], user_prompt: Any, run_id: str | None, kwargs: dict[str, Any]
) -> AgentRunResult[Any]:
    """Run ``dagent`` as a child workflow of the durable run whose workflow-side tool calls it."""
    execution = current_execution()
    call_id = calling_tool()
    if call_id is None:
        raise UserError(
            f"DaprAgent.run({dagent.name!r}) was called inside a durable run outside a workflow-side tool. "
            "Delegate from a tool marked durable_options(agent, tool=..., activity=False), or from a tool "
            "running as an activity (the delegated run is then a run of its own)."
        )
    child_id = run_id or _child_id(execution, call_id)
    request = {**dagent.request(user_prompt, kwargs, None), "parent": execution.instance_id}
    in_process = arguments.split(kwargs)[1]
    SPECS.add(child_id, RunSpec(in_process))
    try:
        record = await execution.call_child_workflow(DELEGATE_WORKFLOW, request, instance_id=child_id)
    except ChildWorkflowError as err:
        handed = OUTCOMES.pop(child_id)
        if handed is not None and handed[0]:
            raise handed[1] from None
        raise rebuilt(err.error_type, err.error_message) from err
    finally:
        SPECS.remove(child_id)
    handed = OUTCOMES.pop(child_id)
    if handed is not None and not handed[0] and isinstance(handed[1], AgentRunResult):
        result = handed[1]
    else:
        result = _rebuilt(record, kwargs.get("output_type") or dagent.agent.output_type)
    arguments.hold_total_usage(kwargs, result.usage)
    return result


def _rebuilt(record: dict[str, Any], output_type: Any) -> AgentRunResult[Any]:
    """The delegate's ``AgentRunResult`` from its workflow output (its run ended in another process)."""
    output = record["output"]
    try:
        output = TypeAdapter(output_type).validate_python(output)
    except Exception:  # an output type no adapter takes (a union of output tools): its JSON form
        pass
    state = GraphAgentState(message_history=MESSAGES.decode(record["messages"]), usage=USAGE.decode(record["usage"]))
    return AgentRunResult(output, _state=state, _new_message_index=record["new_index"])
