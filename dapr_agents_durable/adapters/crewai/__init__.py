"""Durable CrewAI: change one import and every kickoff is a Dapr workflow.

Example::

    from dapr_agents_durable.adapters.crewai import Crew   # instead of: from crewai import Crew

    crew = Crew(agents=[agent], tasks=[task])
    output = crew.kickoff(inputs={"city": "Paris"}, run_id="weather-1")

    from dapr_agents_durable.adapters.crewai import Flow   # instead of: from crewai.flow import Flow
"""

from dapr_agents_durable.adapters.crewai.crew import Crew
from dapr_agents_durable.adapters.crewai.flow import Flow

__all__ = ["Crew", "Flow"]
