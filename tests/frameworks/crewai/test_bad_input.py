"""Bad input in a durable crew: an LLM reply that cannot be stored fails at once, naming what
and the fix, without paying the LLM again; a run id of another crew is refused."""

from __future__ import annotations

import pytest
from crewai import Agent, Task
from dapr.ext.workflow import WorkflowStatus
from scripted import ScriptedLLM

from dapr_agents_durable.adapters.crewai import Crew
from dapr_agents_durable.runtime import RunIdInUse, get_runtime

TOO_LARGE = r"\d+ bytes encoded, more than the \d+-byte limit for one durable step; return less data"


def crew(name: str, llm: ScriptedLLM) -> Crew:
    agent = Agent(role="Writer", goal="Write", backstory="Writes.", llm=llm)
    task = Task(description="Write it.", expected_output="Text.", agent=agent)
    return Crew(name=name, agents=[agent], tasks=[task])


def test_an_llm_reply_too_large_to_store_fails_at_once_without_asking_the_llm_again() -> None:
    llm = ScriptedLLM(model="scripted-huge", replies=["y" * 4_000_000, "a second, paid reply"])
    with pytest.raises(Exception, match=rf"reply of LLM 'scripted-huge': {TOO_LARGE}"):
        crew("bad-huge", llm).kickoff(run_id="bad-huge-1")
    assert len(llm.calls) == 1  # not retried: a retry would pay for the same refusal
    state = get_runtime().state("bad-huge-1")
    assert state is not None and state.runtime_status == WorkflowStatus.FAILED


def test_a_run_id_of_another_crew_is_refused_and_its_run_keeps_its_result() -> None:
    first = crew("bad-owner-first", ScriptedLLM(model="scripted-a", replies=["Final Answer: first"]))
    assert first.kickoff(run_id="bad-owner-1").raw == "first"
    other = crew("bad-owner-other", ScriptedLLM(model="scripted-b", replies=["Final Answer: other"]))
    with pytest.raises(RunIdInUse, match=r"durable run 'bad-owner-1' belongs to crew 'bad-owner-first', "
                                         r"not 'bad-owner-other'"):
        other.kickoff(run_id="bad-owner-1")
    again = crew("bad-owner-first", ScriptedLLM(model="scripted-a", replies=["Final Answer: never asked"]))
    assert again.kickoff(run_id="bad-owner-1").raw == "first"
