"""``run_stream``, ``iter`` and ``event_stream_handler`` for durable runs.

The run's graph always executes in its workflow, with every model request and tool call an
activity; what the caller sees of it arrives through :mod:`dapr_agents_durable.runtime.live`
(only for steps the workflow executes now, never for replayed ones; a caller that saw no
live item of a finished run gets what a local replay of its history publishes):

* ``DaprAgent.iter`` runs PydanticAI's own ``agent.iter`` in the workflow and hands every
  graph node it reaches (``UserPromptNode``, ``ModelRequestNode``, ``CallToolsNode``, ``End``)
  to the caller's :class:`DurableAgentRun`, with the messages and usage at that node. The
  workflow drives the graph: ``async for node in run`` is the way to follow it; ``next(node)``
  (driving or replacing nodes from the caller) cannot be durable and raises ``UserError``.
* ``DaprAgent.run_stream`` runs PydanticAI's own ``agent.run_stream`` in the workflow (the run
  stops at the first final output, as natively) and gives the caller PydanticAI's
  ``StreamedRunResult`` of it. The model activity returns whole responses, so the stream is one
  model response: ``stream_text`` and ``stream_output`` yield the final response's text or
  output once, ``get_output`` returns it.
* ``event_stream_handler=`` (of ``run`` and ``run_stream``) is called in the caller's process and
  event loop, once per node as natively, with PydanticAI's own events: the workflow-side handler
  only publishes them. Model events come from the completed response (one ``PartStartEvent`` per
  part carrying its whole content), tool events as PydanticAI emits them.

What a run publishes is fixed when it starts: attaching with ``iter`` to a run started with
``run`` shows its ``End`` node only, and a handler passed when attaching to a run started
without one sees no events.

Example::

    async with DaprAgent(agent).iter("Weather in Paris?", run_id="w-1") as run:
        async for node in run:
            print(type(node).__name__)
    print(run.result.output)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from pydantic_ai import Agent
from pydantic_ai._agent_graph import End
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import AgentStreamEvent, ModelMessage
from pydantic_ai.result import FinalResult
from pydantic_ai.run import AgentRunResult
from pydantic_ai.tools import RunContext
from pydantic_ai.usage import RunUsage

from dapr_agents_durable.runtime.live import CHANNELS, Listener, publish

# ---------------------------------------------------------------------------- workflow side


def publishing_handler(run_id: str) -> Callable[[RunContext[Any], AsyncIterator[AgentStreamEvent]], Any]:
    """The workflow-side ``event_stream_handler``: each node's events, published for the caller's handler."""

    async def handler(ctx: RunContext[Any], events: AsyncIterator[AgentStreamEvent]) -> None:
        publish(run_id, ("open", ctx))
        async for event in events:
            publish(run_id, ("event", event))
        publish(run_id, ("close", None))

    return handler


async def iterate(agent: Agent[Any, Any], channel: str, prompt: Any, **kwargs: Any) -> AgentRunResult[Any]:
    """``agent.iter`` to its end; every node is published on the durable run's ``channel`` with the messages and usage at it."""
    async with agent.iter(prompt, **kwargs) as agent_run:
        async for node in agent_run:
            publish(channel, ("node", node, list(agent_run.all_messages()), copy.copy(agent_run.usage)))
    result = agent_run.result
    if result is None:
        raise UserError(f"agent {agent.name!r}: the graph run ended without a result")
    return result


async def stream_to_end(agent: Agent[Any, Any], prompt: Any, **kwargs: Any) -> AgentRunResult[Any]:
    """``agent.run_stream`` to its final output, settled as an ``AgentRunResult``."""
    async with agent.run_stream(prompt, **kwargs) as streamed:
        await streamed.get_output()
    return streamed.result


# ---------------------------------------------------------------------------- caller side


_DONE = object()


