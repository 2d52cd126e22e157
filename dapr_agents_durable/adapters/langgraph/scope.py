"""Whether code runs for a durable graph run, and the guard for calls that escape the durable loop.

LangGraph's sync ``invoke`` runs parallel nodes on a thread pool; a model or tool call made
there is off the durable loop and would bypass the history. The workflow always drives the
graph with ``ainvoke``/``astream``, and marks its context: a call that still lands on another
thread (a node starting its own threads) carries the mark and fails with
:class:`EscapedDurability` instead of running unrecorded.
"""

from __future__ import annotations

import contextvars

from dapr_agents_durable.loop import on_durable_loop

IN_DURABLE_RUN: contextvars.ContextVar[bool] = contextvars.ContextVar("langgraph_durable_run", default=False)


class EscapedDurability(RuntimeError):
    """A model or tool call of a durable graph ran off the durable loop (on another thread)."""


def durable_call(what: str) -> bool:
    """True to route ``what`` to an activity; raises if it escaped the durable loop of its run."""
    if on_durable_loop():
        return True
    if IN_DURABLE_RUN.get():
        raise EscapedDurability(
            f"{what} of a durable LangGraph run was made off the durable loop (on another thread), "
            "so it would not be recorded. Call models and tools from the node itself (sync or async "
            "def), not from threads the node starts; or run the node as one activity with "
            "durable_node(fn)."
        )
    return False
