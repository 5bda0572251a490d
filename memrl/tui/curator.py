"""The changes a person makes from the TUI, each with the core call that reverses it.

Every function returns a job: it runs in a thread worker, calls the Memory facade, and
answers with a sentence for the person and, where the core can reverse it, an Undo. Each
says what it is doing, for the header while it runs (a prune of thousands takes seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from memrl.curation import MergePlan
from memrl.episode import Episode
from memrl.errors import Conflict, MemrlError
from memrl.memory import Memory
from memrl.tui.undo import Undo
from memrl.views import Change, pct, plural


@dataclass(eq=False, slots=True)
class Job:
    doing: str  # "pruning 753 episodes", shown until it is saved
    run: Callable[[Memory], tuple[str, Undo | None]]


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(i[:8] for i in ids[:3])
    return shown + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def rate(ids: Sequence[str], helpful: bool) -> Job:
    word = "helpful" if helpful else "unhelpful"

    def job(m: Memory) -> tuple[str, Undo | None]:
        changes = m.learning.feedback(list(ids), helpful)
        own = [c for c in changes if c.cause == "feedback"]
        rated = {c.id: c.seq for c in own}
        return (
            f"rated {word}: {_moves(own)}{_spread(len(changes) - len(own))} (u undoes)",
            Undo(f"{word} rating of {_ids(list(rated))}", partial(_unrate, rated=rated, word=word)),
        )

    return Job(f"rating {plural(len(ids), 'episode')} {word}", job)


def _moves(changes: Sequence[Change]) -> str:
    return ", ".join(f"{c.id[:8]} {pct(c.before)} → {pct(c.after)}" for c in changes[:3])


def _spread(n: int) -> str:
    return f"; {n} neighbour{'s' if n != 1 else ''} moved" if n else ""


def _unrate(m: Memory, rated: dict[str, int | None], word: str) -> str:
    """Undo this app's rating of each episode; the core refuses what it cannot invert."""
    undone: list[Change] = []
    spread = 0
    refused: list[str] = []
    for episode_id, seq in rated.items():
        try:
            changes = m.learning.undo_feedback(episode_id, seq)
        except MemrlError as exc:
            refused.append(str(exc))
            continue
        undone.append(changes[0])
        spread += len(changes) - 1
    text = f"undid the {word} rating: {_moves(undone)}{_spread(spread)}" if undone else ""
    if refused:
        raise MemrlError("; ".join([*([text] if text else []), *refused]))
    return text


def pin(ids: Sequence[str], pinned: bool) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        was = m.rows([m.resolve(i) for i in ids])
        done = m.set_pinned(list(ids), pinned)
        changed = [i for i in done if was[i].pinned != pinned]  # undo restores only these
        verb = "pin" if pinned else "unpin"
        return (
            f"{verb}ned {_ids(done)}" + (" (u undoes)" if changed else ""),
            Undo(f"{verb} of {_ids(changed)}", lambda mm: mm.set_pinned(changed, not pinned))
            if changed
            else None,
        )

    return Job(f"{'pinning' if pinned else 'unpinning'} {plural(len(ids), 'episode')}", job)


def keep_apart(ids: Sequence[str]) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        kept = m.curation.keep_apart(ids)
        return (
            f"kept {_ids(kept)} apart: review will not group them again (u undoes)",
            Undo(f"keeping apart of {_ids(kept)}", lambda mm: mm.curation.keep_apart(kept, False)),
        )

    return Job(f"keeping {plural(len(ids), 'episode')} apart", job)


def archive(ids: Sequence[str]) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        already: list[str] = []
        moved = [e.id for e in m.archive(list(ids), unchanged=already)]
        if not moved:  # archived elsewhere since it was asked: no change, so nothing to undo
            raise MemrlError(f"{_ids(already)} archived already: nothing was changed")
        return (
            f"archived {_ids(moved)} (u undoes)",
            Undo(
                f"archive of {_ids(moved)}", lambda mm: mm.restore(moved, undo=True), restores=moved
            ),
        )

    return Job(f"archiving {plural(len(ids), 'episode')}", job)


def restore(ids: Sequence[str]) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        already: list[str] = []
        episodes = m.restore(list(ids), unchanged=already)
        moved = [e.id for e in episodes]
        if not moved:  # restored elsewhere since it was asked: nothing to undo
            raise MemrlError(f"{_ids(already)} live already: nothing was changed")
        note = "".join(f"; {said}" for said in m.counted_twice(episodes))
        return (
            f"restored {_ids(moved)} (u undoes){note}",
            Undo(f"restore of {_ids(moved)}", lambda mm: mm.archive(moved)),
        )

    return Job(f"restoring {plural(len(ids), 'episode')}", job)


def prune(ids: Sequence[str]) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        moved = [e.id for e in m.curation.prune(list(ids))]
        return (
            f"pruned {len(moved)} episode{'s' if len(moved) != 1 else ''} to the archive "
            "(u undoes)",
            Undo(
                f"prune of {plural(len(moved), 'episode')}",
                lambda mm: mm.restore(moved, undo=True),
                restores=moved,
            ),
        )

    return Job(f"pruning {plural(len(ids), 'episode')}", job)


def merge(plan: MergePlan) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        merged = m.curation.merge(plan)
        sources = [r.id for r in plan.sources]

        def undo(mm: Memory) -> None:
            mm.archive([merged.id])
            mm.restore(sources, undo=True)

        return (
            f"merged {_ids(sources)} into {merged.short_id}; the originals are archived (u undoes)",
            Undo(f"merge into {merged.short_id}", undo, restores=sources),
        )

    return Job(f"merging {plural(len(plan.sources), 'episode')}", job)


def edit(episode_id: str, changes: dict[str, Any], base: Episode, *, force: bool = False) -> Job:
    """Save an edit made from `base`: only the fields it changes are written, and a field
    another process changed meanwhile is refused (Conflict) unless `force`."""

    def job(m: Memory) -> tuple[str, Undo | None]:
        was = m.get(episode_id).episode.model_dump(mode="json")
        ep = m.update(episode_id, changes, base=base, force=force)  # refuses an archived one
        now = ep.model_dump(mode="json")
        before = {k: was[k] for k in changes if now[k] != was[k]}
        return (
            f"saved {ep.short_id} and re-indexed it",
            Undo(f"edit of {ep.short_id}", partial(_unedit, ep, before)) if before else None,
        )

    return Job(f"saving {episode_id[:8]}", job)


def _unedit(saved: Episode, before: dict[str, Any], m: Memory) -> None:
    """Put back what the edit replaced, only while its fields still hold what it wrote:
    a later change by another process is never reverted."""
    try:
        m.update(saved.id, before, base=saved)
    except Conflict as exc:
        raise MemrlError(
            f"cannot undo the edit of {saved.short_id}: its {', '.join(exc.fields)} "
            "changed elsewhere since; nothing was changed"
        ) from None


def undo(item: Undo) -> Job:
    def job(m: Memory) -> tuple[str, Undo | None]:
        said = item.apply(m)
        return (said if isinstance(said, str) else f"undid the {item.label}"), None

    return Job(f"undoing the {item.label}", job)
