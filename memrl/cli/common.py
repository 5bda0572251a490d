"""Shared CLI plumbing: consoles, error handling, JSON output and small formatters.

Kept import-light on purpose: `memrl --help` loads this module, so the core (pydantic,
LanceDB, ONNX Runtime) is imported inside commands, never here.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from memrl import views
from memrl.views import largest_first, plural
from memrl.views import pct as pct  # re-exported for the commands; views is pydantic-free
from memrl.views import utility_style as utility_style

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from memrl.memory import Memory

_console: Console | None = None
_err: Console | None = None

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


def read_project(value: str | None) -> str | None:
    """--project of a command that reads (`memrl.project.read`): None is every project."""
    if value is None:
        return None
    from memrl import project
    from memrl.errors import InvalidInput

    try:
        return project.read(value)
    except InvalidInput as exc:
        raise typer.BadParameter(str(exc)) from None


ProjectOpt = typer.Option(
    None, "--project", "-p", help="Only this project ('*': every one).", callback=read_project
)


def console() -> Console:
    global _console
    if _console is None:
        from rich.console import Console

        class Quiet(Console):
            def on_broken_pipe(self) -> None:
                """The reader stopped reading (`memrl list | head`): not a failure of memrl's,
                so exit 0, as `memrl export | head` does, not rich's 1."""
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                raise SystemExit(0)

        _console = Quiet(highlight=False)
    return _console


def err_console() -> Console:
    global _err
    if _err is None:
        from rich.console import Console

        _err = Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay whole
    return _err


def fail(message: str, code: int = 1) -> typer.Exit:
    from rich.markup import escape

    err_console().print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def note_unknown_project(memory: Memory, project: str | None) -> None:
    """Say so when --project names no episode, rather than show an empty result silently."""
    message = memory.unknown_project(project, "`memrl stats` lists the projects")
    if message:
        note(message)


def note(message: str) -> None:
    from rich.markup import escape

    err_console().print(f"[yellow]note:[/] {escape(message)}")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn memrl's own errors into one red line and a meaningful exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlite3

        from memrl.errors import MemrlError

        try:
            return fn(*args, **kwargs)
        except MemrlError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except sqlite3.DatabaseError as exc:  # the ledger damaged after it was opened
            from memrl import config
            from memrl.store import LEDGER_FILE
            from memrl.store.ledger import ledger_error

            error = ledger_error(exc, config.data_dir() / LEDGER_FILE)
            raise fail(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(0) from None

    return wrapper


def open_memory() -> Memory:
    from memrl import config
    from memrl.memory import Memory

    root = config.data_dir()
    if os.environ.get("MEMRL_DATA_DIR") and not root.exists():  # a typo must not pass unseen
        note(f"MEMRL_DATA_DIR is {root}, which did not exist: a new, empty store starts there")
    return Memory(root)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_plot(figure: str) -> None:
    """Print a plotext figure; plain text when colour is off or output is not a terminal."""
    import os

    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        import plotext as plt

        figure = plt.uncolorize(figure)
    sys.stdout.write(figure + "\n")


def bar(x: float, width: int = 10) -> str:
    full = max(0, min(width, round(x * width)))
    return "█" * full + "░" * (width - full)


def cut(text: str) -> Text:
    """A cell that gives way in a narrow terminal: one line, cut short with '…'.

    Rich narrows only the columns whose cells may wrap; a column of these is one of them,
    so the short columns beside it (ids, outcomes, percentages) keep their width.
    """
    from rich.text import Text

    return Text(text, no_wrap=True, overflow="ellipsis")


def points(delta: float) -> str:
    """`views.points`, coloured: green for a rise, red for a fall."""
    return f"[{'green' if delta >= 0 else 'red'}]{views.points(delta)}[/]"


def outcome_style(outcome: str) -> str:
    return {"success": "green", "partial": "yellow", "failure": "red"}.get(outcome, "dim")


def iso(ts: float | None) -> str | None:
    """A moment in --json output: ISO 8601 in UTC, as in the episode files."""
    from datetime import UTC, datetime

    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def row_json(row: Any) -> dict[str, Any]:
    learned = row.learned
    return {
        "id": row.id,
        "short_id": row.short_id,
        "project": row.project,
        "task": row.task,
        "summary": row.summary,
        "outcome": row.outcome,
        "task_type": row.task_type,
        "tags": row.tags,
        "created_at": iso(row.created_at),
        "pinned": row.pinned,
        "archived": row.archived,
        "utility": round(learned.utility, 4),
        "confidence": round(learned.confidence, 4),
        "retrievals": learned.retrievals,
        "helpful": learned.helpful,
        "unhelpful": learned.unhelpful,
    }


def change_json(ch: Any) -> dict[str, Any]:
    return {
        "id": ch.id,
        "task": ch.title,  # the task line, as every other command calls it
        "cause": ch.cause,
        "before": round(ch.before, 4),
        "after": round(ch.after, 4),
        "other_id": ch.other_id,
    }


def print_changes(changes: list[Any], heading: str, limit: int = 12) -> None:
    """The largest changes first, at most `limit` of them; the others are counted."""
    if not changes:
        return
    from rich.table import Table

    table = Table(title=heading, title_justify="left", show_edge=False)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("episode", max_width=50)
    table.add_column("cause")
    table.add_column("utility", justify="right", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    shown = largest_first(changes)[:limit]
    for ch in shown:
        cause = ch.cause + (f" from {ch.other_id[:8]}" if ch.other_id else "")
        if abs(ch.neighbours) >= views.SPLIT_FROM:  # as `memrl history` has it: two changes
            cause += f" {points(ch.delta - ch.neighbours)}, neighbours {points(ch.neighbours)}"
        table.add_row(
            ch.id[:8], cut(ch.title), cause, f"{pct(ch.before)} → {pct(ch.after)}", points(ch.delta)
        )
    console().print(table)
    if len(changes) > len(shown):
        console().print(f"[dim]… and {plural(len(changes) - len(shown), 'smaller change')}[/]")
