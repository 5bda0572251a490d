"""The propagation graph: Bellman backups over the similarity graph.

The graph is kept as edges src → dst, from each episode with evidence (a *source*) to
its nearest neighbours above `propagation_threshold`. Feedback updates only the
neighbourhood it touches, using the index's nearest-neighbour search; `propagate`
recomputes the whole graph with batched matrix products and is a fixed point.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memrl import background
from memrl.episode import Episode
from memrl.errors import IndexUnavailable
from memrl.learning.base import EPS, LearningBase
from memrl.learning.rules import NEUTRAL, Inflow
from memrl.views import Change

if TYPE_CHECKING:
    import numpy as np

REACH = 64  # how far a new episode looks for sources that may count it among their k nearest


@dataclass(slots=True)
class PropagationReport:
    sources: int
    edges: int
    changes: list[Change]
    credit: list[Change] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False


class Graph(LearningBase):
    def _keep(
        self, hits: list[tuple[str, float]], exclude: str, limit: int | None = None
    ) -> list[tuple[str, float]]:
        seen = {exclude}  # an id indexed twice (until `memrl index` repairs it) counts once
        out = []
        for i, s in hits:
            if i not in seen and s >= self.cfg.propagation_threshold:
                seen.add(i)
                out.append((i, s))
        return out[: limit or self.cfg.max_neighbours]

    def _within_reach(self, vector: np.ndarray, episode_id: str) -> list[tuple[str, float]]:
        """Episodes close enough to count an episode among their own nearest.

        Nearness is not symmetric: a source's k nearest may include an episode whose own k
        nearest do not include the source. So the search for who may send value to an
        episode looks well beyond its own k nearest.
        """
        hits = self.m.index.search_vector(vector, REACH + 1)
        return self._keep(hits, episode_id, REACH)

    def _within_reach_of(
        self, ids: Sequence[str], matrix: np.ndarray
    ) -> dict[str, list[tuple[str, float]]]:
        """`_within_reach` for many episodes, in batches (a restore may bring back hundreds)."""
        out: dict[str, list[tuple[str, float]]] = {}
        for start in range(0, len(ids), 64):
            hits = self.m.index.search_vectors(matrix[start : start + 64], REACH + 1)
            for episode_id, near in zip(ids[start : start + 64], hits, strict=True):
                out[episode_id] = self._keep(near, episode_id, REACH)
        return out

    def _neighbours_of(self, ids: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
        """Neighbours of indexed episodes, found in batches (a credit may reach hundreds)."""
        if not ids:
            return {}
        found, matrix = self.m.index.vectors(ids)
        out: dict[str, list[tuple[str, float]]] = {i: [] for i in ids}
        k = self.cfg.max_neighbours + 1
        for start in range(0, len(found), 64):
            chunk = found[start : start + 64]
            hits = self.m.index.search_vectors(matrix[start : start + 64], k)
            for episode_id, near in zip(chunk, hits, strict=True):
                out[episode_id] = self._keep(near, episode_id)
        return out

    def _set_out_edges(
        self, c: sqlite3.Connection, src: str, edges: list[tuple[str, float]]
    ) -> set[str]:
        """Replace a source's out-edges; returns the episodes whose edge from it changed."""
        old = dict(c.execute("SELECT dst, sim FROM edges WHERE src = ?", (src,)).fetchall())
        new = dict(edges)
        if old == new:
            return set()
        c.execute("DELETE FROM edges WHERE src = ?", (src,))
        c.executemany(
            "INSERT INTO edges (src, dst, sim) VALUES (?, ?, ?)", [(src, d, s) for d, s in edges]
        )
        return {d for d in old.keys() | new.keys() if old.get(d) != new.get(d)}

    def spread_from(self, sources: Sequence[str]) -> list[Change]:
        """After the evidence of `sources` changed: refresh their neighbourhoods' p.

        Only an episode with evidence sends value (as `propagate` has it): one that has none
        any more (its only rating undone) loses its out-edges, so it no longer counts in its
        neighbours' averages.
        """
        try:
            self.m.index.table()
        except IndexUnavailable:
            return []
        live = self._sources(set(sources))
        have = (
            {
                r[0]
                for r in self.ledger.conn.execute(
                    f"SELECT DISTINCT src FROM edges WHERE src IN ({','.join('?' * len(live))})",
                    sorted(live),
                )
            }
            if live
            else set()
        )
        fresh = self._neighbours_of([s for s in sources if s in live and s not in have])
        affected: set[str] = set(sources)
        with self.ledger.write() as c:
            lost = self._outflows(c, [s for s in sources if s not in live])  # named in history
            for src, edges in fresh.items():
                affected |= self._set_out_edges(c, src, edges)
            for src in sources:
                if src not in live:
                    affected |= self._set_out_edges(c, src, [])
                affected |= {r[0] for r in c.execute("SELECT dst FROM edges WHERE src = ?", (src,))}
            return self._recompute(
                c, sorted(affected), "propagation", frozenset(sources), lost, "no longer rated"
            )

    def has_sources(self) -> bool:
        """Has any episode evidence to send its neighbours? (An index makes this instant.)"""
        query = "SELECT 1 FROM state WHERE evidence > 0 LIMIT 1"
        return self.ledger.conn.execute(query).fetchone() is not None

    def has_pull(self) -> bool:
        """Does any episode hold value from neighbours? (None can when none has evidence,
        unless an import's file says so.)"""
        query = "SELECT 1 FROM state WHERE p != 0 LIMIT 1"
        return self.ledger.conn.execute(query).fetchone() is not None

    def neighbours_of_new(self, vector: np.ndarray, episode_id: str) -> Future | None:
        """Start looking for a new episode's neighbours, if any episode has evidence to give.

        Runs beside the index write (a separate LanceDB read), so a capture pays for the
        slower of the two rather than both.
        """
        if not self.has_sources():
            return None  # nothing has evidence yet: no value to receive

        def find() -> list[tuple[str, float]]:
            try:
                return self._within_reach(vector, episode_id)
            except IndexUnavailable:
                return []

        return background.submit(find)

    def after_capture(
        self, ep: Episode, near: Future | None, credited: Sequence[str]
    ) -> list[Change]:
        """A new episode joins the graph: nearby sources may now send it value."""
        changes = self.spread_from(list(credited)) if credited else []
        if near is None:
            return changes
        return changes + self._attach(ep.id, near.result())

    def _attach(self, episode_id: str, near: list[tuple[str, float]]) -> list[Change]:
        """Add an episode to the out-edges of each source that now has it among its k nearest."""
        if not near:
            return []
        with self.ledger.write() as c:
            affected = self._attach_edges(c, {episode_id: near})
            return self._recompute(c, sorted(affected), "propagation") if affected else []

    def _attach_edges(
        self,
        c: sqlite3.Connection,
        near_of: dict[str, list[tuple[str, float]]],
        settled: frozenset[str] | set[str] = frozenset(),
    ) -> set[str]:
        """For each episode of `near_of`, the sources near it that now have it among their k
        nearest (other than `settled`, whose edges were just rebuilt) take it as an out-edge;
        returns the episodes whose inflows changed."""
        k = self.cfg.max_neighbours
        affected: set[str] = set()
        for episode_id, near in near_of.items():
            sources = self._sources({i for i, _s in near}) - settled
            if not sources:
                continue
            marks = ",".join("?" * len(sources))
            full = {
                r[0]: r[1]
                for r in c.execute(
                    f"SELECT src, MIN(sim) FROM edges WHERE src IN ({marks}) AND dst != ? "
                    f"GROUP BY src HAVING COUNT(*) >= ?",
                    [*sources, episode_id, k],
                )
            }
            affected.add(episode_id)
            for src, sim in near:
                if src not in sources or (src in full and sim <= full[src]):
                    continue  # not a source, or its k nearest are all nearer
                edges = c.execute(
                    "SELECT dst, sim FROM edges WHERE src = ? AND dst != ?", (src, episode_id)
                ).fetchall()
                edges.append((episode_id, sim))
                edges.sort(key=lambda e: -e[1])
                affected |= self._set_out_edges(c, src, edges[:k])
        return affected

    def _rebuild_out_edges(self, c: sqlite3.Connection, fresh: dict) -> set[str]:
        """Give sources the k nearest `_neighbours_of` found; returns the episodes whose
        inflows changed."""
        affected: set[str] = set()
        for src, edges in fresh.items():
            affected |= self._set_out_edges(c, src, edges)
        return affected

    def _sources(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        return {
            r[0]
            for r in self.ledger.conn.execute(
                f"SELECT s.id FROM state s JOIN episodes e ON e.id = s.id WHERE s.id IN "
                f"({marks}) AND s.evidence > 0 AND +e.archived = 0",  # by id, not by archived
                list(ids),
            )
        }

    def refresh_edges(self, ids: Sequence[str]) -> list[Change]:
        """Episodes' vectors changed or came back (edit, restore): rebuild their edges both
        ways, all of them together, then recompute what they touch once.

        So restoring what a prune archived puts back the graph, and with it the utilities,
        the prune took away, and each neighbour's history gets one row for it (naming one of
        the restored episodes that sends it value), not one for each episode restored.
        """
        found, matrix = self.m.index.vectors(list(dict.fromkeys(ids)))
        if not found:
            return []
        moved = sorted(set(found))
        marks = ",".join("?" * len(moved))
        with self.ledger.write() as c:
            senders = {
                r[0] for r in c.execute(f"SELECT src FROM edges WHERE dst IN ({marks})", moved)
            }
            fed = {r[0] for r in c.execute(f"SELECT dst FROM edges WHERE src IN ({marks})", moved)}
            c.execute(f"DELETE FROM edges WHERE dst IN ({marks}) OR src IN ({marks})", moved * 2)
        # Who sent value to them, and those of them that have evidence, find their k nearest
        # again (they may have nearer episodes now); then other sources near them may now
        # count them among their k nearest.
        rebuilt = self._sources(senders | set(moved))
        fresh = self._neighbours_of(sorted(rebuilt))
        near_of = self._within_reach_of(found, matrix)
        with self.ledger.write() as c:
            affected = self._rebuild_out_edges(c, fresh)
            affected |= self._attach_edges(c, near_of, rebuilt)
            targets = affected | fed | set(moved)
            return self._recompute(c, sorted(targets), "propagation", frozenset(moved))

    def forget(self, ids: Sequence[str]) -> list[Change]:
        """Archived episodes leave the graph; what they fed is recomputed, once, and its
        history names the archived episode whose value it lost (not a neighbour that is
        still there and did nothing)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self.ledger.write() as c:
            lost = self._outflows(c, ids)
            senders = {
                r[0] for r in c.execute(f"SELECT src FROM edges WHERE dst IN ({marks})", ids)
            }
            c.execute(f"DELETE FROM edges WHERE src IN ({marks}) OR dst IN ({marks})", [*ids, *ids])
        # A source that pointed at an archived episode has a free slot for its next nearest.
        fresh = self._neighbours_of(sorted(self._sources(senders - set(ids))))
        with self.ledger.write() as c:
            affected = self._rebuild_out_edges(c, fresh) | set(lost)
            return self._recompute(c, sorted(affected - set(ids)), "propagation", lost=lost)

    @staticmethod
    def _outflows(c: sqlite3.Connection, sources: Sequence[str]) -> dict[str, list[Inflow]]:
        """What `sources` send, by the episode they send it to: before their edges go, so the
        history of each neighbour can name the one whose value it lost."""
        lost: dict[str, list[Inflow]] = defaultdict(list)
        if sources:
            for dst, src, sim, q, evidence in c.execute(
                f"SELECT e.dst, e.src, e.sim, COALESCE(s.q, {NEUTRAL}), COALESCE(s.evidence, 0) "
                f"FROM edges e LEFT JOIN state s ON s.id = e.src "
                f"WHERE e.src IN ({','.join('?' * len(sources))})",
                list(sources),
            ):
                lost[dst].append(Inflow(src, sim, q, evidence))
        return lost

    def _recompute(
        self,
        c: sqlite3.Connection,
        targets: Sequence[str],
        cause: str,
        changed: frozenset[str] = frozenset(),
        lost: dict[str, list[Inflow]] | None = None,
        lost_as: str = "archived",
    ) -> list[Change]:
        """Recompute p for `targets` from the stored edges and the sources' q; each change
        names the source it came from: the one it `lost` (`lost_as`: archived, or no longer
        rated) that sent it the most,
        else one of `changed` (whose evidence just changed) where it sends value, else the
        one sending the most."""
        if not targets:
            return []
        inflows: dict[str, list[Inflow]] = defaultdict(list)
        for start in range(0, len(targets), 500):
            chunk = list(targets[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for dst, src, sim, q, evidence in c.execute(
                f"SELECT e.dst, e.src, e.sim, COALESCE(s.q, {NEUTRAL}), COALESCE(s.evidence, 0) "
                f"FROM edges e LEFT JOIN state s ON s.id = e.src WHERE e.dst IN ({marks})",
                chunk,
            ):
                inflows[dst].append(Inflow(src, sim, q, evidence))
        states = self.ledger.states(targets)
        new_p = {t: self._backup(inflows.get(t, []), states[t].evidence) for t in targets}
        return self._write_p(
            c, states, new_p, inflows, cause, changed=changed, lost=lost, lost_as=lost_as
        )

    def _write_p(
        self,
        c,
        states,
        new_p,
        inflows,
        cause,
        dry_run: bool = False,
        changed: frozenset[str] = frozenset(),
        lost: dict[str, list[Inflow]] | None = None,
        lost_as: str = "archived",
    ) -> list[Change]:
        """Store the new p of each episode it moved; a history row (and a Change) for each
        whose utility moved with it. p can move while the utility does not (clipped at 0 or
        1): that is no change to show, and no row pads the history."""
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
            updates.append((s.p, t))
            if abs(after - before) <= EPS:
                continue
            flows = inflows.get(t, [])
            gone = (lost or {}).get(t, [])
            causes = gone or [f for f in flows if f.src in changed] or flows
            top = max(causes, key=lambda f: f.sim * abs(f.q - 0.5), default=None)
            other = top.src if top else None
            detail = f"{len(flows)} neighbour{'s' if len(flows) != 1 else ''}"
            if gone:
                detail += f", {len(gone)} {lost_as}"
            events.append((ts, t, cause, other, before, after, detail))
            changes.append(Change(t, title, cause, before, after, other))
        if not dry_run:
            c.executemany("INSERT OR IGNORE INTO state (id) VALUES (?)", [(u[1],) for u in updates])
            c.executemany("UPDATE state SET p = ? WHERE id = ?", updates)
            self.ledger.add_events(c, events)
        return changes

    def propagate(
        self,
        *,
        project: str | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PropagationReport:
        """Recompute the whole graph exactly. Run twice, the second run changes nothing.

        With `project`, only that project's episodes are updated, from the same graph as a
        whole run (value reaching them from other projects included), so that the two agree.
        """
        started = time.perf_counter()
        live: dict[str, int] = {}
        targets: set[str] = set()
        for episode_id, evidence, where in self.ledger.conn.execute(
            "SELECT e.id, s.evidence, e.project FROM episodes e LEFT JOIN state s ON s.id = e.id "
            "WHERE e.archived = 0"
        ):
            live[episode_id] = evidence or 0
            if project is None or where == project:
                targets.add(episode_id)
        if not targets:  # nothing stored (or all archived): no index is needed to know that
            return PropagationReport(0, 0, [], dry_run=dry_run)
        ids, matrix = self.m.index.vectors(None)
        first = {i: n for n, i in reversed(list(enumerate(ids)))}  # one row per id
        keep = [n for n, i in enumerate(ids) if i in live and first[i] == n]
        ids = [ids[n] for n in keep]
        matrix = matrix[keep]
        src_rows = [n for n, i in enumerate(ids) if live[i] > 0]
        edges = self._exact_edges(matrix, src_rows, progress)
        src_ids = [ids[n] for n in src_rows]
        states = self.ledger.states(ids)
        inflows: dict[str, list[Inflow]] = defaultdict(list)
        edge_rows = []
        for s_row, d_row, sim in edges:
            src, dst = ids[s_row], ids[d_row]
            if dst in targets:
                inflows[dst].append(Inflow(src, sim, states[src].q, states[src].evidence))
                edge_rows.append((src, dst, sim))
        new_p = {
            t: self._backup(inflows.get(t, []), states[t].evidence) for t in ids if t in targets
        }
        with self.ledger.write() as c:
            changes = self._write_p(c, states, new_p, inflows, "propagation", dry_run)
            if not dry_run:
                if project is None:
                    c.execute("DELETE FROM edges")
                else:  # the edges into this project's episodes, whichever project sends them
                    c.execute(
                        "DELETE FROM edges WHERE dst IN (SELECT id FROM episodes WHERE project = ?)",
                        (project,),
                    )
                c.executemany(
                    "INSERT OR REPLACE INTO edges (src, dst, sim) VALUES (?, ?, ?)", edge_rows
                )
        return PropagationReport(
            sum(1 for i in src_ids if i in targets),  # in the project, when one is named
            len(edge_rows),
            changes,
            seconds=time.perf_counter() - started,
            dry_run=dry_run,
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
