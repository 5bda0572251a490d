"""The search index: one LanceDB table with a vector column and a native full-text index.

It is derived data: `memrl index` rebuilds it from the episode files at any time. The
table's schema metadata records the model and dimension that built it, so a model change
is noticed instead of silently comparing vectors from two different spaces.

Writes from many processes are serialised by a file lock (LanceDB would otherwise retry
conflicting commits) and kept compact: small appends are folded together by `optimize`
every few writes, and the vector index is (re)trained as the table grows. A process that
lives long (the MCP server) leaves that to a child process (`memrl.compactor`).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from memrl.errors import IndexUnavailable, MemrlError, StoreError

if TYPE_CHECKING:
    import asyncio

    import numpy as np

    from memrl.episode import Episode

TABLE = "episodes"
FORMAT = "1"
VECTOR_INDEX_MIN_ROWS = 2048  # below this a flat scan is as fast and exact
# From here the vector index keeps 8-bit vectors (IVF_SQ): a flat index holds 1.5 KB a row
# in every process that searches (15 MB at 10k, in each Claude Code session's server), and
# the quantised one a quarter of that, for about 1.5 ms more per search at 10k.
QUANTISED_MIN_ROWS = 5_000
QUANTISED = "IvfSq"  # that kind, as LanceDB's list_indices() names it
REFINE = 4  # a quantised index's candidates per hit, re-scored with the exact vectors
KIND_TTL = 1.0  # seconds an open index trusts what it last saw of the vector index's kind
MAX_SEGMENTS = 8  # vector index delta segments tolerated before retraining (more at scale)
OPTIMIZE_EVERY = 16  # appended rows tolerated before compaction
LOCK_WAIT = 120.0  # seconds a write waits for another process's (a rebuild takes minutes)
STATS_EVERY = 4  # on a large table, table versions between two looks at the index's lag
KEEP_VERSIONS = timedelta(seconds=30)  # old versions a reader in another process may still hold
# LanceDB caches the metadata of every table version it reads, and a table read at its
# latest version after each write has a new one each time: uncapped, a long-lived process
# kept ~40 KB more per capture (32 MB over 750). Searches at 100k are as fast with this cap
# as without (8 MB made them slower).
METADATA_CACHE_BYTES = 16 << 20

P = ParamSpec("P")
R = TypeVar("R")

os.environ.setdefault("LANCEDB_LOG", "error")
_import_lock = threading.Lock()
_compact_in_child = False


def compact_in_child_processes() -> None:
    """From now on, compaction that writes or a pause call for runs in a short-lived child
    process (`memrl.compactor`), so this one does not keep the memory it takes."""
    global _compact_in_child
    _compact_in_child = True


def _lancedb():
    """`import lancedb`, more than half a second sooner and 7 MB lighter than a plain import.

    LanceDB imports lance_namespace, whose generated REST client builds several hundred
    pydantic validators (request models and `validate_call` methods) that a local table
    never uses. Two things keep that cost off the local path, and neither changes what any
    of it does once used:

    - pydantic defers building a validator to its first use, while LanceDB is imported
      and only then;
    - the client package's `__init__`, which imports every API class, runs when one of its
      own names is first asked for, not when a submodule (the models lance_namespace
      imports) is.
    """
    module = sys.modules.get("lancedb")
    if module is not None:
        return module
    with _import_lock:
        try:
            from pydantic._internal._config import config_defaults
        except ImportError:  # pragma: no cover - a pydantic without the setting
            config_defaults = {}
        before = config_defaults.get("defer_build", False)
        config_defaults["defer_build"] = True
        _defer_package_init("lance_namespace_urllib3_client")
        try:
            import lancedb
        finally:
            config_defaults["defer_build"] = before
    return lancedb


def _defer_package_init(name: str) -> None:
    """Put package `name` in `sys.modules` with its `__init__` not yet run.

    Its submodules import as usual; the first lookup of any other name on the package
    (PEP 562 `__getattr__`) runs the real `__init__` and answers from it.
    """
    if name in sys.modules:
        return
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)
    lock = threading.Lock()

    def __getattr__(attr: str) -> Any:
        with lock:
            if "__getattr__" in vars(package):
                del package.__getattr__
                loader.exec_module(package)
        return getattr(package, attr)

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = package


@functools.cache
def _session():
    """One LanceDB session (its caches) for every connection of the process, capped."""
    return _lancedb().Session(metadata_cache_size_bytes=METADATA_CACHE_BYTES)


@dataclass(slots=True)
class IndexRow:
    id: str
    vector: Any  # np.ndarray (dim,)
    text: str
    project: str
    created_at: float
    content_hash: str

    @classmethod
    def of(cls, ep: Episode, vector: Any) -> IndexRow:
        return cls(
            ep.id,
            vector,
            ep.search_text(),
            ep.project,
            ep.created_at.timestamp(),
            ep.content_hash(),
        )


@dataclass(slots=True)
class Health:
    exists: bool
    rows: int = 0
    model: str | None = None
    dim: int | None = None
    problem: str | None = None  # a sentence naming the fix, when the index cannot be used


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _run(coro):
    """Run a LanceDB coroutine on memrl's one background event loop, from any thread.

    LanceDB's async API runs a vector and a full-text query side by side in about the time
    of one; its sync API runs them one after the other and fetches the schema for each.
    """
    import asyncio  # here, not at the top: listing and showing episodes never query LanceDB

    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="memrl-lancedb", daemon=True).start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()


def _fault(exc: BaseException, folder: Path) -> MemrlError:
    """One of LanceDB's own errors as memrl's: what happened and what to run."""
    text = str(exc).strip()
    if getattr(exc, "errno", None) == errno.ENOSPC or "No space left" in text:
        return StoreError(
            f"cannot write the search index in {folder}: the disk is full. Free some space, "
            "then run `memrl index` to index whatever was left out."
        )
    if getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES) or "Read-only" in text:
        return StoreError(
            f"cannot write the search index in {folder}: the data directory is read-only. "
            "Fix its permissions or point MEMRL_DATA_DIR elsewhere."
        )
    detail = re.sub(r",?\s*/rustc/\S+", "", text.splitlines()[0])[:200] if text else ""
    detail = detail or type(exc).__name__
    return IndexUnavailable(
        f"the search index in {folder} is damaged ({detail}); run `memrl index --rebuild` "
        "to build it again from the episode files, which are untouched."
    )


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn the LanceDB errors a damaged table or a full disk raise into memrl's."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        index = args[0]
        assert isinstance(index, Index)
        for again in (True, False):
            try:
                return method(*args, **kwargs)
            except MemrlError:
                raise
            except TimeoutError:  # the write lock's wait ran out (an OSError: not damage)
                raise IndexUnavailable(
                    f"the search index in {index.folder} is busy: another process has held "
                    f"its write lock for {LOCK_WAIT:.0f} s (a rebuild or an import, say). Run "
                    "`memrl index` once that is done: it indexes whatever was left out."
                ) from None
            except (OSError, RuntimeError) as exc:
                # A rebuild elsewhere swapped the table in mid-read: read the new one.
                if not (again and index._replaced()):
                    raise _fault(exc, index.folder) from None
        raise AssertionError("unreachable")

    return run


class Index:
    def __init__(
        self,
        folder: Path,
        model_id: str,
        dim_hint: int | Callable[[], int | None] | None = None,
    ) -> None:
        """`dim_hint`: the model's dimension, or how to learn it when an index is first
        judged against the model (asking may load the model: a capture reads the table's
        version before its model has loaded)."""
        self.folder = folder
        self.model_id = model_id
        self._dim_hint = dim_hint
        self._db: Any = None
        self._table: Any = None
        self._file_lock: Any = None
        self._inode: int | None = None
        self._checked = False
        self._async: tuple[int, Any] | None = None  # (inode, AsyncTable)
        self._rows = 0  # the table's size when this process last looked at the index's lag
        self._quantised: bool | None = None  # is the vector index IVF_SQ (None: not looked)
        self._kind_seen = 0.0
        self._opening = threading.RLock()  # a capture's neighbour search opens it too

    # opening ------------------------------------------------------------------------

    def _connect(self):
        if self._db is None:
            lancedb = _lancedb()
            # Always read the latest version: other processes write to this table too.
            self._db = lancedb.connect(
                self.folder, read_consistency_interval=timedelta(0), session=_session()
            )
        return self._db

    @property
    def table_path(self) -> Path:
        return self.folder / f"{TABLE}.lance"

    def exists(self) -> bool:
        return self.table_path.is_dir()

    @property
    def opened(self) -> bool:
        """Has this process opened the table (and so loaded LanceDB)?"""
        return self._table is not None

    def _open(self):
        """The open table, reopened when the folder was replaced (a rebuild elsewhere)."""
        with self._opening:
            return self._reopen()

    def _reopen(self):
        try:
            inode = self.table_path.stat().st_ino
        except FileNotFoundError:
            self._table = None
            return None
        if self._table is not None and inode == self._inode:
            return self._table
        try:
            self._table = self._connect().open_table(TABLE)
        except Exception as exc:
            self._table = None
            raise IndexUnavailable(
                f"the search index in {self.folder} cannot be opened ({exc}); "
                "run `memrl index --rebuild`."
            ) from None
        self._inode = inode
        self._checked = False
        self._quantised = None
        return self._table

    def _replaced(self) -> bool:
        """Has the table this process opened been swapped for another since?"""
        try:
            return self._inode is not None and self.table_path.stat().st_ino != self._inode
        except OSError:
            return False

    def _mismatch(self, model: str | None, dim: int) -> str | None:
        want_dim = self._dim_hint() if callable(self._dim_hint) else self._dim_hint
        if model == self.model_id and (not want_dim or dim == want_dim):
            return None
        return (
            f"the search index was built with {model} ({dim} dimensions) but memrl is set "
            f"to {self.model_id}"
            + (f" ({want_dim} dimensions)" if want_dim else "")
            + "; run `memrl index --rebuild` to re-embed every episode with the current model."
        )

    def _absent(self) -> str:
        """Why there is no index, and what to do: wait for an import, or run `memrl index`."""
        from memrl.store.files import import_running

        if import_running(self.folder.parent):
            return (
                "the search index is not there yet: a `memrl import` under way builds it as it "
                "stores its first episodes; search again in a minute (`memrl status` shows it)."
            )
        return "the search index does not exist; run `memrl index`."

    def _meta(self, table) -> tuple[str | None, int]:
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        return meta.get("memrl.model"), int(meta.get("memrl.dim", "0") or 0)

    def health(self) -> Health:
        try:
            table = self._open()
            if table is None:
                return Health(False, problem=self._absent())
            model, dim = self._meta(table)
            rows = table.count_rows()
        except IndexUnavailable as exc:
            return Health(True, problem=str(exc))
        except Exception as exc:
            return Health(
                True,
                problem=f"the search index is unreadable ({exc}); run `memrl index --rebuild`.",
            )
        return Health(True, rows, model, dim, self._mismatch(model, dim))

    def table(self):
        """The table, ready to query, or IndexUnavailable with the fix. Cheap when warm."""
        table = self._open()
        if table is None:
            raise IndexUnavailable(self._absent())
        if not self._checked:
            problem = self._mismatch(*self._meta(table))
            if problem:
                raise IndexUnavailable(problem)
            self._checked = True
        return table

    def _schema(self, dim: int):
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("id", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), dim)),
                pa.field("text", pa.string()),
                pa.field("project", pa.string()),
                pa.field("created_at", pa.float64()),
                pa.field("content_hash", pa.string()),
            ],
            metadata={"memrl.model": self.model_id, "memrl.dim": str(dim), "memrl.format": FORMAT},
        )

    def _arrow(self, rows: Sequence[IndexRow], dim: int):
        import numpy as np
        import pyarrow as pa

        matrix = np.asarray([r.vector for r in rows], dtype=np.float32).reshape(len(rows), dim)
        return pa.table(
            {
                "id": [r.id for r in rows],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), dim),
                "text": [r.text for r in rows],
                "project": [r.project for r in rows],
                "created_at": [r.created_at for r in rows],
                "content_hash": [r.content_hash for r in rows],
            },
            schema=self._schema(dim),
        )

    # writing ------------------------------------------------------------------------

    def _lock(self):
        """One re-entrant lock object per Index: nested use in a process never deadlocks.
        The data dir above is never made here: a store deleted while a compaction or a
        write was on its way is not brought back as an empty `vectors/` folder."""
        from filelock import FileLock

        self.folder.mkdir(exist_ok=True)
        if self._file_lock is None:
            self._file_lock = FileLock(str(self.folder / ".write.lock"), timeout=LOCK_WAIT)
        return self._file_lock

    def _create(self, dim: int, rows: Sequence[IndexRow]) -> None:
        """Create the table with its full-text index; the caller holds the write lock."""
        db = self._connect()
        from lancedb.index import FTS

        data = self._arrow(rows, dim) if rows else None
        self._table = db.create_table(TABLE, data=data, schema=self._schema(dim), mode="overwrite")
        self._table.create_index("text", config=FTS(with_position=False), replace=True)
        self._maintain_vector_index()

    def version(self) -> int | None:
        """The table's version now (None: no table yet); every write makes a new one."""
        try:
            table = self._open()
        except IndexUnavailable:
            return None
        return None if table is None else table.version

    @_guarded
    def upsert(
        self,
        rows: Sequence[IndexRow],
        dim: int,
        *,
        create_if_missing: bool,
        unseen_at: int | None = None,
    ) -> None:
        """Add or replace rows. `unseen_at`: a table version at which none of the ids was in
        it (a capture's, taken before its file was written). While the table is still at that
        version nobody can have indexed them, and they are appended without looking; once
        another process wrote (`memrl index` catching up on the new file, say), they are
        looked up first, so a row is never added twice."""
        if not rows:
            return
        with self._lock():
            if not self.exists():
                # Re-checked under the lock: of several first writers, one creates the table.
                if not create_if_missing:
                    raise IndexUnavailable(
                        "the search index is missing; run `memrl index` to rebuild it."
                    )
                self._create(dim, rows)
                return
            table = self.table()
            data = self._arrow(rows, dim)
            new = unseen_at is not None and table.version == unseen_at
            if not new and self._existing_ids(table, [r.id for r in rows]):
                (
                    table.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(data)
                )
                self._after_write(table)
            else:
                self._after_write(table, table.add(data).version)

    @_guarded
    def delete(self, ids: Sequence[str]) -> None:
        if not ids or not self.exists():
            return
        table = self.table()
        with self._lock():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                table.delete(f"id IN ({','.join(_quote(i) for i in chunk)})")
            self._after_write(table)

    def _existing_ids(self, table, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            res = (
                table.search()
                .where(f"id IN ({','.join(_quote(i) for i in chunk)})")
                .select(["id"])
                .limit(len(chunk))
                .to_arrow()
            )
            found.update(res["id"].to_pylist())
        return found

    def _after_write(self, table, version: int | None = None) -> None:
        """Compact once enough small appends have piled up, or the full-text index lags.

        Rows not yet in the FTS index are still searched, but with their own BM25
        statistics; keeping them under ~2 % of the table keeps keyword scores comparable.
        Counting unindexed rows (rather than fragments, which compaction does not always
        bring back down) keeps the cadence steady: one compaction per OPTIMIZE_EVERY writes.

        Reading the index's statistics costs a sixth of an append. Once the table is large
        enough for OPTIMIZE_EVERY to be the rule, an append (which gives its `version`)
        reads them only at every STATS_EVERY-th table version, whichever process wrote the
        ones between: compaction then comes at most STATS_EVERY - 1 appends late.
        """
        large = self._rows >= OPTIMIZE_EVERY * 50
        if version is not None and large and version % STATS_EVERY:
            return
        behind, total = self._behind(table)
        if behind >= OPTIMIZE_EVERY or behind * 50 > total:
            if _compact_in_child:
                from memrl import compactor

                compactor.request(self.folder)
            else:
                self._optimize(table)

    def _behind(self, table) -> tuple[int, int]:
        """(rows not yet in the full-text index, rows in all), from the index's statistics."""
        try:
            fts = table.index_stats("text_idx")
            behind = fts.num_unindexed_rows if fts else 0
            total = (fts.num_indexed_rows if fts else 0) + behind
        except Exception:
            behind, total = OPTIMIZE_EVERY, 1
        self._rows = total
        return behind, total

    def compact_waiting(self, wait: float = 0) -> int:
        """Compact now if appended rows wait for it; returns how many did (0 if none did,
        another process wrote for longer than `wait` seconds, or the index cannot be
        written). After `compact_in_child_processes()`, a child process does it: this
        returns how many wait, once it has started.

        LanceDB searches rows that are not in its indices yet apart from them: a search on
        a table with a few of them waiting takes 5–10 ms longer (at 1k and 10k episodes).
        Writes compact every OPTIMIZE_EVERY appends; the rest is compacted by a process
        about to sit idle (the MCP server between calls, the TUI between changes, the hooks'
        background finish) and by `memrl index`, so the next search, in any process, does
        not pay for them.
        """
        from filelock import Timeout

        try:
            behind = self.waiting()
            if not behind:
                return 0
            if _compact_in_child:
                from memrl import compactor

                return behind if compactor.request(self.folder) else 0
            with self._lock().acquire(timeout=wait):
                table = self._open()
                behind = self._behind(table)[0]  # again: another process may have compacted
                if behind:
                    self._optimize(table)
        except (Timeout, IndexUnavailable, OSError):  # busy, missing or read-only: not now
            return 0
        return behind

    def waiting(self) -> int:
        """Rows not yet folded into the full-text index (0 without a table). The table is
        opened whichever model built it: compaction does not embed."""
        table = self._open()
        return self._behind(table)[0] if table is not None else 0

    @_guarded
    def optimize(self, *, whole: bool = False) -> None:
        """Compact fragments, fold new rows into the indices, drop stale versions.

        `whole` (after a bulk write) also retrains a vector index left in several segments.
        """
        table = self._open()
        if table is None:
            return
        with self._lock():
            self._optimize(table, whole)

    def _optimize(self, table, whole: bool = False) -> None:
        table.optimize(cleanup_older_than=KEEP_VERSIONS)
        self._maintain_vector_index(whole)

    def _maintain_vector_index(self, whole: bool = False) -> None:
        """Keep the IVF index whole: each optimize() appends a delta segment to it, and
        every segment is searched separately (300 of them made a query ten times slower),
        so the index is retrained once the deltas pile up. Retraining also lets the next
        compaction merge the small fragments the deltas pinned in place. A table that grows
        past QUANTISED_MIN_ROWS (or shrinks well below it) is retrained into the other kind."""
        table = self._table
        rows = table.count_rows()
        if rows < VECTOR_INDEX_MIN_ROWS:
            return
        have = {i.name: i.index_type for i in table.list_indices()}.get("vector_idx")
        want = _vector_index_kind(rows, have)
        if have == want:
            stats = table.index_stats("vector_idx")
            segments = stats.num_indices if stats is not None and stats.num_indices else 1
            if segments <= (1 if whole else max(MAX_SEGMENTS, rows // 5_000)):
                return
        table.create_index("vector", config=_vector_index(want), replace=True)
        self._quantised = None

    @_guarded
    def rebuild(
        self,
        dim: int,
        batches: Iterable[Sequence[IndexRow]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Build a fresh table beside the old one and swap it in."""
        data = (self._arrow(batch, dim) for batch in batches if batch)
        return self._swap_in(self._schema(dim), data, progress)

    @_guarded
    def rewrite(self) -> int:
        """Write the table afresh from its current rows, leaving nothing of older versions.

        Replaced and deleted rows (text since redacted or edited away) live on in the old
        data files, which compaction leaves alone while few of a file's rows are deleted.
        Writers wait on the lock meanwhile, so none of their rows is left behind.
        """
        with self._lock():
            current = self.table().to_arrow()
            return self._swap_in(current.schema, [current])

    def _swap_in(
        self, schema: Any, data: Iterable[Any], progress: Callable[[int], None] | None = None
    ) -> int:
        lancedb = _lancedb()
        from lancedb.index import FTS

        self._clear_leftovers()
        try:  # named after this process: several rebuilds may run at once
            staging = Path(
                tempfile.mkdtemp(
                    prefix=f"{self.folder.name}.rebuild-{os.getpid()}-", dir=self.folder.parent
                )
            )
        except OSError as exc:
            raise StoreError(
                f"cannot write beside {self.folder}: {exc.strerror}. The data directory is "
                "read-only or not yours: fix its permissions, or point MEMRL_DATA_DIR elsewhere."
            ) from None
        try:
            db = lancedb.connect(staging)
            table = db.create_table(TABLE, schema=schema)
            count = 0
            for part in data:
                table.add(part)
                count += part.num_rows
                if progress:
                    progress(part.num_rows)
            table.optimize()
            table.create_index("text", config=FTS(with_position=False), replace=True)
            if count >= VECTOR_INDEX_MIN_ROWS:
                table.create_index(
                    "vector", config=_vector_index(_vector_index_kind(count)), replace=True
                )
            with self._lock():
                old = staging / "replaced.lance"
                if self.table_path.exists():
                    self.table_path.rename(old)
                self.folder.mkdir(parents=True, exist_ok=True)
                (staging / f"{TABLE}.lance").rename(self.table_path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._db = None
        self._table = None
        return count

    def _clear_leftovers(self) -> None:
        """Remove the staging folders of rebuilds killed part-way (each holds the new table,
        or the old one it was swapping out). Each is named after its process; one whose
        process still runs (two rebuilds at once) is left alone."""
        for path in self.folder.parent.glob(f"{self.folder.name}.rebuild-*-*"):
            pid = path.name.removeprefix(f"{self.folder.name}.rebuild-").split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)

    # reading ------------------------------------------------------------------------

    @_guarded
    def search_vector(
        self, vector: np.ndarray, limit: int, project: str | None = None
    ) -> list[tuple[str, float]]:
        """(id, cosine similarity), best first."""
        query = _nearest(self._async_table(), vector, limit, project, self._refine())
        return _similarities(_run(query.to_arrow()))

    @_guarded
    def search_vectors(self, vectors: np.ndarray, limit: int) -> list[list[tuple[str, float]]]:
        """`search_vector` for many query vectors in one LanceDB query, one list per row."""
        if len(vectors) == 0:
            return []
        q = self.table().search(vectors).distance_type("cosine").limit(limit)
        if refine := self._refine():
            q = q.refine_factor(refine)
        res = q.select(["id", "_distance"]).to_arrow()
        out: list[list[tuple[str, float]]] = [[] for _ in range(len(vectors))]
        ids, distances = res["id"].to_pylist(), res["_distance"].to_pylist()
        # LanceDB leaves out query_index when there is a single query vector.
        which = res["query_index"].to_pylist() if len(vectors) > 1 else [0] * len(ids)
        for n, i, d in zip(which, ids, distances, strict=True):
            out[n].append((i, 1.0 - float(d)))
        for hits in out:
            hits.sort(key=lambda h: -h[1])
        return out

    def _refine(self) -> int | None:
        """REFINE if the vector index is quantised, so every distance returned is exact.

        A quantised index's own cosine distances are far off (0.29 on average at 100k), so
        they must never be returned. Another process may retrain the index into the other
        kind, so what was seen is looked at again (0.6 ms) once it is a second old.
        """
        now = time.monotonic()
        if self._quantised is None or now - self._kind_seen > KIND_TTL:
            kinds = {i.name: i.index_type for i in self.table().list_indices()}
            self._quantised = kinds.get("vector_idx") == QUANTISED
            self._kind_seen = now
        return REFINE if self._quantised else None

    def _async_table(self):
        """The same table through LanceDB's async API, reopened when the folder is replaced."""
        with self._opening:
            return self._open_async()

    def _open_async(self):
        self.table()
        opened = self._async
        if opened is not None and opened[0] == self._inode:
            return opened[1]

        async def open_table():
            db = await _lancedb().connect_async(
                self.folder, read_consistency_interval=timedelta(0), session=_session()
            )
            return await db.open_table(TABLE)

        try:
            table = _run(open_table())
        except Exception as exc:
            raise IndexUnavailable(
                f"the search index in {self.folder} cannot be opened ({exc}); "
                "run `memrl index --rebuild`."
            ) from None
        assert self._inode is not None
        self._async = (self._inode, table)
        return table

    @_guarded
    def candidates(
        self,
        vector: np.ndarray,
        query: str,
        limit: int,
        project: str | None = None,
        *,
        with_text: bool = False,
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float, np.ndarray, str]]]:
        """Vector and full-text candidates, queried side by side.

        Vector hits are (id, cosine similarity); text hits are (id, BM25 score, vector, the
        text searched, or "" unless `with_text`), the query matched as plain words. Both
        best first.
        """
        from lancedb.query import MatchQuery

        table = self._async_table()
        vq = _nearest(table, vector, limit, project, self._refine())
        tq = None
        if query.strip():
            match = MatchQuery(query, "text")  # type: ignore[call-arg]
            tq = table.query().nearest_to_text(match).limit(limit)
            tq = tq.select(["id", "vector", "_score", *(["text"] if with_text else [])])
            if project:
                tq = tq.where(f"project = {_quote(project)}")

        async def text():
            if tq is None:
                return None
            try:
                return await tq.to_arrow()
            except ValueError:
                return None  # a query LanceDB will not take: the vector hits still count
            # Anything else is the index failing (a damaged full-text index): said, not
            # swallowed, or keyword matching would silently stop.

        async def both():
            import asyncio

            return await asyncio.gather(vq.to_arrow(), text())

        vres, tres = _run(both())
        vec_hits = _similarities(vres)
        if tres is None:
            return vec_hits, []
        vectors = _matrix(tres)
        ids, scores = tres["id"].to_pylist(), tres["_score"].to_pylist()
        texts = tres["text"].to_pylist() if with_text else [""] * len(ids)
        text_hits = [
            (i, float(sc), vectors[k], texts[k])
            for k, (i, sc) in enumerate(zip(ids, scores, strict=True))
        ]
        return vec_hits, text_hits

    def probe(self, dim: int) -> None:
        """One tiny vector query and one keyword query, run as a search runs them, so a
        damaged index (either part) is found by `status` and `memrl index`, not by a search."""
        import numpy as np

        self.candidates(np.full(dim, dim**-0.5, dtype=np.float32), "memrl", 1)

    def hashes(self) -> dict[str, str]:
        return self.hashes_and_doubles()[0]

    @_guarded
    def hashes_and_doubles(self) -> tuple[dict[str, str], list[str]]:
        """Each row's content hash by id, and the ids found in more than one row."""
        from collections import Counter

        table = self.table()
        res = table.search().select(["id", "content_hash"]).limit(None).to_arrow()
        ids = res["id"].to_pylist()
        twice = [i for i, n in Counter(ids).items() if n > 1]
        return dict(zip(ids, res["content_hash"].to_pylist(), strict=True)), twice

    @_guarded
    def vectors(self, ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Vectors for the given ids (all rows if None), as one float32 matrix."""
        import numpy as np

        table = self.table()
        out_ids: list[str] = []
        parts = []
        if ids is None:
            res = table.search().select(["id", "vector"]).limit(None).to_arrow()
            out_ids = res["id"].to_pylist()
            parts.append(_matrix(res))
        else:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                res = (
                    table.search()
                    .where(f"id IN ({','.join(_quote(i) for i in chunk)})")
                    .select(["id", "vector"])
                    .limit(len(chunk))
                    .to_arrow()
                )
                out_ids += res["id"].to_pylist()
                parts.append(_matrix(res))
        parts = [p for p in parts if len(p)]
        if parts:
            return out_ids, np.concatenate(parts)
        dim = int(table.schema.field("vector").type.list_size)
        return out_ids, np.zeros((0, dim), np.float32)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread's rebuild: this process removes its own when done
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: leave its folder alone
    return True


def _nearest(table, vector: np.ndarray, limit: int, project: str | None, refine: int | None):
    """An async vector query: the `limit` nearest rows by cosine, optionally in one project."""
    query = table.query().nearest_to(vector).distance_type("cosine").limit(limit)
    if refine:
        query = query.refine_factor(refine)
    query = query.select(["id", "_distance"])
    return query.where(f"project = {_quote(project)}") if project else query


def _vector_index_kind(rows: int, have: str | None = None) -> str:
    """IVF_FLAT keeps every vector whole in the index (154 MB at 100k, all of it read into
    memory by a process's first query); IVF_SQ keeps them in 8 bits, and queries re-score
    their candidates with the exact vectors. Below QUANTISED_MIN_ROWS the flat index is
    small and a little faster, and a quantised index stays until the table is a fifth
    smaller."""
    threshold = QUANTISED_MIN_ROWS * (0.8 if have == QUANTISED else 1)
    return QUANTISED if rows >= threshold else "IvfFlat"


def _vector_index(kind: str):
    from lancedb.index import IvfFlat, IvfSq

    return (IvfSq if kind == QUANTISED else IvfFlat)(distance_type="cosine")


def _similarities(res) -> list[tuple[str, float]]:
    ids, distances = res["id"].to_pylist(), res["_distance"].to_pylist()
    return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]


def _matrix(res) -> np.ndarray:
    import numpy as np

    if res.num_rows == 0:
        return np.zeros((0, 0), np.float32)
    col = res["vector"].combine_chunks()
    dim = col.type.list_size
    return np.asarray(col.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)
