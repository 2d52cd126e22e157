"""PydanticAI's seams made durable: each model request and each tool call is one activity.

An agent runs unchanged inside a workflow through :data:`AGENT_WORKFLOW`: its own
``agent.run`` loop runs on the durable loop, with the capability :class:`DaprDurability`
added to the run:

* ``get_wrapper_model`` wraps the model serving each request attempt in
  :class:`ActivityModel`, whose ``request`` becomes :data:`MODEL_ACTIVITY`; the activity
  calls the real model, looked up by name in :data:`models`. Every other capability's
  model-request hooks still run in the workflow.
* ``get_wrapper_toolset`` wraps each function toolset in :class:`ActivityToolset`, whose
  ``call_tool`` becomes :data:`TOOL_ACTIVITY`; the activity finds the toolset on the
  agent, looked up by name in :data:`agents`, and calls the tool there.
* ``wrap_run`` routes PydanticAI's sync callables (sync instructions, history
  processors, output functions) through the loop's ``run_in_executor``, so they run in
  greenlets on the loop thread and never escape to real threads.

Messages, responses and request parameters cross the activity boundary through
PydanticAI's own type adapters (``ModelMessagesTypeAdapter``, ``TypeAdapter(ModelResponse)``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Self

from pydantic_ai import Agent, FunctionToolset
from pydantic_ai.capabilities import AbstractCapability, WrapRunHandler
from pydantic_ai.durable_exec import DurableRunContext
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.run import AgentRunResult
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset

from dapr_agents_durable.loop import DurableLoopError, current_execution, drive
from dapr_agents_durable.loop.framework_shims import pydantic_ai as pydantic_ai_shims
from dapr_agents_durable.runtime import DurableRuntime, NotRegistered, Registry
from dapr_agents_durable.adapters.pydantic_ai.codec import JSON_OBJECT, JSON_VALUE, MESSAGES, PARAMETERS, RESPONSE, SETTINGS

AGENT_WORKFLOW = "pydantic_ai.agent"
MODEL_ACTIVITY = "pydantic_ai.model"
TOOL_ACTIVITY = "pydantic_ai.tool"
REGISTRY_WAIT_SECONDS = 10.0

agents: Registry[Agent[Any, Any]] = Registry("PydanticAI agent")
models: Registry[Model] = Registry("PydanticAI model")



def register(
    runtime: DurableRuntime, agent: Agent[Any, Any], *, models_by_name: dict[str, Model]
) -> None:
    """Make ``agent`` runnable as ``runtime.run(AGENT_WORKFLOW, {"agent": ..., "prompt": ...})``."""
    if not agent.name:
        raise UserError(
            "A durable agent needs a name: it is how workflows and activities find it."
        )
    pydantic_ai_shims.install()
    for name, model in models_by_name.items():
        models.add(name, model)
    agents.add(agent.name, agent)
    runtime.register_workflow(AGENT_WORKFLOW, agent_workflow)
    runtime.register_activity(MODEL_ACTIVITY, model_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)


# ---------------------------------------------------------------- workflow


def agent_workflow(ctx: Any, request: dict[str, Any]) -> Generator[Any, Any, Any]:
    """The agent's own ``agent.run`` on the durable loop; returns its output as JSON."""
    agent = agents.get(request["agent"])
    if agent is None:
        raise NotRegistered(
            f"No PydanticAI agent named {request['agent']!r} is registered in this process."
        )
    main = _run_agent(request["agent"], agent, request["prompt"])
    return (yield from drive(ctx, main, label=f"agent {request['agent']!r}"))


def _run_agent(
    name: str, agent: Agent[Any, Any], prompt: str
) -> Callable[[], Coroutine[Any, Any, Any]]:
    async def main() -> Any:
        result = await agent.run(prompt, capabilities=[DaprDurability(name)])
        return JSON_VALUE.encode(result.output, what=f"output of agent {name!r}")

    return main


class _LoopThreadOnly(Executor):
    """The executor PydanticAI hands sync callables to; the durable loop never uses it."""

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        raise DurableLoopError(
            "PydanticAI sent sync work to a thread outside the durable loop. Run the agent with "
            "`await agent.run(...)` inside the workflow, where the loop runs sync work itself."
        )


