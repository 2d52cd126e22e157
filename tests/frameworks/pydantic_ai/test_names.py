"""The persisted names of the PydanticAI adapter are compatibility data: pinned here."""

from dapr_agents_durable.adapters.pydantic_ai import names


def test_persisted_names_are_pinned() -> None:
    assert names.WORKFLOW == "pydantic_ai.run"
    assert names.DELEGATE_WORKFLOW == "pydantic_ai.delegate"
    assert names.MODEL_ACTIVITY == "pydantic_ai.model"
    assert names.TOOL_ACTIVITY == "pydantic_ai.tool"
    assert names.MCP_TOOLS_ACTIVITY == "pydantic_ai.mcp_tools"
    assert names.DELEGATE_KIND == "delegate"
