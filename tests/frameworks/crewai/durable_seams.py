"""CrewAI's seams made durable: each LLM call and each tool call is one workflow activity.

A crew runs unchanged inside the workflow :func:`crew_workflow`: CrewAI's own
``Crew.akickoff`` runs on the durable loop, the sync Flow methods of CrewAI's
``AgentExecutor`` run in greenlets on the loop thread, and the seams below suspend them
on durable work:

* :class:`DurableLLM` stands in for an LLM registered in :data:`registered_llms`; each
  ``call`` is the activity :data:`LLM_ACTIVITY`, which calls the real LLM.
* :func:`durable_tool` registers a tool and returns its stand-in; each run is the
  activity :data:`TOOL_ACTIVITY`, which runs the real tool.
* :class:`DurableHumanInput` answers ``Task(human_input=True)`` with the external event
  :data:`FEEDBACK_EVENT`.
* :func:`install` makes CrewAI run the parallel native tool calls of one LLM turn one
  after the other on the loop thread: a seam reached from CrewAI's thread pool cannot
  suspend the workflow.

Messages and tool calls cross the activity boundary as explicit JSON: CrewAI's own
``LLMMessage`` shape and OpenAI-style tool-call dicts, both checked by ``dapr_agents_durable.runtime.codec``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Literal, ParamSpec, TypeVar

from crewai import Crew
from crewai.agents import agent_executor
from crewai.core.providers.human_input import SyncHumanInputProvider, set_provider
from crewai.llms.base_llm import BaseLLM, call_stop_override
from crewai.tools import BaseTool
from crewai.utilities.agent_utils import extract_tool_call_info
from crewai.utilities.types import LLMMessage
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from dapr_agents_durable.loop import await_only, current_execution, drive
from dapr_agents_durable.loop.execution import bound_execution
from dapr_agents_durable.runtime import DurableRuntime, Registry
from dapr_agents_durable.runtime.codec import Codec, checked

CREW_WORKFLOW = "crewai.crew"
LLM_ACTIVITY = "crewai.llm"
TOOL_ACTIVITY = "crewai.tool"
FEEDBACK_EVENT = "crewai.human_feedback"
ACTIVITY_LOOKUP_SECONDS = 10.0
"""How long an activity waits for its LLM or tool to be registered (after a restart)."""

P = ParamSpec("P")
T = TypeVar("T")


class FunctionCall(TypedDict):
    """The function a tool call names, with its JSON-encoded arguments."""

    name: str
    arguments: str


class ToolCall(TypedDict):
    """One native tool call, in the OpenAI shape CrewAI's executor accepts."""

    id: str
    type: Literal["function"]
    function: FunctionCall


registered_llms: Registry[BaseLLM] = Registry("CrewAI LLM")
registered_tools: Registry[BaseTool] = Registry("CrewAI tool")
registered_crews: Registry[Callable[[], Crew]] = Registry("CrewAI crew")

MESSAGES = Codec(TypeAdapter(list[LLMMessage]), what="CrewAI LLM messages")
TOOL_CALLS = Codec(TypeAdapter(list[ToolCall]), what="CrewAI tool calls")


# ---------------------------------------------------------------- LLM


