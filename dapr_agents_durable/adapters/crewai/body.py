"""What every workflow of the adapter does around CrewAI's code: scope, human input, errors.

:func:`run_in_scope` is the body of ``crewai.run``, ``crewai.task`` and
``crewai.delegate``: it declares the instance's :class:`~.scope.RunScope`, makes
:class:`~.human_input.DurableHumanInput` CrewAI's human-input provider, sets the
agents' own task retries (``Agent.max_retry_limit``) aside — the durable retry of each
LLM call is the only retry — and turns a :class:`~.errors.DurableAbort` back into the
durable loop's error at the boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

import dapr.ext.workflow as wf
from crewai import Crew
from crewai.core.providers.human_input import reset_provider, set_provider

from dapr_agents_durable.adapters.crewai import scope
from dapr_agents_durable.adapters.crewai.errors import DurableAbort
from dapr_agents_durable.adapters.crewai.human_input import DurableHumanInput
from dapr_agents_durable.loop import drive

T = TypeVar("T")


@contextlib.contextmanager
def retries_set_aside(crew: Crew) -> Iterator[None]:
    """The crew's agents with ``max_retry_limit`` 0 within the block (restored after)."""
    agents = [*crew.agents, *([crew.manager_agent] if crew.manager_agent is not None else [])]
    limits = [agent.max_retry_limit for agent in agents]
    for agent in agents:
        agent.max_retry_limit = 0
    try:
        yield
    finally:
        for agent, limit in zip(agents, limits, strict=True):
            agent.max_retry_limit = limit


def run_in_scope(
    ctx: wf.DaprWorkflowContext,
    make_scope: Callable[[], Awaitable[scope.RunScope]],
    main: Callable[[scope.RunScope], Awaitable[T]],
    *,
    label: str,
) -> Generator[Any, Any, T]:
    """Drive ``main(scope)`` on the durable loop, ``scope`` made on the loop by ``make_scope``."""

    entered: list[scope.RunScope] = []

    async def body() -> T:
        entered.append(scope.enter(ctx.instance_id, await make_scope()))
        token = set_provider(DurableHumanInput())
        try:
            with retries_set_aside(entered[0].crew):
                return await main(entered[0])
        except DurableAbort as abort:
            raise abort.error from abort

        finally:
            reset_provider(token)

    try:
        return (yield from drive(ctx, body, label=label))
    finally:
        scope.leave(ctx.instance_id, entered[0] if entered else None)
