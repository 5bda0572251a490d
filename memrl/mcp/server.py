"""memrl's MCP server for Claude Code: build it, or run it over stdio (`memrl-mcp`).

This module stays cheap to import: `run` must answer the handshake before the MCP SDK,
LanceDB or the model have loaded, so each is imported where it is first needed.

    server = build_server()                  # the store in MEMRL_DATA_DIR (or ~/.memrl)
    server = build_server(memory=my_memory)  # tests and benchmarks inject their own
    async with mcp.Client(server) as client: ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memrl.mcp.backend import Backend

if TYPE_CHECKING:
    from memrl.mcp.app import MemrlServer
    from memrl.memory import Memory


def build_server(
    memory: Memory | None = None,
    *,
    backend: Backend | None = None,
    session_id: str | None = None,
    project: str | None = None,
    warm: bool = True,
) -> MemrlServer:
    """A server over one store. Without `memory` the store opens on first use.

    `session_id` defaults to Claude Code's (CLAUDE_CODE_SESSION_ID) or a fresh
    `mcp-<uuid>`; `project` to the project of CLAUDE_PROJECT_DIR or the working
    directory. With `warm`, the model and index load in the background at start-up.
    """
    from memrl.mcp.app import MemrlServer

    backend = backend or Backend(memory, session_id=session_id, project=project)
    return MemrlServer(backend, warm=warm)


def run() -> None:
    """Serve over stdio until the client closes the connection."""
    from memrl.mcp.stdio import serve

    serve()
