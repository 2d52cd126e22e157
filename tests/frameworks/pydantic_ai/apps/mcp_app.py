"""A durable PydanticAI agent whose tools are a stdio MCP server's, against an OpenAI-compatible server.

Usage: python mcp_app.py BASE_URL RUN_ID CONTACT_LOG
The agent counts shelves through the MCP server (``mcp_inventory_server.py``, which logs every
contact to CONTACT_LOG), one tool call per turn until the model answers. The engine database
comes from DAPR_AGENTS_DURABLE_DB, the key from OPENAI_API_KEY. Prints one JSON line with the output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from dapr_agents_durable.adapters.pydantic_ai import DaprAgent

base_url, run_id, contact_log = sys.argv[1:4]

server = Path(__file__).with_name("mcp_inventory_server.py")
inventory = MCPToolset(
    StdioTransport(sys.executable, [str(server), contact_log], log_file=Path(contact_log).with_suffix(".log")),
    id="inventory",
)
model = OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=base_url))
agent = Agent(model, name="stocktaker", instructions="Count every shelf, one per turn.", toolsets=[inventory])

result = DaprAgent(agent).run_sync("Count the shelves.", run_id=run_id)
print(json.dumps({"output": result.output, "requests": result.usage.requests,
                  "tool_calls": result.usage.tool_calls}), flush=True)
