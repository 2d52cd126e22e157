"""Toolset calls as activities: the workflow side's wrapper toolset and the activity.

:class:`ActivityToolset` wraps each function toolset of a durable run (the agent's own
``@agent.tool`` functions, ``FunctionToolset``s given to the agent or the run), and, through
:mod:`.mcp_seam`, each MCP server; its ``call_tool`` becomes a ``pydantic_ai.tool`` activity
that finds the same toolset by id in this process, enters it, and calls the tool there, with
the run's deps and a ``RunContext`` rebuilt from PydanticAI's own ``DurableRunContext``.
Argument validation (and its retries) stays in the workflow, as in a native run; the activity
validates the arguments again for the tool.

What a tool raises crosses back as PydanticAI handles it: ``ModelRetry`` (a retry prompt to
the model), ``ToolFailed`` (a failed result the model sees), ``ApprovalRequired`` and
``CallDeferred`` (deferred calls), any other exception raised in the workflow with its type
and message. A tool whose options say ``activity=False`` runs in the workflow (agent
delegation: its ``DaprAgent.run`` calls become child workflows).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import dapr.ext.workflow as wf
from pydantic import TypeAdapter
from pydantic_ai import Agent, FunctionToolset
from pydantic_ai.durable_exec import DurableRunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed, UserError
from pydantic_ai.tools import RunContext, ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset

from dapr_agents_durable.adapters.pydantic_ai.codec import JSON_OBJECT, JSON_VALUE
from dapr_agents_durable.adapters.pydantic_ai.deps import deps_for_activity
from dapr_agents_durable.adapters.pydantic_ai.errors import decode_error, encode_error, rebuilt
from dapr_agents_durable.adapters.pydantic_ai.names import TOOL_ACTIVITY
from dapr_agents_durable.adapters.pydantic_ai.options import tool_options
from dapr_agents_durable.adapters.pydantic_ai.runs import AGENTS, SPECS
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import ActivityError
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.codec import Codec, CodecError
from dapr_agents_durable.runtime.registry import registered
from dapr_agents_durable.runtime.retries import within
from dapr_agents_durable.runtime.run_ids import nested_runs

TOOL_DEFINITION = Codec(TypeAdapter(ToolDefinition), what="PydanticAI tool definition")
"""An MCP tool's definition, from its server's recorded listing to the activity that calls it."""

_CALLING: contextvars.ContextVar[str | None] = contextvars.ContextVar("dapr_pydantic_ai_tool_call", default=None)


def calling_tool() -> str | None:
    """The id of the workflow-side tool call running now (for delegated runs' ids), if any."""
    return _CALLING.get()


@contextlib.contextmanager
def _calling(call_id: str) -> Iterator[None]:
    token = _CALLING.set(call_id)
    try:
        yield
    finally:
        _CALLING.reset(token)


@dataclass
class ActivityToolset(WrapperToolset[Any]):
    """A function toolset whose tool calls run as ``pydantic_ai.tool`` activities."""

    agent_name: str = ""
    has_deps: bool = False

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        options = tool_options(self.agent_name, name)
        call_id = ctx.tool_call_id or name
        if not options.activity:
            with _calling(call_id):
                return await self.call_in_workflow(name, tool_args, ctx, tool)
        what = f"call of tool {name!r} of agent {self.agent_name!r}"
        request = {
            "agent": self.agent_name,
            "toolset": self.wrapped.id,
            "tool": name,
            "call_id": call_id,
            "args": JSON_OBJECT.encode(tool_args, what=f"arguments of {what}"),
            "run_context": JSON_OBJECT.encode(serialized_run_context(ctx), what=f"run context of {what}"),
            "has_deps": self.has_deps,
            **self.call_details(tool),
        }
        try:
            result = await current_execution().call_activity(TOOL_ACTIVITY, request, retry_policy=options.retry_policy)
        except ActivityError as err:
            raise rebuilt(err.error_type, err.error_message) from err
        return _unwrap(result)

    async def call_in_workflow(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        """Call a tool whose options say ``activity=False`` right here, in the workflow."""
        return await self.wrapped.call_tool(name, tool_args, ctx, tool)

    def call_details(self, tool: ToolsetTool[Any]) -> dict[str, Any]:
        """What the activity needs to rebuild ``tool`` besides its name (nothing: it lists the function toolset)."""
        return {}


_SYNTHETIC_ID = re.compile(r"<[a-z0-9_]+:[0-9a-f]+>")
"""PydanticAI's run-local handle of a capability without an ``id`` (random per run, never persisted)."""

_TRACING_CAPABILITIES = frozenset({"instrumentation"})
_TRACING_FIELDS = ("trace_include_content", "instrumentation_version")
"""Whether and how the process traces: not part of a step, so a run started untraced resumes traced."""


def serialized_run_context(ctx: RunContext[Any]) -> dict[str, Any]:
    """PydanticAI's serialized ``RunContext``, without the run-local capability handles (random per
    run) and the tracing settings, its sets sorted (their order depends on the process's string
    hashing, and a replay must send the same input)."""
    serialized = DurableRunContext.serialize_run_context(ctx)
    for key in _TRACING_FIELDS:
        serialized.pop(key, None)
    for key in ("active_capability_ids", "_deferred_capability_ids"):
        if key in serialized:
            serialized[key] = sorted(i for i in serialized[key]
                                     if not _SYNTHETIC_ID.fullmatch(i) and i not in _TRACING_CAPABILITIES)
    return _sets_sorted(serialized)  # type: ignore[no-any-return]


def _sets_sorted(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, dict):
        return {key: _sets_sorted(item) for key, item in value.items()}
    return value


def _unwrap(result: dict[str, Any]) -> Any:
    kind = result["kind"]
    if kind == "return":
        return result["value"]
    if kind == "retry":
        raise ModelRetry(result["message"])
    if kind == "failed":
        raise ToolFailed(result["message"])
    if kind == "approval_required":
        raise ApprovalRequired(result.get("metadata"))
    if kind == "call_deferred":
        raise CallDeferred(result.get("metadata"))
    raise decode_error(result["error"])


def wrap_leaf(toolset: AbstractToolset[Any], agent_name: str, has_deps: bool) -> AbstractToolset[Any]:
    """``toolset`` with its tool calls as activities, if it is a function toolset."""
    if not isinstance(toolset, FunctionToolset):
        return toolset
    require_id(toolset, f"A function toolset of agent {agent_name!r}", "FunctionToolset(..., id='...')")
    return ActivityToolset(toolset, agent_name=agent_name, has_deps=has_deps)


def require_id(toolset: AbstractToolset[Any], what: str, example: str) -> None:
    """A ``UserError`` unless ``toolset`` has an id of its user's choosing: the activities find it by that id."""
    if toolset._explicit_id is None:
        raise UserError(f"{what} has no id; give it one ({example}) so its tool calls can run as activities.")


async def toolset_in_activity(
    ctx: wf.WorkflowActivityContext, request: dict[str, Any]
) -> tuple[Agent[Any, Any], AbstractToolset[Any], RunContext[Any]]:
    """The agent, its toolset ``request["toolset"]`` and the run context rebuilt with the run's deps."""
    run_id = ctx.workflow_id
    agent = await registered(AGENTS, request["agent"])
    toolset = _find_toolset(agent, run_id, request["toolset"])
    deps = await deps_for_activity(run_id, agent, request["has_deps"])
    return agent, toolset, DurableRunContext.deserialize_run_context(request["run_context"], deps=deps)


@contextlib.asynccontextmanager
async def entered(toolset: AbstractToolset[Any], ctx: RunContext[Any]) -> AsyncIterator[AbstractToolset[Any]]:
    """The toolset to use for this run (an MCP server's copy with the run's own credentials), entered."""
    live = await toolset.for_run(ctx)
    async with live:
        yield live


async def tool_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """Call one tool of the agent's toolset with its arguments validated again; the outcome is stored."""
    run_id = ctx.workflow_id
    agent, toolset, run_context = await toolset_in_activity(ctx, request)
    name = request["tool"]
    options = tool_options(request["agent"], name)
    async with entered(toolset, run_context) as live:
        if "tool_def" in request:  # an MCP server's tool, as its listing recorded it
            tool = await live.get_tool_for_tool_def(TOOL_DEFINITION.decode(request["tool_def"]), run_context)
        else:
            tool = (await live.get_tools(run_context))[name]
        args = tool.args_validator.validate_python(request["args"])
        # Runs the tool starts without a run id get ids derived from this call, so a retry attaches to them.
        with idempotency.step_key(run_id, request["call_id"]), nested_runs(run_id, request["call_id"]):
            try:
                value = await within(live.call_tool(name, args, run_context, tool), options.timeout,
                                     what=f"tool {name!r} of agent {agent.name!r}")
            except ModelRetry as exc:
                return {"kind": "retry", "message": exc.message}
            except ToolFailed as exc:
                return {"kind": "failed", "message": exc.message}
            except ApprovalRequired as exc:
                return {"kind": "approval_required", "metadata": JSON_VALUE.encode(exc.metadata)}
            except CallDeferred as exc:
                return {"kind": "call_deferred", "metadata": JSON_VALUE.encode(exc.metadata)}
            except Exception as exc:
                if options.retry_policy is not None:
                    raise  # the tool's durable retry policy decides
                return {"kind": "error", "error": encode_error(exc)}
    try:
        return {"kind": "return", "value": JSON_VALUE.encode(value, what=f"result of tool {name!r} of agent {agent.name!r}")}
    except CodecError as exc:  # not retried, even under a retry policy: the tool would run again for the same refusal
        return {"kind": "error", "error": encode_error(exc)}


def _find_toolset(agent: Agent[Any, Any], run_id: str, toolset_id: str) -> AbstractToolset[Any]:
    """The agent's (or the run's) toolset with id ``toolset_id``: a function toolset or an MCP server."""
    found: list[AbstractToolset[Any]] = []

    def visit(toolset: AbstractToolset[Any]) -> None:
        if toolset.id == toolset_id:
            found.append(toolset)

    spec = SPECS.get(run_id)
    for toolset in [*agent.toolsets, *((spec.kwargs.get("toolsets") or []) if spec else [])]:
        toolset.apply(visit)
    if not found:
        raise UserError(f"Agent {agent.name!r} has no toolset with id {toolset_id!r} in this process.")
    return found[0]
