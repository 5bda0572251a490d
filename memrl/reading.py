"""Reading the store: listings, single episodes and learned state, with decay applied.

Listings read the ledger's catalog and state tables: `list` opens no episode file, and
`listed` only the files of the rows it shows that changed since they were catalogued (it
catalogues those again). Neither the model nor LanceDB is loaded.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl.errors import InvalidInput, MemrlError
from memrl.learning.rules import confidence, decay_factor, utility
from memrl.store import EpisodeStore, Filters
from memrl.store.ledger import (
    CATALOG_COLUMNS,
    IDLE_SINCE_SQL,
    STATE_COLUMNS,
    SUMMARY_CHARS,
    CatalogRow,
    Ledger,
    StateRow,
)
from memrl.views import EpisodeView, Learned, Row

if TYPE_CHECKING:
    from memrl.config import Settings
    from memrl.episode import Episode

SORTS = {
    "created": "e.created_at",
    "updated": "e.updated_at",
    "utility": f"memrl_utility(s.q, s.p, {IDLE_SINCE_SQL}, e.pinned)",
    "retrievals": "s.retrievals",
    "helpful": "s.helpful",
    "unhelpful": "s.unhelpful",
    "project": "e.project COLLATE NOCASE",
    "outcome": "e.outcome",
    "task": "e.task COLLATE NOCASE",
}
ALPHABETICAL = {"project", "outcome", "task"}  # A to Z unless told otherwise


def _literal(text: str) -> str:
    """`text` for a LIKE pattern ESCAPE '\\': its % and _ match themselves, not anything."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Reading:
    """The read side of Memory (a base class: Memory sets root, settings, store and clock)."""

    root: Path
    settings: Settings
    store: EpisodeStore
    clock: Callable[[], float]

    @property
    def ledger(self) -> Ledger:
        ledger = self.store.ledger
        ledger.decay_rate = self.settings.learning.decay_rate
        return ledger

    def now(self) -> float:
        return self.clock()

    # learned state ----------------------------------------------------------------

    def learned(self, state: StateRow, created_at: float, pinned: bool) -> Learned:
        since = state.idle_since(created_at)
        factor = decay_factor(since, self.now(), self.settings.learning.decay_rate, pinned)
        return Learned(
            utility=utility(state.q, state.p, factor),
            q=state.q,
            p=state.p,
            decay=factor,
            confidence=confidence(state.evidence),
            evidence=state.evidence,
            retrievals=state.retrievals,
            helpful=state.helpful,
            unhelpful=state.unhelpful,
            last_used_at=state.last_used_at,
            arrived_at=state.arrived(created_at),
        )

    def _row(self, cat: CatalogRow, state: StateRow) -> Row:
        return Row(
            id=cat.id,
            project=cat.project,
            task=cat.task,
            summary=cat.summary,
            outcome=cat.outcome,
            task_type=cat.task_type,
            source=cat.source,
            tags=cat.tag_list,
            created_at=cat.created_at,
            updated_at=cat.updated_at,
            pinned=bool(cat.pinned),
            archived=bool(cat.archived),
            learned=self.learned(state, cat.created_at, bool(cat.pinned)),
            path=cat.path,
            stat=(cat.mtime_ns, cat.size),
        )

    def weights(self, ids: Sequence[str]) -> dict[str, tuple[float, int]]:
        """The utility (decayed, as `learned` gives it) and evidence of the live episodes
        among `ids`, in one query and without a Row each: a search weighs dozens of
        candidates to show a few."""
        out: dict[str, tuple[float, int]] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for episode_id, value, evidence in self.ledger.conn.execute(
                f"SELECT e.id, memrl_utility(s.q, s.p, {IDLE_SINCE_SQL}, e.pinned), "
                "COALESCE(s.evidence, 0) FROM episodes e LEFT JOIN state s ON s.id = e.id "
                f"WHERE e.id IN ({','.join('?' * len(chunk))}) AND +e.archived = 0",
                chunk,
            ):
                out[episode_id] = (value, evidence)
        return out

    def rows(self, ids: Sequence[str]) -> dict[str, Row]:
        cats = self.ledger.catalog_many(ids)
        states = self.ledger.states(list(cats))
        return {i: self._row(cats[i], states[i]) for i in ids if i in cats}

    # reading ----------------------------------------------------------------------

    def resolve(self, ref: str, *, archived: bool | None = False) -> str:
        return self.store.resolve(ref, archived=archived)

    def same_work(
        self, ep: Episode, *, same_session: bool, source: str | None = None
    ) -> Episode | None:
        """A live episode that holds the same work as `ep` (the same text, project and
        outcome), captured in `ep`'s own session or in another one: a capture sent twice,
        or a session copied under a new id, is one piece of work, stored once."""
        if same_session and not ep.session_id:
            return None
        sql = (
            "SELECT id FROM episodes WHERE archived = 0 AND project = ? AND task = ? "
            f"AND summary = ? AND session_id {'=' if same_session else 'IS NOT'} ?"
        )
        args: builtins.list[Any] = [ep.project, ep.task, ep.summary[:SUMMARY_CHARS], ep.session_id]
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        for (episode_id,) in self.ledger.conn.execute(sql, args).fetchall():
            try:
                other = self.store.load(episode_id)
            except MemrlError:  # a broken file: `status` reports it
                continue
            if (other.search_text(), other.outcome) == (ep.search_text(), ep.outcome):
                return other
        return None

    def get(self, ref: str, *, archived: bool | None = None) -> EpisodeView:
        episode_id = self.resolve(ref, archived=archived)
        cat = self.ledger.catalog(episode_id)
        assert cat is not None
        ep = self.store.load(episode_id)  # refused if its file holds another id
        row = self._row(cat, self.ledger.state(episode_id))
        into = self.ledger.merged_into([episode_id]).get(episode_id) if cat.archived else None
        return EpisodeView(ep, row.learned, bool(cat.archived), cat.path, into)

    def list(
        self,
        filters: Filters | None = None,
        *,
        limit: int | None = 50,
        offset: int = 0,
        sort: str = "created",
        descending: bool = True,
    ) -> builtins.list[Row]:
        where, args = self._where(filters or Filters())
        if sort not in SORTS:
            raise InvalidInput(f"cannot sort by '{sort}'; choose one of {', '.join(SORTS)}")
        # ties (all at 50 % utility, one project, one outcome) newest first; reversed, oldest
        reversed_ = descending == (sort in ALPHABETICAL)
        order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'}" + (
            "" if sort == "created" else f", e.created_at {'ASC' if reversed_ else 'DESC'}"
        )
        order += f", e.id {'DESC' if reversed_ else 'ASC'}"
        cols = (
            ", ".join(f"e.{c}" for c in CATALOG_COLUMNS)
            + ", "
            + ", ".join(
                f"COALESCE(s.{c}, {d})" if d is not None else f"s.{c}"
                for c, d in zip(
                    STATE_COLUMNS[1:], ("0.5", "0.0", "0", "0", "0", "0", None, None), strict=True
                )
            )
        )
        sql = (
            f"SELECT {cols} FROM episodes e LEFT JOIN state s ON s.id = e.id "
            f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
        )
        out = []
        n_cat = len(CATALOG_COLUMNS)
        for rec in self.ledger.conn.execute(sql, [*args, -1 if limit is None else limit, offset]):
            cat = CatalogRow(*rec[:n_cat])
            state = StateRow(cat.id, *rec[n_cat:])
            out.append(self._row(cat, state))
        return out

    def listed(
        self,
        filters: Filters | None = None,
        *,
        limit: int | None = 50,
        sort: str = "created",
        descending: bool = True,
    ) -> tuple[builtins.list[Row], builtins.list[str]]:
        """`list` as the files have it now, and what to say of those left out.

        The catalog follows the files at each scan (status, index, any change memrl makes),
        so a file edited, broken or deleted by hand since is caught here, for the rows a
        listing shows, at one stat a row. One unreadable or missing is left out, with why
        (as a search leaves it out), and the next rows fill its place; one edited is
        catalogued again, as a scan would, and the listing read again, so it is chosen and
        ordered by what it holds now (where the catalog cannot be written, it is shown as
        its file has it, in its old place)."""
        for _ in range(3):  # edited files catalogued: read again (more edits meanwhile: rare)
            rows: builtins.list[Row] = []
            notes: builtins.list[str] = []
            offset, again = 0, False
            while limit is None or len(rows) < limit:
                want = None if limit is None else limit - len(rows)
                batch = self.list(
                    filters, limit=want, offset=offset, sort=sort, descending=descending
                )
                kept, said, recatalogued = self._as_on_disk(batch)
                rows += kept
                notes += said
                again = again or recatalogued
                if want is None or len(batch) < want:
                    break
                offset += len(batch)
            if not again:
                break
        return rows, notes

    def _as_on_disk(
        self, rows: Sequence[Row]
    ) -> tuple[builtins.list[Row], builtins.list[str], bool]:
        """`rows` as their files have them, what to say of those left out, and whether an
        edited one was catalogued again (and so left out here: the query finds it anew)."""
        from memrl.errors import StoreError
        from memrl.store import catalog_row

        kept: builtins.list[Row] = []
        notes: builtins.list[str] = []
        recatalogued = False
        for row in rows:
            try:
                st = (self.root / row.path).stat()
            except FileNotFoundError:
                notes.append(
                    f"skipped {row.short_id}: its file {row.path} is gone (moved or deleted "
                    "by hand); `memrl index` brings the catalog up to date"
                )
                continue
            except OSError:
                kept.append(row)  # unreadable folder: the read below would say no more
                continue
            if (st.st_mtime_ns, st.st_size) == row.stat:
                kept.append(row)
                continue
            try:
                ep = self.store.load(row.id)
            except MemrlError as exc:
                notes.append(f"skipped {row.short_id}: {exc}")
                continue
            cat = catalog_row(
                self.root, ep, archived=row.archived, stat=(st.st_mtime_ns, st.st_size)
            )
            if cat.path == row.path:  # a new date moves it: `memrl index` puts it back
                try:
                    self.ledger.upsert_catalog([cat])
                    recatalogued = True
                    continue
                except StoreError:
                    pass  # a read-only store: shown as it is now, where it was
            kept.append(self._row(cat, self.ledger.state(row.id)))
        return kept, notes, recatalogued

    def count(self, filters: Filters | None = None) -> int:
        where, args = self._where(filters or Filters())
        sql = f"SELECT COUNT(*) FROM episodes e WHERE {where}"
        return int(self.ledger.conn.execute(sql, args).fetchone()[0])

    def exists(self, filters: Filters | None = None) -> bool:
        """Whether any episode matches: unlike `count`, stops at the first."""
        where, args = self._where(filters or Filters())
        sql = f"SELECT 1 FROM episodes e WHERE {where} LIMIT 1"
        return self.ledger.conn.execute(sql, args).fetchone() is not None

    def projects(self) -> builtins.list[tuple[str, int]]:
        return [
            (p, n)
            for p, n in self.ledger.conn.execute(
                "SELECT project, COUNT(*) FROM episodes WHERE archived = 0 "
                "GROUP BY project ORDER BY COUNT(*) DESC"
            )
        ]

    def nothing_found(self, project: str | None, otherwise: str) -> str | None:
        """Why a read of `project` (None: every project) found nothing, when it is not the
        query's doing: nothing is catalogued (see `files.empty_store_note`), or `project`
        names no live episode (see `unknown_project`)."""
        from memrl.store import files

        if not self.exists():
            return files.empty_store_note(self.root)
        return self.unknown_project(project, otherwise)

    def unknown_project(self, project: str | None, otherwise: str) -> str | None:
        """A note when `project` names no live episode, with the names it may have meant
        (else `otherwise`, what to do instead); None for a known project or none given."""
        if not project or self.exists(Filters(project=project)):
            return None
        import difflib

        names = [name for name, _count in self.projects()]
        close = difflib.get_close_matches(project, names, n=3, cutoff=0.5)
        close += [n for n in names if n.lower() == project.lower().strip("/") and n not in close]
        hint = f"did you mean {', '.join(close)}?" if close else otherwise
        return f"project {project} has no episodes; {hint}"

    @staticmethod
    def _where(f: Filters) -> tuple[str, builtins.list[Any]]:
        clauses: builtins.list[str] = ["e.archived = ?"]
        args: builtins.list[Any] = [int(f.archived)]
        if f.project:
            clauses.append("e.project = ?")
            args.append(f.project)
        if f.tag:
            clauses.append("e.tags LIKE ? ESCAPE '\\'")
            args.append(f"%|{_literal(f.tag.lower().lstrip('#'))}|%")
        if f.outcome:
            clauses.append("e.outcome = ?")
            args.append(f.outcome)
        if f.since is not None:
            clauses.append("e.created_at >= ?")
            args.append(f.since)
        if f.text:
            clauses.append("(e.task LIKE ? ESCAPE '\\' OR e.summary LIKE ? ESCAPE '\\')")
            args += [f"%{_literal(f.text)}%"] * 2
        return " AND ".join(clauses), args
