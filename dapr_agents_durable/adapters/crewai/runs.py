"""The crews of durable runs, kept in process and found again by the workflows and activities.

``Crew.kickoff(run_id=...)`` registers its crew under the run id before it starts or
attaches to the run, and under the crew's name. The run's workflow, its task and
delegation children and its activities find the crew through the id of the run at the
top (:func:`crew_of`); a run whose caller lives in another process falls back to the
crew registered under its name. LLMs and tools are named by their place in the crew
(:func:`llm_slot` / :func:`find_llm`), so an activity redelivered after a restart finds
the same object in the new process. A crew a flow kicked off is registered by the flow's
code: after a restart its lookup wakes the flow up (its run's input names the flow).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from crewai import Crew
from crewai.crews.utils import prepare_kickoff
from crewai.llms.base_llm import BaseLLM

from dapr_agents_durable.runtime import Registry, get_runtime
from dapr_agents_durable.runtime.registry import REGISTRATION_WAIT_SECONDS


@dataclass
class CrewRun:
    """A run's crew and the inputs it was kicked off with."""

    crew: Crew
    inputs: dict[str, Any] = field(default_factory=dict)
    prepared: bool = False
    """CrewAI's kickoff preparation (inputs interpolated, agents bound) ran in this process."""
    counted: set[str] = field(default_factory=set)
    """The token usage already counted on the crew's LLMs in this process (a replay skips it)."""


RUNS: Registry[CrewRun] = Registry("CrewAI run")
"""By the id of a run at the top (``crewai.run``)."""

CREWS: Registry[Crew] = Registry("CrewAI crew")
"""By crew name: the crew a resume in another process runs with."""

_PREPARING = threading.Lock()
_LLM_LOCKS: dict[int, threading.Lock] = {}


def crew_run(root: str, crew_name: str, inputs: dict[str, Any] | None, *, copy: bool = False) -> CrewRun:
    """The run's objects: registered under its id, else a new entry for the crew of that name
    (a copy of it for a ``kickoff_for_each`` child)."""
    run = RUNS.get(root)
    if run is None:
        if CREWS.get(crew_name) is None:
            _wake_flow_of(root)
        crew = CREWS.wait(crew_name, REGISTRATION_WAIT_SECONDS)
        run = CrewRun(crew.copy() if copy else crew, dict(inputs or {}))
        RUNS.add(root, run)
    return run


def _wake_flow_of(root: str) -> None:
    """If run ``root`` is a crew a flow kicked off, wake the flow: its replay, reaching the
    kickoff, registers the crew (after a restart nothing else would)."""
    state = get_runtime().state(root)
    try:
        request = json.loads(state.serialized_input or "null") if state is not None else None
    except ValueError:
        return
    if isinstance(request, dict) and isinstance(request.get("parent"), str):
        get_runtime().wake(request["parent"])


def crew_of(root: str, crew_name: str, inputs: dict[str, Any] | None) -> Crew:
    """For a task or delegation child: the run's crew, kicked-off-prepared in this process."""
    run = crew_run(root, crew_name, inputs)
    with _PREPARING:
        if not run.prepared:
            # The run's own workflow did not run here (a child resumed after a restart).
            prepare_kickoff(run.crew, run.inputs or None, None)
            if run.crew.process == "hierarchical":
                run.crew._create_manager_agent()
            run.prepared = True
    return run.crew


def agent_slot(crew: Crew, agent: Any) -> str:
    """Where ``agent`` sits in ``crew``: ``"agents.<i>"`` or ``"manager"``."""
    if agent is crew.manager_agent:
        return "manager"
    for index, member in enumerate(crew.agents):
        if member is agent:
            return f"agents.{index}"
    raise LookupError(f"agent {getattr(agent, 'role', agent)!r} is not an agent of crew {crew.name!r}")


def find_agent(crew: Crew, slot: str) -> Any:
    """The agent at ``slot`` (see :func:`agent_slot`)."""
    if slot == "manager":
        if crew.manager_agent is None:
            crew._create_manager_agent()
        return crew.manager_agent
    return crew.agents[int(slot.split(".", 1)[1])]


def _llm_slots(crew: Crew) -> list[tuple[str, Any]]:
    slots: list[tuple[str, Any]] = []
    for index, agent in enumerate(crew.agents):
        slots.append((f"agents.{index}.llm", agent.llm))
        slots.append((f"agents.{index}.function_calling_llm", vars(agent).get("function_calling_llm")))
    if crew.manager_agent is not None:
        slots.append(("manager.llm", crew.manager_agent.llm))
        slots.append(("manager.function_calling_llm", vars(crew.manager_agent).get("function_calling_llm")))
    slots.append(("manager_llm", crew.manager_llm))
    slots.append(("function_calling_llm", vars(crew).get("function_calling_llm")))
    slots.append(("planning_llm", crew.planning_llm))
    for index, task in enumerate(crew.tasks):
        guardrails = [task.guardrail, *(task.guardrails or [])] if isinstance(task.guardrails, list) else [task.guardrail]
        for number, guardrail in enumerate(guardrails):
            slots.append((f"tasks.{index}.guardrail.{number}.llm", getattr(guardrail, "llm", None)))
    return slots


def llm_slot(crew: Crew, llm: BaseLLM) -> str:
    """Where ``llm`` sits in ``crew`` (e.g. ``"agents.0.llm"``, ``"manager.llm"``)."""
    for slot, candidate in _llm_slots(crew):
        if candidate is llm:
            return slot
    raise LookupError(
        f"LLM {llm.model!r} was called in a durable run of crew {crew.name!r} but is none of the crew's "
        "LLMs (its agents' llm / function_calling_llm, manager_llm, planning_llm, a guardrail's llm); "
        "give the LLM to an agent or the crew so its calls can be durable"
    )


def find_llm(crew: Crew, slot: str) -> BaseLLM:
    """The LLM at ``slot``, creating the manager first if the slot is the manager's.

    After a restart a manager's model call can run before the run's workflows have made
    the manager again in this process, whether ``manager_llm`` is a name or an LLM object.
    """
    if slot.startswith("manager") and crew.process == "hierarchical":
        unconverted = slot == "manager_llm" and not isinstance(crew.manager_llm, BaseLLM)
        if crew.manager_agent is None or unconverted:
            crew._create_manager_agent()
    for candidate_slot, candidate in _llm_slots(crew):
        if candidate_slot == slot and isinstance(candidate, BaseLLM):
            return candidate
    raise LookupError(f"crew {crew.name!r} has no LLM at {slot!r}; was the crew changed under a run in flight?")


def llm_lock(llm: BaseLLM) -> threading.Lock:
    """One lock per LLM object: its token counters are read around each call."""
    with _PREPARING:
        return _LLM_LOCKS.setdefault(id(llm), threading.Lock())
