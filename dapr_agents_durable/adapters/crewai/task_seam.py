"""Each task of a durable crew run as a ``crewai.task`` child workflow; delegation as ``crewai.delegate``.

Inside ``crewai.run``, ``Task.aexecute_sync`` (what CrewAI's ``akickoff`` calls for each
task, ``async_execution`` tasks included) becomes a child workflow with the id
``<run id>-task-<task index>``. The child runs CrewAI's own ``Task.aexecute_sync`` on
the crew's task and agent: the agent's executor, guardrails and their retries with
feedback, structured output, callbacks, human input. Its ``TaskOutput`` comes back to
the crew, which goes on as natively.

A delegation tool call becomes ``crewai.delegate``: the child builds the crew's own
``AgentTools`` over the same coworkers and runs the tool, whose sync
``Agent.execute_task`` runs the coworker's ``aexecute_task`` on the durable loop.

Guardrails run CrewAI's sync check (``Task._invoke_guardrail_function``, the one a
native ``kickoff`` runs) as sync code on the durable loop: an LLM guardrail (a guardrail
given as a string) kicks off its own agent synchronously, whose ``kickoff`` there runs
``kickoff_async`` on the loop, so its LLM calls are ``crewai.model`` activities too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dapr.ext.workflow as wf
import greenlet
from crewai import Agent, Task
from crewai.tools.agent_tools.agent_tools import AgentTools

from dapr_agents_durable.adapters.crewai import rpm, runs
from dapr_agents_durable.adapters.crewai.body import run_in_scope
from dapr_agents_durable.adapters.crewai.errors import aborting, as_raised
from dapr_agents_durable.adapters.crewai.llm_seam import absorb
from dapr_agents_durable.adapters.crewai.names import TASK_WORKFLOW, WORKFLOW
from dapr_agents_durable.adapters.crewai.outputs import decode_task_output, encode_task_output
from dapr_agents_durable.adapters.crewai.scope import RunScope, run_scope
from dapr_agents_durable.loop import ChildWorkflowError, await_only, current_execution, on_durable_loop
from dapr_agents_durable.loop.bridge import BridgeGreenlet
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.run_ids import derived_run_id

_native_aexecute_sync = Task.aexecute_sync
_native_ainvoke_guardrail = Task._ainvoke_guardrail_function
_native_execute_task = Agent.execute_task
_native_kickoff = Agent.kickoff


async def _aexecute_sync(self: Task, agent: Any = None, context: str | None = None, tools: Any = None) -> Any:
    if not on_durable_loop() or current_execution().workflow_name != WORKFLOW:
        return await _native_aexecute_sync(self, agent, context, tools)
    with aborting():
        scope = run_scope()
        crew = scope.crew
        index = next((i for i, task in enumerate(crew.tasks) if task is self), None)
        if index is None:  # a task the crew does not list: runs in the crew's workflow
            return await _native_aexecute_sync(self, agent, context, tools)
        windows = rpm.snapshot(scope)
        request = {
            "root": scope.root,
            "crew": scope.crew_name,
            "inputs": scope.inputs,
            "task": index,
            "agent": runs.agent_slot(crew, agent or self.agent),
            "context": checked(context, what=f"context of task {index}"),
            "rpm": windows,
        }
        try:
            done = await current_execution().call_child_workflow(
                TASK_WORKFLOW, request, instance_id=derived_run_id(scope.root, "task", str(index))
            )
        except ChildWorkflowError as err:
            raise as_raised(err) from err
        absorb(done["usage"])
        rpm.absorb(scope, windows, rpm.windows_of(done))
        output = decode_task_output(done["output"], self)
        self.output = output
        return output


def _execute_task(self: Agent, task: Task, context: str | None = None, tools: Any = None) -> Any:
    """``Agent.execute_task``: in sync code on the durable loop (a delegation), the async one."""
    if isinstance(greenlet.getcurrent(), BridgeGreenlet) and on_durable_loop():
        fresh_executor(self)
        return await_only(self.aexecute_task(task, context, tools))
    return _native_execute_task(self, task, context, tools)


async def _ainvoke_guardrail_function(
    self: Task, task_output: Any, agent: Any, tools: Any, guardrail: Any, guardrail_index: int | None = None
) -> Any:
    """On the durable loop: CrewAI's sync guardrail check, as sync code the loop runs."""
    if not on_durable_loop():
        return await _native_ainvoke_guardrail(self, task_output, agent, tools, guardrail, guardrail_index)
    return await asyncio.to_thread(self._invoke_guardrail_function, task_output, agent, tools, guardrail, guardrail_index)