@dataclass
class DaprDurability(AbstractCapability[Any]):
    """Runs each model request and function-tool call of agent ``agent_name`` as an activity."""

    agent_name: str

    def get_wrapper_model(self, model: Model) -> Model | None:
        return ActivityModel(model, model_key=_registered_name(model))

    def get_wrapper_toolset(
        self, toolset: AbstractToolset[Any]
    ) -> AbstractToolset[Any] | None:
        return toolset.visit_and_replace(self._wrap_leaf)

    async def wrap_run(
        self, ctx: RunContext[Any], *, handler: WrapRunHandler
    ) -> AgentRunResult[Any]:
        with Agent.using_thread_executor(_LoopThreadOnly()):
            return await handler()

    def _wrap_leaf(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any]:
        if not isinstance(toolset, FunctionToolset):
            return toolset
        if toolset.id is None:
            raise UserError(
                f"A function toolset of agent {self.agent_name!r} has no id; give it one "
                "(FunctionToolset(..., id='...')) so its tool calls can run as activities."
            )
        return ActivityToolset(toolset, agent_name=self.agent_name)


def _registered_name(model: Model) -> str:
    for name in models.names():
        if models.get(name) is model:
            return name
    raise UserError(
        f"Model {model.model_name!r} is not registered; register it by name so that "
        "activities can find it."
    )


class ActivityModel(WrapperModel):
    """A model whose requests run as :data:`MODEL_ACTIVITY`, never in the workflow."""

    def __init__(self, wrapped: Model, *, model_key: str) -> None:
        super().__init__(wrapped)
        self.model_key = model_key

    async def __aenter__(self) -> Self:
        # The wrapped model is entered inside the activity, never in the workflow.
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        reply = await current_execution().call_activity(
            MODEL_ACTIVITY,
            {
                "model": self.model_key,
                "messages": MESSAGES.encode(messages),
                "settings": SETTINGS.encode(model_settings),
                "parameters": PARAMETERS.encode(model_request_parameters),
            },
        )
        return RESPONSE.decode(reply)

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise UserError(
            "Streaming model responses cannot run durably yet; use `agent.run(...)`."
        )


@dataclass
class ActivityToolset(WrapperToolset[Any]):
    """A function toolset whose tool calls run as :data:`TOOL_ACTIVITY`."""

    agent_name: str

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[Any],
        tool: ToolsetTool[Any],
    ) -> Any:
        return await current_execution().call_activity(
            TOOL_ACTIVITY,
            {
                "agent": self.agent_name,
                "toolset": self.wrapped.id,
                "tool": name,
                "args": JSON_OBJECT.encode(
                    tool_args, what=f"arguments of tool {name!r}"
                ),
                "run_context": JSON_OBJECT.encode(
                    DurableRunContext.serialize_run_context(ctx),
                    what=f"run context of tool {name!r}",
                ),
            },
        )


# ---------------------------------------------------------------- activities


async def model_activity(ctx: Any, request: dict[str, Any]) -> Any:
    """Send one model request with the real model, registered under ``request["model"]``."""
    model = models.wait(request["model"], timeout=REGISTRY_WAIT_SECONDS)
    response = await model.request(
        MESSAGES.decode(request["messages"]),
        SETTINGS.decode(request["settings"]),
        PARAMETERS.decode(request["parameters"]),
    )
    return RESPONSE.encode(response)


async def tool_activity(ctx: Any, request: dict[str, Any]) -> Any:
    """Call one tool of the agent's function toolset, with its arguments validated again."""
    agent = agents.wait(request["agent"], timeout=REGISTRY_WAIT_SECONDS)
    toolset = _function_toolset(agent, request["toolset"])
    run_context = DurableRunContext.deserialize_run_context(
        request["run_context"], deps=None
    )
    tool = (await toolset.get_tools(run_context))[request["tool"]]
    args = tool.args_validator.validate_python(request["args"])
    result = await toolset.call_tool(request["tool"], args, run_context, tool)
    return JSON_VALUE.encode(result, what=f"result of tool {request['tool']!r}")


def _function_toolset(agent: Agent[Any, Any], toolset_id: str) -> FunctionToolset[Any]:
    found: list[FunctionToolset[Any]] = []

    def visit(toolset: AbstractToolset[Any]) -> None:
        if isinstance(toolset, FunctionToolset) and toolset.id == toolset_id:
            found.append(toolset)

    for toolset in agent.toolsets:
        toolset.apply(visit)
    if not found:
        raise UserError(
            f"Agent {agent.name!r} has no function toolset with id {toolset_id!r}."
        )
    return found[0]
