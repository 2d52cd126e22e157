"""``durable_node(fn)``: a node that runs as one ``langgraph.node`` activity.

By default a node runs in the workflow and only its model and tool calls are steps. A node
doing other I/O (an HTTP call, a database query, its own threads) can run whole as one
activity instead: its result is recorded and a replay does not run it again. Inside it,
model and tool calls run as plain calls, part of the node's one step.

Example::

    builder.add_node("fetch", durable_node(fetch_prices))
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig

from dapr_agents_durable.adapters.langgraph.callbacks import app_only
from dapr_agents_durable.adapters.langgraph.calls import leave, take
from dapr_agents_durable.adapters.langgraph.codec import decode_output, encode_output
from dapr_agents_durable.adapters.langgraph.errors import as_raised
from dapr_agents_durable.adapters.langgraph.names import NODE_ACTIVITY
from dapr_agents_durable.loop import ActivityError, current_execution, on_durable_loop
from dapr_agents_durable.runtime import idempotency
from dapr_agents_durable.runtime.codec import JSONValue, checked
from dapr_agents_durable.runtime.retries import MODEL_RETRY_POLICY, fail_for_retry


def durable_node(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (``(state)`` or ``(state, config)``, sync or async) as a node run as one activity."""
    if not callable(fn):
        raise TypeError(f"durable_node() takes a node function, got {type(fn).__name__}")
    takes_config = len(inspect.signature(fn).parameters) >= 2
    name = getattr(fn, "__name__", type(fn).__name__)

    async def node(state: Any, config: RunnableConfig) -> Any:
        if not on_durable_loop():
            return await _run(fn, state, config, takes_config)
        execution = current_execution()
        key = leave(execution, (fn, state, config, takes_config))
        try:
            reply = await execution.call_activity(
                NODE_ACTIVITY, checked({"call": key, "node": name}, what=f"call of node {name!r}"), retry_policy=MODEL_RETRY_POLICY
            )
        except ActivityError as err:
            raise as_raised(err) from None
        return decode_output(reply)

    # Not functools.wraps: LangGraph reads the node's signature (through __wrapped__) to pass config.
    node.__name__, node.__qualname__, node.__doc__ = name, getattr(fn, "__qualname__", name), fn.__doc__
    return node


async def _run(fn: Callable[..., Any], state: Any, config: RunnableConfig, takes_config: bool) -> Any:
    args = (state, config) if takes_config else (state,)
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    return await asyncio.to_thread(fn, *args)


async def node_activity(ctx: Any, request: dict[str, Any]) -> JSONValue:
    """Run the node function on its state, under the node's idempotency key."""
    fn, state, config, takes_config = await take(request["call"], ctx.workflow_id)
    own: Any = {**config, "callbacks": app_only(config.get("callbacks"))}  # LangGraph's own handlers stay in the workflow
    try:
        with idempotency.step_key(ctx.workflow_id, f"node-{ctx.task_id}"):
            return encode_output(await _run(fn, state, own, takes_config))
    except Exception as exc:
        await fail_for_retry(exc)
        raise
