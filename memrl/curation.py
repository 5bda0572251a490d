"""Curation: what to merge, what to prune, and what a review should look at.

Plans are computed here and only applied when asked, so every front-end can show a plan
(a dry run) before anything moves. Nothing is deleted: merged-away and pruned episodes
go to `archive/`, and `restore` brings them back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from memrl.episode import Episode, Outcome, now
from memrl.errors import InvalidInput, NotFound
from memrl.intake import check_summary
from memrl.learning.base import standing
from memrl.learning.rules import DAY, NEUTRAL, clip, reward_update
from memrl.project import given
from memrl.store import Filters
from memrl.store.ledger import StateRow
from memrl.views import Learned, Row, pct, plural

if TYPE_CHECKING:
    import sqlite3

    from memrl.memory import Memory

OUTCOME_ORDER = [Outcome.success, Outcome.partial, Outcome.failure, Outcome.unknown]
UNUSED_AFTER_DAYS = 14


@dataclass(slots=True)
class PruneCandidate:
    row: Row
    reason: str


@dataclass(slots=True)
class Cluster:
    rows: list[Row]
    similarity: float  # the lowest pairwise link that joined the cluster

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rows]


@dataclass(slots=True)
class Review:
    clusters: list[Cluster] = field(default_factory=list)
    stale: list[Row] = field(default_factory=list)
    unused: list[Row] = field(default_factory=list)
    prune: list[PruneCandidate] = field(default_factory=list)
    # by episode id, whole days: since a stale one was last used, since an unused one was made
    days: dict[str, int] = field(default_factory=dict)

    @property
    def only_stale(self) -> list[Row]:
        """Stale episodes that are not dead weight: those are listed once, as `prune`."""
        dead = {c.row.id for c in self.prune}
        return [r for r in self.stale if r.id not in dead]

    @property
    def only_unused(self) -> list[Row]:
        """Never-retrieved episodes that are not dead weight."""
        dead = {c.row.id for c in self.prune}
        return [r for r in self.unused if r.id not in dead]

    def suggestions(self) -> list[str]:
        out = []
        for c in self.clusters:
            ids = " ".join(r.short_id for r in c.rows)
            out.append(
                f"merge {len(c.rows)} near-duplicates ({c.similarity:.0%} alike): memrl merge {ids}"
            )
        if self.prune:
            out.append(
                f"archive {len(self.prune)} low-utility, unused episodes: memrl prune --execute"
            )
        if stale := self.only_stale:
            out.append(
                f"{plural(len(stale), 'episode')} "
                f"{'has' if len(stale) == 1 else 'have'} not been used for a long time: "
                "pin what still matters (memrl pin <id>), let decay handle the rest"
            )
        return out


@dataclass(slots=True)
class MergePlan:
    sources: list[Row]
    episode: Episode
    state: StateRow
    notes: list[str] = field(default_factory=list)  # a move, if any, is the first
    # the sources' projects the merged episode leaves (empty when it stays where they are)
    moved_from: list[str] = field(default_factory=list)
    # sources another source holds already (merged into it, restored since): when merged
    held: dict[str, float] = field(default_factory=dict)


class Curation:
    def __init__(self, memory: Memory) -> None:
        self.m = memory

    def planned(self, plan: MergePlan) -> Learned:
        """What the merged episode will have learned, as `memrl show` gives it once merged:
        the originals' evidence, decayed from the latest use of any of them (what its
        neighbours spread to it comes when it is made)."""
        return self.m.learned(plan.state, plan.episode.created_at.timestamp(), plan.episode.pinned)

    # prune ----------------------------------------------------------------------

    def prune_limits(
        self, older_than_days: int | None = None, min_utility: float | None = None
    ) -> tuple[int, float]:
        """The idle days and the utility below which episodes are pruned: as given, else
        from the settings."""
        cfg = self.m.settings.prune
        days = cfg.older_than_days if older_than_days is None else older_than_days
        floor = cfg.min_utility if min_utility is None else min_utility
        if days < 0:
            raise InvalidInput(f"--older-than must be 0 days or more, not {days}")
        if not 0 <= floor <= 1:
            raise InvalidInput(f"--min-utility must be between 0 and 1 (0.2 is 20 %), not {floor}")
        return days, floor

    def prune_plan(
        self,
        *,
        older_than_days: int | None = None,
        min_utility: float | None = None,
        project: str | None = None,
        kept: dict[str, int] | None = None,
    ) -> list[PruneCandidate]:
        """Episodes below the utility floor and unused for the days given, least useful first.
        `kept`, if given, counts those as low and as old that are protected, by why: pinned,
        rated helpful, or restored by hand within the days (see `kept_text`)."""
        days, floor = self.prune_limits(older_than_days, min_utility)
        kept = {} if kept is None else kept
        now_ts = self.m.now()
        restored = dict(  # restored by hand: unused counts from then
            self.m.ledger.conn.execute(
                "SELECT episode_id, MAX(ts) FROM events WHERE cause = 'restore' GROUP BY episode_id"
            )
        )
        out = []
        for row in self.m.list(
            Filters(project=project), limit=None, sort="utility", descending=False
        ):
            learned = row.learned
            if learned.utility >= floor:
                break  # sorted by utility: nothing further qualifies
            idle = (now_ts - learned.idle_since) / DAY
            if idle < days:
                continue
            if row.id in restored and (now_ts - restored[row.id]) / DAY < days:
                guard = "restored by hand since"
            else:
                guard = "pinned" if row.pinned else "rated helpful" if learned.helpful else ""
            if guard:
                kept[guard] = kept.get(guard, 0) + 1
                continue
            low = (  # never "46% < 46%"
                f"{pct(learned.utility)} < {pct(floor)}"
                if pct(learned.utility) != pct(floor)
                else f"{learned.utility:.1%} < {floor:.1%}"
            )
            why = [
                f"utility {low}",
                f"unused for {idle:.0f} days",
            ]
            if learned.unhelpful:
                why.append(f"rated unhelpful {learned.unhelpful}×")
            elif learned.retrievals == 0:
                why.append("never retrieved")
            out.append(PruneCandidate(row, ", ".join(why)))
        return out

    @staticmethod
    def kept_text(kept: dict[str, int]) -> str:
        """`prune_plan`'s protected episodes, why: "1 pinned, 2 rated helpful"."""
        return ", ".join(f"{n} {why}" for why, n in kept.items())

    def prune(self, ids: Sequence[str]) -> list[Episode]:
        return self.m.archive(list(ids))

    # review ---------------------------------------------------------------------

    def duplicate_clusters(self, project: str | None = None) -> list[Cluster]:
        """Near-identical episodes within each project, by blocked similarity products.

        Raises IndexUnavailable (with its fix) when there are episodes to compare and no
        index to compare them by: "no duplicates" would be an all-clear nothing checked."""
        threshold = self.m.settings.review.duplicate_threshold
        if not any(n > 1 for p, n in self.m.projects() if project is None or p == project):
            return []  # no project holds two live episodes: nothing to compare, no index needed
        ids, matrix = self.m.index.vectors(None)
        cats = self.m.ledger.catalog_many(ids)
        by_project: dict[str, list[int]] = defaultdict(list)
        for n, i in enumerate(ids):
            cat = cats.get(i)
            if cat and not cat.archived and (project is None or cat.project == project):
                by_project[cat.project].append(n)
        apart = self.m.ledger.apart()  # pairs a person said are not duplicates
        parent = list(range(len(ids)))
        link: dict[int, float] = {}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for members in by_project.values():
            if len(members) < 2:
                continue
            sub = matrix[members]
            for start in range(0, len(members), 1024):
                sims = sub[start : start + 1024] @ sub.T
                rows, cols = np.nonzero(sims >= threshold)
                for r, c in zip(rows, cols, strict=True):
                    a, b = members[start + r], members[c]
                    if a < b and (min(ids[a], ids[b]), max(ids[a], ids[b])) not in apart:
                        ra, rb = find(a), find(b)
                        if ra != rb:
                            parent[rb] = ra
                        link[ra] = min(link.get(ra, 1.0), link.get(rb, 1.0), float(sims[r, c]))
        groups: dict[int, list[str]] = defaultdict(list)
        for members in by_project.values():
            for n in members:
                groups[find(n)].append(ids[n])
        clusters = []
        for root, member_ids in groups.items():
            if len(member_ids) > 1:
                found = self.m.rows(member_ids)
                ordered = sorted(found.values(), key=lambda r: -r.learned.utility)
                clusters.append(Cluster(ordered, link.get(root, threshold)))
        clusters.sort(key=lambda c: (-len(c.rows), -c.similarity))
        return clusters

    def keep_apart(self, refs: Sequence[str], apart: bool = True) -> list[str]:
        """Say these alike episodes are distinct: review stops grouping them (or, with
        `apart=False`, may group them again). Returns their ids."""
        ids = self.m.store.resolve_all(list(refs), archived=None)
        if len(ids) < 2:
            raise InvalidInput("keeping apart takes two or more episodes")
        self.m.ledger.set_apart(ids, apart)
        return ids

    def review(self, project: str | None = None) -> Review:
        stale_days = self.m.settings.review.stale_days
        now_ts = self.m.now()
        review = Review(clusters=self.duplicate_clusters(project))
        for row in self.m.list(
            Filters(project=project), limit=None, sort="created", descending=False
        ):
            learned = row.learned
            idle = (now_ts - learned.idle_since) / DAY
            if row.pinned:
                continue
            age = (now_ts - learned.arrived_at) / DAY
            if learned.retrievals == 0 and age >= UNUSED_AFTER_DAYS:
                review.unused.append(row)
                review.days[row.id] = round(age)
            elif idle >= stale_days:
                review.stale.append(row)
                review.days[row.id] = round(idle)
        review.prune = self.prune_plan(project=project)
        return review

    # merge ----------------------------------------------------------------------

    def merge_plan(
        self,
        refs: Sequence[str],
        *,
        summary: str | None = None,
        project: str | None = None,
        naming: str = "with --project",
    ) -> MergePlan:
        """`naming`: how the caller names the project, said when episodes of several projects
        are merged without one."""
        ids = self.m.store.resolve_all(refs, archived=False)
        if len(ids) < 2:
            raise InvalidInput("a merge needs at least two different episodes")
        if project is not None:  # read as a capture reads it: 'acme/app/' is 'acme/app'
            project = given(project, to_file=True) or None
        views = [self.m.get(i) for i in ids]
        rows = self.m.rows(ids)
        episodes = [v.episode for v in views]
        projects = sorted({e.project for e in episodes})
        notes = []
        if len(projects) > 1 and project is None:
            raise InvalidInput(
                f"these episodes belong to different projects ({', '.join(projects)}); "
                "merging would move some of them. Name the project the merged episode belongs "
                f"to ({naming}), or merge within one project."
            )
        target_project = project or projects[0]
        moved_from = [p for p in projects if p != target_project]
        if moved_from:
            moved = ", ".join(f"'{p}'" for p in moved_from)
            notes.append(
                f"the merged episode goes to project '{target_project}': episodes from {moved} "
                "move there"
            )
        episodes.sort(key=lambda e: -rows[e.id].learned.utility)
        best = episodes[0]

        def union(attr: str) -> list:
            seen: dict = {}
            for e in episodes:
                for item in getattr(e, attr):
                    key = (item.error, item.resolution) if attr == "errors_resolved" else item
                    seen.setdefault(key, item)
            if attr == "errors_resolved":  # an error without its fix adds nothing to one with
                fixed = {e for e, r in seen if r}
                return [v for (e, r), v in seen.items() if r or e not in fixed]
            return list(seen.values())

        outcome = min((e.outcome for e in episodes), key=OUTCOME_ORDER.index)
        if summary is not None and not summary.strip():  # given, but nothing in it
            raise InvalidInput(
                "the merged summary is blank: write one that keeps what each episode knew, or "
                "give none to join theirs. Nothing was changed."
            )
        summary = (summary or "").strip()
        if summary:
            # one the caller wrote is never swapped; one of theirs is not new text
            check_summary(self.m.settings, summary, kept=[e.summary for e in episodes])
            merged_summary = summary
        else:
            # paragraph by paragraph: a merged episode merged again with one of its own
            # originals (restored since) does not repeat what it already says
            merged_summary = "\n\n".join(
                dict.fromkeys(p.strip() for e in episodes for p in e.summary.split("\n\n"))
            )
            if len(merged_summary) > self.m.settings.capture.max_summary_chars:
                merged_summary = best.summary
                notes.append("the summaries together were too long; kept the most useful one")
        ep = Episode(
            created_at=min(e.created_at for e in episodes),
            updated_at=now(),
            project=target_project,
            session_id=best.session_id,
            task=best.task or next((e.task for e in episodes if e.task), ""),
            summary=merged_summary,
            outcome=outcome,
            task_type=best.task_type,
            what_worked=union("what_worked"),
            what_failed=union("what_failed"),
            errors_resolved=union("errors_resolved"),
            files=union("files"),
            commands=union("commands"),
            tags=union("tags"),
            source=best.source,
            merged_from=[*ids, *(m for e in episodes for m in e.merged_from)],
            pinned=any(e.pinned for e in episodes),
            redactions={
                k: sum(e.redactions.get(k, 0) for e in episodes)
                for e in episodes
                for k in e.redactions
            },
        )
        held = _held(self.m.ledger.conn, ids, episodes)
        state = self._merged_state(self.m.ledger.conn, ep.id, ids, held)
        return MergePlan([rows[i] for i in ids], ep, state, notes, moved_from, held)

    def _merged_state(
        self, c: sqlite3.Connection, episode_id: str, ids: Sequence[str], held: dict[str, float]
    ) -> StateRow:
        alpha = self.m.settings.learning.learning_rate
        states = self.m.ledger.states(ids)
        for i, merged_at in held.items():  # only what it learned since counts again
            states[i] = _learned_since(c, states[i], merged_at, alpha)
        return _merged_state(episode_id, states, alpha, _together(c, ids))

    def merge(self, plan: MergePlan) -> Episode:
        """Store the merged episode with the originals' combined evidence; archive them."""
        m = self.m
        # its summary was checked by merge_plan, or is an original's, kept as it is stored
        ep = m.prepare(plan.episode, source=plan.episode.source, new_text=False)
        vector = m.embedder.embed([ep.embedding_text()])[0]
        ids = [r.id for r in plan.sources]
        # Another merge of the same episodes waits here, then finds them archived.
        with m.store.editing():
            cats = m.ledger.catalog_many(ids)
            gone = [i[:8] for i in ids if i not in cats or cats[i].archived]
            earlier = m.merged_into(ids)
            if (
                len(gone) < len(ids)
                and set(earlier) == set(ids)
                and len(set(earlier.values())) == 1
            ):
                # A merge of these stopped before archiving them all (killed, say): finish
                # it, rather than merge them again and count their evidence twice.
                m.archive([i for i in ids if i in cats and not cats[i].archived])
                return m.store.load(earlier[ids[0]])
            if gone:
                raise NotFound(
                    f"{', '.join(gone)} archived meanwhile (merged or archived by another "
                    "process). Nothing was changed."
                )
            before = {r.id: r.learned.utility for r in plan.sources}
            ts = m.now()
            # The ledger first: once the merged file exists, its events say what it holds.
            with m.ledger.write() as c:
                # read again in the write: a rating given since the plan is carried over
                plan.state = self._merged_state(c, ep.id, ids, plan.held)
                m.ledger.put_states(c, [plan.state])
                m.ledger.add_events(
                    c,
                    [
                        (ts, ep.id, "merge", src, before[src], clip(plan.state.q), "merged from")
                        for src in before
                    ],
                )
            m.store.save([ep])
            m._index_episodes([(ep, vector)])
            m.archive(ids)
        if plan.state.evidence:
            m.learning.spread_from([ep.id])
        m.learning.after_capture(ep, m.learning.neighbours_of_new(vector, ep.id), [])
        return ep


