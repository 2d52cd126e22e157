"""Chat-model calls made inside nodes become ``langgraph.model`` activities.

``BaseChatModel._agenerate_with_cache`` / ``_generate_with_cache`` are where every
provider's ``invoke``/``ainvoke`` (and ``bind_tools``/``with_structured_output`` chains,
which end in them) generates. On a durable loop they request the activity instead; the
activity runs the original method on the real model. LangGraph's own handlers
(``stream_mode="messages"``) hear the call in the workflow, once per model response; the
app's handlers (LangSmith, ``config["callbacks"]``, handlers bound on the model) hear it in
the activity, once per real call (:mod:`~dapr_agents_durable.adapters.langgraph.callbacks`).
``stream``/``astream`` on a durable loop yield the whole response as one chunk.

The history records each request as LangChain's ``messages_to_dict`` data, encoded against
the run's previous model request (:mod:`dapr_agents_durable.runtime.deltas`): a request that
extends the conversation stores only its new messages, so a run's history grows linearly
with its length, and each message object is encoded once per run
(:class:`~dapr_agents_durable.adapters.langgraph.codec.MessageData`). The activity runs the
model on the node's own messages, left for it in this process with the model
(:mod:`~dapr_agents_durable.adapters.langgraph.calls`). The result crosses the boundary as
``message_to_dict`` data (tool calls, ``usage_metadata``, ``response_metadata`` survive);
both are checked by the runtime codec.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_core.messages.utils import _msg_to_chunk
from langchain_core.outputs import ChatGeneration, ChatResult

from dapr_agents_durable.adapters.langgraph import callbacks, resumes
from dapr_agents_durable.adapters.langgraph.calls import leave, take
from dapr_agents_durable.adapters.langgraph.codec import MessageData
from dapr_agents_durable.adapters.langgraph.errors import as_raised
from dapr_agents_durable.adapters.langgraph.names import MODEL_ACTIVITY
from dapr_agents_durable.adapters.langgraph.scope import durable_call
from dapr_agents_durable.loop import ActivityError, DurableExecution, await_only, current_execution
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.codec import JSONValue, checked
from dapr_agents_durable.runtime.deltas import DeltaEncoder
from dapr_agents_durable.runtime.retries import MODEL_RETRY_POLICY, fail_for_retry, stored_once_paid

_original_agenerate = BaseChatModel._agenerate_with_cache
_installed = False


def install() -> None:
    """Route chat-model generation on durable loops to the activity, and its callbacks there (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    callbacks.install()
    original_generate = BaseChatModel._generate_with_cache
    original_stream = BaseChatModel.stream
    original_astream = BaseChatModel.astream

    @functools.wraps(_original_agenerate)
    async def agenerate(self: BaseChatModel, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        if not durable_call(f"chat model {type(self).__name__}"):
            return await _original_agenerate(self, messages, stop, run_manager, **kwargs)
        return await _request(self, messages, stop, run_manager, kwargs)

    @functools.wraps(original_generate)
    def generate(self: BaseChatModel, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        if not durable_call(f"chat model {type(self).__name__}"):
            return original_generate(self, messages, stop, run_manager, **kwargs)
        return await_only(_request(self, messages, stop, run_manager, kwargs))  # type: ignore[no-any-return]

    @functools.wraps(original_stream)
    def stream(self: BaseChatModel, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        if not durable_call(f"chat model {type(self).__name__}"):
            yield from original_stream(self, input, config, **kwargs)
            return
        yield _msg_to_chunk(self.invoke(input, config, **kwargs))

    @functools.wraps(original_astream)
    async def astream(self: BaseChatModel, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        if not durable_call(f"chat model {type(self).__name__}"):
            async for chunk in original_astream(self, input, config, **kwargs):
                yield chunk
            return
        yield _msg_to_chunk(await self.ainvoke(input, config, **kwargs))

    BaseChatModel._agenerate_with_cache = agenerate  # type: ignore[method-assign]
    BaseChatModel._generate_with_cache = generate  # type: ignore[method-assign]
    BaseChatModel.stream = stream  # type: ignore[method-assign]
    BaseChatModel.astream = astream  # type: ignore[method-assign,assignment]


@dataclass
class _Requests:
    """Workflow side, per durable execution: the messages encoded so far and the request encoder."""

    messages: MessageData = field(default_factory=MessageData)
    encoder: DeltaEncoder = field(default_factory=DeltaEncoder)


_REQUESTS: weakref.WeakKeyDictionary[DurableExecution, _Requests] = weakref.WeakKeyDictionary()


async def _request(model: BaseChatModel, messages: list[BaseMessage], stop: Any, run_manager: Any, kwargs: dict[str, Any]) -> ChatResult:
    execution = current_execution()
    requests = _REQUESTS.get(execution)
    if requests is None:
        requests = _REQUESTS[execution] = _Requests()
    data, texts = requests.messages.encode(messages)
    name = type(model).__name__
    task, call = resumes.current_task(), resumes.digest({"model": name, "messages": texts, "stop": stop, "kwargs": kwargs})
    reply = resumes.recall(execution, task, call)
    if reply is None:
        request = {"model": name, "messages": data}
        start = callbacks.take_start(execution, run_manager)
        payload = {**requests.encoder.encode(request), "call": leave(execution, (model, messages, stop, kwargs, start))}
        try:
            reply = await execution.call_activity(
                MODEL_ACTIVITY, checked(payload, what=f"input of chat model {name}"), retry_policy=MODEL_RETRY_POLICY
            )
        except ActivityError as err:
            raise as_raised(err) from None
        resumes.remember(execution, task, call, reply)
    return decode_result(reply)


def encode_result(result: ChatResult) -> JSONValue:
    """A ``ChatResult`` as JSON: its generations' messages (LangChain's dicts) and info."""
    return checked(
        {
            "generations": [
                {"message": message_to_dict(g.message), "info": g.generation_info}
                for g in result.generations
                if isinstance(g, ChatGeneration)
            ],
            "llm_output": result.llm_output,
        },
        what="chat model result",
    )


def decode_result(data: Any) -> ChatResult:
    """The ``ChatResult`` encoded by :func:`encode_result`."""
    generations = [
        ChatGeneration(message=messages_from_dict([g["message"]])[0], generation_info=g["info"])
        for g in data["generations"]
    ]
    return ChatResult(generations=generations, llm_output=data["llm_output"])


async def model_activity(ctx: Any, request: dict[str, Any]) -> JSONValue:
    """Run the node's chat model on the node's messages, reported to the app's handlers; its provider retries are off."""
    model, messages, stop, kwargs, start = await take(request["call"], ctx.workflow_id)
    model = _without_client_retries(model)
    try:
        with idempotency.step_key(ctx.workflow_id, f"model-{ctx.task_id}"):
            result = await callbacks.run_model(start, lambda run: _original_agenerate(model, messages, stop, run, **kwargs))
    except Exception as exc:
        await fail_for_retry(exc)
        raise
    with stored_once_paid():
        return encode_result(result)


def _without_client_retries(model: BaseChatModel) -> BaseChatModel:
    """The model with its provider client's own retries off (the durable retry policy retries).

    OpenAI-style models (``root_client``/``root_async_client``) get clients with
    ``max_retries=0``; other models with a ``max_retries`` field get it set to 0.
    """
    update: dict[str, Any] = {}
    for root_name, name in (("root_client", "client"), ("root_async_client", "async_client")):
        root = getattr(model, root_name, None)
        if root is not None and hasattr(root, "with_options"):
            quiet = root.with_options(max_retries=0)
            update[root_name] = quiet
            update[name] = quiet.chat.completions
    if getattr(model, "max_retries", None):
        update["max_retries"] = 0
    return model.model_copy(update=update) if update else model
