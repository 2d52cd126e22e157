"""A small MCP server over stdio for the adapter's tests.

Usage: python mcp_calc_server.py CALL_LOG
Every tool call appends one JSON line (tool and arguments) to CALL_LOG, so tests count
the calls that really reached the server.
"""

from __future__ import annotations

import json
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

call_log = sys.argv[1]
server = MCPServer("calc")


def _record(tool: str, **arguments: object) -> None:
    with open(call_log, "a") as log:
        log.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    _record("add", a=a, b=b)
    return a + b


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    _record("divide", a=a, b=b)
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


@server.tool()
def constant(name: str) -> float:
    """The value of a named mathematical constant."""
    _record("constant", name=name)
    values = {"pi": 3.14159, "e": 2.71828}
    if name not in values:
        raise MCPError(code=-32602, message=f"no constant named {name!r}")
    return values[name]


if __name__ == "__main__":
    server.run("stdio")
