"""Learning over the store: feedback, temporal credit and Bellman propagation.

Every change is written in one ledger transaction together with its history events, so
concurrent processes never lose an update and every utility change can be explained.

The propagation graph is kept as edges src → dst, from each episode with evidence (a
*source*) to its nearest neighbours above `propagation_threshold`. Feedback updates only
the neighbourhood it touches, using the index's nearest-neighbour search; `propagate`
recomputes the whole graph with batched matrix products and is a fixed point.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memrl.episode import Episode
from memrl.errors import IndexUnavailable, InvalidInput, NotFound
from memrl.learning.rules import (
    Inflow,
    clip,
    credit_weights,
    decay_factor,
    outcome_reward,
    propagated,
    reward_update,
)
from memrl.store.ledger import StateRow
from memrl.views import Change, Hit

if TYPE_CHECKING:
    import numpy as np

    from memrl.memory import Memory

EPS = 1e-9
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memrl-neighbours")
    return _pool
CONTEXT = "context"  # the origin of retrievals made to give a session its opening context


@dataclass(slots=True)
class PropagationReport:
    sources: int
    edges: int
    changes: list[Change]
    credit: list[Change] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False


class Engine:
    def __init__(self, memory: Memory) -> None:
        self.m = memory

    @property
    def cfg(self):
        return self.m.settings.learning

    @property
    def ledger(self):
        return self.m.ledger

    # helpers ----------------------------------------------------------------------

    def _backup(self, inflows: Sequence[Inflow], evidence: int) -> float:
        return propagated(
            inflows, self.cfg.discount_factor, evidence, self.cfg.propagation_threshold
        )

    def _states(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, StateRow]:
        out: dict[str, StateRow] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                "SELECT id, q, p, evidence, retrievals, helpful, unhelpful, last_used_at "
                f"FROM state WHERE id IN ({marks})",
                chunk,
            ):
                out[row[0]] = StateRow(*row)
        for i in ids:
            out.setdefault(i, StateRow(i))
        return out

    def _shown(self, state: StateRow, created: float, pinned: bool) -> float:
        """The utility a person sees: decayed for the time since last use."""
        factor = decay_factor(
            state.last_used_at or created, self.m.now(), self.cfg.decay_rate, pinned
        )
        return clip(state.q + state.p) * factor

    def _meta(self, ids: Sequence[str]) -> dict[str, tuple[float, bool, str]]:
        cats = self.ledger.catalog_many(ids)
        return {
            i: (c.created_at, bool(c.pinned), (c.task or c.summary).splitlines()[0][:80])
            for i, c in cats.items()
        }

    # retrieval log ----------------------------------------------------------------

    def log_retrieval(
        self,
        query: str,
        hits: Sequence[Hit],
        session_id: str | None,
        project: str | None,
        origin: str,
    ) -> int:
        """Record what was returned, for temporal credit and `feedback last`; a retrieval is a use."""
        if self.m.settings.capture.redact:
            from memrl.redact import redact_text

            query = redact_text(query)[0]
        ts = self.m.now()
        with self.ledger.write() as c:
            cur = c.execute(
                "INSERT INTO retrievals (ts, session_id, project, query, origin) "
                "VALUES (?, ?, ?, ?, ?)",
                (ts, session_id, project or (hits[0].row.project if hits else None), query, origin),
            )
            seq = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO retrieved (retrieval_seq, rank, episode_id, similarity) "
                "VALUES (?, ?, ?, ?)",
                [(seq, h.rank, h.id, h.similarity) for h in hits],
            )
            c.executemany("INSERT OR IGNORE INTO state (id) VALUES (?)", [(h.id,) for h in hits])
            c.executemany(
                "UPDATE state SET retrievals = retrievals + 1, last_used_at = ? WHERE id = ?",
                [(ts, h.id) for h in hits],
            )
        return seq

    def last_retrieved(self, session_id: str | None = None) -> list[str]:
        sql = "SELECT seq FROM retrievals"
        args: list[object] = []
        if session_id:
            sql += " WHERE session_id = ?"
            args.append(session_id)
        row = self.ledger.conn.execute(sql + " ORDER BY seq DESC LIMIT 1", args).fetchone()
        if row is None:
            raise NotFound(
                "nothing has been retrieved yet, so there is no 'last' retrieval to rate"
            )
        return [
            r[0]
            for r in self.ledger.conn.execute(
                "SELECT episode_id FROM retrieved WHERE retrieval_seq = ? ORDER BY rank", (row[0],)
            )
        ]

    # feedback ---------------------------------------------------------------------

    def feedback(
        self, refs: Sequence[str], helpful: bool, *, session_id: str | None = None
    ) -> list[Change]:
        """Rate episodes; all refs are resolved first, so a bad one changes nothing."""
        if not refs:
            raise NotFound("name at least one episode id (or 'last')")
        ids: list[str] = []
        for ref in refs:
            if ref.strip().lower() == "last":
                ids += self.last_retrieved(session_id)
        rest = [r for r in refs if r.strip().lower() != "last"]
        ids += self.m.store.resolve_all(rest, archived=False)
        ids = list(dict.fromkeys(ids))
        cats = self.ledger.catalog_many(ids)
        archived = [i[:8] for i in ids if i in cats and cats[i].archived]
        if archived:
            raise NotFound(
                f"{', '.join(archived)} archived; restore before rating. Nothing was changed."
            )
        meta = self._meta(ids)
        reward = 1.0 if helpful else 0.0
        ts = self.m.now()
        changes = []
        with self.ledger.write() as c:
            states = self._states(c, ids)
            for episode_id in ids:
                s = states[episode_id]
                created, pinned, title = meta[episode_id]
                before = self._shown(s, created, pinned)
                prev_used = s.last_used_at
                s.q = reward_update(s.q, reward, self.cfg.learning_rate)
                s.evidence += 1
                s.helpful += int(helpful)
                s.unhelpful += int(not helpful)
                s.last_used_at = ts
                after = self._shown(s, created, pinned)
                word = "helpful" if helpful else "unhelpful"
                event = (ts, episode_id, "feedback", None, before, after, word, prev_used)
                seq = self.ledger.add_event(c, event)
                changes.append(Change(episode_id, title, "feedback", before, after, seq=seq))
            self.ledger.put_states(c, states.values())
        spread = self.spread_from(ids)
        own = {ch.id: ch for ch in spread if ch.id in meta}
        for ch in changes:  # damping by new confidence may move the rated episode's p too
            if ch.id in own:
                ch.after = own.pop(ch.id).after
        return changes + [ch for ch in spread if ch.id not in meta]

    def undo_feedback(self, episode_id: str, seq: int | None = None) -> list[Change]:
        """Take back the latest rating of an episode, exactly, if nothing has moved it since.

        The update u ← u + α(r − u) is inverted (u_before = (u − α r) / (1 − α)), so the
        rating must be the episode's last own-evidence change; a later rating can be undone
        first, a later credit or merge cannot be unpicked and is refused. `seq` (from the
        rating's Change) makes sure it is that rating, not a later one, that is undone. The
        last-use time goes back too, unless the episode was used again since.
        """
        alpha = self.cfg.learning_rate
        meta = self._meta([episode_id])
        if episode_id not in meta:
            raise NotFound(f"no episode {episode_id[:8]}")
        created, pinned, title = meta[episode_id]
        with self.ledger.write() as c:
            undone: set[int] = set()
            target = None
            for row_seq, cause, detail, ts, prev_used in c.execute(
                "SELECT seq, cause, detail, ts, prev_used FROM events WHERE episode_id = ? "
                "AND cause IN ('feedback', 'credit', 'merge', 'undo') ORDER BY seq DESC",
                (episode_id,),
            ):
                if cause == "undo":
                    undone.add(int(detail.rsplit("#", 1)[1]))
                elif row_seq in undone:
                    continue
                elif cause == "feedback":
                    target = (row_seq, detail, ts, prev_used)
                    break
                else:
                    raise InvalidInput(
                        f"{episode_id[:8]} has had {cause} since its last rating; "
                        "a rating can only be undone before anything else moves it"
                    )
            if seq is not None and (target is None or target[0] != seq):
                if target is not None and target[0] > seq:
                    raise InvalidInput(
                        f"{episode_id[:8]} was rated again since; undo that rating first"
                    )
                raise NotFound(f"that rating of {episode_id[:8]} was already undone")
            if target is None:
                raise NotFound(f"{episode_id[:8]} has no rating left to undo")
            found_seq, word, rated_at, prev_used = target
            helpful = word == "helpful"
            s = self._states(c, [episode_id])[episode_id]
            before = self._shown(s, created, pinned)
            s.q = clip((s.q - alpha * (1.0 if helpful else 0.0)) / (1.0 - alpha))
            s.evidence = max(0, s.evidence - 1)
            s.helpful -= int(helpful)
            s.unhelpful -= int(not helpful)
            if s.last_used_at == rated_at:  # not used since: the decay clock goes back too
                s.last_used_at = prev_used
            after = self._shown(s, created, pinned)
            self.ledger.put_states(c, [s])
            self.ledger.add_events(
                c, [(self.m.now(), episode_id, "undo", None, before, after, f"{word} #{found_seq}")]
            )
        change = Change(episode_id, title, "undo", before, after)
        spread = self.spread_from([episode_id])
        own = [ch for ch in spread if ch.id == episode_id]
        if own:
            change.after = own[0].after
        return [change, *(ch for ch in spread if ch.id != episode_id)]

    # temporal credit --------------------------------------------------------------

    def credit(self, ep: Episode) -> list[Change]:
        """Share an outcome's reward among the episodes retrieved before it (λ^k)."""
        reward = outcome_reward(ep.outcome.value)
        if reward is None:
            return []
        ts = self.m.now()
        end = max(ts, ep.created_at.timestamp())
        with self.ledger.write() as c:
            if ep.session_id:
                rows = c.execute(
                    "SELECT seq, origin FROM retrievals WHERE session_id = ? AND credited = 0 "
                    "AND ts <= ? ORDER BY seq DESC",
                    (ep.session_id, end),
                ).fetchall()
            else:
                window = self.cfg.credit_window_minutes * 60
                rows = c.execute(
                    "SELECT seq, origin FROM retrievals WHERE session_id IS NULL AND project = ? "
                    "AND credited = 0 AND ts BETWEEN ? AND ? ORDER BY seq DESC",
                    (ep.project, end - window, end),
                ).fetchall()
            seqs = [r[0] for r in rows]
            if not seqs:
                return []
            ordered: list[str] = []
            scale: dict[str, float] = {}
            for seq, origin in rows:  # most recent retrieval first; an episode counts once
                # Context shown at session start was not chosen for this task: it earns less.
                share = self.cfg.context_credit_weight if origin == CONTEXT else 1.0
                for (episode_id,) in c.execute(
                    "SELECT r.episode_id FROM retrieved r JOIN episodes e ON e.id = r.episode_id "
                    "WHERE r.retrieval_seq = ? AND e.archived = 0 ORDER BY r.rank",
                    (seq,),
                ):
                    if episode_id != ep.id and episode_id not in ordered:
                        ordered.append(episode_id)
                        scale[episode_id] = share
            weights = [
                w * scale[i]
                for i, w in zip(
                    ordered, credit_weights(len(ordered), self.cfg.credit_decay), strict=True
                )
            ]
            states = self._states(c, ordered)
            meta = self._meta(ordered)
            events, changes = [], []
            for episode_id, weight in zip(ordered, weights, strict=True):
                s = states[episode_id]
                created, pinned, title = meta.get(episode_id, (ts, False, ""))
                before = self._shown(s, created, pinned)
                s.q = reward_update(s.q, reward, self.cfg.learning_rate, weight)
                s.evidence += 1
                after = self._shown(s, created, pinned)
                detail = f"{ep.outcome.value} ×{weight:.2f}"
                events.append((ts, episode_id, "credit", ep.id, before, after, detail))
                changes.append(Change(episode_id, title, "credit", before, after, ep.id))
            self.ledger.put_states(c, states.values())
            self.ledger.add_events(c, events)
            c.executemany("UPDATE retrievals SET credited = 1 WHERE seq = ?", [(s,) for s in seqs])
        return changes

    # propagation: incremental -------------------------------------------------------

    def _neighbours(self, vector: np.ndarray, exclude: str) -> list[tuple[str, float]]:
        k = self.cfg.max_neighbours
        hits = self.m.index.search_vector(vector, k + 1)
        out = [(i, s) for i, s in hits if i != exclude and s >= self.cfg.propagation_threshold]
        return out[:k]

    def _vector(self, episode_id: str) -> np.ndarray | None:
        ids, matrix = self.m.index.vectors([episode_id])
        return matrix[0] if ids else None

    def _set_out_edges(self, c: sqlite3.Connection, src: str, edges: list[tuple[str, float]]):
        old = {r[0] for r in c.execute("SELECT dst FROM edges WHERE src = ?", (src,))}
        c.execute("DELETE FROM edges WHERE src = ?", (src,))
        c.executemany(
            "INSERT INTO edges (src, dst, sim) VALUES (?, ?, ?)", [(src, d, s) for d, s in edges]
        )
        return old | {d for d, _s in edges}

    def spread_from(self, sources: Sequence[str]) -> list[Change]:
        """After the evidence of `sources` changed: refresh their neighbourhoods' p."""
        try:
            self.m.index.table()
        except IndexUnavailable:
            return []
        have = (
            {
                r[0]
                for r in self.ledger.conn.execute(
                    f"SELECT DISTINCT src FROM edges WHERE src IN ({','.join('?' * len(sources))})",
                    list(sources),
                )
            }
            if sources
            else set()
        )
        fresh = {}
        for src in sources:
            if src not in have:
                vec = self._vector(src)
                fresh[src] = self._neighbours(vec, src) if vec is not None else []
        affected: set[str] = set(sources)
        with self.ledger.write() as c:
            for src, edges in fresh.items():
                affected |= self._set_out_edges(c, src, edges)
            for src in sources:
                affected |= {r[0] for r in c.execute("SELECT dst FROM edges WHERE src = ?", (src,))}
            return self._recompute(c, sorted(affected), "propagation")

    def neighbours_of_new(self, vector: np.ndarray, episode_id: str) -> Future | None:
        """Start looking for a new episode's neighbours, if any episode has evidence to give.

        Runs beside the index write (a separate LanceDB read), so a capture pays for the
        slower of the two rather than both.
        """
        has_sources = self.ledger.conn.execute(
            "SELECT 1 FROM state WHERE evidence > 0 LIMIT 1"
        ).fetchone()
        if not has_sources:
            return None  # nothing has evidence yet: no value to receive

        def find() -> list[tuple[str, float]]:
            try:
                return self._neighbours(vector, episode_id)
            except IndexUnavailable:
                return []

        return _executor().submit(find)

    def after_capture(
        self, ep: Episode, near: Future | None, credited: Sequence[str]
    ) -> list[Change]:
        """A new episode joins the graph: nearby sources may now send it value."""
        changes = self.spread_from(list(credited)) if credited else []
        if near is None:
            return changes
        return changes + self._attach(ep.id, near.result())

    def _attach(self, episode_id: str, near: list[tuple[str, float]]) -> list[Change]:
        if not near:
            return []
        k = self.cfg.max_neighbours
        affected = {episode_id}
        with self.ledger.write() as c:
            marks = ",".join("?" * len(near))
            sources = {
                r[0]
                for r in c.execute(
                    f"SELECT s.id FROM state s JOIN episodes e ON e.id = s.id WHERE s.id IN "
                    f"({marks}) AND s.evidence > 0 AND e.archived = 0",
                    [i for i, _s in near],
                )
            }
            for src, sim in near:
                if src not in sources:
                    continue
                edges = c.execute(
                    "SELECT dst, sim FROM edges WHERE src = ? AND dst != ?", (src, episode_id)
                ).fetchall()
                edges.append((episode_id, sim))
                edges.sort(key=lambda e: -e[1])
                affected |= self._set_out_edges(c, src, edges[:k])
            return self._recompute(c, sorted(affected), "propagation")

    def refresh_edges(self, ids: Sequence[str]) -> list[Change]:
        """An episode's vector changed (edit, restore): rebuild its edges both ways."""
        changes: list[Change] = []
        for episode_id in ids:
            vec = self._vector(episode_id)
            if vec is None:
                continue
            with self.ledger.write() as c:
                c.execute("DELETE FROM edges WHERE dst = ?", (episode_id,))
                c.execute("DELETE FROM edges WHERE src = ?", (episode_id,))
            near = self._neighbours(vec, episode_id)
            changes += self._attach(episode_id, near)
            changes += self.spread_from([episode_id])
        return changes

    def forget(self, ids: Sequence[str]) -> list[Change]:
        """Archived episodes leave the graph; what they fed is recomputed."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self.ledger.write() as c:
            fed = {r[0] for r in c.execute(f"SELECT dst FROM edges WHERE src IN ({marks})", ids)}
            c.execute(f"DELETE FROM edges WHERE src IN ({marks}) OR dst IN ({marks})", [*ids, *ids])
            return self._recompute(c, sorted(fed - set(ids)), "propagation")

    def _recompute(self, c: sqlite3.Connection, targets: Sequence[str], cause: str) -> list[Change]:
        """Recompute p for `targets` from the stored edges and the sources' q."""
        if not targets:
            return []
        inflows: dict[str, list[Inflow]] = defaultdict(list)
        for start in range(0, len(targets), 500):
            chunk = list(targets[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for dst, src, sim, q in c.execute(
                "SELECT e.dst, e.src, e.sim, COALESCE(s.q, 0.5) FROM edges e "
                f"LEFT JOIN state s ON s.id = e.src WHERE e.dst IN ({marks})",
                chunk,
            ):
                inflows[dst].append(Inflow(src, sim, q))
        states = self._states(c, targets)
        new_p = {t: self._backup(inflows.get(t, []), states[t].evidence) for t in targets}
        return self._write_p(c, states, new_p, inflows, cause)

    def _write_p(self, c, states, new_p, inflows, cause, dry_run: bool = False) -> list[Change]:
        ts = self.m.now()
        moved = [t for t, p in new_p.items() if abs(p - states[t].p) > EPS]
        if not moved:
            return []
        meta = self._meta(moved)
        events, changes, updates = [], [], []
        for t in moved:
            s = states[t]
            created, pinned, title = meta.get(t, (ts, False, ""))
            before = self._shown(s, created, pinned)
            s.p = new_p[t]
            after = self._shown(s, created, pinned)
            flows = inflows.get(t, [])
            top = max(flows, key=lambda f: f.sim * abs(f.q - 0.5), default=None)
            other = top.src if top else None
            detail = f"{len(flows)} neighbour{'s' if len(flows) != 1 else ''}"
            events.append((ts, t, cause, other, before, after, detail))
            changes.append(Change(t, title, cause, before, after, other))
            updates.append((s.p, t))
        if not dry_run:
            c.executemany("INSERT OR IGNORE INTO state (id) VALUES (?)", [(u[1],) for u in updates])
            c.executemany("UPDATE state SET p = ? WHERE id = ?", updates)
            self.ledger.add_events(c, events)
        return changes

    # propagation: full ---------------------------------------------------------------

    def propagate(
        self,
        *,
        project: str | None = None,
        temporal: bool = False,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PropagationReport:
        """Recompute the whole graph exactly. Run twice, the second run changes nothing."""
        started = time.perf_counter()
        credit = self.catch_up_credit(project) if temporal and not dry_run else []
        scope_sql = "e.archived = 0" + (" AND e.project = ?" if project else "")
        args = [project] if project else []
        live = {
            r[0]: (r[1] or 0)
            for r in self.ledger.conn.execute(
                f"SELECT e.id, s.evidence FROM episodes e LEFT JOIN state s ON s.id = e.id "
                f"WHERE {scope_sql}",
                args,
            )
        }
        ids, matrix = self.m.index.vectors(None)
        keep = [n for n, i in enumerate(ids) if i in live]
        ids = [ids[n] for n in keep]
        matrix = matrix[keep]
        src_rows = [n for n, i in enumerate(ids) if live[i] > 0]
        edges = self._exact_edges(matrix, src_rows, progress)
        src_ids = [ids[n] for n in src_rows]
        states = self._states(self.ledger.conn, ids)
        inflows: dict[str, list[Inflow]] = defaultdict(list)
        edge_rows = []
        for s_row, d_row, sim in edges:
            src, dst = ids[s_row], ids[d_row]
            inflows[dst].append(Inflow(src, sim, states[src].q))
            edge_rows.append((src, dst, sim))
        new_p = {t: self._backup(inflows.get(t, []), states[t].evidence) for t in ids}
        with self.ledger.write() as c:
            changes = self._write_p(c, states, new_p, inflows, "propagation", dry_run)
            if not dry_run:
                if project is None:
                    c.execute("DELETE FROM edges")
                else:
                    c.execute(
                        "DELETE FROM edges WHERE src IN (SELECT id FROM episodes WHERE project = ?)",
                        (project,),
                    )
                c.executemany(
                    "INSERT OR REPLACE INTO edges (src, dst, sim) VALUES (?, ?, ?)", edge_rows
                )
        return PropagationReport(
            len(src_ids), len(edge_rows), changes, credit, time.perf_counter() - started, dry_run
        )

    def _exact_edges(
        self,
        matrix: np.ndarray,
        src_rows: Sequence[int],
        progress: Callable[[int, int], None] | None,
        block: int = 1024,
    ) -> list[tuple[int, int, float]]:
        """Top-k neighbours above the threshold for each source, by blocked matrix products."""
        import numpy as np

        k, threshold = self.cfg.max_neighbours, self.cfg.propagation_threshold
        out: list[tuple[int, int, float]] = []
        src = np.asarray(src_rows, dtype=np.int64)
        for start in range(0, len(src), block):
            rows = src[start : start + block]
            sims = matrix[rows] @ matrix.T
            sims[np.arange(len(rows)), rows] = -1.0  # never your own neighbour
            r_idx, c_idx = np.nonzero(sims >= threshold)
            vals = sims[r_idx, c_idx]
            order = np.lexsort((-vals, r_idx))
            r_idx, c_idx, vals = r_idx[order], c_idx[order], vals[order]
            bounds = np.searchsorted(r_idx, np.arange(len(rows) + 1))
            for n in range(len(rows)):
                lo, hi = bounds[n], min(bounds[n + 1], bounds[n] + k)
                s_row = int(rows[n])
                out += [
                    (s_row, int(c), float(v))
                    for c, v in zip(c_idx[lo:hi], vals[lo:hi], strict=True)
                ]
            if progress:
                progress(min(start + block, len(src)), len(src))
        return out

    def catch_up_credit(self, project: str | None = None) -> list[Change]:
        """Credit outcomes whose earlier retrievals were never credited (e.g. imported)."""
        sql = (
            "SELECT DISTINCT e.id FROM episodes e JOIN retrievals r ON r.session_id = e.session_id "
            "WHERE e.archived = 0 AND e.outcome IN ('success', 'partial', 'failure') "
            "AND r.credited = 0 AND r.ts <= e.created_at"
        )
        args: list[str] = []
        if project:
            sql += " AND e.project = ?"
            args.append(project)
        changes: list[Change] = []
        for (episode_id,) in self.ledger.conn.execute(sql, args).fetchall():
            ep = self.m.store.load(episode_id)
            credited = self.credit(ep)
            changes += credited
            changes += self.spread_from([ch.id for ch in credited])
        return changes

    # reading ----------------------------------------------------------------------

    def unrated(self, limit: int = 200) -> list[tuple[str, str, float]]:
        """(episode id, the query that retrieved it, when) for retrieved-but-never-rated episodes."""
        rows = self.ledger.conn.execute(
            "SELECT r.episode_id, q.query, MAX(q.ts) FROM retrieved r "
            "JOIN retrievals q ON q.seq = r.retrieval_seq "
            "JOIN episodes e ON e.id = r.episode_id "
            "JOIN state s ON s.id = r.episode_id "
            "WHERE e.archived = 0 AND s.helpful = 0 AND s.unhelpful = 0 "
            "GROUP BY r.episode_id ORDER BY MAX(q.ts) DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]
