"""Temporal credit: an outcome's reward shared by the episodes retrieved before it (λ^k)."""

from __future__ import annotations

import time
from collections.abc import Callable

from memrl.episode import Episode
from memrl.learning.base import CONTEXT
from memrl.learning.graph import Graph, PropagationReport
from memrl.learning.rules import credit_weights, outcome_reward, reward_update
from memrl.views import Change


class Credit(Graph):
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
                    "SELECT seq, origin, ts FROM retrievals WHERE session_id = ? AND credited = 0 "
                    "AND ts <= ? ORDER BY seq DESC",
                    (ep.session_id, end),
                ).fetchall()
            else:
                window = self.cfg.credit_window_minutes * 60
                if ep.created_at.timestamp() < ts - window:
                    return []  # work done long ago (a backfill): no search of today led to it
                rows = c.execute(
                    "SELECT seq, origin, ts FROM retrievals WHERE session_id IS NULL "
                    "AND project = ? AND credited = 0 AND ts BETWEEN ? AND ? ORDER BY seq DESC",
                    (ep.project, end - window, end),
                ).fetchall()
            seqs = [r[0] for r in rows]
            if not seqs:
                return []
            origins = {seq: origin for seq, origin, _ts in rows}
            used: list[tuple[int, str, bool]] = []  # most recent retrieval first
            for start in range(0, len(seqs), 500):
                chunk = seqs[start : start + 500]
                used += c.execute(
                    "SELECT r.retrieval_seq, r.episode_id, e.archived FROM retrieved r "
                    "JOIN episodes e ON e.id = r.episode_id "
                    f"WHERE r.retrieval_seq IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY r.retrieval_seq DESC, r.rank",
                    chunk,
                ).fetchall()
            # one merged since it was retrieved: its share goes to the episode holding it now
            successor = self.ledger.merged_into(sorted({i for _, i, gone in used if gone}))
            scale: dict[str, float] = {}  # episode → its share, most recent retrieval first
            for seq, retrieved, gone in used:
                episode_id = successor.get(retrieved) if gone else retrieved
                if episode_id is not None and episode_id != ep.id and episode_id not in scale:
                    # Context shown at session start was not chosen for this task.
                    context = origins[seq] == CONTEXT
                    scale[episode_id] = self.cfg.context_credit_weight if context else 1.0
            # A rating given since the first of these retrievals says how it went: it is not
            # second-guessed by the outcome (rated unhelpful, then credited for the success).
            since, candidates = min(r[2] for r in rows), list(scale)
            for start in range(0, len(candidates), 500):
                chunk = candidates[start : start + 500]
                for (rated,) in c.execute(
                    "SELECT DISTINCT episode_id FROM events WHERE episode_id IN "
                    f"({','.join('?' * len(chunk))}) AND cause = 'feedback' AND ts > ?",
                    [*chunk, since],
                ):
                    del scale[rated]
            # λ^k soon rounds to nothing (0.8^20 ≈ 0.01): such a share moves no utility and must
            # not count as evidence, nor make the episode a source whose neighbours are sought.
            lam = credit_weights(len(scale), self.cfg.credit_decay)
            shares = {i: w * scale[i] for i, w in zip(scale, lam, strict=True)}
            ordered = [i for i, share in shares.items() if share >= self.cfg.credit_floor]
            states = self.ledger.states(ordered)
            meta = self._meta(ordered)
            events, changes = [], []
            for episode_id in ordered:
                weight = shares[episode_id]
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

    def awaiting(self, session_id: str) -> int:
        """This session's searches no outcome has credited yet (its opening context aside):
        an unknown outcome leaves them waiting for a known one."""
        row = self.ledger.conn.execute(
            "SELECT COUNT(*) FROM retrievals WHERE session_id = ? AND credited = 0 AND origin != ?",
            (session_id, CONTEXT),
        ).fetchone()
        return int(row[0])

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

    def propagate(
        self,
        *,
        project: str | None = None,
        temporal: bool = False,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PropagationReport:
        """With `temporal`, first the credit still owed; then the whole graph, exactly."""
        started = time.perf_counter()
        credit = self.catch_up_credit(project) if temporal and not dry_run else []
        report = super().propagate(project=project, dry_run=dry_run, progress=progress)
        report.credit = credit
        report.seconds = time.perf_counter() - started
        return report