def _kickoff(
    self: Agent, messages: Any, response_format: Any = None, input_files: Any = None, from_checkpoint: Any = None
) -> Any:
    """``Agent.kickoff``: in sync code on the durable loop (an LLM guardrail's agent), the async one."""
    if from_checkpoint is None and isinstance(greenlet.getcurrent(), BridgeGreenlet) and on_durable_loop():
        return await_only(self.kickoff_async(messages, response_format, input_files))
    return _native_kickoff(self, messages, response_format, input_files, from_checkpoint)


def fresh_executor(agent: Any) -> None:
    """Let the agent build a new executor for this execution: one left behind by an execution the
    worker abandoned (a replay started over) may still count as running until it is torn down."""
    agent.agent_executor = None


def install() -> None:
    """Route a durable crew's tasks to child workflows, and sync agent runs to the loop (idempotent)."""
    Task.aexecute_sync = _aexecute_sync  # type: ignore[method-assign]
    Task._ainvoke_guardrail_function = _ainvoke_guardrail_function  # type: ignore[method-assign]
    Agent.execute_task = _execute_task  # type: ignore[method-assign]
    Agent.kickoff = _kickoff  # type: ignore[method-assign]


async def _child_scope(instance_id: str, request: dict[str, Any]) -> RunScope:
    crew = runs.crew_of(request["root"], request["crew"], request["inputs"])
    return RunScope(request["root"], request["crew"], request["inputs"], crew, top=False, rpm=rpm.windows_of(request))


def task_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Any:
    """One task of the crew: CrewAI's own ``Task.aexecute_sync``; its output and token usage."""

    async def main(scope: RunScope) -> dict[str, Any]:
        crew = scope.crew
        task = crew.tasks[request["task"]]
        agent = runs.find_agent(crew, request["agent"])
        tools = crew._prepare_tools(agent, task, task.tools or agent.tools or [])
        fresh_executor(agent)
        output = await _native_aexecute_sync(task, agent, request["context"], tools)
        return {"output": encode_task_output(output), "usage": scope.usage, "rpm": scope.rpm}

    return (
        yield from run_in_scope(
            ctx, lambda: _child_scope(ctx.instance_id, request), main, label=f"task {request['task']} of crew {request['crew']!r}"
        )
    )


def delegate_workflow(ctx: wf.DaprWorkflowContext, request: dict[str, Any]) -> Any:
    """One delegation or coworker question: CrewAI's own tool over the same coworkers."""

    async def main(scope: RunScope) -> dict[str, Any]:
        by_role = {agent.role: agent for agent in scope.crew.agents}
        coworkers = [by_role[role] for role in request["coworkers"] if role in by_role]
        tool = next(t for t in AgentTools(agents=coworkers).tools() if t.name == request["tool"])
        result = await asyncio.to_thread(tool._run, **request["arguments"])
        return {"result": checked(result, what=f"result of {request['tool']!r}"), "usage": scope.usage, "rpm": scope.rpm}

    return (
        yield from run_in_scope(
            ctx, lambda: _child_scope(ctx.instance_id, request), main, label=f"{request['tool']!r} of crew {request['crew']!r}"
        )
    )
