"""Child workflows requested from inside the durable loop."""

from __future__ import annotations

import asyncio

import pytest
from offline_host import OfflineHost

from dapr_agents_durable.loop import ChildWorkflowError, current_execution, drive


def register_weather_agent(host: OfflineHost) -> None:
    @host.activity("forecast")
    def forecast(ctx, city):
        if city == "Atlantis":
            raise LookupError(f"no forecast for {city}")
        return f"sunny in {city}"

    async def weather(city: str) -> str:
        return await current_execution().call_activity("forecast", city)

    @host.workflow("agents.weather")
    def weather_agent(ctx, city):
        return (yield from drive(ctx, lambda: weather(city), label="agent 'weather'"))


@pytest.mark.parametrize("order", ["fifo", "lifo", "batch"])
def test_parallel_child_workflows_return_their_outputs(order) -> None:
    host = OfflineHost(order=order)
    register_weather_agent(host)

    async def main() -> list[str]:
        durable = current_execution()
        return list(
            await asyncio.gather(
                durable.call_child_workflow("agents.weather", "Paris"),
                durable.call_child_workflow(
                    "agents.weather", "Oslo", instance_id="oslo-run"
                ),
            )
        )

    @host.workflow("triage")
    def triage(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("triage", instance_id="parent")
    assert result.output == ["sunny in Paris", "sunny in Oslo"]
    assert host.calls_of("forecast") == ["Paris", "Oslo"]
    assert "oslo-run" in host.results
    created = [
        event.childWorkflowInstanceCreated.instanceId
        for event in result.history
        if event.HasField("childWorkflowInstanceCreated")
    ]
    assert created[1] == "oslo-run" and created[0].startswith("parent:")


def test_a_failed_child_surfaces_as_child_workflow_error() -> None:
    host = OfflineHost()
    register_weather_agent(host)

    async def main() -> dict:
        try:
            await current_execution().call_child_workflow("agents.weather", "Atlantis")
        except ChildWorkflowError as err:
            return {
                "name": err.name,
                "type": err.error_type,
                "message": err.error_message,
            }
        return {}

    @host.workflow("asks_atlantis")
    def asks_atlantis(ctx, _):
        return (yield from drive(ctx, main))

    result = host.run("asks_atlantis")
    assert result.output == {
        "name": "agents.weather",
        "type": "ActivityError",
        "message": "activity 'forecast' failed with LookupError: no forecast for Atlantis",
    }
