"""`memrl hook …` (what Claude Code runs) and `memrl redact` (secrets in an existing store).

The hook commands read Claude Code's hook JSON on stdin and always exit 0; the work and
its failure handling live in `memrl.integrations.claude.hooks`. `install_hooks` and
`uninstall_hooks` are what `memrl setup claude` calls.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from memrl.cli.common import JsonOpt, console, fail, guarded, note, open_memory, print_json
from memrl.views import plural

if TYPE_CHECKING:
    from memrl.integrations.claude.settings import HooksReport

app = typer.Typer()
hook_app = typer.Typer(
    help="Claude Code hooks (installed by `memrl setup claude`). Each reads Claude Code's "
    "hook JSON on stdin and exits 0 whatever happens; problems go to <data dir>/logs/hooks.log.",
    no_args_is_help=True,
)
app.add_typer(hook_app, name="hook")


def install_hooks(dry_run: bool = False) -> HooksReport:
    """Merge memrl's hooks into Claude Code's user settings (idempotent)."""
    from memrl.integrations.claude.settings import install

    return install(dry_run=dry_run)


def uninstall_hooks(dry_run: bool = False) -> HooksReport:
    """Take memrl's hooks out of Claude Code's user settings, leaving everything else."""
    from memrl.integrations.claude.settings import uninstall

    return uninstall(dry_run=dry_run)


def describe(report: HooksReport) -> str:
    """One line for people: what happened to the settings file."""
    would = "would be " if report.dry_run else ""
    if report.added:
        text = f"hooks {would}installed in {report.path} ({', '.join(report.added)})"
    elif report.removed:
        text = f"hooks {would}removed from {report.path} ({', '.join(report.removed)})"
    elif report.commands:
        text = f"hooks already installed in {report.path}"
    else:
        text = f"no memrl hooks in {report.path}"
    return text + (f"; backup at {report.backup}" if report.backup else "")


def _run(event: str) -> None:
    from memrl.integrations.claude.hooks import run

    try:
        raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    except (OSError, ValueError):
        raw = b""
    run(event, raw)
    raise typer.Exit(0)


@hook_app.command("session-start")
def session_start() -> None:
    """Print the project's most useful memories as context for a new session."""
    _run("session-start")


@hook_app.command("stop")
def stop() -> None:
    """Checkpoint the session's episode after a turn (throttled; cheap when not due)."""
    _run("stop")


@hook_app.command("pre-compact")
def pre_compact() -> None:
    """Checkpoint the session's episode before the conversation is compacted."""
    _run("pre-compact")


@hook_app.command("session-end")
def session_end() -> None:
    """Capture the session as one episode and credit the memories it used."""
    _run("session-end")


# redaction of an existing store ---------------------------------------------------------


@app.command()
@guarded
def redact(
    check: bool = typer.Option(
        False, "--check", help="Report secrets in stored episodes (the default); exit 1 if any."
    ),
    fix: bool = typer.Option(False, "--fix", help="Re-redact every episode that holds a secret."),
    as_json: bool = JsonOpt,
) -> None:
    """Scan every stored episode (live and archived) for secrets, and re-redact them.

    Capture redacts by default (capture.redact); this finds what was stored before that,
    with redaction off, or before a rule existed.
    """
    from memrl import maintenance

    if check and fix:
        raise fail("choose one of --check and --fix", 2)
    memory = open_memory()
    scan = maintenance.scan_secrets(memory)
    fixed = maintenance.fix_secrets(memory, scan) if fix else 0
    episodes, queries = scan["episodes"], scan["queries"]
    if as_json:
        print_json(
            {
                "scanned": scan["scanned"],
                "episodes_with_secrets": len(episodes),
                "by_kind": scan["by_kind"],
                "episodes": [
                    {k: v for k, v in item.items() if k != "episode"} for item in episodes
                ],
                "retrieval_queries_with_secrets": len(queries),
                "retrieval_query_kinds": scan["query_kinds"],
                "unreadable": scan["unreadable"],
                "fixed": fixed,
            }
        )
    else:
        _print_scan(scan, fixed, fix)
    if not fix and (episodes or queries):
        raise typer.Exit(1)


def _print_scan(scan: dict[str, Any], fixed: int, fix: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    episodes, queries = scan["episodes"], scan["queries"]
    out = console()
    if not episodes and not queries:
        out.print(f"[green]✓[/] no secrets found in {plural(scan['scanned'], 'episode')}")
    else:
        table = Table(show_edge=False, title="secrets found", title_justify="left")
        table.add_column("kind")
        table.add_column("in episodes", justify="right")
        table.add_column("in logged queries", justify="right")
        for kind in sorted(set(scan["by_kind"]) | set(scan["query_kinds"])):
            table.add_row(
                kind, str(scan["by_kind"].get(kind, 0)), str(scan["query_kinds"].get(kind, 0))
            )
        out.print(table)
        for item in episodes[:50]:
            kinds = ", ".join(f"{n} {k}" for k, n in item["kinds"].items())
            state = " [dim](archived)[/]" if item["archived"] else ""
            out.print(f"  [cyan]{item['short_id']}[/] {escape(item['title'][:70])}{state}: {kinds}")
        if len(episodes) > 50:
            out.print(f"  … and {len(episodes) - 50} more (--json lists them all)")
        also = f" and {plural(len(queries), 'logged query', 'logged queries')}" if queries else ""
        if fix:
            out.print(f"[green]✓[/] re-redacted {plural(fixed, 'episode')}{also}")
        else:
            out.print(
                f"{len(episodes)} of {scan['scanned']:,} episodes{also} hold secrets; "
                "`memrl redact --fix` replaces them with [REDACTED:<kind>]."
            )
    if scan["unreadable"]:
        note(
            f"{len(scan['unreadable'])} episode files could not be read; `memrl status` lists them"
        )


def main() -> None:
    """Run this module's commands alone (before `memrl` wires them in)."""
    typer.main.get_command(app)()


if __name__ == "__main__":
    main()
