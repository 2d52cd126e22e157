"""The CrewAI adapter's persisted names are compatibility data: pinned here."""

from dapr_agents_durable.adapters.crewai import names


def test_persisted_names() -> None:
    assert names.WORKFLOW == "crewai.run"
    assert names.FLOW_WORKFLOW == "crewai.flow"
    assert names.TASK_WORKFLOW == "crewai.task"
    assert names.DELEGATE_WORKFLOW == "crewai.delegate"
    assert names.MODEL_ACTIVITY == "crewai.model"
    assert names.TOOL_ACTIVITY == "crewai.tool"
    assert names.HUMAN_INPUT_TOOL == "human_input"
