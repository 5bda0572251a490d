"""memrl's MCP server for Claude Code (`memrl-mcp`)."""

USAGE = """\
Usage: memrl-mcp

memrl's MCP server. Claude Code starts it and speaks JSON-RPC with it over stdin and
stdout, one server per open session, all sharing the store in MEMRL_DATA_DIR (default
~/.memrl). Register it for every project with `memrl setup claude`.
"""


def main() -> None:
    import sys

    args = sys.argv[1:]
    if args:
        known = args in (["-h"], ["--help"])
        (sys.stdout if known else sys.stderr).write(
            USAGE if known else f"memrl-mcp takes no arguments, not {' '.join(args)!r}\n\n{USAGE}"
        )
        raise SystemExit(0 if known else 2)
    if sys.stdin.isatty():  # a person, not Claude Code: say what this is
        sys.stderr.write(
            "memrl-mcp is the MCP server Claude Code starts (`memrl setup claude` registers "
            "it); it now waits for JSON-RPC on stdin. Ctrl-C or Ctrl-D quits.\n"
        )

    serve()


def serve() -> None:
    """Serve over stdio, as a process that lives as long as its Claude Code session and
    so is kept small: freed heap goes back to the OS, and compaction runs in a child."""
    from memrl.index import compact_in_child_processes
    from memrl.mcp.backend import lean_heap
    from memrl.mcp.server import run

    lean_heap()
    compact_in_child_processes()
    run()
