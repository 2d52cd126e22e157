"""LangGraph interrupts as pending approvals, and decisions as resume values.

An ``interrupt(value)`` is a pending call of tool ``"interrupt"`` whose ``call_id`` is the
``Interrupt.id`` and whose ``arguments`` are the interrupt's value as JSON, so
``dapr-agents-durable approvals list|approve|reject`` and ``DurableRuntime.decide`` work on
it from any process. A decision becomes the resume value of its interrupt:

=========================================  ====================================
Decision                                   resume value
=========================================  ====================================
approved, ``arguments`` = JSON object      that object (a dict)
approved, ``message`` only                 the message (a string)
approved, nothing else                     ``True``
rejected, no message                       ``False``
rejected with message ``m``                ``{"approved": False, "message": m}``
=========================================  ====================================

A native ``invoke(Command(resume=value), config)`` sends the decision that stands for
``value``: a dict as ``arguments``, a string as ``message``, ``True``/``False`` as a bare
approval/rejection. Other resume values (numbers, lists, ``None``) raise ``TypeError``:
wrap them in a dict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.types import Interrupt

from dapr_agents_durable.adapters.langgraph.codec import from_data, to_data
from dapr_agents_durable.adapters.langgraph.names import INTERRUPT_TOOL
from dapr_agents_durable.runtime.approvals import Decision, PendingApproval


def pending(interrupts: Sequence[Interrupt], graph: str) -> dict[str, PendingApproval]:
    """The run's interrupts as pending approvals, by interrupt id."""
    return {
        item.id: PendingApproval(
            call_id=item.id, tool=INTERRUPT_TOOL, agent=graph, arguments=json.dumps(to_data(item.value))
        )
        for item in interrupts
    }


def resume_value(decision: Decision) -> Any:
    """The value ``interrupt()`` returns for ``decision`` (see the module's table)."""
    if not decision.approved:
        return False if decision.message is None else {"approved": False, "message": decision.message}
    if decision.arguments is not None:
        return from_data(json.loads(decision.arguments))
    return decision.message if decision.message is not None else True


def decisions_for(resume: Any, waiting: list[str]) -> list[Decision]:
    """The decisions a native ``Command(resume=...)`` stands for, given the interrupt ids waiting."""
    if isinstance(resume, Mapping) and resume and set(resume) <= set(waiting):
        chosen = dict(resume)
    elif len(waiting) == 1:
        chosen = {waiting[0]: resume}
    else:
        raise ValueError(
            f"the run waits on {len(waiting)} interrupts ({', '.join(waiting)}); resume them with "
            "Command(resume={interrupt_id: value, ...})"
        )
    return [_decision(cid, value) for cid, value in chosen.items()]


def _decision(call_id: str, value: Any) -> Decision:
    if isinstance(value, bool):
        return Decision(call_id, approved=value)
    if isinstance(value, str):
        return Decision(call_id, approved=True, message=value)
    if isinstance(value, Mapping):
        try:
            return Decision(call_id, approved=True, arguments=json.dumps(to_data(dict(value))))
        except TypeError as exc:
            raise TypeError(f"the resume value of interrupt {call_id!r} must be JSON: {exc}") from exc
    raise TypeError(
        f"a durable graph resumes an interrupt with a dict, a string, True or False; got {type(value).__name__} "
        f"for interrupt {call_id!r}: wrap it, e.g. Command(resume={{'value': ...}})"
    )
