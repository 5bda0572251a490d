"""Learning and curation commands: feedback, propagate, pin, history, stats, prune, merge, review."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from memrl.cli.common import (
    JsonOpt,
    ProjectOpt,
    bar,
    change_json,
    console,
    cut,
    guarded,
    iso,
    note,
    note_unknown_project,
    open_memory,
    pct,
    print_changes,
    print_json,
    print_plot,
    read_project,
    row_json,
    utility_style,
)
from memrl.views import ago, human_size, moved, plural, rated_search

if TYPE_CHECKING:
    from memrl.memory import Memory

app = typer.Typer()


class Verdict(StrEnum):
    helpful = "helpful"
    unhelpful = "unhelpful"
    yes = "yes"
    no = "no"
    good = "good"
    bad = "bad"
    undo = "undo"


@app.command()
@guarded
def feedback(
    verdict: Verdict = typer.Argument(
        ...,
        help="helpful|unhelpful (or yes/no, good/bad); undo takes back each episode's latest "
        "rating.",
    ),
    refs: list[str] = typer.Argument(
        ..., help="Ids, prefixes, or 'last' (the hits of your latest `memrl search`)."
    ),
    session: str = typer.Option(
        None, "--session", help="'last' is the latest retrieval in this session instead."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Rate episodes: utility moves, and value spreads to similar episodes."""
    from memrl.episode import MIN_PREFIX
    from memrl.refs import live_ids

    # A Claude Code session searching meanwhile must not take the ratings meant for yours.
    origin = None if session else "cli"
    memory = open_memory()
    ids = live_ids(
        memory,
        refs,
        use=None if verdict is Verdict.undo else "rate",
        last=True,
        ask=f"Give ids or prefixes of {MIN_PREFIX}+ characters (as `memrl search` shows them), "
        "or 'last' for the hits of your latest `memrl search`.",
        restore="`memrl restore {id}` brings it back",
        through_merges=verdict is not Verdict.undo,  # rated through the episode holding it
    )
    if verdict is Verdict.undo:
        _undo_ratings(memory, ids, session, origin, as_json)
        return
    helpful = verdict in (Verdict.helpful, Verdict.yes, Verdict.good)
    changes = memory.learning.feedback(ids, helpful, session_id=session, origin=origin)
    notes = [text for c in changes for text in c.notes]
    if as_json:
        searched = next((c.searched for c in changes if c.searched), None)
        print_json(
            {
                "helpful": helpful,
                "last_search": {"query": searched[0], "searched_at": iso(searched[1])}
                if searched
                else None,
                "rated": [
                    {**change_json(c), "neighbours": round(c.neighbours, 4)}
                    for c in changes
                    if c.cause == "feedback"
                ],
                "propagated": [change_json(c) for c in changes if c.cause != "feedback"],
                "notes": notes,
            }
        )
    else:
        from rich.markup import escape

        for c in changes:  # 'last' may not be the search you think: say which it was
            if c.searched:
                said = rated_search(*c.searched, memory.now())
                console().print(f"'last' rated {escape(said)}")
        rated = [c for c in changes if c.cause == "feedback"]
        print_changes(rated, "rated " + ("helpful" if helpful else "unhelpful"))
        print_changes([c for c in changes if c.cause != "feedback"], "propagated to neighbours")
    for text in notes:
        note(text)


def _undo_ratings(
    memory: Memory, refs: list[str], session: str | None, origin: str | None, as_json: bool
) -> None:
    """Take back each episode's latest rating, exactly; what cannot be is said, not skipped."""
    from memrl.errors import MemrlError

    undone, spread, refused = memory.learning.undo_ratings(refs, session_id=session, origin=origin)
    if not undone:
        kind = type(refused[0]) if len({type(e) for e in refused}) == 1 else MemrlError
        raise kind("; ".join(map(str, refused)))
    if as_json:
        print_json(
            {
                "undone": [change_json(c) for c in undone],
                "neighbours": [change_json(c) for c in spread],
                "refused": [str(exc) for exc in refused],
            }
        )
    else:
        print_changes(undone, "ratings undone")
        print_changes(spread, "propagated to neighbours")
    for exc in refused:
        note(f"not undone: {exc}")
    if refused:
        raise typer.Exit(1)


