"""LLM calls as activities: every ``BaseLLM.call`` / ``acall`` in a durable run is one ``crewai.model``.

CrewAI wraps the ``call`` and ``acall`` of every ``BaseLLM`` subclass (its providers and
yours) in its rate-limit retry (``crewai.llms.retry``), looked up when the call is made.
:func:`install` puts :func:`_durable_call` / :func:`_adurable_call` in its place: on a
durable loop the call becomes an activity naming the LLM by its place in the crew
(``"agents.0.llm"``); anywhere else CrewAI's own retry runs, unchanged. The activity
calls the real LLM once: CrewAI's retry does not run there (it would sleep and re-pay),
the provider client's retries are off, and the durable retry policy retries transient
failures only (``runtime/retries.py``).

Token usage is counted by the LLM object: the activity reports what the call added,
and the workflow side adds it to the LLM the crew sees, live or replayed. In a flow
(``crewai.flow``) an LLM is named by the call that met it (see :mod:`.live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import dapr.ext.workflow as wf
from crewai.llms import base_llm
from crewai.llms.base_llm import BaseLLM, call_stop_override
from crewai.utilities.agent_utils import extract_tool_call_info
from pydantic import BaseModel

from dapr_agents_durable.adapters.crewai import runs
from dapr_agents_durable.adapters.crewai.errors import aborting, as_raised
from dapr_agents_durable.adapters.crewai.names import MODEL_ACTIVITY
from dapr_agents_durable.adapters.crewai.live import live
from dapr_agents_durable.adapters.crewai.scope import FlowScope, check_suspendable, flow_scope, next_call_id, run_scope
from dapr_agents_durable.loop import ActivityError, await_only, current_execution, on_durable_loop
from dapr_agents_durable.runtime import Registry, idempotency
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.retries import MODEL_RETRY_POLICY, fail_for_retry, stored_once_paid

LIVE_LLMS: Registry[BaseLLM] = Registry("CrewAI LLM")
"""LLMs called by a flow's code in this process, by ``"<run id>/<call id>"`` (see :mod:`.live`)."""

_native_call = base_llm.run_with_rate_limit_retry
_native_acall = base_llm.arun_with_rate_limit_retry

_USAGE_KEYS = (
    "total_tokens", "prompt_tokens", "cached_prompt_tokens", "completion_tokens",
    "successful_requests", "reasoning_tokens", "cache_creation_tokens",
)


def _parts(operation: Callable[[], Any]) -> tuple[BaseLLM, tuple[Any, ...], dict[str, Any]]:
    """The LLM, positional and keyword arguments of CrewAI's wrapped call (its closure)."""
    cells = dict(zip(operation.__code__.co_freevars, operation.__closure__ or (), strict=True))
    try:
        return cells["instance"].cell_contents, cells["args"].cell_contents, cells["kwargs"].cell_contents
    except KeyError as exc:
        raise TypeError(
            "this CrewAI release wraps LLM calls differently; the durable adapter supports crewai 1.15"
        ) from exc


