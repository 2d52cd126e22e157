"""Tool calls as activities, delegation as child workflows.

On a durable loop, ``BaseTool.run`` / ``Tool.run`` (the native function-calling path)
and ``CrewStructuredTool.invoke`` (the ReAct text path) do CrewAI's own bookkeeping
(argument validation, usage limits) in the workflow and run the tool's body as one
``crewai.tool`` activity, named by the tool's name and numbered in the order the
instance calls tools; ``idempotency_key()`` inside the tool is the workflow instance
plus that number. The manager's "Delegate work to coworker" and "Ask question to
coworker" tools (CrewAI's ``BaseAgentTool``) become a ``crewai.delegate`` child
workflow instead (see :mod:`.delegation`). Off the durable loop every tool runs as
CrewAI runs it.

CrewAI runs the native tool calls of one LLM turn on a thread pool; a seam reached from
one of its threads cannot suspend the workflow, so inside a durable run that pool runs
each call inline, one after the other, in the order the LLM listed them.

In a flow (``crewai.flow``) a tool its code calls, directly or through an agent's
``kickoff``, is a ``crewai.tool`` activity of the flow's run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import dapr.ext.workflow as wf
from dapr.ext.workflow._durabletask.task import NonRetryableError
from crewai.agents import agent_executor
from crewai.tools import BaseTool
from crewai.tools.agent_tools.base_agent_tools import BaseAgentTool
from crewai.tools.base_tool import Tool
from crewai.tools.structured_tool import CrewStructuredTool, ToolUsageLimitExceededError
from crewai.utilities.string_utils import sanitize_tool_name

from dapr_agents_durable.adapters.crewai import rpm, runs
from dapr_agents_durable.adapters.crewai.errors import aborting, as_raised
from dapr_agents_durable.adapters.crewai.llm_seam import absorb
from dapr_agents_durable.adapters.crewai.names import DELEGATE_WORKFLOW, TOOL_ACTIVITY
from dapr_agents_durable.adapters.crewai.live import live
from dapr_agents_durable.adapters.crewai.scope import check_suspendable, flow_scope, next_call_id, run_scope
from dapr_agents_durable.loop import ActivityError, ChildWorkflowError, await_only, current_execution, on_durable_loop
from dapr_agents_durable.loop.execution import bound_execution
from dapr_agents_durable.runtime import Registry, idempotency
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.run_ids import derived_run_id, nested_runs

P = ParamSpec("P")
T = TypeVar("T")

LIVE_TOOLS: Registry[BaseTool] = Registry("CrewAI tool")
"""Tools met by a run in this process, by ``"<run id>/<tool name>"`` (MCP and other tools made at
run time, and every tool a flow's code calls: see :mod:`.live`)."""

_native_base_run = BaseTool.run
_native_tool_run = Tool.run
_native_invoke = CrewStructuredTool.invoke


def _body(tool: BaseTool, arguments: dict[str, Any]) -> Any:
    """What the tool does once its arguments are checked (``Tool.func`` or ``_run``)."""
    result = tool.func(**arguments) if isinstance(tool, Tool) else tool._run(**arguments)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return result


def _durable(tool: BaseTool, arguments: dict[str, Any]) -> Any:
    """Run ``tool`` with checked ``arguments`` durably: a delegation child or a tool activity."""
    with aborting():
        execution = current_execution()
        flow = flow_scope()
        if flow is not None:
            return _in_flow(flow.root, tool, arguments)
        scope = run_scope()
        base = {"root": scope.root, "crew": scope.crew_name, "inputs": scope.inputs}
        if isinstance(tool, BaseAgentTool):
            call_id = next_call_id("delegate")
            windows = rpm.snapshot(scope)
            request = {
                **base,
                "tool": tool.name,
                "coworkers": [agent.role for agent in tool.agents],
                "arguments": checked(arguments, what=f"arguments of {tool.name!r}"),
                "rpm": windows,
            }
            try:
                done = await_only(
                    execution.call_child_workflow(
                        DELEGATE_WORKFLOW, request, instance_id=derived_run_id(execution.instance_id, "delegate", call_id)
                    )
                )
            except ChildWorkflowError as err:
                raise as_raised(err) from err
            absorb(done["usage"])
            rpm.absorb(scope, windows, rpm.windows_of(done))
            return done["result"]
        call_id = next_call_id("tool")
        LIVE_TOOLS.add(f"{scope.root}/{tool.name}", tool)
        request = {
            **base,
            "tool": tool.name,
            "call_id": call_id,
            "arguments": checked(arguments, what=f"arguments of tool {tool.name!r}"),
        }
        try:
            return await_only(execution.call_activity(TOOL_ACTIVITY, request))
        except ActivityError as err:
            raise as_raised(err) from err


def _in_flow(root: str, tool: BaseTool, arguments: dict[str, Any]) -> Any:
    """A tool called by a flow's code (directly or by an agent's ``kickoff``): one activity."""
    check_suspendable(f"tool {tool.name!r}")
    call_id = next_call_id("tool")
    LIVE_TOOLS.add(f"{root}/{tool.name}", tool)
    request = {"flow": root, "tool": tool.name, "call_id": call_id, "arguments": checked(arguments, what=f"arguments of tool {tool.name!r}")}
    try:
        return await_only(current_execution().call_activity(TOOL_ACTIVITY, request))
    except ActivityError as err:
        raise as_raised(err) from err


def _base_run(self: BaseTool, *args: Any, **kwargs: Any) -> Any:
    if not on_durable_loop() or args:
        return _native_base_run(self, *args, **kwargs)
    kwargs = self._validate_kwargs(kwargs)
    limit_error = self._claim_usage()
    if limit_error:
        return limit_error
    return _durable(self, kwargs)


def _tool_run(self: Tool[Any, Any], *args: Any, **kwargs: Any) -> Any:
    if not on_durable_loop() or args:
        return _native_tool_run(self, *args, **kwargs)
    kwargs = self._validate_kwargs(kwargs)
    limit_error = self._claim_usage()
    if limit_error:
        return limit_error
    return _durable(self, kwargs)


def _invoke(self: CrewStructuredTool, input: str | dict[str, Any], config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    tool = self._original_tool
    if not on_durable_loop() or tool is None or kwargs:
        return _native_invoke(self, input, config, **kwargs)
    parsed_args = self._parse_args(input)
    if self.has_reached_max_usage_count():
        raise ToolUsageLimitExceededError(
            f"Tool '{sanitize_tool_name(self.name)}' has reached its maximum usage limit of {self.max_usage_count}. "
            f"You should not use the {sanitize_tool_name(self.name)} tool again."
        )
    self._increment_usage_count()
    return _durable(tool, parsed_args)


class _InlineExecutor(Executor):
    """Runs each submitted call at once, on the submitting thread."""

    def __enter__(self) -> _InlineExecutor:
        return self

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the caller reads it from the future
            done.set_exception(exc)
        return done


def _tool_call_pool(*args: Any, **kwargs: Any) -> Executor:
    """CrewAI's pool for parallel tool calls: inline inside a workflow, threads elsewhere."""
    if bound_execution() is not None:
        return _InlineExecutor()
    return ThreadPoolExecutor(*args, **kwargs)


def install() -> None:
    """Route tool runs through the durable seam and CrewAI's tool-call pool inline (idempotent)."""
    BaseTool.run = _base_run  # type: ignore[method-assign]
    Tool.run = _tool_run  # type: ignore[method-assign]
    CrewStructuredTool.invoke = _invoke  # type: ignore[method-assign]
    agent_executor.ThreadPoolExecutor = _tool_call_pool  # type: ignore[assignment,misc]


# ---------------------------------------------------------------- the activity


def _crew_tools(crew: Any) -> list[BaseTool]:
    tools: list[BaseTool] = []
    for agent in [*crew.agents, crew.manager_agent]:
        tools.extend(getattr(agent, "tools", None) or [])
    for task in crew.tasks:
        tools.extend(task.tools or [])
    return [tool for tool in tools if isinstance(tool, BaseTool)]


def find_tool(root: str, crew: Any, name: str) -> BaseTool | None:
    """The run's tool called ``name``: one the run met in this process, else one of the crew's,
    else an MCP tool of its agents (blocking: it may ask their servers)."""
    live = LIVE_TOOLS.get(f"{root}/{name}")
    if live is not None:
        return live
    found = next((tool for tool in _crew_tools(crew) if tool.name == name), None)
    return found if found is not None else _mcp_tool(root, crew, name)


def _mcp_tool(root: str, crew: Any, name: str) -> BaseTool | None:
    """An MCP tool of the crew's agents (``Agent(mcps=[...])``), listed by its server as CrewAI
    does: after a restart the tool's activity can run before the workflow met the tool here."""
    for agent in [*crew.agents, crew.manager_agent]:
        if getattr(agent, "mcps", None):
            for tool in agent.get_mcp_tools(agent.mcps):
                LIVE_TOOLS.add(f"{root}/{tool.name}", tool)
    return LIVE_TOOLS.get(f"{root}/{name}")


async def tool_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """Run the tool's body once with the recorded arguments; its result is stored in history."""
    if "flow" in request:
        tool: BaseTool | None = await live(LIVE_TOOLS, request["flow"], request["tool"])
    else:
        run = await asyncio.to_thread(runs.crew_run, request["root"], request["crew"], request["inputs"])
        tool = await asyncio.to_thread(find_tool, request["root"], run.crew, request["tool"])
        if tool is None:
            raise NonRetryableError(
                f"tool {request['tool']!r} is not a tool of crew {run.crew.name!r} in this process; give it to an "
                "agent or a task of the crew"
            )
    call_id = request["call_id"]
    with idempotency.step_key(ctx.workflow_id, call_id), nested_runs(ctx.workflow_id, call_id):
        result = await asyncio.to_thread(_body, tool, request["arguments"])
    return checked(result, what=f"result of tool {request['tool']!r}")
