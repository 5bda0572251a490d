"""`memrl tui`: the terminal UI. Textual is imported inside the command, never at import time,
so `memrl --help` stays fast."""

from __future__ import annotations

import typer

from memrl.cli.common import fail, guarded, open_memory

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
    project: str = typer.Option(None, "--project", "-p", help="Start filtered to this project."),
) -> None:
    """Browse, search, rate, edit, merge and prune episodes in a terminal UI."""
    from memrl.tui.launch import run

    if project and not demo:
        memory = open_memory()
        unknown = memory.unknown_project(project, "leave out --project to see them all")
        if unknown and memory.exists():
            raise fail(unknown, 2)
    run(demo=demo, project=project)


def open_review(project: str | None = None) -> None:
    """Open the TUI on the Review screen (what `memrl review` does in a terminal)."""
    from memrl.tui.launch import run

    run(project=project, start="review")
