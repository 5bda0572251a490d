"""From the Memory facade's views to the tools' output models.

Search results are shortened (long summaries, long lists) so five of them stay a few
thousand characters in Claude's context; `shortened` says so, and retrieving the id
gives the episode in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from datetime import UTC, datetime

from memrl import views
from memrl.mcp import models

HIT_SUMMARY_CHARS = 1_500
HIT_ITEMS = 10
LISTED_SUMMARY_CHARS = 300


def pct(x: float) -> float:
    return round(x * 100, 1)


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


def hit(h: views.Hit) -> models.Hit:
    ep = h.episode
    assert ep is not None, "search with_episodes=True loads every returned hit"
    summary, cut_summary = cut(ep.summary, HIT_SUMMARY_CHARS)
    lists: dict[str, Sized] = {
        "what_worked": ep.what_worked,
        "what_failed": ep.what_failed,
        "files": ep.files,
        "errors_resolved": ep.errors_resolved,
    }
    shortened = cut_summary or any(len(v) > HIT_ITEMS for v in lists.values())
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
        what_worked=ep.what_worked[:HIT_ITEMS],
        what_failed=ep.what_failed[:HIT_ITEMS],
        errors_resolved=[
            models.ErrorFix(error=e.error, resolution=e.resolution)
            for e in ep.errors_resolved[:HIT_ITEMS]
        ],
        files=ep.files[:HIT_ITEMS],
        tags=ep.tags,
        similarity=pct(max(0.0, h.similarity)),
        utility=pct(learned.utility),
        confidence=pct(learned.confidence),
        created_at=ep.created_at.isoformat(timespec="seconds"),
        shortened=shortened,
    )


def detail(view: views.EpisodeView) -> models.Detail:
    ep, learned = view.episode, view.learned
    return models.Detail(
        id=ep.id,
        short_id=ep.short_id,
        project=ep.project,
        session_id=ep.session_id,
        task=ep.task,
        summary=ep.summary,
        outcome=ep.outcome.value,
        task_type=ep.task_type.value,
        what_worked=ep.what_worked,
        what_failed=ep.what_failed,
        errors_resolved=[
            models.ErrorFix(error=e.error, resolution=e.resolution) for e in ep.errors_resolved
        ],
        files=ep.files,
        commands=ep.commands,
        tags=ep.tags,
        source=ep.source.value,
        created_at=ep.created_at.isoformat(timespec="seconds"),
        updated_at=ep.updated_at.isoformat(timespec="seconds"),
        merged_from=ep.merged_from,
        pinned=ep.pinned,
        archived=view.archived,
        utility=pct(learned.utility),
        confidence=pct(learned.confidence),
        retrievals=learned.retrievals,
        helpful=learned.helpful,
        unhelpful=learned.unhelpful,
    )
