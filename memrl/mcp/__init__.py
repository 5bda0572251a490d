"""memrl's MCP server for Claude Code (`memrl-mcp`)."""


def main() -> None:
    from memrl.mcp.server import run

    run()
