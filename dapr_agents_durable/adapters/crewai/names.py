"""Workflow, activity and event names of the CrewAI adapter.

They are persisted in every run's history: changing one breaks runs in flight.
Tests pin them.
"""

WORKFLOW = "crewai.run"
"""The workflow running one ``Crew.kickoff`` (the crew's name travels in its input);
``kickoff_for_each`` runs one as a child of another per input."""

FLOW_WORKFLOW = "crewai.flow"
"""The workflow running one ``Flow.kickoff`` (the flow's name travels in its input); each
crew a method kicks off runs as a ``crewai.run`` child of it."""

TASK_WORKFLOW = "crewai.task"
"""One task of a crew (``Task.aexecute_sync``, its agent's own executor): a child of the run."""

DELEGATE_WORKFLOW = "crewai.delegate"
"""One "Delegate work to coworker" / "Ask question to coworker" call: a child of the task."""

MODEL_ACTIVITY = "crewai.model"
"""One LLM call (``BaseLLM.call`` / ``acall``) of any LLM of the crew."""

TOOL_ACTIVITY = "crewai.tool"
"""One tool call (``BaseTool`` subclasses, ``@tool`` functions, MCP tools)."""

HUMAN_INPUT_TOOL = "human_input"
"""The ``tool`` of the pending entry a ``Task(human_input=True)`` publishes while it waits."""