@app.command()
@guarded
def propagate(
    temporal: bool = typer.Option(
        False, "--temporal", help="Also give outstanding temporal credit."
    ),
    project: str = typer.Option(
        None,
        "--project",
        "-p",
        help="Update only this project's episodes (value from others still counts).",
        callback=read_project,
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would change; change nothing."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Spread value over the similarity graph (Bellman); a second run changes nothing."""
    memory = open_memory()
    note_unknown_project(memory, project)
    report = memory.learning.propagate(project=project, temporal=temporal, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "sources": report.sources,
                "edges": report.edges,
                "dry_run": dry_run,
                "seconds": round(report.seconds, 3),
                "changes": [change_json(c) for c in report.changes],
                "credit": [change_json(c) for c in report.credit],
            }
        )
        return
    print_changes(report.credit, "temporal credit")
    verb = "would change" if dry_run else "changed"
    print_changes(report.changes, verb, limit=30)
    given = sum(c.cause == "credit" for c in report.credit)  # the rest spread from them
    credited = f", {given} by temporal credit" if given else ""
    console().print(
        f"{plural(report.sources, 'episode')} with evidence, {plural(report.edges, 'edge')}; "
        f"{plural(len(report.changes), 'utility', 'utilities')} {verb} by propagation{credited} "
        f"({report.seconds:.2f} s)"
    )
    if dry_run and temporal:
        note("temporal credit still owed is not previewed: a run without --dry-run gives it")


def _pin(refs: list[str], pinned: bool, as_json: bool) -> None:
    memory = open_memory()
    ids = memory.store.resolve_all(refs)
    was = memory.rows(ids)
    memory.set_pinned(ids, pinned)
    unchanged = [i for i in ids if was[i].pinned == pinned]
    if as_json:
        print_json({"pinned" if pinned else "unpinned": ids, "unchanged": unchanged})
        return
    for i in ids:
        done = "📌 pinned " if pinned else "unpinned "
        console().print(
            (f"already {'pinned' if pinned else 'unpinned'}: " if i in unchanged else done)
            + f"[cyan]{i[:8]}[/]"
        )


@app.command()
@guarded
def pin(
    refs: list[str] = typer.Argument(..., help="Ids or prefixes."), as_json: bool = JsonOpt
) -> None:
    """Protect episodes from pruning and decay."""
    _pin(refs, True, as_json)


@app.command()
@guarded
def unpin(
    refs: list[str] = typer.Argument(..., help="Ids or prefixes."), as_json: bool = JsonOpt
) -> None:
    """Let pinned episodes decay and be pruned again."""
    _pin(refs, False, as_json)


@app.command()
@guarded
def history(
    ref: str = typer.Argument(..., help="An id, prefix or 'latest'."), as_json: bool = JsonOpt
) -> None:
    """An episode's utility over time, and every change with its cause."""
    from memrl import insights

    memory = open_memory()
    h = insights.history(memory, ref)
    if as_json:
        print_json(
            {
                **row_json(h.row),
                "events": [
                    {
                        "ts": iso(e.ts),
                        "cause": e.cause,
                        "before": round(e.before, 4),
                        "after": round(e.after, 4),
                        "other_id": e.other_id,
                        "detail": e.detail,
                    }
                    for e in h.events
                ],
                "curve": [(iso(ts), round(utility, 4)) for ts, utility in h.curve],
            }
        )
        return
    console().print(
        f"[cyan]{h.row.short_id}[/] {h.row.title} — utility "
        f"[{utility_style(h.row.learned.utility)}]{pct(h.row.learned.utility)}[/]"
    )
    if len(h.curve) > 1:
        _plot_curve(h.curve)
    if not h.events:
        console().print("[dim]No utility changes yet: rate it with `memrl feedback`.[/]")
        return
    from rich.table import Table

    table = Table(show_edge=False)
    table.add_column("when", no_wrap=True)
    table.add_column("cause")
    table.add_column("utility", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    table.add_column("detail")
    for e in h.events:
        d = e.after - e.before
        cause = e.cause + (f" ← {e.other_id[:8]}" if e.other_id else "")
        utility, change = moved(e.before, e.after)
        table.add_row(
            ago(e.ts, memory.now()),
            cause,
            utility,
            f"[{'green' if d > 0 else 'red' if d < 0 else 'dim'}]{change}[/]",
            e.detail,
        )
    console().print(table)


def _plot_curve(curve: list[tuple[float, float]]) -> None:
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    xs = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") for t, _u in curve]
    plt.date_form("Y-m-d H:M:S")  # ISO dates, as everywhere else in memrl
    plt.plot(xs, [u * 100 for _t, u in curve], marker="braille")
    plt.ylim(0, 100)
    plt.ylabel("utility %")
    plt.plotsize(min(100, console().width), 15)
    print_plot(plt.build())


@app.command()
@guarded
def stats(
    project: str = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Totals per project, outcome mix, utility histogram, top episodes, usage."""
    from memrl import insights

    memory = open_memory()
    s = insights.stats(memory, project)
    if not s.episodes:
        note_unknown_project(memory, project)
    if as_json:
        print_json(
            {
                "episodes": s.episodes,
                "archived": s.archived,
                "projects": [
                    {**asdict(p), "mean_utility": round(p.mean_utility, 4)} for p in s.projects
                ],
                "outcomes": s.outcomes,
                "task_types": s.task_types,
                "utility_histogram": s.utility_histogram,
                "top": [row_json(r) for r in s.top],
                "retrievals": s.retrievals,
                "helpful": s.helpful,
                "unhelpful": s.unhelpful,
                "rated_episodes": s.rated_episodes,
                "captures_per_day": s.captures_per_day,
                "size_bytes": s.size_bytes,
            }
        )
        return
    from rich.table import Table

    c = console()
    c.print(
        f"[bold]{plural(s.episodes, 'live episode')}[/] ({s.archived:,} archived), "
        f"{plural(s.retrievals, 'retrieval')}, "
        f"{s.helpful} helpful / {s.unhelpful} unhelpful ratings on "
        f"{plural(s.rated_episodes, 'episode')}, "
        f"{human_size(s.size_bytes)}"
    )
    if not s.episodes:
        return
    t = Table(title="projects", title_justify="left", show_edge=False)
    t.add_column("project", overflow="ellipsis", max_width=30)
    for col in ("episodes", "mean utility", "helpful", "unhelpful"):
        t.add_column(col, justify="right", no_wrap=True)
    for p in s.projects[:15]:
        t.add_row(p.project, str(p.episodes), pct(p.mean_utility), str(p.helpful), str(p.unhelpful))
    c.print(t)
    c.print(
        "outcomes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(s.outcomes.items(), key=lambda kv: -kv[1]))
    )
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    labels = [f"{10 * i}-{10 * i + 10}" for i in range(10)]
    plt.bar(labels, s.utility_histogram)
    tallest = max(s.utility_histogram, default=0)
    step = max(1, math.ceil(tallest / 5))
    plt.yticks(range(0, tallest + step, step))  # whole episodes
    plt.title("episodes by utility (%)")
    plt.plotsize(min(100, c.width), 14)
    print_plot(plt.build())
    if not s.top:
        c.print("most useful: none yet (only rated or credited episodes above 50 % count)")
        return
    top = Table(title="most useful", title_justify="left", show_edge=False)
    top.add_column("id", no_wrap=True)
    top.add_column("task", max_width=60)
    top.add_column("utility", no_wrap=True)
    top.add_column("used", justify="right", no_wrap=True)
    top.add_column("±", justify="right", no_wrap=True)
    for r in s.top:
        u = r.learned.utility
        top.add_row(
            r.short_id,
            cut(r.title),
            f"[{utility_style(u)}]{bar(u, 5)} {pct(u)}[/]",
            str(r.learned.retrievals),
            f"{r.learned.helpful}/{r.learned.unhelpful}",
        )
    c.print(top)


@app.command()
@guarded
def prune(
    older_than: int = typer.Option(None, "--older-than", help="Days unused (default from config)."),
    min_utility: float = typer.Option(
        None, "--min-utility", help="Utility below this, 0–1 (default from config)."
    ),
    project: str = ProjectOpt,
    execute: bool = typer.Option(
        False, "--execute", help="Archive the candidates (default: dry run)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Find old, low-utility episodes; archive them with --execute (restorable)."""
    memory = open_memory()
    note_unknown_project(memory, project)
    kept: dict[str, int] = {}
    plan = memory.curation.prune_plan(
        older_than_days=older_than, min_utility=min_utility, project=project, kept=kept
    )
    archived = memory.curation.prune([c.row.id for c in plan]) if execute and plan else []
    if as_json:
        print_json(
            {
                "executed": execute,
                "candidates": [{**row_json(c.row), "reason": c.reason} for c in plan],
                "archived": [e.id for e in archived],
                "kept": kept,
            }
        )
        return
    days, floor = memory.curation.prune_limits(older_than, min_utility)
    limits = f"below {pct(floor)} utility and unused for {plural(days, 'day')}"
    if not plan:
        n = sum(kept.values())
        console().print(
            f"[dim]Nothing to prune: {plural(n, 'episode is', 'episodes are')} {limits}, but "
            f"kept ({memory.curation.kept_text(kept)}).[/]"
            if kept
            else f"[dim]Nothing to prune: no episode is both {limits} (--min-utility, "
            "--older-than).[/]"
        )
        return
    from rich.table import Table

    t = Table(show_edge=False)
    t.add_column("id", no_wrap=True)
    t.add_column("task", max_width=60)
    t.add_column("why")
    for cand in plan:
        t.add_row(cand.row.short_id, cut(cand.row.title), cand.reason)
    console().print(t)
    if kept:
        console().print(f"[dim]Also {limits}, but kept: {memory.curation.kept_text(kept)}.[/]")
    if execute:
        console().print(
            f"[yellow]archived {plural(len(archived), 'episode')}[/] "
            "(memrl restore <id> brings one back)"
        )
    else:
        console().print(
            f"{plural(len(plan), 'candidate')}. Dry run: add --execute to archive them."
        )


@app.command()
@guarded
def merge(
    refs: list[str] = typer.Argument(..., help="Two or more ids or prefixes."),
    summary: str = typer.Option(
        None, "--summary", "-s", help="The merged summary (default: joined)."
    ),
    project: str = typer.Option(None, "--project", "-p", help="Project of the merged episode."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the merged episode; change nothing."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Merge near-duplicates into one episode that keeps everything they knew."""
    memory = open_memory()
    plan = memory.curation.merge_plan(refs, summary=summary, project=project)
    for n in plan.notes:
        note(n)
    ep = plan.episode if dry_run else memory.curation.merge(plan)
    from rich.markup import escape

    if dry_run:  # decayed as it will be; what neighbours spread to it comes once it is made
        utility = memory.curation.planned(plan).utility
    else:
        utility = memory.rows([ep.id])[ep.id].learned.utility
    if as_json:
        data = ep.model_dump(mode="json")
        if dry_run:
            del data["id"]  # a new id is drawn when the merge is made
        print_json(
            {
                "dry_run": dry_run,
                "id": None if dry_run else ep.id,
                "merged_from": [r.id for r in plan.sources],
                "utility": round(utility, 4),
                "episode": data,
            }
        )
        return
    into = "a new episode" if dry_run else f"[cyan]{ep.short_id}[/]"
    verb = "would merge" if dry_run else "merged"
    console().print(
        f"[green]✓[/] {verb} {len(plan.sources)} episodes into {into} — {escape(ep.title)} "
        f"(utility {pct(utility)}, {plural(plan.state.evidence, 'signal')})"
    )
    if not dry_run:
        console().print("[dim]originals archived: memrl restore <id> brings one back[/]")


def print_review(memory, project: str | None, as_json: bool) -> None:
    review = memory.curation.review(project)
    stale, unused = review.only_stale, review.only_unused  # dead weight is listed once
    if as_json:
        print_json(
            {
                "duplicates": [
                    {
                        "similarity": round(c.similarity, 4),
                        "episodes": [row_json(r) for r in c.rows],
                    }
                    for c in review.clusters
                ],
                "stale": [row_json(r) for r in stale],
                "unused": [row_json(r) for r in unused],
                "prune": [{**row_json(p.row), "reason": p.reason} for p in review.prune],
                "suggestions": review.suggestions(),
            }
        )
        return
    c = console()
    alike = memory.settings.review.duplicate_threshold
    c.print(
        f"[bold]{len(review.clusters)}[/] duplicate "
        f"{'cluster' if len(review.clusters) == 1 else 'clusters'} ({alike:.0%} alike or more), "
        f"[bold]{len(review.prune)}[/] dead weight, [bold]{len(stale)}[/] stale, "
        f"[bold]{len(unused)}[/] never used"
    )
    for n, cl in enumerate(review.clusters[:20], 1):
        c.print(f"\n[bold]cluster {n}[/] ({cl.similarity:.0%} alike)")
        for r in cl.rows:
            c.print(f"  [cyan]{r.short_id}[/] {r.title[:70]} — utility {pct(r.learned.utility)}")
    if review.prune:
        c.print("\n[bold]dead weight[/] (low utility, long unused)")
        for p in review.prune[:15]:
            c.print(f"  [cyan]{p.row.short_id}[/] {p.row.title[:60]} — {p.reason}")
    if stale:
        c.print("\n[bold]stale[/] (unused for a long time)")
        for r in stale[:15]:
            c.print(f"  [cyan]{r.short_id}[/] {r.title[:70]}")
    if unused:
        c.print("\n[bold]never retrieved[/]")
        for r in unused[:15]:
            c.print(f"  [cyan]{r.short_id}[/] {r.title[:70]}")
    if review.suggestions():
        c.print("\n[bold]suggested[/]")
        for s in review.suggestions():
            c.print(f"  • {s}")
