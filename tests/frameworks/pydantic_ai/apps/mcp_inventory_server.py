"""A stdio MCP server for the PydanticAI MCP tests (the MCP SDK's ``MCPServer``, formerly ``FastMCP``).

Usage: python mcp_inventory_server.py CONTACT_LOG
Appends one JSON line to CONTACT_LOG when it starts and one for every tool call, so a test
can tell whether a run contacted the server.
"""

from __future__ import annotations

import json
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

contact_log = sys.argv[1]
STOCK = {"apple": 3, "pear": 0}


def contacted(**line: object) -> None:
    with open(contact_log, "a") as log:
        log.write(json.dumps({**line, "pid": os.getpid()}) + "\n")


server = MCPServer("inventory", instructions="Stock counts are exact; never round them.")


@server.tool()
def stock(item: str) -> str:
    """How many of ``item`` are in stock."""
    contacted(tool="stock", item=item)
    if item not in STOCK:
        raise ToolError(f"unknown item {item!r}; known items: {', '.join(sorted(STOCK))}")
    return f"{STOCK[item]} {item}s"


@server.tool()
def restock(item: str, count: int) -> dict[str, int]:
    """Add ``count`` of ``item`` to the stock; returns the new count."""
    contacted(tool="restock", item=item, count=count)
    return {item: STOCK.get(item, 0) + count}


@server.tool()
def count_shelf(n: int) -> str:
    """Record that shelf ``n`` was counted."""
    contacted(tool="count_shelf", item=f"shelf {n}")
    return f"shelf {n} counted"


contacted(event="start")
server.run("stdio")
