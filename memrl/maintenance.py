"""Keeping the derived data honest: the catalog and the index follow the episode files.

`reconcile` brings the catalog in line with what is on disk (new, changed, vanished and
unreadable files); `sync_index` brings the index in line with the catalog, embedding only
what is missing or stale, or everything on `rebuild`. `status` reports both, changing
nothing but what the ledger caches about the files: which ones cannot be read, and the
times of files that were touched (copied, restored) without a change to what they hold.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memrl.embeddings import check_local
from memrl.episode import Episode
from memrl.errors import IndexUnavailable, InvalidInput, MemrlError, ModelUnavailable, StoreError
from memrl.index import Health, IndexRow
from memrl.store import catalog_row, files, id_mismatch
from memrl.store.ledger import CatalogRow

if TYPE_CHECKING:
    from memrl.memory import Memory

Progress = Callable[[int, int], None]
EMBED_BATCH = 256


@dataclass(slots=True)
class DiskReport:
    new: list[str] = field(default_factory=list)  # files the catalog did not know
    changed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # catalog rows without a file
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    leftovers: int = 0  # temp files from interrupted writes
    bytes: int = 0  # in the episode files

    @property
    def pending(self) -> int:
        """Files added, changed or deleted since the catalog read them: `memrl index` catches up."""
        return len(self.new) + len(self.changed) + len(self.vanished)


@dataclass(slots=True)
class IndexReport:
    health: Health
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    # Live ids with two rows: a capture and an index run added the same new episode at once.
    doubled: list[str] = field(default_factory=list)
    embedded: int = 0
    rebuilt: bool = False
    empty: bool = False  # no index yet, as none was ever needed
    propagated: int | None = None  # utilities changed by the propagation a rebuild runs

    @property
    def fresh(self) -> bool:
        return not (
            self.health.problem or self.missing or self.stale or self.orphans or self.doubled
        )


@dataclass(slots=True)
class Status:
    data_dir: str
    episodes: int
    archived: int
    projects: int
    model: str
    model_id: str
    disk: DiskReport
    index: IndexReport
    size_bytes: int
    retrievals: int
    events: int
    unwritable: str | None = None  # why nothing can be saved, with the fix
    model_problem: str | None = None  # why embedding.model_path cannot load, with the fix

    @property
    def index_current(self) -> bool:
        """Does the index answer for every episode file as it is on disk now?"""
        return self.index.fresh and not self.disk.pending


def _scan(memory: Memory, *, apply: bool) -> DiskReport:
    """Compare files with the catalog; with apply, update the catalog to match."""
    ledger = memory.ledger
    report = DiskReport()
    # Where each file was and its times: all a scan needs while nothing changed.
    known = {
        i: (p, m, n)
        for i, p, m, n in ledger.conn.execute("SELECT id, path, mtime_ns, size FROM episodes")
    }
    rows: dict[str, CatalogRow] = {}  # whole catalog rows, read once the first file differs
    problems = {
        p: (e, m) for p, e, m in ledger.conn.execute("SELECT path, error, mtime_ns FROM problems")
    }
    seen: set[str] = set()
    upserts, touched, bad = [], [], []
    leftovers: list[Path] = []
    for entry in files.scan(memory.root, leftovers):
        rel = entry.rel
        seen.add(entry.id)
        report.bytes += entry.size
        if known.get(entry.id) == (rel, entry.mtime_ns, entry.size):
            continue
        if entry.id in known and not rows:
            rows = ledger.all_catalog()
        row = rows.get(entry.id)
        if rel in problems and problems[rel][1] == entry.mtime_ns:
            report.corrupt.append((rel, problems[rel][0]))
            continue
        try:
            ep = memory.store.load_path(Path(entry.path))
            if ep.id != entry.id:
                raise InvalidInput(id_mismatch(ep.id, entry.id))
        except MemrlError as exc:
            report.corrupt.append((rel, str(exc)))
            bad.append((rel, str(exc), entry.mtime_ns))
            continue
        # The file times recorded are those seen before the read: a write since then
        # shows as a change at the next scan instead of going unnoticed.
        fresh = catalog_row(
            memory.root, ep, archived=entry.archived, stat=(entry.mtime_ns, entry.size)
        )
        if fresh.path != rel:  # moved by hand out of the folder of the day it was made
            try:
                fresh = _put_back(memory, ep, entry, fresh, apply=apply)
            except InvalidInput as exc:
                report.corrupt.append((rel, str(exc)))
                bad.append((rel, str(exc), entry.mtime_ns))
                continue
            (report.changed if row else report.new).append(entry.id)
            upserts.append(fresh)
            continue
        if row and replace(fresh, mtime_ns=row.mtime_ns, size=row.size) == row:
            touched.append((row, entry.mtime_ns, entry.size))  # copied or restored, same content
            continue
        (report.changed if row else report.new).append(entry.id)
        upserts.append(fresh)
    report.vanished = [i for i in known if i not in seen]
    if touched:  # the catalog's file times are a cache: refreshed so the next scan skips them
        try:
            ledger.refresh_file_times(touched)
        except StoreError:
            pass  # a read-only store reads them again next time
    still_bad = {p for p, _e in report.corrupt}
    if bad or set(problems) - still_bad:  # remember what is unreadable: corrupt_files() is cheap
        try:
            with ledger.write() as c:
                c.executemany(
                    "DELETE FROM problems WHERE path = ?", [(p,) for p in set(problems) - still_bad]
                )
                c.executemany("INSERT OR REPLACE INTO problems VALUES (?, ?, ?)", bad)
        except StoreError:
            pass  # a read-only store can still be inspected
    report.leftovers = len(leftovers)
    if apply:
        ledger.upsert_catalog(upserts)
        ledger.delete_catalog(report.vanished)
        for tmp in leftovers:
            try:
                tmp.unlink()
            except OSError:
                pass
    return report


def _put_back(
    memory: Memory, ep: Episode, entry: files.FileEntry, row: CatalogRow, *, apply: bool
) -> CatalogRow:
    """Move (with apply) a file found out of place back to where its id and day put it."""
    target = memory.root / row.path
    if target.exists():
        raise InvalidInput(
            f"a second copy of episode {ep.short_id}, whose file is {row.path}; "
            "keep one of the two and run `memrl index` again"
        )
    if not apply:
        return row
    with memory.store.editing():
        files.move(Path(entry.path), target)
    return catalog_row(memory.root, ep, archived=entry.archived)


def corrupt_files(memory: Memory) -> list[tuple[str, str]]:
    """Unreadable episode files as of the last scan (status or index): no file is read."""
    return [
        (p, e)
        for p, e in memory.ledger.conn.execute("SELECT path, error FROM problems ORDER BY path")
    ]


def index_report(memory: Memory, *, files_waiting: bool = False) -> IndexReport:
    """The index against the catalog (missing, stale, orphaned rows); reads no episode file.

    No index is `empty` (the first capture creates it) only while there is nothing to
    search. Live episodes, or files not yet catalogued (`files_waiting`), without an index
    (a first import interrupted, a store restored from its files) need `memrl index`.
    """
    health = memory.index.health()
    never = not health.exists and memory.ledger.meta("index_built") is None
    if never and not files_waiting and not memory.exists():
        return IndexReport(Health(False), empty=True)
    report = IndexReport(health)
    if health.problem:
        return report
    try:
        indexed, twice = memory.index.hashes_and_doubles()
        if indexed and health.dim:
            memory.index.probe(health.dim)
    except IndexUnavailable as exc:  # opens, but its rows or indices cannot be read: rebuild
        report.health = replace(health, problem=str(exc))
        return report
    live = {
        i: h
        for i, h in memory.ledger.conn.execute(
            "SELECT id, content_hash FROM episodes WHERE archived = 0"
        )
    }
    report.missing = [i for i in live if i not in indexed]
    report.stale = [i for i, h in live.items() if i in indexed and indexed[i] != h]
    report.orphans = [i for i in indexed if i not in live]
    report.doubled = [i for i in twice if i in live and i not in report.stale]
    return report


def status(memory: Memory) -> Status:
    disk = _scan(memory, apply=False)
    counts = dict(
        memory.ledger.conn.execute("SELECT archived, COUNT(*) FROM episodes GROUP BY archived")
    )
    return Status(
        data_dir=str(memory.root),
        episodes=counts.get(0, 0),
        archived=counts.get(1, 0),
        projects=len(memory.projects()),
        model=memory.model.label,
        model_id=memory.model_id,
        disk=disk,
        index=index_report(memory, files_waiting=bool(disk.new)),
        size_bytes=disk.bytes + files.dir_size(memory.root, skip=(files.EPISODES, files.ARCHIVE)),
        retrievals=memory.ledger.conn.execute("SELECT COUNT(*) FROM retrievals").fetchone()[0],
        events=memory.ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
        unwritable=_unwritable(memory),
        model_problem=_model_problem(memory),
    )


def _model_problem(memory: Memory) -> str | None:
    """What is wrong with the model, known without loading it: a local model folder that
    is missing or lacks its files (one there but corrupt is only found by loading), or a
    bundled model damaged where it cannot be assembled again."""
    if memory.model.kind == "bundled":
        from memrl import config
        from memrl.embeddings import bundled

        return bundled.problem(config.models_dir(memory.root))
    if memory.model.path is None:
        return None
    try:
        check_local(memory.model.path)
    except ModelUnavailable as exc:
        return str(exc)
    return None


def _unwritable(memory: Memory) -> str | None:
    """Why a capture or a rating would fail to be saved here, or None: a store that only
    reads would look healthy until the first capture at the end of a task."""
    for folder in (memory.root, memory.root / files.EPISODES):
        if folder.is_dir():
            try:
                files.check_writable(folder)
            except StoreError as exc:
                return str(exc)
    if memory.ledger.path.exists() and not os.access(memory.ledger.path, os.W_OK):
        return str(files.explain(PermissionError(errno.EACCES, "read-only"), memory.ledger.path))
    return None


def _live_episodes(memory: Memory, ids: Sequence[str] | None) -> Iterator[Episode]:
    rows = memory.ledger.conn.execute(
        "SELECT id, path FROM episodes WHERE archived = 0 ORDER BY created_at"
    ).fetchall()
    wanted = set(ids) if ids is not None else None
    for episode_id, rel in rows:
        if wanted is not None and episode_id not in wanted:
            continue
        try:
            yield memory.store.load_path(memory.root / rel)
        except MemrlError:
            continue  # reported by status as corrupt; never blocks the rest


def _embedded_batches(
    memory: Memory, episodes: Iterator[Episode], total: int, progress: Progress | None
) -> Iterator[list[IndexRow]]:
    done = 0
    batch: list[Episode] = []

    def flush() -> list[IndexRow]:
        nonlocal done
        vectors = memory.embedder.embed([e.embedding_text() for e in batch])
        rows = [IndexRow.of(e, v) for e, v in zip(batch, vectors, strict=True)]
        done += len(batch)
        if progress:
            progress(done, total)
        batch.clear()
        return rows

    for ep in episodes:
        batch.append(ep)
        if len(batch) >= EMBED_BATCH:
            yield flush()
    if batch:
        yield flush()


def sync_index(
    memory: Memory, *, rebuild: bool = False, progress: Progress | None = None
) -> tuple[DiskReport, IndexReport]:
    """Bring catalog and index up to date with the files; embed only what changed."""
    disk = _scan(memory, apply=True)
    report = index_report(memory)
    index = memory.index
    if rebuild or report.health.problem:
        total = memory.count()
        dim = memory.embedder.dim
        built = index.rebuild(
            dim, _embedded_batches(memory, _live_episodes(memory, None), total, progress)
        )  # an unreadable file is left out: fewer than `total`
        memory.index_built()
        # Episodes captured while it ran went to the table it replaced: add them now.
        late = _catch_up(memory, index_report(memory), progress)
        report = index_report(memory)
        report.rebuilt, report.embedded = True, built + late
        # New vectors, new similarity graph: the value spread over it is computed afresh.
        report.propagated = len(memory.learning.propagate().changes)
        return disk, report
    embedded = _catch_up(memory, report, progress)
    if not embedded and not report.orphans:
        index.compact_waiting()  # nothing to repair: still fold in what recent writes left
    report = index_report(memory)
    report.embedded = embedded
    return disk, report


def index_live(memory: Memory, ids: Sequence[str], progress: Progress | None = None) -> int:
    """Embed and index the live episodes among `ids` (an unreadable file is left out, as
    `status` reports it); how many were indexed."""
    indexed = 0
    if not ids:
        return 0
    for rows in _embedded_batches(memory, _live_episodes(memory, ids), len(ids), progress):
        memory.index.upsert(rows, memory.embedder.dim, create_if_missing=False)
        indexed += len(rows)
    return indexed


def _catch_up(memory: Memory, report: IndexReport, progress: Progress | None) -> int:
    """Embed what the index misses or holds stale, drop its orphans; how many were embedded."""
    index = memory.index
    todo = report.missing + report.stale + report.doubled
    if report.orphans or report.doubled:
        index.delete(report.orphans + report.doubled)  # a doubled row is embedded afresh
    embedded = index_live(memory, todo, progress)  # fewer if a file is unreadable
    if todo or report.orphans:
        index.optimize(whole=True)  # an explicit repair leaves the index in one piece
    return embedded


# secrets in an existing store -----------------------------------------------------------


def scan_secrets(memory: Memory) -> dict[str, Any]:
    """Every episode (live and archived) and every logged query, checked for secrets."""
    from memrl.redact import add_counts, redact_episode, redact_text

    found: list[dict[str, Any]] = []
    by_kind: dict[str, int] = {}
    unreadable: list[str] = []
    cats = memory.ledger.all_catalog()
    for cat in sorted(cats.values(), key=lambda c: c.created_at):
        try:
            ep = memory.store.load_path(memory.root / cat.path)
        except MemrlError:
            unreadable.append(cat.id)
            continue
        clean = redact_episode(ep)
        if clean is ep:
            continue
        kinds = {
            k: n - ep.redactions.get(k, 0)
            for k, n in clean.redactions.items()
            if n > ep.redactions.get(k, 0)
        }
        add_counts(by_kind, kinds)
        found.append(
            {
                "id": cat.id,
                "short_id": cat.id[:8],
                "title": clean.title,  # never the secret it reports
                "archived": bool(cat.archived),
                "kinds": kinds,
                "episode": clean,
            }
        )
    queries: list[tuple[int, str]] = []  # (seq, the query with its secrets redacted)
    query_kinds: dict[str, int] = {}
    for seq, query in memory.ledger.conn.execute("SELECT seq, query FROM retrievals"):
        redacted, counts = redact_text(query)
        if counts:
            queries.append((seq, redacted))
            add_counts(query_kinds, counts)
    return {
        "scanned": len(cats),
        "episodes": found,
        "by_kind": by_kind,
        "queries": queries,
        "query_kinds": query_kinds,
        "unreadable": unreadable,
    }


def fix_secrets(memory: Memory, scan: dict[str, Any]) -> int:
    """Re-redact in place, and leave no copy of a secret behind.

    `update` rewrites each file (a new file renamed over the old) and re-indexes live
    episodes; the index is then written afresh, since its older versions still hold the
    old rows, and the ledger is vacuumed, since its free pages still hold the old queries.
    """
    for item in scan["episodes"]:
        memory.update(item["id"], item["episode"], archived=True)
    if scan["queries"]:
        with memory.ledger.write() as c:
            c.executemany(
                "UPDATE retrievals SET query = ? WHERE seq = ?",
                [(redacted, seq) for seq, redacted in scan["queries"]],
            )
        memory.ledger.vacuum()
    if scan["episodes"] and memory.index.exists():  # archived ones too: their rows were
        memory.index.rewrite()  # deleted when archived, but older versions keep them
    return len(scan["episodes"])