def _request(llm: BaseLLM, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("messages", "tools", "callbacks", "available_functions", "from_task", "from_agent", "response_model")
    call = {**dict(zip(names, args)), **kwargs}
    if call.get("available_functions"):
        raise NotImplementedError(
            f"LLM {llm.model!r}: calls that let the LLM run functions itself (available_functions) are "
            "not durable; use an LLM with native function calling or the ReAct text path"
        )
    messages = call.get("messages")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    response_model = call.get("response_model")
    return {
        **_where(llm),
        "method": method,
        "messages": checked(messages, what=f"messages for LLM {llm.model!r}"),
        "tools": checked(call.get("tools"), what=f"tool schemas for LLM {llm.model!r}"),
        # CrewAI merges stop words through a set, whose order varies between processes.
        "stop": sorted(llm.stop_sequences),
        "response_model": None if response_model is None else f"{response_model.__module__}:{response_model.__qualname__}",
    }


def _where(llm: BaseLLM) -> dict[str, Any]:
    """Where the activity finds ``llm``: its place in the crew, or (in a flow) the call that met it."""
    flow = flow_scope()
    if flow is not None:
        key = next_call_id("model")
        LIVE_LLMS.add(f"{flow.root}/{key}", llm)
        return {"flow": flow.root, "llm": key}
    scope = run_scope()
    return {"crew": scope.crew_name, "root": scope.root, "inputs": scope.inputs, "llm": runs.llm_slot(scope.crew, llm)}


def _absorb_in_flow(flow: FlowScope, llm: BaseLLM, usage: dict[str, int]) -> None:
    """Count ``usage`` on ``llm`` once per process: a replay finds it counted on the same LLM
    object, and counts it on a new one (made by the replayed method)."""
    key = f"{flow.root}/{next(flow.absorptions)}/{id(llm)}"
    if key in flow.counted:
        return
    flow.counted.add(key)
    for name, value in usage.items():
        llm._token_usage[name] = llm._token_usage.get(name, 0) + value


def absorb(usage: dict[str, dict[str, int]]) -> None:
    """Count token ``usage`` (by LLM slot) in this instance: on the crew's LLMs at the top of the
    run (once per process: a replay of the run finds it counted), else in the child's ledger,
    which goes to its parent with its result."""
    scope = run_scope()
    if scope.top:
        key = f"{current_execution().instance_id}/{next(scope.absorptions)}"
        counted = runs.crew_run(scope.root, scope.crew_name, scope.inputs).counted
        if key in counted:
            return
        counted.add(key)
    for slot, counts in usage.items():
        if scope.top:
            counters = runs.find_llm(scope.crew, slot)._token_usage
        else:
            counters = scope.usage.setdefault(slot, {})
        for key, value in counts.items():
            counters[key] = counters.get(key, 0) + value


def _reply(llm: BaseLLM, request: dict[str, Any], data: dict[str, Any]) -> Any:
    """The LLM's reply on the workflow side; its token usage counted (:func:`absorb`)."""
    flow = flow_scope()
    if flow is not None:
        _absorb_in_flow(flow, llm, data.get("usage") or {})
    else:
        absorb({request["llm"]: data.get("usage") or {}})
    if "tool_calls" in data:
        return data["tool_calls"]
    if "structured" in data:
        return model_class(request["response_model"]).model_validate(data["structured"])
    return data["text"]


def _durable_call(operation: Callable[[], Any], **options: Any) -> Any:
    if not on_durable_loop():
        return _native_call(operation, **options)
    llm, args, kwargs = _parts(operation)
    check_suspendable(f"LLM {llm.model!r}", "`await llm.acall(...)`")
    with aborting():
        request = _request(llm, "call", args, kwargs)
        try:
            data = await_only(current_execution().call_activity(MODEL_ACTIVITY, request, retry_policy=MODEL_RETRY_POLICY))
        except ActivityError as err:
            raise as_raised(err) from err
        return _reply(llm, request, data)


async def _adurable_call(operation: Callable[[], Any], **options: Any) -> Any:
    if not on_durable_loop():
        return await _native_acall(operation, **options)
    llm, args, kwargs = _parts(operation)
    with aborting():
        request = _request(llm, "acall", args, kwargs)
        try:
            data = await current_execution().call_activity(MODEL_ACTIVITY, request, retry_policy=MODEL_RETRY_POLICY)
        except ActivityError as err:
            raise as_raised(err) from err
        return _reply(llm, request, data)


def install() -> None:
    """Route every ``BaseLLM`` subclass's ``call`` / ``acall`` through the durable seam (idempotent)."""
    base_llm.run_with_rate_limit_retry = _durable_call  # type: ignore[assignment]
    base_llm.arun_with_rate_limit_retry = _adurable_call  # type: ignore[assignment]


# ---------------------------------------------------------------- the activity


def model_class(path: str) -> type[BaseModel]:
    module, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, BaseModel)):
        raise TypeError(f"response model {path!r} is not a pydantic model")
    return target