class DurableLLM(BaseLLM):
    """The workflow's stand-in for the LLM registered as ``target``."""

    llm_type: str = "durable"
    target: str

    def call(
        self,
        messages: str | list[LLMMessage],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str | list[ToolCall]:
        """Ask the registered LLM, as one activity: its text or its tool calls."""
        if response_model is not None or available_functions:
            raise NotImplementedError(
                f"LLM {self.target!r}: structured output and LLM-executed functions are "
                "not durable yet; use native tool calling without output_pydantic."
            )
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        request = {
            "llm": self.target,
            "messages": MESSAGES.encode(messages),
            "tools": checked(tools or [], what=f"tool schemas for LLM {self.target!r}"),
            # CrewAI merges stop words through a set, whose order varies between processes.
            "stop": sorted(self.stop_sequences),
        }
        reply = await_only(current_execution().call_activity(LLM_ACTIVITY, request))
        if "tool_calls" in reply:
            return TOOL_CALLS.decode(reply["tool_calls"])
        return str(reply["text"])

    # The workflow engine retries activities; CrewAI's own rate-limit retry would
    # sleep on the workflow's thread, so this call opts out of it.
    call._crewai_rate_limit_wrapped = True  # type: ignore[attr-defined]

    def supports_function_calling(self) -> bool:
        """As the registered LLM says (CrewAI looks the method up with ``hasattr``)."""
        supports = getattr(self._target_llm(), "supports_function_calling", None)
        return bool(supports is not None and supports())

    def get_context_window_size(self) -> int:
        """As the registered LLM says."""
        return self._target_llm().get_context_window_size()

    def _target_llm(self) -> BaseLLM:
        return registered_llms.wait(self.target, 0)


def llm_activity(ctx: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Call the registered LLM once: ``{"text": ...}`` or ``{"tool_calls": [...]}``."""
    name = request["llm"]
    llm = registered_llms.wait(name, ACTIVITY_LOOKUP_SECONDS)
    with call_stop_override(llm, request["stop"]):
        reply = llm.call(
            MESSAGES.decode(request["messages"]), tools=request["tools"] or None
        )
    if isinstance(reply, list):
        calls = [_tool_call(call, name) for call in reply]
        return {
            "tool_calls": TOOL_CALLS.encode(calls, what=f"tool calls of LLM {name!r}")
        }
    if isinstance(reply, str):
        return {"text": checked(reply, what=f"reply of LLM {name!r}")}
    raise TypeError(
        f"LLM {name!r} replied with a {type(reply).__name__}; expected text or tool calls"
    )


def _tool_call(call: Any, llm: str) -> ToolCall:
    info = extract_tool_call_info(call)
    if info is None:
        raise TypeError(f"LLM {llm!r} returned a tool call of unknown shape: {call!r}")
    call_id, name, arguments = info
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


# ---------------------------------------------------------------- tools


class _DurableTool(BaseTool):
    """A registered tool's stand-in: same name, description and arguments."""

    def _run(self, **arguments: Any) -> Any:
        request = {
            "tool": self.name,
            "arguments": checked(arguments, what=f"arguments of tool {self.name!r}"),
        }
        return await_only(current_execution().call_activity(TOOL_ACTIVITY, request))


def durable_tool(tool: BaseTool) -> BaseTool:
    """Register ``tool`` and return its stand-in, whose every run is one activity."""
    registered_tools.add(tool.name, tool)
    return _DurableTool(
        name=tool.name, description=tool.description, args_schema=tool.args_schema
    )


def tool_activity(ctx: Any, request: dict[str, Any]) -> Any:
    """Run the registered tool once; its result, which must be JSON."""
    name = request["tool"]
    result = registered_tools.wait(name, ACTIVITY_LOOKUP_SECONDS).run(
        **request["arguments"]
    )
    return checked(result, what=f"result of tool {name!r}")


# ---------------------------------------------------------------- human input


class DurableHumanInput(SyncHumanInputProvider):
    """Feedback on a task's answer arrives as the workflow event :data:`FEEDBACK_EVENT`.

    The payload is the feedback text. An empty text accepts the answer, and so does an
    event without payload (the Dapr client sends none for an empty string).
    """

    @staticmethod
    async def _prompt_input_async(crew: Crew | None) -> str:
        feedback = await current_execution().wait_for_event(FEEDBACK_EVENT)
        return "" if feedback is None else str(feedback)


# ---------------------------------------------------------------- parallel tool calls


class _InlineExecutor(Executor):
    """Runs each submitted call at once, on the submitting thread."""

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
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
    """Give CrewAI's agent executor :func:`_tool_call_pool` as its ``ThreadPoolExecutor``."""
    agent_executor.ThreadPoolExecutor = _tool_call_pool  # type: ignore[assignment,misc]


# ---------------------------------------------------------------- the workflow


async def run_crew(request: dict[str, Any]) -> dict[str, Any]:
    """Build the registered crew and run CrewAI's own ``akickoff`` on the durable loop."""
    set_provider(DurableHumanInput())
    crew = registered_crews.wait(request["crew"], 0)()
    output = await crew.akickoff(inputs=request.get("inputs") or {})
    return {"raw": output.raw, "tasks": [task.raw for task in output.tasks_output]}


def crew_workflow(ctx: Any, request: dict[str, Any]) -> Any:
    """The orchestrator: CrewAI's own loop, stepped durably."""
    return (
        yield from drive(
            ctx, lambda: run_crew(request), label=f"crew {request['crew']!r}"
        )
    )


def register(runtime: DurableRuntime) -> None:
    """Install the executor patch; register the crew workflow, LLM and tool activities."""
    install()
    runtime.register_workflow(CREW_WORKFLOW, crew_workflow)
    runtime.register_activity(LLM_ACTIVITY, llm_activity)
    runtime.register_activity(TOOL_ACTIVITY, tool_activity)
