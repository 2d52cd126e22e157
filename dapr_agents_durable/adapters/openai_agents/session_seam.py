"""Session reads and writes as activities.

The caller's ``Session`` stays in its process, registered under the run id
(:func:`register`); the SDK's run in the workflow gets a :class:`DurableSession`
instead, whose ``get_items``, ``add_items``, ``pop_item`` and ``clear_session`` each
become an ``openai_agents.session`` activity that calls the real session, on the
event loop that called ``Runner.run``. So history is loaded before the run and new
items are saved after it exactly as the SDK does (``session_settings``, the run
config's ``session_input_callback`` and ``session_settings`` included), and a
replay reads the recorded answers instead of the session.

The workflow input carries only what the SDK reads from a session without awaiting
it (:func:`describe`): its id, its settings, and whether it is an
``OpenAIConversationsSession`` (the SDK treats those differently, by ``isinstance``).
A process that restarts and calls ``Runner.run`` again with the run id and its
session registers it again; a session activity that arrives first waits for it.

Example::

    from agents import SQLiteSession
    from dapr_agents_durable.adapters.openai_agents import Runner

    session = SQLiteSession("user-1", "chat.db")
    await Runner.run(agent, "Hi, I'm Ada", session=session, run_id="chat-1")
    result = await Runner.run(agent, "What's my name?", session=session, run_id="chat-2")
"""

from __future__ import annotations

from typing import Any

import dapr.ext.workflow as wf
from agents import RunContextWrapper
from agents.memory import SessionABC, SessionSettings, is_openai_responses_compaction_aware_session
from agents.memory.openai_conversations_session import OpenAIConversationsSession
from agents.memory.session import _call_session_method, _get_session_wrapper
from dapr.ext.workflow._durabletask.task import NonRetryableError

from dapr_agents_durable.loop.home import Homed, home_loop
from dapr_agents_durable.adapters.openai_agents.names import SESSION_ACTIVITY
from dapr_agents_durable.adapters.openai_agents.runs import RUNS
from dapr_agents_durable.loop import current_execution
from dapr_agents_durable.loop.errors import ActivityError
from dapr_agents_durable.runtime import Registry
from dapr_agents_durable.runtime.codec import checked
from dapr_agents_durable.runtime.raised import CallFailed, failure_kept, raised_again
from dapr_agents_durable.runtime.registry import registered


class _RunSessions(Registry[Homed[Any]]):
    """The sessions of runs started (or attached to) in this process, by run id."""

    def discard(self, run_id: str) -> None:
        with self._changed:
            self._items.pop(run_id, None)


SESSIONS = _RunSessions("session")


def describe(session: Any) -> dict[str, Any] | None:
    """What the workflow needs to know of ``session`` (JSON), or None without a session."""
    if session is None:
        return None
    if is_openai_responses_compaction_aware_session(session):
        raise NotImplementedError(
            "sessions with Responses compaction (run_compaction) are not supported by durable runs "
            "yet; pass the session they wrap, or run the agent with agents.Runner"
        )
    settings = getattr(session, "session_settings", None)
    return {
        "id": _session_id(session),
        "limit": getattr(settings, "limit", None),
        "has_settings": settings is not None,
        "openai_conversations": isinstance(session, OpenAIConversationsSession),
        "ignore_ids_for_matching": bool(getattr(session, "_ignore_ids_for_matching", False)),
    }


def register(run_id: str, session: Any) -> None:
    """Make ``session`` the one the run's session activities use (called by ``Runner.run``)."""
    if session is not None:
        SESSIONS.add(run_id, Homed(session, home_loop()))


def unregister(run_id: str) -> None:
    SESSIONS.discard(run_id)


def _session_id(session: Any) -> str | None:
    """The session's id, or None while it has none (an ``OpenAIConversationsSession`` before its
    first call)."""
    try:
        value = session.session_id
    except Exception:  # the SDK's own lookup treats any failure as "no id yet"
        return None
    return value if isinstance(value, str) else None


class SessionCallFailed(CallFailed):
    """The real session raised an exception type that cannot be rebuilt here; the message is its
    exception's, ``error_type`` its class name."""


class DurableSession(SessionABC):
    """The workflow-side session: every call is an ``openai_agents.session`` activity."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.session_id = description["id"]
        self.session_settings = SessionSettings(limit=description["limit"]) if description["has_settings"] else None
        self._ignore_ids_for_matching = description["ignore_ids_for_matching"]

    async def get_items(self, limit: int | None = None) -> list[Any]:
        return await self._call("get_items", limit=limit)  # type: ignore[no-any-return]

    async def add_items(self, items: list[Any]) -> None:
        await self._call("add_items", items=items)

    async def pop_item(self) -> Any:
        return await self._call("pop_item")

    async def clear_session(self) -> None:
        await self._call("clear_session")

    async def _call(self, op: str, **arguments: Any) -> Any:
        request = {"op": op, "session_id": _session_id(self), **arguments}
        execution = current_execution()
        try:
            reply = await execution.call_activity(SESSION_ACTIVITY, request)
        except ActivityError as err:
            raise raised_again(
                execution.instance_id, err.error_type, err.error_message, fallback=SessionCallFailed
            ) from err
        if reply["session_id"] is not None:
            self.session_id = reply["session_id"]
        return reply["result"]


class DurableConversationsSession(DurableSession, OpenAIConversationsSession):
    """:class:`DurableSession` for an ``OpenAIConversationsSession``, which the SDK recognises
    by type; its id (the conversation id) is learnt from the first activity when not yet known."""

    def __init__(self, description: dict[str, Any]) -> None:
        DurableSession.__init__(self, description)


def durable_session(description: dict[str, Any] | None) -> DurableSession | None:
    """The session to give the SDK's run in the workflow, from :func:`describe`'s output."""
    if description is None:
        return None
    if description["openai_conversations"]:
        return DurableConversationsSession(description)
    return DurableSession(description)


async def session_activity(ctx: wf.WorkflowActivityContext, request: dict[str, Any]) -> Any:
    """Call the run's real session; the answer (and the session's id) is stored in history."""
    run_id = ctx.workflow_id
    handle = await registered(SESSIONS, run_id)
    actual = _session_id(handle.item)
    if request["session_id"] is not None and actual is not None and actual != request["session_id"]:
        raise NonRetryableError(
            f"run {run_id!r} uses session {request['session_id']!r}, but Runner.run was given session "
            f"{actual!r} for it in this process; pass the run's own session"
        )
    spec = RUNS.get(run_id)
    wrapper = _get_session_wrapper(handle.item, RunContextWrapper(context=spec.context if spec else None))
    result = await handle.call(lambda session: failure_kept(run_id, _apply(session, request, wrapper)))
    what = f"{request['op']} of session {actual or request['session_id']!r}"
    return {"result": checked(result, what=what), "session_id": _session_id(handle.item)}


async def _apply(session: Any, request: dict[str, Any], wrapper: RunContextWrapper[Any] | None) -> Any:
    """One session call, in the SDK's call shape (``limit`` only when given, ``wrapper`` only to
    sessions whose methods accept it)."""
    op = request["op"]
    if op == "get_items":
        limit = {} if request.get("limit") is None else {"limit": request["limit"]}
        return await _call_session_method(session.get_items, wrapper=wrapper, **limit)
    if op == "add_items":
        return await _call_session_method(session.add_items, request["items"], wrapper=wrapper)
    if op == "pop_item":
        return await _call_session_method(session.pop_item, wrapper=wrapper)
    if op == "clear_session":
        return await _call_session_method(session.clear_session, wrapper=wrapper)
    raise NonRetryableError(f"unknown session operation {op!r}")
