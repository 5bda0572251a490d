"""`memrl search`: hybrid retrieval, ranked by similarity and learned utility."""

from __future__ import annotations

import typer

from memrl.cli.common import (
    JsonOpt,
    console,
    cut,
    guarded,
    note,
    open_memory,
    outcome_style,
    pct,
    print_json,
    row_json,
    utility_style,
)

app = typer.Typer()


@app.command()
@guarded
def search(
    query: str = typer.Argument(..., help="What you are looking for: a task, an error, a path."),
    limit: int = typer.Option(None, "--limit", "-n", min=1, max=100, help="How many results."),
    project: str = typer.Option(None, "--project", "-p", help="Only this project."),
    explain: bool = typer.Option(
        False, "--explain", help="Show similarity, utility, confidence and score for each hit."
    ),
    session: str = typer.Option(None, "--session", help="Log under this Claude Code session."),
    no_log: bool = typer.Option(
        False, "--no-log", help="Do not record this search (no temporal credit, no decay reset)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Find past episodes by meaning and by exact words (errors, paths, names)."""
    from memrl.project import detect

    memory = open_memory()
    result = memory.search(
        query,
        limit=limit,
        project=project,
        session_id=session,
        log=not no_log,
        origin="cli",
        # credited by a success captured here later, whichever project the hits are from
        log_project=None if project or session else detect(),
    )
    if not result.hits and (unknown := memory.unknown_project(project, "`memrl stats` lists them")):
        result.warnings.append(unknown)
    if as_json:
        print_json(
            {
                "query": result.query,
                "retrieval_id": result.retrieval_id,
                "hits": [
                    {
                        **row_json(h.row),
                        "rank": h.rank,
                        "similarity": round(h.similarity, 4),
                        "keyword": round(h.keyword, 4),
                        "score": round(h.score, 4),
                        "explanation": h.explain(result.utility_weight),
                    }
                    for h in result.hits
                ],
                "warnings": result.warnings,
            }
        )
        return
    for w in result.warnings:
        note(w)
    if not result.hits:
        console().print("[dim]Nothing relevant found.[/]")
        return
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("task")  # the one column that narrows: cut short, or wrapped to explain
    table.add_column("outcome", no_wrap=True)
    table.add_column("similarity", justify="right", no_wrap=True)
    table.add_column("utility", justify="right", no_wrap=True)
    if explain:
        table.add_column("confidence", justify="right", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
    for h in result.hits:
        u = h.row.learned.utility
        cells = [
            str(h.rank),
            h.row.short_id,
            h.row.title if explain else cut(h.row.title),
            f"[{outcome_style(h.row.outcome)}]{h.row.outcome}[/]",
            pct(h.similarity) + (" [magenta]kw[/]" if h.keyword >= 0.5 else ""),
            f"[{utility_style(u)}]{pct(u)}[/]",
        ]
        if explain:
            cells += [pct(h.row.learned.confidence), f"{h.score:.3f}"]
        table.add_row(*cells)
    console().print(table)
    if any(h.keyword >= 0.5 for h in result.hits):
        console().print("[dim][magenta]kw[/]: the query's exact words are in it too[/]")
    if explain:
        for h in result.hits:
            console().print(
                f"[dim]{h.rank}. {h.row.short_id}: {h.explain(result.utility_weight)}[/]"
            )