class Follower:
    """The caller's end of a run: nodes to ``on_node``, each node's events to ``handler`` on this loop."""

    def __init__(
        self,
        handler: Callable[[RunContext[Any], AsyncIterator[AgentStreamEvent]], Any] | None,
        on_node: Callable[[Any, list[ModelMessage], RunUsage], None] | None,
    ) -> None:
        self._handler = handler
        self._on_node = on_node
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._pump = asyncio.get_running_loop().create_task(self._run_handler()) if handler is not None else None
        self.listener = Listener(asyncio.get_running_loop(), self.receive)

    def receive(self, item: tuple[Any, ...]) -> None:
        """One published item: a node, or an opening, event or closing of a node's event stream."""
        if item[0] == "node":
            if self._on_node is not None:
                self._on_node(*item[1:])
        elif self._pump is not None:
            self._events.put_nowait(item)

    async def finish(self) -> None:
        """Wait until the handler has seen every event delivered; its exception is raised here."""
        if self._pump is not None:
            self._events.put_nowait(_DONE)
            await self._pump

    async def _run_handler(self) -> None:
        assert self._handler is not None
        while (item := await self._events.get()) is not _DONE:
            if item[0] != "open":
                continue
            stream = self._node_events()
            await self._handler(item[1], stream)
            async for _ in stream:  # what the handler left unread, as PydanticAI drains it
                pass

    async def _node_events(self) -> AsyncIterator[AgentStreamEvent]:
        while True:
            item = await self._events.get()
            if item is _DONE:
                self._events.put_nowait(_DONE)
                return
            if item[0] == "close":
                return
            yield item[1]


@contextlib.contextmanager
def following(run_id: str, follower: Follower | None) -> Iterator[None]:
    """Listen to ``run_id``'s live items while the block runs."""
    if follower is None:
        yield
        return
    CHANNELS.add(run_id, follower.listener)
    try:
        yield
    finally:
        CHANNELS.remove(run_id, follower.listener)


class DurableAgentRun:
    """What ``DaprAgent.iter`` yields: PydanticAI's ``AgentRun`` nodes of a durable run, as it executes them.

    ``async for node in run`` yields each graph node (ending with ``End``); ``result`` is the
    run's ``AgentRunResult`` once it ended; ``all_messages()``, ``new_messages()`` and
    ``usage`` read the run at the last node received.
    """

    def __init__(self, run_id: str, new_message_index: int) -> None:
        self._run_id = run_id
        self._new_index = new_message_index
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        self._messages: list[ModelMessage] = []
        self._usage = RunUsage()
        self._error: BaseException | None = None
        self._raised = False
        self.next_node: Any = None
        self.result: AgentRunResult[Any] | None = None

    @property
    def run_id(self) -> str:
        """The durable run's id."""
        return self._run_id

    def receive(self, node: Any, messages: list[ModelMessage], usage: RunUsage) -> None:
        """A node the workflow reached (on the caller's loop)."""
        self._items.put_nowait((node, messages, usage))

    def rested(self, result: AgentRunResult[Any] | None, error: BaseException | None) -> None:
        """The run came to rest with ``result`` or ``error``; a run that showed no node shows its ``End``."""
        self.result, self._error = result, error
        if result is not None and self.next_node is None and self._items.empty():
            self.receive(End(FinalResult(result.output)), result.all_messages(), result.usage)
        self._items.put_nowait(_DONE)

    def unraised_error(self) -> BaseException | None:
        """The run's exception, if iterating has not raised it yet."""
        return None if self._raised else self._error

    def __aiter__(self) -> DurableAgentRun:
        return self

    async def __anext__(self) -> Any:
        item = await self._items.get()
        if item is _DONE:
            self._items.put_nowait(_DONE)
            if self._error is not None and not self._raised:
                self._raised = True
                raise self._error
            raise StopAsyncIteration
        self.next_node, self._messages, self._usage = item
        return self.next_node

    async def next(self, node: Any) -> Any:
        """Not durable: the workflow drives the graph."""
        raise UserError(
            "DaprAgent.iter() runs the graph in its workflow, so nodes cannot be driven or replaced from the "
            "caller with next(); follow the run with `async for node in run`, or change the agent's behaviour "
            "with a capability (before_node_run / wrap_node_run), which runs inside the durable run."
        )

    def all_messages(self) -> list[ModelMessage]:
        """Every message of the run, as of the last node received."""
        return self.result.all_messages() if self.result is not None else list(self._messages)

    def new_messages(self) -> list[ModelMessage]:
        """The messages of this run (without ``message_history``), as of the last node received."""
        return self.result.new_messages() if self.result is not None else list(self._messages[self._new_index :])

    @property
    def usage(self) -> RunUsage:
        """The run's usage, as of the last node received."""
        return self.result.usage if self.result is not None else self._usage
