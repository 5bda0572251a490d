"""Read-only views over the ledger: statistics, utility history and the propagation graph."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from memrl.errors import IndexUnavailable
from memrl.learning import rules
from memrl.learning.base import CONTEXT, standing
from memrl.learning.rules import DAY, NEUTRAL, Inflow, decay_factor, histogram
from memrl.store import Filters, files
from memrl.views import Row

if TYPE_CHECKING:
    from memrl.memory import Memory


@dataclass(slots=True)
class ProjectStats:
    project: str
    episodes: int
    mean_utility: float
    helpful: int
    unhelpful: int


@dataclass(slots=True)
class Stats:
    episodes: int
    archived: int
    projects: list[ProjectStats]
    outcomes: dict[str, int]
    task_types: dict[str, int]
    utility_histogram: list[int]
    top: list[Row]
    retrievals: int
    helpful: int
    unhelpful: int
    rated_episodes: int
    captures_per_day: list[tuple[str, int]]
    size_bytes: int


@dataclass(slots=True)
class Event:
    ts: float
    cause: str
    before: float
    after: float
    other_id: str | None
    detail: str


@dataclass(slots=True)
class History:
    row: Row
    events: list[Event]
    curve: list[tuple[float, float]] = field(default_factory=list)  # (ts, utility), decay included


@dataclass(slots=True)
class Neighbour:
    row: Row
    similarity: float
    inflow: float  # value this episode receives from the neighbour
    outflow: float  # value the neighbour receives from this episode


def stats(memory: Memory, project: str | None = None, top: int = 10) -> Stats:
    rows = memory.list(Filters(project=project), limit=None)
    per: dict[str, list[Row]] = {}
    for r in rows:
        per.setdefault(r.project, []).append(r)
    projects = [
        ProjectStats(
            p,
            len(rs),
            sum(r.learned.utility for r in rs) / len(rs),
            sum(r.learned.helpful for r in rs),
            sum(r.learned.unhelpful for r in rs),
        )
        for p, rs in sorted(per.items(), key=lambda kv: -len(kv[1]))
    ]
    days = Counter(datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d") for r in rows)
    archived = memory.count(Filters(project=project, archived=True))
    sql = "SELECT COUNT(*) FROM retrievals" + (" WHERE project = ?" if project else "")
    retrievals = memory.ledger.conn.execute(sql, [project] if project else []).fetchone()[0]
    return Stats(
        episodes=len(rows),
        archived=archived,
        projects=projects,
        outcomes=dict(Counter(r.outcome for r in rows)),
        task_types=dict(Counter(r.task_type for r in rows)),
        utility_histogram=histogram(r.learned.utility for r in rows),
        # most useful: shown to help (rated or credited) and above neutral, not just unrated
        top=sorted(
            (r for r in rows if r.learned.evidence and r.learned.utility > NEUTRAL),
            key=lambda r: -r.learned.utility,
        )[:top],
        retrievals=retrievals,
        helpful=sum(r.learned.helpful for r in rows),
        unhelpful=sum(r.learned.unhelpful for r in rows),
        rated_episodes=sum(1 for r in rows if r.learned.helpful or r.learned.unhelpful),
        captures_per_day=sorted(days.items()),
        size_bytes=files.dir_size(memory.root),
    )


def history(memory: Memory, ref: str) -> History:
    episode_id = memory.resolve(ref, archived=None)
    row = memory.rows([episode_id])[episode_id]
    rows = memory.ledger.events(episode_id)
    events = [  # an undo names the kind of rating it took back (before, also its number)
        Event(ts, cause, before, after, other, detail.split(" #")[0] if cause == "undo" else detail)
        for _seq, ts, cause, other, before, after, detail, _used, _q in rows
    ]
    # A search it was then rated unhelpful in was no use (unless that rating was undone):
    # the rating took back the restart of its decay clock, so the curve does not draw one.
    kept = set(standing((row[0], row[2]) for row in rows))
    taken_back = {
        used
        for seq, _ts, cause, _o, _b, _a, detail, used, _q in rows
        if cause == "feedback" and detail == "unhelpful" and seq in kept
    }
    uses = [
        r[0]
        for r in memory.ledger.conn.execute(
            "SELECT q.ts FROM retrieved r JOIN retrievals q ON q.seq = r.retrieval_seq "
            "WHERE r.episode_id = ? AND q.origin != ? ORDER BY q.ts",
            (episode_id, CONTEXT),
        )
        if r[0] not in taken_back
    ]
    return History(row, events, _curve(memory, row, events, uses))


def _curve(memory: Memory, row: Row, events: list[Event], uses: list[float]):
    """Utility over time: flat at each recorded value, decaying between uses.

    It starts when the work was done (`created_at`); decay starts when the episode arrived
    in the store, which is later for work captured with an old date.
    """
    rate = memory.settings.learning.decay_rate
    now = memory.now()
    start, arrived = row.created_at, row.learned.arrived_at
    pins = [e for e in events if e.cause in ("pin", "unpin")]
    pinned = pins[0].cause == "unpin" if pins else row.pinned  # as it was before the first
    if events:  # the first change found it decayed since its last use before then
        first = events[0]
        used = max((u for u in uses if u <= first.ts), default=arrived)
        base = first.before / max(decay_factor(used, first.ts, rate, pinned), 1e-9)
    else:
        base = row.learned.utility / max(row.learned.decay, 1e-9)
    points: list[tuple[float, float]] = [(start, base)]
    last_use = arrived
    value = base

    def decaying(until: float) -> None:
        """Sample the decay from the last point to `until` (drawn as a curve, not a chord)."""
        since = max(points[-1][0], last_use)
        if until < since:
            return
        steps = 0 if pinned or rate <= 0 else min(12, int((until - since) / DAY))
        points.append((since, value * decay_factor(last_use, since, rate, pinned)))
        for k in range(1, steps + 1):
            ts = since + (until - since) * k / (steps + 1)
            points.append((ts, value * decay_factor(last_use, ts, rate, pinned)))
        points.append((until, value * decay_factor(last_use, until, rate, pinned)))

    marks = sorted(
        [(e.ts, "event", e) for e in events] + [(u, "use", None) for u in uses], key=lambda m: m[0]
    )
    for ts, kind, ev in marks:
        decaying(ts)
        if kind == "use" or (ev is not None and ev.cause in ("feedback", "merge")):
            last_use = ts
        if ev is not None:
            if ev.cause in ("pin", "unpin"):
                pinned = ev.cause == "pin"
            value = ev.after / max(decay_factor(last_use, ts, rate, pinned), 1e-9)
            points.append((ts, ev.after))
        else:
            points.append((ts, value))
    decaying(max(now, points[-1][0]))
    return points


def neighbours(memory: Memory, ref: str, limit: int = 20) -> list[Neighbour]:
    """Similar episodes above the propagation threshold, with the value flowing each way."""
    episode_id = memory.resolve(ref, archived=False)
    cfg = memory.settings.learning
    try:
        ids, matrix = memory.index.vectors([episode_id])
    except IndexUnavailable:
        return []
    if not ids:
        return []
    hits = memory.index.search_vector(matrix[0], limit + 1)
    near = [(i, s) for i, s in hits if i != episode_id and s >= cfg.propagation_threshold]
    rows = memory.rows([i for i, _s in near] + [episode_id])
    conn = memory.ledger.conn

    def flow(src: str, dst: str) -> float:
        """The value src currently passes to dst (0 when src has no evidence)."""
        inflows = [
            Inflow(s, sim, q, evidence)
            for s, sim, q, evidence in conn.execute(
                "SELECT e.src, e.sim, COALESCE(st.q, 0.5), COALESCE(st.evidence, 0) FROM edges e "
                "LEFT JOIN state st ON st.id = e.src WHERE e.dst = ?",
                (dst,),
            )
        ]
        shares = rules.flows(
            inflows,
            cfg.discount_factor,
            memory.ledger.state(dst).evidence,
            cfg.propagation_threshold,
        )
        return shares.get(src, 0.0)

    return [
        Neighbour(rows[i], s, flow(i, episode_id), flow(episode_id, i))
        for i, s in near
        if i in rows
    ]