def _held(c: sqlite3.Connection, ids: Sequence[str], episodes: Sequence[Episode]):
    """Those of `ids` that another of `episodes` was merged from (restored since), each with
    when it was merged: what it had learned until then is in the episode holding it."""
    held = {i for e in episodes for i in e.merged_from if i in ids and i != e.id}
    merged = dict(
        c.execute(
            f"SELECT other_id, MAX(ts) FROM events WHERE cause = 'merge' AND other_id IN "
            f"({','.join('?' * len(held))}) GROUP BY other_id",
            list(held),
        ).fetchall()
    )
    return {i: merged.get(i, 0.0) for i in held}


def _learned_since(c: sqlite3.Connection, s: StateRow, since: float, alpha: float) -> StateRow:
    """What an original learned after `since` (its ratings still standing, and searches that
    returned it), as an episode that knew nothing before would have learned it."""
    events = c.execute(
        "SELECT seq, cause, detail, ts FROM events WHERE episode_id = ? "
        "AND cause IN ('feedback', 'undo') ORDER BY seq",
        (s.id,),
    ).fetchall()
    kept = set(standing((seq, cause) for seq, cause, _d, _ts in events))
    ratings = [d == "helpful" for seq, _c, d, ts in events if seq in kept and ts > since]
    q = NEUTRAL
    for helpful in ratings:
        q = reward_update(q, 1.0 if helpful else 0.0, alpha)
    (retrievals,) = c.execute(
        "SELECT COUNT(*) FROM retrieved r JOIN retrievals q ON q.seq = r.retrieval_seq "
        "WHERE r.episode_id = ? AND q.ts > ?",
        (s.id, since),
    ).fetchone()
    used = s.last_used_at if s.last_used_at and s.last_used_at > since else None
    return StateRow(
        s.id,
        q=q,
        evidence=len(ratings),
        retrievals=int(retrievals),
        helpful=sum(ratings),
        unhelpful=len(ratings) - sum(ratings),
        last_used_at=used,
    )


