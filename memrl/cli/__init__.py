"""The `memrl` command. Parses, calls the Memory facade, renders; no business logic here."""

from __future__ import annotations

import sys

import typer

from memrl import __version__
from memrl.cli import admin, episodes, hook, learn, search, tui
from memrl.cli import mcp as mcp_cli
from memrl.cli.common import JsonOpt, ProjectOpt, guarded, note_unknown_project, open_memory

app = typer.Typer(
    name="memrl",
    help="A memory that learns, for Claude Code: capture episodes, search them, and let "
    "feedback teach memrl which memories help.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Each module's app holds its commands and its groups (config, hook, setup): merged here.
for sub in (admin.app, episodes.app, search.app, learn.app, hook.app, tui.app, mcp_cli.app):
    app.registered_commands += sub.registered_commands
    app.registered_groups += sub.registered_groups


def _version(value: bool) -> None:
    if value:
        print(f"memrl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """memrl: a memory that learns, for Claude Code."""


@app.command()
@guarded
def review(
    project: str = ProjectOpt,
    print_only: bool = typer.Option(
        False, "--print", help="Print the analysis instead of opening the interactive review."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Review duplicates, stale and unused episodes: interactively in a terminal, else printed."""
    import sys

    if not print_only and not as_json and sys.stdin.isatty() and sys.stdout.isatty():
        from memrl.cli.tui import open_review

        open_review(project)
        return
    memory = open_memory()
    note_unknown_project(memory, project)
    learn.print_review(memory, project, as_json)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "hook" and not sys.argv[2].startswith("-"):
        # What Claude Code runs, often many at once: building the parser would cost each
        # hook a third of its CPU. Anything else (--help, a wrong call) goes through it.
        sys.exit(hook.run_event(sys.argv[2]))
    app()
