"""Function-tool calls as activities.

``make_durable`` wraps a ``FunctionTool``'s ``on_invoke_tool`` in place: on a
durable loop a call becomes an ``openai_agents.tool`` activity (idempotency key:
run id + tool call id), elsewhere it calls the original, so the same agent keeps
working in plain ``agents.Runner`` runs. The wrapper is one of the SDK's own tool
invokers around the original's implementation, so what the SDK reads off an invoker
before calling it stays as natively: the prepared arguments an approval policy is
judged on (a call whose arguments the SDK would change, by defaults or aliases, always
stops for approval) and the tool's wrapped callable.
"""

from __future__ import annotations

from typing import Any

import dapr.ext.workflow as wf
from agents import FunctionTool, MaxTurnsExceeded, ModelBehaviorError, RunConfig, UserError
from agents.tool import _FailureHandlingFunctionToolInvoker
from agents.tool_context import ToolContext
from agents.usage import Usage
from pydantic import TypeAdapter

from dapr_agents_durable.adapters.openai_agents import refs
from dapr_agents_durable.adapters.openai_agents.graph import find_agent, wait_for_tool
from dapr_agents_durable.adapters.openai_agents.names import TOOL_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.options import tool_options
from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.adapters.openai_agents.tool_codec import decode_output, encode_output
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import ActivityError, DurableLoopError, DurableTaskError
from dapr_agents_durable.loop.home import on_loop
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.raised import CallFailed, failure_kept, raised_again
from dapr_agents_durable.runtime.run_ids import nested_runs
from dapr_agents_durable.runtime.retries import stored_once_paid

_USAGE = TypeAdapter(Usage)


class DurableToolInvoker(_FailureHandlingFunctionToolInvoker):
    """The ``on_invoke_tool`` of a durable function tool (``original``: the tool's own invoker)."""

    def __init__(self, tool: FunctionTool, original: Any) -> None:
        if isinstance(original, _FailureHandlingFunctionToolInvoker):
            super().__init__(original._invoke_tool_impl, original._on_handled_error, function_tool=tool)
        else:  # a hand-made FunctionTool: nothing to prepare, its own function handles failures
            super().__init__(original, _unhandled, function_tool=tool)
        self.tool = tool
        self.tool_name = tool.name
        self.original = original
        self.copied_from: FunctionTool | None = None
        """The tool this one is a copy of, whose durable options it keeps unless given its own."""

    def __agents_bind_function_tool__(self, function_tool: FunctionTool) -> DurableToolInvoker:
        """A copy of the tool (``dataclasses.replace``) stays durable, bound to the copy as natively."""
        if function_tool is self.tool:
            return self
        bind = getattr(self.original, "__agents_bind_function_tool__", None)
        bound = type(self)(function_tool, bind(function_tool) if callable(bind) else self.original)
        bound.copied_from = self.copied_from or self.tool
        return bound

    async def __call__(self, context: ToolContext[Any], arguments: str) -> Any:
        options = tool_options(self.tool, self.copied_from)
        try:
            execution = current_execution()
        except DurableLoopError:
            return await self.original(context, arguments)
        if not options.activity:  # a pure function: runs in the workflow, again on every replay
            return await self.original(context, arguments)
        agent = getattr(context, "agent", None)
        request = {
            "agent": getattr(agent, "name", ""),
            "tool": self.tool_name,
            "call_id": context.tool_call_id,
            "arguments": arguments,
        }
        try:
            result = await execution.call_activity(TOOL_ACTIVITY, request, retry_policy=options.retry_policy)
        except ActivityError as err:
            raise _as_raised(execution.instance_id, err) from err
        refs.offer_result(execution, TOOL_ACTIVITY, request, result)
        if result.get("usage"):
            context.usage.add(_USAGE.validate_python(result["usage"]))
        return decode_output(result["output"])


def _unhandled(tool: FunctionTool, error: Exception, arguments: str, context: ToolContext[Any]) -> None:
    """No handled-error hook: a hand-made tool's invoker handles its own failures."""


def make_durable(tool: FunctionTool) -> None:
    """Wrap the tool's invoke function once (idempotent)."""
    if not isinstance(tool.on_invoke_tool, DurableToolInvoker):
        tool.on_invoke_tool = DurableToolInvoker(tool, tool.on_invoke_tool)


async def tool_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """Run the real tool function; its output is stored in history."""
    tool = await wait_for_tool(ctx.workflow_id, request["agent"], request["tool"])
    agent = find_agent(ctx.workflow_id, request["agent"])
    spec = RUNS.get(ctx.workflow_id)
    invoker = tool.on_invoke_tool
    original = invoker.original if isinstance(invoker, DurableToolInvoker) else invoker
    usage = Usage()
    tool_context = ToolContext(
        context=spec.context if spec else None,
        usage=usage,
        tool_name=request["tool"],
        tool_call_id=request["call_id"],
        tool_arguments=request["arguments"],
        agent=agent,
        run_config=spec.run_config if spec else RunConfig(),
    )
    # Runs the tool starts without a run id get ids derived from this call, so a retry attaches to them.
    with idempotency.step_key(ctx.workflow_id, request["call_id"]), nested_runs(ctx.workflow_id, request["call_id"]):
        output = await on_loop(
            spec.loop if spec else None,
            lambda: failure_kept(ctx.workflow_id, original(tool_context, request["arguments"])),
        )
    what = f"result of tool {request['tool']!r} of agent {request['agent']!r}"
    with stored_once_paid():
        result = {
            "output": encode_output(output, what=what),
            # Usage of nested runs (an agent used as a tool) counts toward the calling run.
            "usage": _USAGE.dump_python(usage, mode="json") if usage.requests else None,
        }
    refs.remember_result(ctx, TOOL_ACTIVITY, request, result)
    return result


class ToolFailed(CallFailed):
    """A tool raised an exception type that cannot be rebuilt here; its text is the original's."""


SDK_ERRORS: dict[str, type[Exception]] = {
    kind.__name__: kind for kind in (MaxTurnsExceeded, ModelBehaviorError, UserError)
}
"""The SDK's exceptions that are rebuilt from their message (its others carry objects)."""


def _as_raised(run_id: str, err: DurableTaskError) -> BaseException:
    """The exception a tool of run ``run_id`` raised: the object itself when the tool ran in this
    process, else rebuilt as close as it can be (same type for built-ins and the SDK's
    message-only errors, which the SDK lets end the run unwrapped)."""
    return raised_again(run_id, err.error_type, err.error_message, SDK_ERRORS, fallback=ToolFailed)
