"""`memrl tui`: the terminal UI. Textual is imported inside the command, never at import time,
so `memrl --help` stays fast."""

from __future__ import annotations

import sys

import typer

from memrl.cli.common import fail, guarded, open_memory, read_project

app = typer.Typer()


@app.command()
@guarded
def tui(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Open a throwaway store seeded with realistic episodes, feedback and history "
        "(deleted on exit).",
    ),
    project: str = typer.Option(
        None, "--project", "-p", help="Start filtered to this project.", callback=read_project
    ),
) -> None:
    """Browse, search, rate, edit, merge and prune episodes in a terminal UI."""
    from memrl import config
    from memrl.tui.launch import run

    if not demo:
        config.data_dir()  # a data dir that is a file is named first, with its fix
    if project and not demo:
        memory = open_memory()
        unknown = memory.unknown_project(project, "leave out --project to see them all")
        if unknown and memory.exists():
            raise fail(unknown, 2)
    if not _terminal():
        raise fail(
            "`memrl tui` needs a terminal, and its input or output is not one here; in a "
            "script, use `memrl list`, `memrl search` or `memrl review --print` instead.",
            2,
        )
    run(demo=demo, project=project)


def _terminal() -> bool:
    """Without a terminal on both sides, the app would paint into a pipe or a file forever."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_review(project: str | None = None) -> None:
    """Open the TUI on the Review screen (what `memrl review` does in a terminal)."""
    from memrl.tui.launch import run

    run(project=project, start="review")
