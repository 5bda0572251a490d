"""The ledger: one SQLite database (WAL) beside the episode files.

It holds two kinds of data:

* derived, rebuildable from the JSON files: the catalog (`episodes` table) that makes
  listing, filtering and prefix lookup fast at 100k episodes;
* recorded, the ledger proper: learning state, the utility history, the retrieval log
  and the propagation edges. These change constantly and from many processes at
  once, which is exactly what SQLite transactions are for: `BEGIN IMMEDIATE`
  serialises writers across processes, so no update is ever lost.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memrl.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    project TEXT NOT NULL DEFAULT '',
    session_id TEXT,
    task TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    task_type TEXT NOT NULL,
    source TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    pinned INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS episodes_created ON episodes(archived, created_at);
CREATE INDEX IF NOT EXISTS episodes_project ON episodes(project, archived, created_at);
CREATE INDEX IF NOT EXISTS episodes_session ON episodes(session_id);

CREATE TABLE IF NOT EXISTS state (
    id TEXT PRIMARY KEY,
    q REAL NOT NULL DEFAULT 0.5,
    p REAL NOT NULL DEFAULT 0.0,
    evidence INTEGER NOT NULL DEFAULT 0,
    retrievals INTEGER NOT NULL DEFAULT 0,
    helpful INTEGER NOT NULL DEFAULT 0,
    unhelpful INTEGER NOT NULL DEFAULT 0,
    last_used_at REAL,
    added_at REAL
);

CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    episode_id TEXT NOT NULL,
    cause TEXT NOT NULL,
    other_id TEXT,
    before REAL NOT NULL,
    after REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    prev_used REAL,
    prev_q REAL  -- a rating's q before it, so that undoing it is exact whatever α is now
);
CREATE INDEX IF NOT EXISTS events_episode ON events(episode_id, seq);

CREATE TABLE IF NOT EXISTS retrievals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    session_id TEXT,
    project TEXT,
    query TEXT NOT NULL,
    origin TEXT NOT NULL,
    credited INTEGER NOT NULL DEFAULT 0,
    rated TEXT  -- 'helpful' or 'unhelpful' once rated as 'last': a search is rated so once
);
CREATE INDEX IF NOT EXISTS retrievals_session ON retrievals(session_id, seq);
CREATE INDEX IF NOT EXISTS retrievals_project ON retrievals(project, ts);

CREATE TABLE IF NOT EXISTS retrieved (
    retrieval_seq INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    episode_id TEXT NOT NULL,
    similarity REAL NOT NULL,
    prev_used REAL,  -- the episode's last use before this one, for an unhelpful verdict
    PRIMARY KEY (retrieval_seq, rank)
);
CREATE INDEX IF NOT EXISTS retrieved_episode ON retrieved(episode_id);

CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    sim REAL NOT NULL,
    PRIMARY KEY (src, dst)
);
CREATE INDEX IF NOT EXISTS edges_dst ON edges(dst);

CREATE TABLE IF NOT EXISTS problems (
    path TEXT PRIMARY KEY,
    error TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
PREFIX_MATCHES = 50  # the most episodes a prefix lookup returns
# Pairs a person judged distinct though alike: review does not group them again. Added
# after the first schema, so every ledger, old or new, gets it from _migrate.
APART = (
    "CREATE TABLE IF NOT EXISTS apart "
    "(a TEXT NOT NULL, b TEXT NOT NULL, ts REAL NOT NULL, PRIMARY KEY (a, b))"
)

CATALOG_COLUMNS = (
    "id",
    "path",
    "created_at",
    "updated_at",
    "project",
    "session_id",
    "task",
    "summary",
    "outcome",
    "task_type",
    "source",
    "tags",
    "pinned",
    "archived",
    "content_hash",
    "mtime_ns",
    "size",
)
SUMMARY_CHARS = 400
FULL_BYTES = 1 << 20  # less free space than this, and a write that failed is put down to it


@dataclass(slots=True)
class CatalogRow:
    id: str
    path: str
    created_at: float
    updated_at: float
    project: str
    session_id: str | None
    task: str
    summary: str
    outcome: str
    task_type: str
    source: str
    tags: str
    pinned: int
    archived: int
    content_hash: str
    mtime_ns: int
    size: int

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split("|") if t]

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in CATALOG_COLUMNS)


@dataclass(slots=True)
class StateRow:
    id: str
    q: float = 0.5
    p: float = 0.0
    evidence: int = 0
    retrievals: int = 0
    helpful: int = 0
    unhelpful: int = 0
    last_used_at: float | None = None
    # When the episode entered this store (None: when it was created). An episode captured
    # today with an old date has been unused only since today. Not learning: two rows that
    # learned the same are equal whenever their episodes arrived.
    added_at: float | None = field(default=None, compare=False)

    def arrived(self, created_at: float) -> float:
        """When the episode entered this store, or was created there if that is later."""
        return max(created_at, self.added_at or created_at)

    def idle_since(self, created_at: float) -> float:
        """Where its decay clock starts: its last use, or else its arrival in this store."""
        return self.last_used_at or self.arrived(created_at)


STATE_COLUMNS = (
    "id", "q", "p", "evidence", "retrievals", "helpful", "unhelpful", "last_used_at", "added_at"
)  # fmt: skip
# SQL for StateRow.idle_since, with the state table as `s` and the catalog as `e`
IDLE_SINCE_SQL = "COALESCE(s.last_used_at, MAX(e.created_at, COALESCE(s.added_at, 0)))"


def tags_field(tags: Iterable[str]) -> str:
    """Tags stored as '|a|b|' so one LIKE '%|tag|%' matches a whole tag."""
    tags = list(tags)
    return "|" + "|".join(tags) + "|" if tags else ""


class Ledger:
    """Thread-safe handle: one SQLite connection per thread, all on the same file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._local = threading.local()
        self.clock = clock  # the store's clock: when an episode arrives, what SQL decays to
        self.decay_rate = 0.0  # set by whoever reads utilities (memrl_utility in SQL)
        self._read_only_because = ""
        self._file: tuple[int, int] | None = None  # (device, inode) of the file first opened
        try:
            conn = self._conn()
            have = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()[0]
            if not have:
                conn.executescript(SCHEMA)
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ledger_error(exc, path, self._read_only_because) from None
        with suppress(OSError):  # unknown, it is never found lost
            st = os.stat(path)
            self._file = (st.st_dev, st.st_ino)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Bring a ledger written by an earlier memrl up to this schema (additive only)."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
        if "prev_used" not in columns:
            conn.execute("ALTER TABLE events ADD COLUMN prev_used REAL")
        if "prev_q" not in columns:
            try:
                conn.execute("ALTER TABLE events ADD COLUMN prev_q REAL")
            except sqlite3.OperationalError:
                pass  # a read-only ledger: _conn shows it with the column, all NULL
        if "added_at" not in {r[1] for r in conn.execute("PRAGMA table_info(state)")}:
            try:
                conn.execute("ALTER TABLE state ADD COLUMN added_at REAL")
            except sqlite3.OperationalError:
                pass  # a read-only ledger: _conn shows it with the column, all NULL
        if "prev_used" not in {r[1] for r in conn.execute("PRAGMA table_info(retrieved)")}:
            try:
                conn.execute("ALTER TABLE retrieved ADD COLUMN prev_used REAL")
            except sqlite3.OperationalError:
                pass  # a read-only ledger: it rates nothing
        if "rated" not in {r[1] for r in conn.execute("PRAGMA table_info(retrievals)")}:
            try:
                conn.execute("ALTER TABLE retrievals ADD COLUMN rated TEXT")
            except sqlite3.OperationalError:
                pass  # a read-only ledger: it rates nothing
        indices = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        try:
            conn.execute(APART)
        except sqlite3.OperationalError:
            pass  # a read-only ledger: nothing is kept apart there
        if conn.execute("SELECT 1 FROM meta WHERE key = 'controls_dropped'").fetchone() is None:
            # Text saved before memrl dropped terminal controls may hold them in the
            # catalog, which tables print: drop them there once, as loading a file does.
            from memrl.episode import strip_controls

            conn.create_function("memrl_strip", 1, strip_controls, deterministic=True)
            try:
                for column in ("task", "summary", "project"):
                    conn.execute(
                        f"UPDATE episodes SET {column} = memrl_strip({column}) "
                        f"WHERE {column} != memrl_strip({column})"
                    )
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('controls_dropped', '1')")
            except sqlite3.OperationalError:
                pass  # a read-only ledger: shown as it is
        if "state_sources" not in indices:
            # Every capture asks whether any episode has evidence; without this index the
            # answer "none yet" takes a scan of every state row (15 ms at 100k).
            try:
                conn.execute("CREATE INDEX state_sources ON state(id) WHERE evidence > 0")
            except sqlite3.OperationalError:
                pass  # a read-only ledger: the same answers, found by a scan

    def lost(self) -> str:
        """'' while the ledger's path still names the file this handle opened; else 'gone'
        (deleted: the data directory removed, say) or 'replaced' (another file took its
        place). Its connections would still write to the deleted file, which nothing reads
        again. One stat: cheap enough to ask before every piece of work."""
        if self._file is None:
            return ""
        try:
            st = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return "gone"
        except OSError:
            return ""  # cannot tell (its folder no longer readable?): the work will say why
        return "" if (st.st_dev, st.st_ino) == self._file else "replaced"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if lost := self.lost():  # connecting would make an empty ledger, or open another
                raise StoreError(
                    f"{self.path} was {'deleted' if lost == 'gone' else 'replaced'} while this "
                    "process had it open; start memrl again to use the store there now"
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except (sqlite3.OperationalError, OSError) as exc:
                raise StoreError(
                    f"cannot open {self.path}: {exc}. Check that the data directory is "
                    "writable, or point MEMRL_DATA_DIR elsewhere."
                ) from None
            try:
                _settings(conn)
            except sqlite3.OperationalError:
                # Reads still work where SQLite cannot set up its write-ahead log; writes
                # are refused with the reason: a read-only directory, or a full disk.
                conn.close()
                conn = self._read_only()
                self._read_only_because = "full" if _disk_full(self.path.parent) else "ro"
                columns = {r[1] for r in conn.execute("PRAGMA table_info(state)")}
                if columns and "added_at" not in columns:
                    # An older memrl's ledger, which cannot be brought up to date here: its
                    # episodes are read as having arrived when they were made.
                    conn.execute(
                        "CREATE TEMP VIEW state AS SELECT *, NULL AS added_at FROM main.state"
                    )
                columns = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
                if columns and "prev_q" not in columns:  # its ratings are undone as before
                    conn.execute(
                        "CREATE TEMP VIEW events AS SELECT *, NULL AS prev_q FROM main.events"
                    )
            conn.create_function("memrl_utility", 4, self._utility_sql, deterministic=True)
            self._local.conn = conn
        return conn

    def _read_only(self) -> sqlite3.Connection:
        """The ledger of a data dir that cannot be written (a read-only mount, say).

        SQLite cannot open a WAL database there the usual way (it needs to create the
        shared-memory file beside it), but can as an immutable file: every read works, and
        any write is refused with a message saying why.
        """
        uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"cannot open {self.path}: {exc}. The data directory is read-only or not "
                "yours: fix its permissions, or point MEMRL_DATA_DIR elsewhere."
            ) from None
        return conn

    def _utility_sql(self, q, p, last_used, pinned) -> float:
        from memrl.learning.rules import decay_factor, utility

        q = 0.5 if q is None else q
        p = 0.0 if p is None else p
        factor = decay_factor(last_used or 0.0, self.clock(), self.decay_rate, bool(pinned))
        return utility(q, p, factor)

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn()

    def set_apart(self, ids: Sequence[str], apart: bool) -> None:
        """Mark (or unmark) every pair of `ids` as distinct episodes."""
        pairs = [(a, b) for a, b in itertools.combinations(sorted(set(ids)), 2)]
        with self.write() as c:
            if apart:
                c.executemany(
                    "INSERT OR IGNORE INTO apart (a, b, ts) VALUES (?, ?, ?)",
                    [(a, b, now_ts()) for a, b in pairs],
                )
            else:
                c.executemany("DELETE FROM apart WHERE a = ? AND b = ?", pairs)

    def apart(self) -> set[tuple[str, str]]:
        """Every pair marked distinct, each as (smaller id, larger id)."""
        try:
            return {(r[0], r[1]) for r in self.conn.execute("SELECT a, b FROM apart")}
        except sqlite3.OperationalError:  # a read-only ledger from before the table
            return set()

    def vacuum(self) -> None:
        """Rewrite the database so no free page (or write-ahead log) keeps deleted text."""
        conn = self._conn()
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One cross-process write transaction; nested use joins the outer one."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        why = self._read_only_because
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path, why) from None
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise _store_error(exc, self.path, why) from None
        except BaseException:
            _rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                _rollback(conn)  # a failed COMMIT (SQLITE_FULL, say) may have rolled back
                raise _store_error(exc, self.path, why) from None

    def data_version(self) -> tuple[int, int]:
        """Changes whenever any process commits: a cheap poll for live views."""
        conn = self._conn()
        dv = conn.execute("PRAGMA data_version").fetchone()[0]
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        return dv, seq

    def merged_into(self, ids: Sequence[str]) -> dict[str, str]:
        """For episodes merged away: the live episode that holds what each knew now, through
        merges of merges (A and B into AB, AB and C into ABC: A is in ABC)."""
        found: dict[str, str] = {}
        frontier: dict[str, set[str]] = {i: {i} for i in ids}  # reached → the ids asked
        # Each asked id follows its own chain: A's path runs through AB even when AB is asked.
        seen = {(i, i) for i in ids}
        while frontier:
            marks = ",".join("?" * len(frontier))
            reached: dict[str, set[str]] = {}
            for src, merged, archived in self.conn.execute(
                "SELECT v.other_id, v.episode_id, e.archived FROM events v JOIN episodes e "
                f"ON e.id = v.episode_id WHERE v.cause = 'merge' AND v.other_id IN ({marks})",
                list(frontier),
            ):
                for asked in frontier[src]:
                    if not archived:
                        found[asked] = merged
                    elif (asked, merged) not in seen:
                        seen.add((asked, merged))
                        reached.setdefault(merged, set()).add(asked)
            frontier = {m: {a for a in asked if a not in found} for m, asked in reached.items()}
            frontier = {m: asked for m, asked in frontier.items() if asked}
        return found

    # catalog ----------------------------------------------------------------------

    def upsert_catalog(self, rows: Sequence[CatalogRow]) -> None:
        placeholders = ",".join("?" * len(CATALOG_COLUMNS))
        with self.write() as c:
            c.executemany(
                f"INSERT OR REPLACE INTO episodes ({','.join(CATALOG_COLUMNS)}) "
                f"VALUES ({placeholders})",
                [r.as_tuple() for r in rows],
            )
            now = self.clock()
            c.executemany(
                "INSERT OR IGNORE INTO state (id, added_at) VALUES (?, ?)",
                [(r.id, now) for r in rows],
            )

    def refresh_file_times(self, rows: Sequence[tuple[CatalogRow, int, int]]) -> None:
        """Record new file times (row, mtime_ns, size) for files whose content is unchanged,
        only where the row still is as it was read: a write meanwhile keeps its own."""
        with self.write() as c:
            c.executemany(
                "UPDATE episodes SET mtime_ns = ?, size = ? "
                "WHERE id = ? AND content_hash = ? AND updated_at = ? AND mtime_ns = ?",
                [
                    (mtime, size, r.id, r.content_hash, r.updated_at, r.mtime_ns)
                    for r, mtime, size in rows
                ],
            )

    def delete_catalog(self, ids: Sequence[str]) -> None:
        with self.write() as c:
            c.executemany("DELETE FROM episodes WHERE id = ?", [(i,) for i in ids])

    def catalog(self, episode_id: str) -> CatalogRow | None:
        row = self.conn.execute(
            f"SELECT {','.join(CATALOG_COLUMNS)} FROM episodes WHERE id = ?", (episode_id,)
        ).fetchone()
        return CatalogRow(*row) if row else None

    def catalog_many(self, ids: Sequence[str]) -> dict[str, CatalogRow]:
        out: dict[str, CatalogRow] = {}
        for chunk in _chunks(list(ids), 500):
            q = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {','.join(CATALOG_COLUMNS)} FROM episodes WHERE id IN ({q})", chunk
            ):
                out[row[0]] = CatalogRow(*row)
        return out

    def all_catalog(self) -> dict[str, CatalogRow]:
        cur = self.conn.execute(f"SELECT {','.join(CATALOG_COLUMNS)} FROM episodes")
        return {row[0]: CatalogRow(*row) for row in cur}

    def match_prefix(self, prefix: str, *, archived: bool | None = None) -> list[str]:
        where, args = _prefix(prefix, archived)
        sql = f"SELECT id FROM episodes {where} ORDER BY created_at DESC LIMIT {PREFIX_MATCHES}"
        return [r[0] for r in self.conn.execute(sql, args)]

    def count_prefix(self, prefix: str, *, archived: bool | None = None) -> int:
        where, args = _prefix(prefix, archived)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM episodes {where}", args).fetchone()[0])

    def latest(
        self, n: int = 1, project: str | None = None, archived: bool | None = False
    ) -> list[str]:
        """The newest episodes: live ones, archived ones (`archived=True`: the last archived
        first, by their files' times, which archiving sets), or either (None)."""
        sql = "SELECT id FROM episodes WHERE " + (
            "1" if archived is None else f"archived = {int(archived)}"
        )
        args: list[Any] = []
        if project:
            sql += " AND project = ?"
            args.append(project)
        sql += " ORDER BY " + ("mtime_ns DESC, " if archived else "") + "created_at DESC LIMIT ?"
        return [r[0] for r in self.conn.execute(sql, [*args, n])]

    def session_episodes(
        self,
        session_id: str,
        *,
        source: str | None = None,
        archived: bool | None = None,
        newest_first: bool = False,
    ) -> list[CatalogRow]:
        """The episodes captured in one session, by creation time (oldest first unless asked)."""
        sql = f"SELECT {','.join(CATALOG_COLUMNS)} FROM episodes WHERE session_id = ?"
        args: list[Any] = [session_id]
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        if archived is not None:  # `+archived`: look up the session, not every live row
            sql += " AND +archived = ?"
            args.append(int(archived))
        sql += f" ORDER BY created_at {'DESC' if newest_first else 'ASC'}"
        return [CatalogRow(*r) for r in self.conn.execute(sql, args)]

    # learning state -------------------------------------------------------------

    def states(self, ids: Sequence[str]) -> dict[str, StateRow]:
        out: dict[str, StateRow] = {}
        for chunk in _chunks(list(ids), 500):
            q = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {','.join(STATE_COLUMNS)} FROM state WHERE id IN ({q})", chunk
            ):
                out[row[0]] = StateRow(*row)
        for i in ids:
            out.setdefault(i, StateRow(i))
        return out

    def state(self, episode_id: str) -> StateRow:
        return self.states([episode_id])[episode_id]

    def put_states(self, conn: sqlite3.Connection, rows: Iterable[StateRow]) -> None:
        conn.executemany(
            f"INSERT OR REPLACE INTO state ({','.join(STATE_COLUMNS)}) "
            f"VALUES ({','.join('?' * len(STATE_COLUMNS))})",
            [tuple(getattr(r, c) for c in STATE_COLUMNS) for r in rows],
        )

    def add_events(self, conn: sqlite3.Connection, events: Iterable[tuple[Any, ...]]) -> None:
        """events: (ts, episode_id, cause, other_id, before, after, detail[, prev_used[,
        prev_q]])."""
        conn.executemany(
            "INSERT INTO events (ts, episode_id, cause, other_id, before, after, detail, "
            "prev_used, prev_q) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [tuple(e) + (None,) * (9 - len(e)) for e in events],
        )

    def add_event(self, conn: sqlite3.Connection, event: tuple[Any, ...]) -> int:
        """One event; returns its sequence number."""
        self.add_events(conn, [event])
        return int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])

    def events(self, episode_id: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            "SELECT seq, ts, cause, other_id, before, after, detail, prev_used, prev_q "
            "FROM events "
            "WHERE episode_id = ? ORDER BY seq",
            (episode_id,),
        ).fetchall()

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _settings(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout = 30000")
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError:
        pass  # a read-only database file: reads still work
    conn.execute("PRAGMA synchronous = NORMAL")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < FULL_BYTES
    except OSError:
        return False


def ledger_error(exc: sqlite3.DatabaseError, path: Path, why: str = "") -> StoreError:
    """What a failure of the ledger at `path` means to the person who must fix it."""
    if isinstance(exc, sqlite3.OperationalError):
        return _store_error(exc, path, why)
    return StoreError(
        f"{path} is not a usable memrl ledger ({exc}). Move it aside; `memrl index --rebuild` "
        "recreates the catalog from the episode files (learned utilities start again)."
    )


def _store_error(exc: sqlite3.OperationalError, path: Path, why: str = "") -> StoreError:
    text = str(exc)
    if why == "full" or ("disk" in text and "full" in text):
        return StoreError(f"cannot write {path}: the disk is full; free some space and retry")
    if "readonly" in text or "read-only" in text:
        return StoreError(
            f"cannot write {path}: the data directory is read-only. "
            "Fix its permissions or point MEMRL_DATA_DIR elsewhere."
        )
    if "locked" in text:
        return StoreError(f"{path} stayed locked by another memrl process for 30 s; retry")
    return StoreError(f"cannot write {path}: {text}")


def now_ts() -> float:
    return time.time()


def _prefix(prefix: str, archived: bool | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of the episodes whose id starts with `prefix`;
    `+archived` looks up the id range, not every live row."""
    if archived is None:
        return "WHERE id >= ? AND id < ?", [prefix, prefix + "\uffff"]
    return "WHERE id >= ? AND id < ? AND +archived = ?", [prefix, prefix + "\uffff", int(archived)]
