"""``interrupt()`` inside a tool: its activity ends with the interrupt, and the node interrupts as natively.

A tool runs in its activity with a copy of its task's interrupt scratchpad (the task's
resume values, a counter of its own) and its task writes captured. What ``interrupt()`` did
there comes back with the activity's result: the interrupt it raised, the writes it made
(the resume values it used) and how often it was called. The workflow applies them to the
task's own scratchpad and writes, the same on every replay, and raises ``GraphInterrupt``
in the node for an interrupted call: the run pauses with the tool's interrupt in
``__interrupt__`` and in ``approvals list``, and ``Command(resume=...)`` runs the node, and
the tool in a new activity, again, where ``interrupt()`` returns the resume value.

A tool's interrupts are numbered from its task's first one, as in a node that interrupts
only through that tool (a ``ToolNode`` step with one interrupting tool call).

Example::

    own, effects = isolated(config)                  # the activity
    try:
        output = await tool.ainvoke(input, own)
    except GraphInterrupt as exc:
        return interrupted(exc, effects)
    ...
    apply(config, reply)                             # the workflow: may raise GraphInterrupt
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from langgraph._internal._constants import CONF, CONFIG_KEY_SCRATCHPAD, CONFIG_KEY_SEND
from langgraph._internal._scratchpad import PregelScratchpad
from langgraph.errors import GraphInterrupt
from langgraph.types import Interrupt

from dapr_agents_durable.adapters.langgraph.codec import from_data, to_data
from dapr_agents_durable.runtime.codec import JSONValue, checked


@dataclass
class Effects:
    """What a tool's ``interrupt()`` calls did in its activity."""

    writes: list[tuple[str, Any]] = field(default_factory=list)
    calls: int = 0

    def count(self) -> int:
        self.calls += 1
        return self.calls - 1


def isolated(config: Any) -> tuple[Any, Effects]:
    """The tool's config with a copy of its task's scratchpad and its writes captured."""
    effects = Effects()
    conf = (config or {}).get(CONF) or {}
    scratchpad = conf.get(CONFIG_KEY_SCRATCHPAD)
    if not isinstance(scratchpad, PregelScratchpad):
        return config, effects
    copy = dataclasses.replace(
        scratchpad, interrupt_counter=effects.count, resume=list(scratchpad.resume), get_null_resume=_no_null_resume
    )
    return {**config, CONF: {**conf, CONFIG_KEY_SCRATCHPAD: copy, CONFIG_KEY_SEND: effects.writes.extend}}, effects


def encoded(effects: Effects) -> dict[str, Any]:
    """The effects as JSON fields of the activity's result (none when ``interrupt()`` was not called)."""
    fields: dict[str, Any] = {}
    if effects.writes:
        fields["writes"] = to_data([list(write) for write in effects.writes])
    if effects.calls:
        fields["interrupt_calls"] = effects.calls
    return fields


def interrupted(exc: GraphInterrupt, effects: Effects) -> JSONValue:
    """The activity's result for a tool that raised ``exc`` from ``interrupt()``."""
    raised = [[item.value, item.id] for item in exc.args[0]]
    return checked({"interrupts": to_data(raised), **encoded(effects)}, what="interrupt value of a tool")


def apply(config: Any, reply: Any) -> None:
    """Apply a tool activity's ``interrupt()`` effects to the calling task; raises its interrupt."""
    conf = (config or {}).get(CONF) or {}
    if reply.get("writes"):
        conf[CONFIG_KEY_SEND]([(channel, value) for channel, value in from_data(reply["writes"])])
    for _ in range(reply.get("interrupt_calls", 0)):
        conf[CONFIG_KEY_SCRATCHPAD].interrupt_counter()
    if "interrupts" in reply:
        raise GraphInterrupt(tuple(Interrupt(value=value, id=id) for value, id in from_data(reply["interrupts"])))


def _no_null_resume(consume: bool = False) -> None:
    """A durable run resumes interrupts by id, never with a value for whichever comes next."""
    return None
