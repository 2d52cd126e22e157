"""Exceptions of model, tool and node activities, raised again in the workflow as natively.

A call that fails in its activity reaches the workflow as a type name and a message; the
node gets the same type back (built-ins, LangChain's ``ToolException``), so a node's
``RetryPolicy(retry_on=...)``, ``ToolNode``'s error handling and the caller see what a
native run would. Other types become :class:`CallFailed` carrying the type's name.

Example::

    try:
        reply = await execution.call_activity(TOOL_ACTIVITY, payload)
    except ActivityError as err:
        raise as_raised(err) from None
"""

from __future__ import annotations

from langchain_core.tools import ToolException

from dapr_agents_durable.loop import DurableTaskError
from dapr_agents_durable.runtime.raised import CallFailed, rebuilt, recorded

_MESSAGE_ONLY: dict[str, type[Exception]] = {kind.__name__: kind for kind in (ToolException,)}


def as_raised(err: DurableTaskError) -> BaseException:
    """The exception the activity's call raised, as close as it can be rebuilt."""
    return rebuilt(*recorded(err.error_type, err.error_message), _MESSAGE_ONLY, fallback=CallFailed)
