"""From the Memory facade's views to the tools' output models.

Search results are shortened (long summaries, long lists, long items) so five of them
stay a few thousand characters in Claude's context; `shortened` says so, and retrieving
the id gives the episode in full. "In full" has a bound too: an episode may hold 512 KB,
more than Claude Code accepts from one tool call (25,000 tokens), so its lists are cut
to DETAIL_CHARS in all, and `omitted` counts what was left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from memrl import views
from memrl.mcp import models
from memrl.store import Filters

if TYPE_CHECKING:
    from memrl.memory import Memory

HIT_SUMMARY_CHARS = 1_500
HIT_ITEMS = 10
HIT_ITEM_CHARS = 400
LISTED_SUMMARY_CHARS = 300
DETAIL_CHARS = 40_000  # an episode's text in one reply; the structured copy doubles it


def pct(x: float) -> float:
    """A fraction as a percentage to the hundredth, which the text rounds as `views.pct`
    does, so a reply and `memrl show` give the same whole percentage."""
    return round(x * 100, 2)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def cut(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[: limit - 1].rstrip() + "…", True)


def change(ch: views.Change) -> models.Change:
    return models.Change(
        id=ch.id,
        short_id=views.short(ch.id),
        title=ch.title,
        cause=ch.cause,
        before=pct(ch.before),
        after=pct(ch.after),
        from_id=ch.other_id,
        neighbours=pct(ch.neighbours) if abs(ch.neighbours) >= views.SPLIT_FROM else None,
    )


def changes(items: Iterable[views.Change]) -> list[models.Change]:
    """The largest first, as every list of changes is shown."""
    return [change(ch) for ch in views.largest_first(items)]


def listed(row: views.Row) -> models.Listed:
    learned = row.learned
    return models.Listed(
        id=row.id,
        short_id=row.short_id,
        project=row.project,
        task=row.task,
        summary=cut(row.summary, LISTED_SUMMARY_CHARS)[0],
        outcome=row.outcome,
        task_type=row.task_type,
        tags=row.tags,
        created_at=iso(row.created_at),
        utility=pct(learned.utility),
        confidence=pct(learned.confidence),
        retrievals=learned.retrievals,
        helpful=learned.helpful,
        unhelpful=learned.unhelpful,
        pinned=row.pinned,
    )


def _short(items: Sequence[str]) -> tuple[list[str], bool]:
    """At most HIT_ITEMS items of at most HIT_ITEM_CHARS each, and whether any was cut."""
    kept = [cut(item, HIT_ITEM_CHARS) for item in items[:HIT_ITEMS]]
    return [k for k, _ in kept], len(items) > HIT_ITEMS or any(c for _, c in kept)


def hit(h: views.Hit) -> models.Hit:
    ep = h.episode
    assert ep is not None, "search with_episodes=True loads every returned hit"
    summary, cut_summary = cut(ep.summary, HIT_SUMMARY_CHARS)
    worked, cut_worked = _short(ep.what_worked)
    failed, cut_failed = _short(ep.what_failed)
    files, cut_files = _short(ep.files)
    fixes = [
        (cut(e.error, HIT_ITEM_CHARS), cut(e.resolution, HIT_ITEM_CHARS))
        for e in ep.errors_resolved[:HIT_ITEMS]
    ]
    cut_fixes = len(ep.errors_resolved) > HIT_ITEMS or any(a[1] or b[1] for a, b in fixes)
    learned = h.row.learned
    return models.Hit(
        rank=h.rank,
        id=ep.id,
        short_id=ep.short_id,
        project=ep.project,
        task=ep.task,
        summary=summary,
        outcome=ep.outcome.value,
        task_type=ep.task_type.value,
        what_worked=worked,
        what_failed=failed,
        errors_resolved=[models.ErrorFix(error=a[0], resolution=b[0]) for a, b in fixes],
        files=files,
        tags=ep.tags,
        similarity=pct(max(0.0, h.similarity)),
        relevance=pct(min(1.0, max(0.0, h.relevance))),
        weak=h.weak,
        exact=h.exact,
        keyword_match=h.keyword_match,
        utility=pct(learned.utility),
        confidence=pct(learned.confidence),
        created_at=ep.created_at.isoformat(timespec="seconds"),
        shortened=cut_summary or cut_worked or cut_failed or cut_files or cut_fixes,
    )


def _fit(lists: dict[str, list[Any]], room: int) -> tuple[dict[str, list[Any]], int]:
    """Keep items, list by list in order, while their text fits in `room` characters;
    return what was kept and how many items were left out."""
    kept: dict[str, list[Any]] = {}
    omitted = 0
    for name, items in lists.items():
        kept[name] = []
        for item in items:
            size = len(item) if isinstance(item, str) else len(item.error) + len(item.resolution)
            if size + 4 > room:
                room = 0
                omitted += 1
                continue
            room -= size + 4
            kept[name].append(item)
    return kept, omitted


def detail(view: views.EpisodeView) -> models.Detail:
    ep, learned = view.episode, view.learned
    lists, omitted = _fit(
        {
            "what_worked": ep.what_worked,
            "what_failed": ep.what_failed,
            "errors_resolved": ep.errors_resolved,
            "files": ep.files,
            "commands": ep.commands,
        },
        DETAIL_CHARS - len(ep.summary) - len(ep.task),
    )
    return models.Detail(
        id=ep.id,
        short_id=ep.short_id,
        project=ep.project,
        session_id=ep.session_id,
        task=ep.task,
        summary=ep.summary,
        outcome=ep.outcome.value,
        task_type=ep.task_type.value,
        what_worked=lists["what_worked"],
        what_failed=lists["what_failed"],
        errors_resolved=[
            models.ErrorFix(error=e.error, resolution=e.resolution)
            for e in lists["errors_resolved"]
        ],
        files=lists["files"],
        commands=lists["commands"],
        omitted=omitted,
        tags=ep.tags,
        source=ep.source.value,
        created_at=ep.created_at.isoformat(timespec="seconds"),
        updated_at=ep.updated_at.isoformat(timespec="seconds"),
        merged_from=ep.merged_from,
        pinned=ep.pinned,
        archived=view.archived,
        merged_into=view.merged_into,
        utility=pct(learned.utility),
        confidence=pct(learned.confidence),
        retrievals=learned.retrievals,
        helpful=learned.helpful,
        unhelpful=learned.unhelpful,
    )


def unknown_project(
    memory: Memory, project: str | None, otherwise: str = "memrl_stats lists the projects"
) -> list[str]:
    """A warning when `project` names no episode (see `Memory.unknown_project`)."""
    note = memory.unknown_project(project, otherwise)
    return [note] if note else []


def case_variants(memory: Memory, project: str) -> list[str]:
    """Existing projects whose names differ from `project` only in case, when `project`
    itself has no episodes yet: a capture there starts a second project beside them."""
    if memory.exists(Filters(project=project)):
        return []
    return [n for n, _count in memory.projects() if n.lower() == project.lower()]
