"""`memrl hook <event>` (what Claude Code runs) and `memrl redact` (secrets in a store).

`memrl hook` reads Claude Code's hook JSON on stdin and always exits 0, even when called
wrongly: Claude Code takes exit 2 from a hook as "block", so a usage error must not be
one. That is why it is one command taking the event as an argument, with nothing left to
the argument parser to refuse; the work and its failure handling live in
`memrl.integrations.claude.hooks`. `install_hooks` and `uninstall_hooks` are what
`memrl setup claude` calls.
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
    if report.added or report.updated:
        done = [("installed", report.added), ("updated", report.updated)]
        text = "; ".join(
            f"hooks {would}{verb} in {report.path} ({', '.join(events)})"
            for verb, events in done
            if events
        )
    elif report.removed:
        text = f"hooks {would}removed from {report.path} ({', '.join(report.removed)})"
        if report.deleted:
            text += f"; the file, which memrl had created, {would or 'was '}deleted"
    elif report.commands:
        text = f"hooks already installed in {report.path}"
    else:
        text = f"no memrl hooks in {report.path}"
    return text + (f"; backup at {report.backup}" if report.backup else "")


@app.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def hook(
    ctx: typer.Context,
    event: str = typer.Argument(
        "",
        metavar="EVENT",
        show_default=False,
        help="session-start | stop | pre-compact | session-end",
    ),
) -> None:
    """Run a Claude Code hook (installed by `memrl setup claude`).

    It reads Claude Code's hook JSON on stdin and always exits 0. A problem is
    one line on stderr and an entry in <data dir>/logs/hooks.log; `memrl status`
    shows the recent ones.

    session-start: the project's most useful memories, as context.
    stop, pre-compact: checkpoint the session's episode (stop is throttled).
    session-end: the session as one episode; credit to the memories it used.
    """
    if ctx.args:
        from memrl.integrations.claude import hooks

        hooks.refuse(event, f"unexpected {' '.join(ctx.args)}; usage: memrl hook EVENT")
        raise typer.Exit(0)
    raise typer.Exit(run_event(event))


def run_event(event: str) -> int:
    """The hook for `event`, fed from stdin; 0 whatever happens. `memrl` calls this without
    the parser for `memrl hook <event>`, as Claude Code runs it (many at once)."""
    from memrl.integrations.claude import hooks

    if event in hooks.YIELDING:
        hooks.yield_cpu()
    try:
        raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    except (OSError, ValueError):
        raw = b""
    return hooks.run(event, raw)


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
                "episodes": [  # the task line under the name every other command gives it
                    {("task" if k == "title" else k): v for k, v in item.items() if k != "episode"}
                    for item in episodes
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
            title = item["title"] if len(item["title"]) <= 70 else item["title"][:69] + "…"
            out.print(f"  [cyan]{item['short_id']}[/] {escape(title)}{state} — {kinds}")
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