@contextlib.contextmanager
def _without_client_retries(llm: BaseLLM) -> Iterator[None]:
    """The provider clients the LLM holds (OpenAI, Anthropic, ...) with their own retries off."""
    swapped: dict[str, Any] = {}
    for attr in ("_client", "_async_client"):
        client = getattr(llm, attr, None)
        if client is not None and hasattr(client, "with_options"):
            swapped[attr] = client
            setattr(llm, attr, client.with_options(max_retries=0))
    try:
        yield
    finally:
        for attr, client in swapped.items():
            setattr(llm, attr, client)


def _tool_call(call: Any, llm: BaseLLM) -> dict[str, Any]:
    if isinstance(call, dict) and isinstance(call.get("function"), dict) and "id" in call:
        arguments = call["function"].get("arguments", "")
        name = call["function"].get("name", "")
        return {"id": call["id"], "type": "function", "function": {"name": name, "arguments": arguments}}
    info = extract_tool_call_info(call)
    if info is None:
        raise TypeError(f"LLM {llm.model!r} returned a tool call of unknown shape: {call!r}")
    call_id, name, arguments = info
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _encode_reply(reply: Any, llm: BaseLLM) -> dict[str, Any]:
    what = f"reply of LLM {llm.model!r}"
    if isinstance(reply, BaseModel):
        return {"structured": checked(reply.model_dump(mode="json"), what=what)}
    if isinstance(reply, list):
        return {"tool_calls": checked([_tool_call(call, llm) for call in reply], what=what)}
    if isinstance(reply, str):
        return {"text": checked(reply, what=what)}
    raise TypeError(f"LLM {llm.model!r} replied with a {type(reply).__name__}; expected text, tool calls or a model")


async def model_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> dict[str, Any]:
    """Call the crew's real LLM once with the recorded request; the reply and its token usage."""
    if "flow" in request:
        llm = await live(LIVE_LLMS, request["flow"], request["llm"])
    else:
        crew = await asyncio.to_thread(lambda: runs.crew_run(request["root"], request["crew"], request["inputs"]).crew)
        llm = runs.find_llm(crew, request["llm"])
    response_model = model_class(request["response_model"]) if request.get("response_model") else None
    method = getattr(type(llm), request["method"])
    call = getattr(method, "__wrapped__", method)  # CrewAI's retry wrapper stays out
    arguments: dict[str, Any] = {"tools": request["tools"]}
    if response_model is not None:
        arguments["response_model"] = response_model
    with idempotency.step_key(ctx.workflow_id, f"model-{ctx.task_id}"):
        try:
            if request["method"] == "acall":
                with call_stop_override(llm, request["stop"]), _without_client_retries(llm):
                    before = dict(llm._token_usage)
                    reply = await call(llm, request["messages"], **arguments)
                    usage = _take_usage(llm, before)
            else:
                reply, usage = await asyncio.to_thread(_call_sync, call, llm, request, arguments)
        except Exception as exc:
            await fail_for_retry(exc)  # transient failures retried after Retry-After, others at once
    with stored_once_paid():
        return {**_encode_reply(reply, llm), "usage": usage, "model": llm.model}


def _call_sync(call: Any, llm: BaseLLM, request: dict[str, Any], arguments: dict[str, Any]) -> tuple[Any, dict[str, int]]:
    with runs.llm_lock(llm), call_stop_override(llm, request["stop"]), _without_client_retries(llm):
        before = dict(llm._token_usage)
        reply = call(llm, request["messages"], **arguments)
        return reply, _take_usage(llm, before)


def _take_usage(llm: BaseLLM, before: dict[str, int]) -> dict[str, int]:
    """What the call added to the LLM's token counters, which go back to ``before``:
    the workflow side adds it to the crew's LLM (the same object, in this process)."""
    after = llm._token_usage
    usage = {key: after.get(key, 0) - before.get(key, 0) for key in _USAGE_KEYS if after.get(key, 0) != before.get(key, 0)}
    after.clear()
    after.update(before)
    return usage