def _together(c: sqlite3.Connection, ids: Sequence[str]) -> int:
    """How many of the originals' retrievals are one search that returned several of them
    (a search that found three counts two here): the merged episode was retrieved once."""
    marks = ",".join("?" * len(ids))
    (n,) = c.execute(
        f"SELECT COUNT(*) - COUNT(DISTINCT retrieval_seq) FROM retrieved "
        f"WHERE episode_id IN ({marks})",
        list(ids),
    ).fetchone()
    return int(n)


def _merged_state(
    episode_id: str, states: dict[str, StateRow], alpha: float, together: int = 0
) -> StateRow:
    """The originals' evidence, combined: q as if one episode had received all of it; it
    was last used, and arrived, when the latest of them was, and retrieved by each search
    that returned any of them (`together`: the retrievals that were one search).

    Each original's signals moved its q from ½ by an affine map, q ↦ a·q + (q_i − a/2) with
    a = (1 − α)^evidence (exact for plain ratings); the merged q applies those maps in the
    order the originals were last used. Five helpful ratings over three duplicates give
    what five on one episode give (70 %), where averaging their q gave 58 %, below each."""
    q = NEUTRAL
    for s in sorted(states.values(), key=lambda s: (s.last_used_at or 0.0, s.id)):
        a = (1.0 - alpha) ** s.evidence
        q = a * q + (s.q - a * NEUTRAL)
    last_used = [s.last_used_at for s in states.values() if s.last_used_at]
    arrived = [s.added_at for s in states.values() if s.added_at]
    return StateRow(
        episode_id,
        q=clip(q),
        evidence=sum(s.evidence for s in states.values()),
        retrievals=max(0, sum(s.retrievals for s in states.values()) - together),
        helpful=sum(s.helpful for s in states.values()),
        unhelpful=sum(s.unhelpful for s in states.values()),
        last_used_at=max(last_used) if last_used else None,
        added_at=max(arrived) if arrived else None,  # as fresh as the latest to arrive
    )
