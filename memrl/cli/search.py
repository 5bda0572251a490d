"""`memrl search`: hybrid retrieval, ranked by similarity and learned utility."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from memrl.cli.common import (
    JsonOpt,
    ProjectOpt,
    console,
    cut,
    guarded,
    note,
    open_memory,
    outcome_style,
    pct,
    plural,
    print_json,
    row_json,
    utility_style,
)

if TYPE_CHECKING:
    from memrl.views import Hit

app = typer.Typer()


@app.command()
@guarded
def search(
    words: list[str] = typer.Argument(
        ...,
        metavar="QUERY",
        help="What you are looking for: a task, an error, a path. Quotes are optional.",
    ),
    limit: int = typer.Option(None, "--limit", "-n", min=1, max=100, help="How many results."),
    project: str = ProjectOpt,
    explain: bool = typer.Option(
        False, "--explain", help="Show similarity, utility, confidence and score for each hit."
    ),
    session: str = typer.Option(None, "--session", help="Log under this Claude Code session."),
    no_log: bool = typer.Option(
        False,
        "--no-log",
        help="Do not record this search: no temporal credit, no decay reset, and "
        "`feedback … last` still names the search before it.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Find past episodes by meaning and by exact words (errors, paths, names)."""
    from memrl.project import detect
    from memrl.refs import named_episode

    query = " ".join(words)
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
    several: list[str] = []
    if named := named_episode(memory, query, several):
        short = named[:8]
        result.warnings.append(
            f"{query.strip()} is the id of “{memory.rows([named])[named].title}”: "
            f"`memrl show {short}` shows that episode in full"
        )
    elif several:
        shown = ", ".join(i[:8] for i in several[:5]) + (", …" if len(several) > 5 else "")
        result.warnings.append(
            f"{query.strip()} starts the ids of {plural(len(several), 'episode')} ({shown}), "
            "so it was searched as text; `memrl show` opens one given more of its id"
        )
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
                        "relevance": round(h.relevance, 4),
                        "normalised_relevance": round(h.normalised, 4),
                        "score": round(h.score, 4),
                        "weak": h.weak,
                        "explanation": result.explain(h),
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
    _print_hits(result.hits, explain)
    if any(h.keyword_match for h in result.hits):
        console().print("[dim][magenta]kw[/]: the query's exact words are in it too[/]")
    if any(h.weak for h in result.hits):
        console().print("[dim]weak: a faint match, unlikely to help; `last` leaves it out[/]")
    if explain:
        for h in result.hits:
            console().print(f"[dim]{h.rank}. {h.row.short_id}: {result.explain(h)}[/]")


TASK_MIN = 16  # cells the task keeps before the columns beside it give way
# The columns beside the task, least important first: in a narrow terminal they are left
# out in this order (confidence and utility are in the --explain lines anyway).
GIVE_WAY = ("confidence", "#", "outcome", "utility")


def _print_hits(hits: list[Hit], explain: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    columns: dict[str, list[Any]] = {
        "#": [str(h.rank) for h in hits],
        "id": [h.row.short_id for h in hits],
        # the one column that narrows: cut short, or wrapped when explaining
        "task": [h.row.title if explain else cut(h.row.title) for h in hits],
        "outcome": [f"[{outcome_style(h.row.outcome)}]{h.row.outcome}[/]" for h in hits],
        "similarity": [
            pct(h.similarity)
            + (" [magenta]kw[/]" if h.keyword_match else "")
            + (" [dim]weak[/]" if h.weak else "")
            for h in hits
        ],
        "utility": [
            f"[{utility_style(u)}]{pct(u)}[/]" for u in (h.row.learned.utility for h in hits)
        ],
    }
    if explain:
        columns["confidence"] = [pct(h.row.learned.confidence) for h in hits]
        columns["score"] = [f"{h.score:.3f}" for h in hits]

    def width(name: str) -> int:
        return max(len(name), *(Text.from_markup(cell).cell_len for cell in columns[name]))

    def room() -> int:  # what the task would get beside the others: ' │ ' between columns
        others = [name for name in columns if name != "task"]
        return console().width - sum(map(width, others)) - 3 * len(others)

    for name in GIVE_WAY:
        if room() >= TASK_MIN:
            break
        columns.pop(name, None)
    table = Table(show_edge=False, pad_edge=False)
    for name in columns:
        right = name not in ("id", "task", "outcome")
        style = {"#": "dim", "id": "cyan"}.get(name)
        table.add_column(
            name, justify="right" if right else "left", style=style, no_wrap=name != "task"
        )
    for n, h in enumerate(hits):
        table.add_row(*(cells[n] for cells in columns.values()), style="dim" if h.weak else None)
    console().print(table)
