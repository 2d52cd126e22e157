"""The examples that run under Dapr: one entry each, the only place an example is wired.

``python -m deploy.render`` writes dapr.yaml, docker-compose.yml, the resiliency policies
and deploy/kubernetes/ from this list; ``tests/deploy`` fails when they are out of date or
when an ``examples/*/*app.py`` has no entry here. Adding an example::

    Example("pydantic-weather", "examples/pydantic_ai/app.py", "pydantic-ai", ("--run-id", "weather-1")),
"""

from __future__ import annotations

from dataclasses import dataclass

DAPR_RUNTIME_VERSION = "1.19.0"
"""The daprd, placement and scheduler images. Dapr's Python SDK releases track the runtime's
minor version (docs.dapr.io, "Supported runtime and SDK releases": runtime 1.16.x ships with
Python SDK 1.16.0, 1.17.x with 1.17.0), so the pin ``dapr>=1.19,<1.20`` pairs with runtime 1.19."""

NAMESPACE = "default"
"""The Dapr namespace the apps run in; the workflow engine's actor types are named after it."""


@dataclass(frozen=True)
class Example:
    """One example app: its Dapr app id, entry file, the project extra it needs and its arguments.

    Example::

        Example("weather-agent", "examples/openai_agents/app.py", "openai-agents", ("--run-id", "weather-1"))
    """

    app_id: str
    script: str
    extra: str
    args: tuple[str, ...] = ()

    @property
    def command(self) -> list[str]:
        """The command that runs it, from the repository root."""
        return ["python", self.script, *self.args]


EXAMPLES: tuple[Example, ...] = (
    Example("weather-agent", "examples/openai_agents/app.py", "openai-agents",
            ("What is the weather in Paris?", "--run-id", "weather-1")),
    Example("refund-agent", "examples/openai_agents/approval_app.py", "openai-agents", ("--run-id", "refund-7")),
    Example("crewai-weather", "examples/crewai/app.py", "crewai", ("--city", "Paris", "--run-id", "forecast-1")),
    Example("langgraph-trip", "examples/langgraph/app.py", "langgraph", ("--thread", "trip-1")),
    Example("pydantic-weather", "examples/pydantic_ai/app.py", "pydantic-ai", ("--run-id", "weather-1")),
)
