"""`memrl mcp` (the stdio server) and `memrl setup claude` (register it with Claude Code).

Import-light like every CLI module: the server and the setup logic load inside the
commands, so `memrl --help` never pays for the MCP SDK.
"""

from __future__ import annotations

import functools
import json

import typer

from memrl.cli.common import JsonOpt, console, guarded, note, print_json

app = typer.Typer()
setup_app = typer.Typer(
    help="Connect memrl to Claude Code.", no_args_is_help=True, rich_markup_mode="rich"
)
app.add_typer(setup_app, name="setup")

ACTIONS = {
    "added": "Registered the memrl MCP server for all your projects.",
    "updated": "Updated the memrl MCP server to this installation.",
    "unchanged": "The memrl MCP server is already registered for all your projects.",
    "removed": "Removed the memrl MCP server from Claude Code.",
    "absent": "The memrl MCP server was not registered; nothing to remove.",
}


@app.command()
def mcp() -> None:
    """Serve memrl to Claude Code over stdio (what `memrl-mcp` runs)."""
    from memrl.mcp import serve

    serve()


def _hooks(uninstall: bool, dry_run: bool) -> tuple[str, dict | None]:
    """Install or remove Claude Code's hooks beside the server (`memrl.cli.hook` does the work)."""
    from memrl.cli import hook

    step = hook.uninstall_hooks if uninstall else hook.install_hooks
    report = step(dry_run=dry_run)
    return hook.describe(report), report.as_dict()


@setup_app.command()
@guarded
def claude(
    uninstall: bool = typer.Option(False, "--uninstall", help="Remove the registration."),
    print_only: bool = typer.Option(
        False, "--print", help="Print the command and JSON instead of running `claude`."
    ),
    no_hooks: bool = typer.Option(
        False, "--no-hooks", help="Register the MCP server only, not the session hooks."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Register memrl with Claude Code for all projects: the MCP server, and the session hooks
    unless --no-hooks. Running it again changes nothing; --uninstall undoes both."""
    from memrl.integrations.claude.settings import user_config_file
    from memrl.integrations.claude.setup import ClaudeCliError, register

    if not no_hooks:  # a settings.json that cannot be merged stops it before any change
        _hooks(uninstall, dry_run=True)
    report = register(uninstall=uninstall, dry_run=print_only)
    hooks, hooks_json = (None, None) if no_hooks else _hooks(uninstall, print_only)
    # `claude` missing or failing: the hooks are done, the server is not; a script must see it.
    code = ClaudeCliError.exit_code if report.action == "manual" else 0
    if as_json:
        print_json(
            {
                "action": report.action,
                "server": report.server,
                "command": report.command,
                "config": json.loads(report.config_json),  # an object: parsed once, not twice
                "claude": report.claude,
                "problem": report.problem,
                "notes": report.notes,
                "hooks": hooks_json,
            }
        )
        raise typer.Exit(code)
    # Plain text, never wrapped: the command is pasted into a shell as one line.
    say = functools.partial(console().print, markup=False, soft_wrap=True)
    if report.action == "manual":  # what was done first, what is left to do last
        if hooks:
            say(hooks[0].upper() + hooks[1:] + ".\n")
        what = "removed from" if uninstall else "registered with"
        say(
            f"The memrl MCP server was NOT {what} Claude Code: {report.problem}. "
            f"Once `claude` works, run:\n\n  {report.shell_command}\n"
        )
        if uninstall:
            say(f'Or delete "memrl" from the mcpServers of {user_config_file()}.')
        else:
            say(f"Or add this to the mcpServers of {user_config_file()}:\n")
            say(report.config_json)
    else:
        if report.action == "printed":
            what = "remove" if uninstall else "register memrl for all projects"
            say(f"To {what}, run:\n\n  {report.shell_command}\n")
            if not uninstall:
                say(
                    f"Or add this to the mcpServers of {user_config_file()} "
                    "(or a project's .mcp.json):\n"
                )
                say(report.config_json)
        else:
            say(ACTIONS[report.action])
            if not uninstall:
                say(f"Server: {' '.join(report.server)}")
                say("In Claude Code, /mcp lists memrl with its 7 tools.")
        if hooks:
            say(("\n" if print_only else "") + hooks[0].upper() + hooks[1:] + ".")
    if hooks and print_only and not uninstall:  # not written: shown to merge by hand
        from memrl.integrations.claude.settings import wanted

        say('\nOr merge these hooks into the "hooks" of that settings.json:\n')
        blocks = {event: [{"hooks": [hook]}] for event, hook in wanted().items()}
        say(json.dumps({"hooks": blocks}, indent=2))
    for line in report.notes:
        note(line)
    raise typer.Exit(code)
