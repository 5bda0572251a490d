"""Feedback: the retrieval log, ratings and their exact undo.

A rating moves an episode's own evidence q ← q + α(r − q) and then refreshes the
neighbourhood it touches. Every change is written in one ledger transaction together with
its history event, so concurrent processes never lose an update.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from memrl.errors import CorruptFile, InvalidInput, MemrlError, NotFound, StoreError
from memrl.learning.base import CONTEXT, standing
from memrl.learning.graph import Graph
from memrl.learning.rules import clip, reward_update
from memrl.store.ledger import StateRow
from memrl.views import Change, Hit, Row


@dataclass(frozen=True, slots=True)
class _Latest:
    """The latest retrieval in a scope: its seq, its hits, how it was rated as 'last' ('' if
    not), and its query and time, which a rating of 'last' names."""

    seq: int
    ids: list[str]
    rated: str
    query: str
    ts: float


@dataclass(frozen=True, slots=True)
class _Named:
    """Episodes named for a rating: with 'last', the latest retrieval (else None), its hits
    merged since by the episode holding them, and those archived since, or whose file no
    longer reads, left out; ids named that were merged away, by the episode holding them."""

    latest: _Latest | None
    ids: list[str]
    instead: dict[str, list[str]]
    left_out: tuple[str, ...]
    merged: dict[str, list[str]]
    unreadable: tuple[str, ...] = ()

    @property
    def seq(self) -> int | None:
        return self.latest.seq if self.latest else None

    @property
    def rated(self) -> str:
        return self.latest.rated if self.latest else ""


class Feedback(Graph):
    def log_retrieval(
        self,
        query: str,
        hits: Sequence[Hit],
        session_id: str | None,
        project: str | None,
        origin: str,
    ) -> int:
        """Record what was returned, for temporal credit and `feedback last`; a retrieval is a
        use. A weak hit is shown, not used: it got in on a faint resemblance, so it neither
        restarts its decay clock nor counts as retrieved, shares no temporal credit and is
        not rated as `last` (its id still can be)."""
        used = [(h.rank, h.id, h.similarity) for h in hits if not h.weak]
        return self._log(
            query, used, session_id, project or (hits[0].row.project if hits else None), origin
        )

    def log_use(
        self,
        query: str,
        rows: Sequence[Row],
        session_id: str | None,
        project: str | None,
        origin: str,
        *,
        similarity: float = 0.0,
    ) -> int:
        """Record episodes shown or read outside a search as a retrieval, ranked in order."""
        used = [(n + 1, r.id, similarity) for n, r in enumerate(rows)]
        return self._log(
            query, used, session_id, project or (rows[0].project if rows else None), origin
        )

    def _log(
        self,
        query: str,
        used: Sequence[tuple[int, str, float]],
        session_id: str | None,
        project: str | None,
        origin: str,
    ) -> int:
        """Insert one retrieval and its (rank, id, similarity) entries; each counts as a use.

        Context shown at session start is recorded (`--session` rates it as `last`) but is not a
        use: it is chosen by utility, not for the task, and counting it would keep the
        memories shown every session from ever decaying or looking unused.
        """
        if self.m.settings.capture.redact:
            from memrl.redact import redact_text

            query = redact_text(query)[0]
        ts = self.m.now()
        with self.ledger.write() as c:
            cur = c.execute(
                "INSERT INTO retrievals (ts, session_id, project, query, origin) "
                "VALUES (?, ?, ?, ?, ?)",
                (ts, session_id, project, query, origin),
            )
            seq = int(cur.lastrowid or 0)
            ids = [u[1] for u in used]
            prev = dict(
                c.execute(
                    f"SELECT id, last_used_at FROM state WHERE id IN ({','.join('?' * len(ids))})",
                    ids,
                ).fetchall()
            )
            c.executemany(
                "INSERT INTO retrieved (retrieval_seq, rank, episode_id, similarity, prev_used) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (seq, rank, episode_id, sim, prev.get(episode_id))
                    for rank, episode_id, sim in used
                ],
            )
            if origin == CONTEXT:
                return seq
            c.executemany("INSERT OR IGNORE INTO state (id) VALUES (?)", [(u[1],) for u in used])
            c.executemany(
                "UPDATE state SET retrievals = retrievals + 1, last_used_at = ? WHERE id = ?",
                [(ts, u[1]) for u in used],
            )
        return seq

    def last_retrieved(self, session_id: str | None = None, origin: str | None = None) -> list[str]:
        """The hits of the latest retrieval, in that session and from that face where given."""
        return self._last(session_id, origin).ids

    def _last(self, session_id: str | None, origin: str | None) -> _Latest:
        """The latest retrieval logged in that session and from that face where given."""
        conditions, args = [], []
        if session_id:
            conditions.append("session_id = ?")
            args.append(session_id)
        if origin:
            conditions.append("origin = ?")
            args.append(origin)
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        order = where + " ORDER BY seq DESC LIMIT 1"
        try:
            row = self.ledger.conn.execute(
                "SELECT seq, rated, query, ts FROM retrievals" + order, args
            )
        except sqlite3.OperationalError:  # a read-only ledger from before `rated`
            row = self.ledger.conn.execute(
                "SELECT seq, NULL, query, ts FROM retrievals" + order, args
            )
        row = row.fetchone()
        if row is None:
            from memrl.store import files

            try:  # a store that cannot be written logs no search: that is why, not "nothing"
                files.check_writable(self.ledger.path.parent)
            except StoreError as exc:
                raise StoreError(
                    f"searches here are not logged, so there is no 'last' to rate, nor can "
                    f"any rating be saved: {exc}"
                ) from None
            scope = f" in session {session_id}" if session_id else ""
            scope += " from the command line" if origin == "cli" else ""
            scope += " through memrl_retrieve" if origin == "mcp" else ""
            raise InvalidInput(  # not an unknown id: exit 2
                f"nothing has been retrieved{scope} yet (listing all episodes is not a "
                "retrieval), so there is no 'last' retrieval to rate: name the episode ids"
            )
        ids = [
            r[0]
            for r in self.ledger.conn.execute(
                "SELECT episode_id FROM retrieved WHERE retrieval_seq = ? ORDER BY rank", (row[0],)
            )
        ]
        if not ids:
            raise InvalidInput(  # not an unknown id: exit 2
                "the latest search found no close match (weak matches are not rated as "
                "'last'), so 'last' names no episode: name the episode ids. Nothing was changed."
            )
        return _Latest(row[0], ids, row[1] or "", row[2] or "", row[3])

    def _named(
        self,
        refs: Sequence[str],
        session_id: str | None,
        origin: str | None,
        *,
        through_merges: bool = False,
    ) -> _Named:
        """The live episodes `refs` name, 'last' expanded (see _Named); with `through_merges`,
        an id merged away stands for the episode holding it now, as a hit of 'last' does."""
        ids: list[str] = []
        instead: dict[str, list[str]] = {}  # an episode standing for the hits merged into it
        left_out: list[str] = []
        broken: dict[str, CorruptFile] = {}  # hits of 'last' whose file no longer reads
        latest = None
        if any(ref.strip().lower() == "last" for ref in refs):
            latest = self._last(session_id, origin)
            last, rated = latest.ids, latest.rated
            found = self.ledger.catalog_many(last)
            gone = [i for i in last if i in found and found[i].archived]
            # A hit merged since is rated through the episode that holds it now (once, however
            # many of the hits it holds); one archived otherwise is left out.
            holders = self.ledger.merged_into(gone)
            for i in last:
                if i in holders:
                    instead.setdefault(holders[i], []).append(i)
                    ids.append(holders[i])
                elif i in found and not found[i].archived:
                    ids.append(i)
                else:
                    left_out.append(i)
            # A hit whose file no longer reads is left out, as one archived since is, unless
            # nothing else is left: then the rating is refused, as naming it by id would be.
            broken = self.m.store.unreadable(ids)
            if broken and len(broken) == len(set(ids)):
                raise _unreadable(broken)
            ids = [i for i in ids if i not in broken]
            if not ids and not rated:  # rated already: that is what the caller says
                raise InvalidInput(  # not an unknown id: exit 2
                    "every hit of the latest search has been archived since; name the "
                    "episode ids. Nothing was changed."
                )
        rest = [r for r in refs if r.strip().lower() != "last"]
        merged: dict[str, list[str]] = {}  # an episode standing for ids merged into it
        if not through_merges:
            ids += self.m.store.resolve_all(rest, archived=False)
        else:
            named = self.m.store.resolve_all(rest, archived=None)
            found = self.ledger.catalog_many(named)
            away = [i for i in named if found[i].archived]
            holders = self.ledger.merged_into(away)
            # archived, and not by a merge: refused as before, saying how to bring it back
            self.m.store.resolve_all([i for i in away if i not in holders], archived=False)
            for i in named:
                if i in holders:
                    merged.setdefault(holders[i], []).append(i)
                ids.append(holders.get(i, i))
            if holding := self.m.store.unreadable(list(merged)):
                raise _unreadable(holding)
        return _Named(
            latest, list(dict.fromkeys(ids)), instead, tuple(left_out), merged, tuple(broken)
        )

    def feedback(
        self,
        refs: Sequence[str],
        helpful: bool,
        *,
        session_id: str | None = None,
        origin: str | None = None,
    ) -> list[Change]:
        """Rate episodes; all refs are resolved first, so a bad one changes nothing.

        'last' names the hits of the latest retrieval, in `session_id` and from `origin`
        where given; a hit merged since is rated through the episode that holds it now, whose
        Change names it in `instead_of`. So is an id named that was merged away (one shown
        before the merge), named in `merged_away`.
        """
        if not refs:
            raise NotFound("name at least one episode id (or 'last')")
        named = self._named(refs, session_id, origin, through_merges=True)
        if named.rated:
            raise _rated_already(named.rated)
        last_seq, ids, instead = named.seq, named.ids, named.instead
        meta = self._meta(ids)
        reward = 1.0 if helpful else 0.0
        ts = self.m.now()
        changes = []
        with self.ledger.write() as c:
            if last_seq is not None:  # again, in the write: another process may have rated it
                row = c.execute("SELECT rated FROM retrievals WHERE seq = ?", (last_seq,))
                if already := row.fetchone()[0]:
                    raise _rated_already(already)
            states = self.ledger.states(ids)
            for episode_id in ids:
                s = states[episode_id]
                created, pinned, title = meta[episode_id]
                prev_used = s.last_used_at
                if not helpful:  # the search it was found unhelpful in was no use: the rating
                    self._unuse_retrieval(c, s)  # starts from where that search found it
                before = self._shown(s, created, pinned)
                prev_q = s.q
                s.q = reward_update(s.q, reward, self.cfg.learning_rate)
                s.evidence += 1
                s.helpful += int(helpful)
                s.unhelpful += int(not helpful)
                if helpful:  # a use; an unhelpful one must not lift a faded episode back up
                    s.last_used_at = ts
                after = self._shown(s, created, pinned)
                word = "helpful" if helpful else "unhelpful"
                event = (ts, episode_id, "feedback", None, before, after, word, prev_used, prev_q)
                seq = self.ledger.add_event(c, event)
                changes.append(
                    Change(
                        episode_id,
                        title,
                        "feedback",
                        before,
                        after,
                        seq=seq,
                        instead_of=tuple(instead.get(episode_id, ())),
                        merged_away=tuple(named.merged.get(episode_id, ())),
                    )
                )
            self.ledger.put_states(c, states.values())
            if last_seq is not None:
                word = "helpful" if helpful else "unhelpful"
                c.execute("UPDATE retrievals SET rated = ? WHERE seq = ?", (word, last_seq))
        spread = self.spread_from(ids)
        own = {ch.id: ch for ch in spread if ch.id in meta}
        for ch in changes:  # damping by new confidence may move the rated episode's p too
            if ch.id in own:
                moved = own.pop(ch.id)
                ch.after, ch.neighbours = moved.after, moved.after - moved.before
        if changes:
            changes[0].left_out = named.left_out
            changes[0].unreadable = named.unreadable
            if named.latest is not None:
                changes[0].searched = (named.latest.query, named.latest.ts)
        return changes + [ch for ch in spread if ch.id not in meta]

    @staticmethod
    def _unuse_retrieval(c: sqlite3.Connection, s: StateRow) -> None:
        """If an episode's last use is being returned by a search, take that use back: the
        decay clock goes back to where it was before the search (an episode rated unhelpful
        was not used, and a faded one must not come back up for having been shown)."""
        if s.last_used_at is None:
            return
        row = c.execute(
            "SELECT r.prev_used FROM retrieved r JOIN retrievals q ON q.seq = r.retrieval_seq "
            "WHERE r.episode_id = ? AND q.ts = ? AND q.origin != ? ORDER BY q.seq DESC LIMIT 1",
            (s.id, s.last_used_at, CONTEXT),
        ).fetchone()
        if row is not None:
            s.last_used_at = row[0]

    def undo_feedback(self, episode_id: str, seq: int | None = None) -> list[Change]:
        """Take back the latest rating of an episode, exactly, if nothing has moved it since.

        q goes back to what it was before the rating (ratings recorded before memrl kept
        that invert the update u ← u + α(r − u) with today's α), so the rating must be the
        episode's last own-evidence change: a later rating can be undone first, a later
        credit or merge cannot be unpicked and is refused. `seq` (from the rating's Change)
        makes sure it is that rating, not a later one, that is undone. The last-use time
        goes back too, unless the episode was used again since.
        """
        meta = self._meta([episode_id])
        if episode_id not in meta:
            raise NotFound(f"no episode {episode_id[:8]}")
        created, pinned, title = meta[episode_id]
        with self.ledger.write() as c:
            rows = c.execute(
                "SELECT seq, cause, detail, ts, prev_used, prev_q FROM events "
                "WHERE episode_id = ? AND cause IN ('feedback', 'credit', 'merge', 'undo') "
                "ORDER BY seq",
                (episode_id,),
            ).fetchall()
            ratings = standing((r[0], r[1]) for r in rows)
            target = next((r for r in rows if ratings and r[0] == ratings[-1]), None)
            moved = [r for r in rows if r[1] in ("credit", "merge")]
            if target is not None and moved and moved[-1][0] > target[0]:
                raise InvalidInput(
                    f"{episode_id[:8]} has had {moved[-1][1]} since its last rating; "
                    "a rating can only be undone before anything else moves it"
                )
            holder = (  # merged since, and restored: the rating lives on in the merge too
                c.execute(
                    "SELECT episode_id FROM events WHERE cause = 'merge' AND other_id = ? "
                    "AND seq > ? ORDER BY seq DESC LIMIT 1",
                    (episode_id, target[0]),
                ).fetchone()
                if target is not None
                else None
            )
            if holder is not None:
                raise InvalidInput(
                    f"{episode_id[:8]} was merged into {holder[0][:8]} since its last rating, "
                    "which counts there too; a rating can only be undone before anything else "
                    "moves it"
                )
            if seq is not None and (target is None or target[0] != seq):
                if target is not None and target[0] > seq:
                    raise InvalidInput(
                        f"{episode_id[:8]} was rated again since; undo that rating first"
                    )
                raise InvalidInput(f"that rating of {episode_id[:8]} was already undone")
            if target is None and any(r[1] == "merge" for r in rows):
                raise InvalidInput(
                    f"{episode_id[:8]} has no rating of its own to undo: its ratings came with "
                    "the episodes merged into it, and a merge is undone by restoring them "
                    f"(`memrl restore`) and archiving {episode_id[:8]}"
                )
            if target is None:
                raise InvalidInput(f"{episode_id[:8]} has no rating left to undo")
            _seq, _cause, word, rated_at, prev_used, prev_q = target
            helpful = word == "helpful"
            s = self.ledger.states([episode_id])[episode_id]
            before = self._shown(s, created, pinned)
            if prev_q is None:  # rated before memrl recorded q
                alpha = self.cfg.learning_rate
                prev_q = clip((s.q - alpha * (1.0 if helpful else 0.0)) / (1.0 - alpha))
            s.q = prev_q
            s.evidence = max(0, s.evidence - 1)
            s.helpful -= int(helpful)
            s.unhelpful -= int(not helpful)
            if (s.last_used_at or 0.0) <= rated_at:  # not used since: its clock goes back too
                s.last_used_at = prev_used
            after = self._shown(s, created, pinned)
            self.ledger.put_states(c, [s])
            self.ledger.add_event(c, (self.m.now(), episode_id, "undo", None, before, after, word))
        change = Change(episode_id, title, "undo", before, after)
        spread = self.spread_from([episode_id])
        own = [ch for ch in spread if ch.id == episode_id]
        if own:
            change.after = own[0].after
        return [change, *(ch for ch in spread if ch.id != episode_id)]

    def undo_ratings(
        self,
        refs: Sequence[str],
        *,
        session_id: str | None = None,
        origin: str | None = None,
    ) -> tuple[list[Change], list[Change], list[MemrlError]]:
        """Take back the latest rating of each episode `refs` name ('last': the hits of the
        latest retrieval). Once no hit of the latest retrieval keeps a rating given since it,
        that retrieval can be rated as 'last' again, whichever way its ratings were undone.

        Returns the undone ratings, the neighbours they moved (each once, from first before
        to last after) and, for each episode whose rating cannot be undone, why. Raises when
        'last' names a retrieval that was not rated as 'last'; nothing is changed then.
        """
        if not refs:
            raise NotFound("name at least one episode id (or 'last')")
        named = self._named(refs, session_id, origin)
        last_seq, ids = named.seq, named.ids
        if last_seq is not None and not named.rated:
            raise InvalidInput(  # not an unknown id: exit 2
                "the latest search has not been rated as 'last', so there is no rating of it "
                "to undo: name the episode ids. Nothing was changed."
            )
        if not ids:
            raise InvalidInput(  # not an unknown id: exit 2
                "every hit of the latest search has been archived since; restore them to "
                "undo their ratings. Nothing was changed."
            )
        undone: list[Change] = []
        moved: dict[str, Change] = {}
        refused: list[MemrlError] = []
        for episode_id in ids:
            try:
                own, *spread = self.undo_feedback(episode_id)
            except MemrlError as exc:
                refused.append(exc)
                continue
            if episode_id in moved:  # moved by an undo before: one row from first to last
                own.before = moved.pop(episode_id).before
            undone.append(own)
            for ch in spread:
                if ch.id in moved:
                    moved[ch.id].after = ch.after
                else:
                    moved[ch.id] = ch
        if undone:
            self._free_rated([ch.id for ch in undone], session_id, origin)
        for ch in undone:  # and moved again by an undo after it
            if ch.id in moved:
                ch.after = moved.pop(ch.id).after
        return undone, list(moved.values()), refused

    def _free_rated(self, undone: Sequence[str], session_id: str | None, origin: str | None):
        """Let a retrieval rated as 'last' be rated again once none of its hits (or the
        episodes holding those merged since) keeps a rating given after it: the latest in
        this scope, and any other, in any session, that returned an episode just undone
        (a Claude Code session's 'last' undone from the command line)."""
        seqs = {
            r[0]
            for r in self.ledger.conn.execute(
                "SELECT DISTINCT q.seq FROM retrievals q JOIN retrieved r ON r.retrieval_seq = "
                f"q.seq WHERE q.rated IS NOT NULL AND r.episode_id IN ({','.join('?' * len(undone))})",
                list(undone),
            )
        }
        try:
            latest = self._last(session_id, origin)
            if latest.rated:
                seqs.add(latest.seq)
        except InvalidInput:  # nothing retrieved in this scope, or nothing close
            pass
        for seq in sorted(seqs):
            self._free_if_unrated(seq)

    def _free_if_unrated(self, seq: int) -> None:
        with self.ledger.write() as c:
            (since,) = c.execute("SELECT ts FROM retrievals WHERE seq = ?", (seq,)).fetchone()
            hits = [
                r[0]
                for r in c.execute(
                    "SELECT episode_id FROM retrieved WHERE retrieval_seq = ?", (seq,)
                )
            ]
            ids = [*hits, *self.ledger.merged_into(hits).values()]
            marks = ",".join("?" * len(ids))
            events: dict[str, list[tuple[int, str]]] = {}
            at: dict[int, float] = {}
            for episode_id, event, cause, ts in c.execute(
                f"SELECT episode_id, seq, cause, ts FROM events WHERE episode_id IN ({marks}) "
                "AND cause IN ('feedback', 'undo') ORDER BY seq",
                ids,
            ):
                events.setdefault(episode_id, []).append((event, cause))
                at[event] = ts
            if not any(at[s] >= since for rows in events.values() for s in standing(rows)):
                c.execute("UPDATE retrievals SET rated = NULL WHERE seq = ?", (seq,))

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


def _rated_already(rated: str) -> InvalidInput:
    return InvalidInput(
        f"the latest search was rated {rated} already, and every rating counts: 'last' rates "
        "a search once. Name the episode ids to rate them again. Nothing was changed."
    )


def _unreadable(broken: dict[str, CorruptFile]) -> CorruptFile:
    """A rating refused for episodes whose file no longer reads, each named with why."""
    return CorruptFile(
        "; ".join(f"{i[:8]}: {str(e).rstrip('.')}" for i, e in broken.items())
        + ". Nothing was changed."
    )
