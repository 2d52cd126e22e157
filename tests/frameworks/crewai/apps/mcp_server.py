"""A stdio MCP server with one tool, for the MCP tests.

Usage: python mcp_server.py, with CALL_LOG in its environment. Each call of
``stock_level`` appends one JSON line to the file CALL_LOG names, so a test can count
the calls the server really answered.
"""

from __future__ import annotations

import json
import os

from mcp.server.fastmcp import FastMCP

call_log = os.environ["CALL_LOG"]
server = FastMCP("warehouse")


@server.tool()
def stock_level(item: str) -> str:
    """How many units of an item the warehouse holds."""
    with open(call_log, "a") as log:
        log.write(json.dumps({"item": item}) + "\n")
    return f"{len(item) * 7} units of {item} in stock"


if __name__ == "__main__":
    server.run("stdio")
