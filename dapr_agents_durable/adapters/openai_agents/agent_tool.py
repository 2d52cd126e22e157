"""Agents used as tools, and runs started from inside a durable run.

* An ``Agent.as_tool()`` tool called on a durable loop runs as an
  ``openai_agents.agent_tool`` child workflow of the calling run (instance id: the
  calling run id + the tool call id). Its body calls the SDK's own tool function on the
  child's durable loop, so the nested agent's model and tool calls are activities of the
  child, listed and kept in its own history. The child returns the tool's output and the
  nested run's usage, which the calling run adds to its own, as the SDK does. The
  ``hooks`` and ``on_stream`` callbacks given to ``as_tool`` skip what a replay repeats.
* ``Runner.run`` called on a durable loop (a guardrail running a guard agent) runs the
  SDK's ``Runner.run`` inline on that loop: its model calls are activities of the
  current run, and the caller gets the SDK's own result object (a ``run_id`` is not
  used: the nested run is part of the calling run's history).
* ``Runner.run`` called inside a tool activity gets a default run id derived from the
  calling run id and the tool call id, so a retried tool attaches to its nested run
  instead of paying for it again.

Example::

    translator = Agent(name="translator", instructions="Translate to French.")
    desk = Agent(name="desk", tools=[translator.as_tool("translate", "Translate to French.")])
    result = await Runner.run(desk, "Say hello in French", run_id="greeting-1")
    # "greeting-1" schedules child workflow "greeting-1-agent-tool-<call id>", whose
    # history holds the translator's openai_agents.model activities.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections import Counter
from collections.abc import Generator
from types import CellType
from typing import Any

import agents
import dapr.ext.workflow as wf
from agents import Agent, FunctionTool, RunResult, UserError
from agents.agent_tool_state import (
    get_agent_tool_state_scope,
    peek_agent_tool_run_result,
    set_agent_tool_state_scope,
)
from agents.run import Runner as SdkRunner  # the SDK's own, even where agents.Runner is swapped
from agents.tool_context import ToolContext
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall
from pydantic import TypeAdapter

from dapr_agents_durable.adapters.openai_agents.graph import TOOLS, find_agent, register_graph, run_graph, tool_key
from dapr_agents_durable.adapters.openai_agents.names import AGENT_TOOL_WORKFLOW
from dapr_agents_durable.adapters.openai_agents.runs import RUNS, RunSpec
from dapr_agents_durable.adapters.openai_agents.tool_codec import decode_output, encode_output
from dapr_agents_durable.adapters.openai_agents.tool_seam import DurableToolInvoker, _as_raised
from dapr_agents_durable.loop import DurableExecution, current_execution, drive
from dapr_agents_durable.loop.errors import ChildWorkflowError, DurableLoopError
from dapr_agents_durable.loop.execution import bound_execution
from dapr_agents_durable.loop.replay_aware import make_replay_aware, replay_aware
from dapr_agents_durable.runtime import get_runtime
from dapr_agents_durable.runtime.run_ids import derived_run_id

_USAGE = TypeAdapter(Usage)
_TOOL_CALL = TypeAdapter(ResponseFunctionToolCall)


# ---------------------------------------------------------------------------- identity


_FAILURES: dict[str, Exception] = {}
"""The exception of each agent-tool child that failed in this process, by instance id: the
caller raises that very object (elsewhere, one rebuilt from the failure's type and text)."""

_CHILD_IDS: weakref.WeakKeyDictionary[DurableExecution, Counter[str]] = weakref.WeakKeyDictionary()
"""Per execution: how often each agent-tool call id was used (a model may repeat one)."""


def _child_instance_id(execution: DurableExecution, call_id: str) -> str:
    seen = _CHILD_IDS.setdefault(execution, Counter())
    seen[call_id] += 1
    parts = (call_id,) if seen[call_id] == 1 else (call_id, str(seen[call_id]))
    return derived_run_id(execution.instance_id, "agent-tool", *parts)


# ---------------------------------------------------------------------------- agent tools


def as_tool_agent(tool: FunctionTool) -> Agent[Any] | None:
    """The agent behind a tool made by ``Agent.as_tool()``, or None for any other tool."""
    agent = getattr(tool, "_agent_instance", None)
    if getattr(tool, "_is_agent_tool", False) and isinstance(agent, Agent):
        return agent
    return None


def _setting_cell(invoker: Any, name: str) -> CellType | None:
    """The closure cell in which ``as_tool`` keeps its argument ``name`` for the tool function."""
    impl = getattr(invoker, "_invoke_tool_impl", invoker)
    code = getattr(impl, "__code__", None)
    closure = getattr(impl, "__closure__", None) or ()
    if code is None or name not in code.co_freevars or len(closure) != len(code.co_freevars):
        return None
    return closure[code.co_freevars.index(name)]


def as_tool_setting(invoker: Any, name: str) -> Any:
    """An ``as_tool()`` argument (``run_config``, ``hooks``, ``on_stream``...) of the tool's invoker,
    or None when absent."""
    cell = _setting_cell(invoker, name)
    try:
        return cell.cell_contents if cell is not None else None
    except ValueError:  # an empty cell
        return None


def _make_on_stream_replay_aware(invoker: Any) -> None:
    """Make ``as_tool(on_stream=...)`` skip the events a durable replay of the nested run repeats."""
    callback = as_tool_setting(invoker, "on_stream")
    cell = _setting_cell(invoker, "on_stream")
    if callback is not None and cell is not None:
        cell.cell_contents = replay_aware(callback)


class DurableAgentToolInvoker(DurableToolInvoker):
    """The ``on_invoke_tool`` of an agent tool: a child workflow on a durable loop."""

    async def __call__(self, context: ToolContext[Any], arguments: str) -> Any:
        try:
            execution = current_execution()
        except DurableLoopError:
            return await self.original(context, arguments)
        request = _child_request(execution, context, self.tool_name, arguments)
        instance_id = _child_instance_id(execution, context.tool_call_id)
        try:
            result = await execution.call_child_workflow(AGENT_TOOL_WORKFLOW, request, instance_id=instance_id)
        except ChildWorkflowError as err:
            original_error = _FAILURES.pop(instance_id, None)
            if original_error is None:
                raise _as_raised(instance_id, err) from err
            raise original_error from original_error.__cause__
        if result.get("usage"):
            context.usage.add(_USAGE.validate_python(result["usage"]))
        return decode_output(result["output"])


def make_agent_tool_durable(tool: FunctionTool) -> None:
    """Wrap an agent tool's invoke function once (idempotent; replaces a plain durable wrapper)."""
    invoker = tool.on_invoke_tool
    if isinstance(invoker, DurableAgentToolInvoker):
        return
    original = invoker.original if isinstance(invoker, DurableToolInvoker) else invoker
    make_replay_aware(as_tool_setting(original, "hooks"))
    _make_on_stream_replay_aware(original)
    tool.on_invoke_tool = DurableAgentToolInvoker(tool, original)


def _child_request(
    execution: DurableExecution, context: ToolContext[Any], tool: str, arguments: str
) -> dict[str, Any]:
    """What the child needs to rebuild the tool call's ``ToolContext`` (all plain JSON)."""
    tool_call = context.tool_call if isinstance(context.tool_call, ResponseFunctionToolCall) else None
    return {
        "parent": execution.instance_id,
        "agent": getattr(context.agent, "name", ""),
        "tool": tool,
        "call_id": context.tool_call_id,
        "arguments": arguments,
        "tool_call": _TOOL_CALL.dump_python(tool_call, mode="json") if tool_call is not None else None,
        "namespace": context.tool_namespace,
        "scope": get_agent_tool_state_scope(context),
    }


def agent_tool_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Run one agent-tool call: the SDK's tool function on this workflow's durable loop."""
    key = tool_key(request["agent"], request["tool"])
    parent = RUNS.get(request["parent"]) or RunSpec()
    tool = parent.graph.tools.get(key) if parent.graph is not None else TOOLS.get(key)
    if tool is None:
        yield get_runtime().park(ctx, TOOLS, key)
        return None
    invoker = tool.on_invoke_tool
    original = invoker.original if isinstance(invoker, DurableToolInvoker) else invoker
    # The nested run's activities find the caller's context, run config and agents under this run's id.
    run_config = as_tool_setting(original, "run_config") or parent.run_config
    RUNS[ctx.instance_id] = RunSpec(run_config=run_config, context=parent.context, graph=parent.graph, loop=parent.loop)
    tool_context = _tool_context(request, parent)

    async def main() -> dict[str, Any]:
        try:
            with agents.trace(f"agent tool {request['tool']}", disabled=True):
                output = await original(tool_context, request["arguments"])
        except Exception as exc:
            _FAILURES[ctx.instance_id] = exc
            raise
        _refuse_interruptions(tool_context, request["tool"])
        what = f"result of agent tool {request['tool']!r} of agent {request['agent']!r}"
        usage = tool_context.usage
        return {
            "output": encode_output(output, what=what),
            "usage": _USAGE.dump_python(usage, mode="json") if usage.requests else None,
        }

    try:
        result = yield from drive(ctx, main, label=f"agent tool {request['tool']!r}")
    except Exception:
        RUNS.pop(ctx.instance_id, None)
        raise
    RUNS.pop(ctx.instance_id, None)
    return result


def _tool_context(request: dict[str, Any], parent: RunSpec) -> ToolContext[Any]:
    """The ``ToolContext`` the SDK gave the tool in the calling run, rebuilt with a fresh usage."""
    run_config = parent.run_config
    if not run_config.tracing_disabled:  # as the calling run's workflow runs it
        run_config = dataclasses.replace(run_config, tracing_disabled=True)
    raw_call = request.get("tool_call")
    context: ToolContext[Any] = ToolContext(
        context=parent.context,
        usage=Usage(),
        tool_name=request["tool"],
        tool_call_id=request["call_id"],
        tool_arguments=request["arguments"],
        tool_call=_TOOL_CALL.validate_python(raw_call) if raw_call is not None else None,
        tool_namespace=request.get("namespace"),
        agent=find_agent(request["parent"], request["agent"]),
        run_config=run_config,
    )
    set_agent_tool_state_scope(context, request.get("scope"))
    return context


def _refuse_interruptions(context: ToolContext[Any], tool: str) -> None:
    """A nested run that stopped for a tool approval cannot hand its state to the caller yet."""
    if context.tool_call is None:
        return
    pending = peek_agent_tool_run_result(context.tool_call, scope_id=get_agent_tool_state_scope(context))
    if pending is not None and getattr(pending, "interruptions", None):
        raise UserError(
            f"the nested run of agent tool {tool!r} stopped for a tool approval; approvals inside "
            "agent tools are not supported by durable runs yet"
        )


# ---------------------------------------------------------------------------- nested Runner.run


def in_durable_run() -> bool:
    """Whether the calling code runs on a durable loop (inside a workflow).

    Code bound to a durable execution but running another event loop (``asyncio.run``
    inside the workflow) gets the loop's :class:`DurableLoopError`: a run started there
    could only block the workflow.
    """
    if bound_execution() is None:
        return False
    current_execution()
    return True


async def run_on_durable_loop(starting_agent: Agent[Any], input: Any, **kwargs: Any) -> RunResult:
    """``Runner.run`` from inside a durable run: the SDK's run, inline on the current loop.

    Its model and tool calls become activities of the current run; the caller gets the
    SDK's own ``RunResult`` (context, items and exceptions are the real objects).
    """
    register_graph(starting_agent, run_graph(current_execution().instance_id))
    make_replay_aware(kwargs.get("hooks"))
    return await SdkRunner.run(starting_agent, input, **kwargs)
