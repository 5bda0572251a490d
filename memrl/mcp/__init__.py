"""memrl's MCP server for Claude Code (`memrl-mcp`)."""


def main() -> None:
    from memrl.mcp.backend import few_malloc_arenas
    from memrl.mcp.server import run

    few_malloc_arenas()
    run()
