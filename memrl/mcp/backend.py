"""One server process's hold on the store: its Memory, its session, its project, its warm-up.

Claude Code starts one server per open session, so many of these share one store; the
core makes that safe across processes. Within a process the SDK runs tool handlers on
worker threads, and a Memory is not meant to be driven by several threads at once, so
every call takes the backend's lock. The embedding model and LanceDB load on a
background thread as soon as the server starts (LanceDB under the same lock, the model
behind its own), so the first `memrl_retrieve` waits for at most the rest of that load
instead of starting it, and a call that needs neither does not wait. Once
calls pause, the index rows that wait for compaction are compacted (outside the lock: the
index has its own; by a child process in `memrl-mcp`, see `memrl.compactor`) and freed
heap goes back to the OS.

Nothing here imports the MCP SDK, LanceDB or the model at import time.
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from memrl import logs
from memrl.errors import ConfigError, MemrlError, StoreError

if TYPE_CHECKING:
    from memrl.config import Settings
    from memrl.index import Index
    from memrl.memory import Memory

T = TypeVar("T")
SESSION_ENV = "CLAUDE_CODE_SESSION_ID"  # set by Claude Code for the MCP servers it starts
LOG_FILE = logs.MCP_LOG
IDLE_TRIM_SECONDS = 2.0
M_ARENA_MAX = -8  # glibc's mallopt parameter
TRIM_POLL_SECONDS = 60.0  # how often an idle trim thread checks that its server still exists
REDO = (
    "Restore the folder from a backup, or run `memrl init` in a terminal to start a new store "
    "there; the next call uses it."
)


def session_from_env() -> str:
    """Claude Code's session id when it passed one, so hooks and the server agree on it."""
    given = os.environ.get(SESSION_ENV, "").strip()
    if given and len(given) <= 200 and given.isprintable():
        return given
    return f"mcp-{uuid.uuid4().hex}"


def _glibc(function: str, *args: int) -> None:
    """Call one of glibc's malloc tunings; elsewhere (musl, macOS, Windows) do nothing."""
    try:
        getattr(ctypes.CDLL(None), function)(*args)
    except (OSError, AttributeError, TypeError):
        pass


def lean_heap() -> None:
    """Keep the server's freed memory where a trim returns it; call it before any thread
    starts, and before pyarrow allocates.

    glibc gives each thread that allocates an arena of its own (up to eight per core), and
    each arena keeps its own freed memory. A server runs a dozen threads (the SDK's workers,
    LanceDB's runtime, ONNX Runtime's pool), so sharing two keeps about 17 MB less resident,
    with no change in retrieve latency that could be measured. pyarrow allocates from its
    own mimalloc heap by default, which keeps what each capture's rows used (6 to 8 MB after
    ten captures); from malloc, `_trim_heap` hands that back too.
    """
    _glibc("mallopt", M_ARENA_MAX, 2)
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def _trim_heap() -> None:
    """Hand freed memory back to the OS: model loading leaves ~60 MB of freed heap behind."""
    gc.collect()
    _glibc("malloc_trim", 0)


def _trim_loop(ref: weakref.ref[Backend], called: threading.Event) -> None:
    """One thread for the life of a server: after each burst of calls, one trim. It holds
    the backend only while trimming, and ends once the backend is gone."""
    while ref() is not None:
        if called.wait(timeout=TRIM_POLL_SECONDS):
            backend = ref()
            if backend is not None:
                backend._trim_after_pause()
            del backend


class Backend:
    def __init__(
        self,
        memory: Memory | None = None,
        *,
        session_id: str | None = None,
        project: str | None = None,
    ) -> None:
        from memrl.project import detect_session

        self._memory = memory
        self._lock = threading.RLock()
        self.session_id = session_id or session_from_env()
        self.project = project or detect_session()
        self._warm_thread: threading.Thread | None = None
        self._last_call = 0.0
        self._called = threading.Event()
        self._trimmer: threading.Thread | None = None
        self._compacting = threading.Lock()  # held by an idle compaction under way
        self._closing = False
        self.warm_error: str | None = None

    # the store -----------------------------------------------------------------------

    def _open(self) -> Memory:
        """The Memory, over the store in its data dir now: a store deleted and made again
        while the server ran (`rm -rf`, then any memrl command) is opened afresh; one deleted
        and not made again is refused, as nothing learned could be kept."""
        if self._memory is None:
            from memrl.memory import Memory

            self._memory = Memory()
        lost = self._memory.ledger.lost()
        if lost == "replaced":
            self._memory = self._memory.reopened()
        elif lost:
            raise StoreError(
                f"the memrl store {self._memory.root} was deleted while this server was "
                f"running, so nothing was done: there is nowhere to keep what is learned. {REDO}"
            )
        return self._memory

    @contextmanager
    def use(self) -> Iterator[Memory]:
        """The Memory, held by this thread alone until the block ends."""
        with self._lock:
            yield self._open()

    def call(self, fn: Callable[[Memory], T]) -> T:
        with self.use() as memory:
            try:
                out = fn(memory)
            finally:
                self._trim_when_idle()
            if lost := memory.ledger.lost():  # while it ran: what it wrote went with the store
                then = (
                    "Call again: the next call uses the new store." if lost == "replaced" else REDO
                )
                raise StoreError(
                    f"the memrl store {memory.root} was deleted while this call ran, so what it "
                    f"found or recorded went with it: nothing of it was kept. {then}"
                )
            return out

    def call_despite_settings(self, fn: Callable[[Memory, str | None, bool], T]) -> T:
        """As `call`, but while the settings do not load (a broken config.toml) `fn` still
        runs, on the store opened with the default settings, and is given the error: status
        must say what is wrong when every other tool fails. With the store open already,
        they are read again, as a session's hooks and the next server will read them: `fn`
        is then given their error, and True (this server keeps the settings it opened with)."""
        from memrl import config

        with self._lock:
            opened = self._memory is not None
            try:
                self._open()
            except ConfigError as exc:
                from memrl.memory import Memory

                memory = Memory(self.data_dir, settings=config.Settings())
                try:
                    return fn(memory, str(exc), False)
                finally:
                    memory.close()
            now = None
            if opened:
                try:
                    config.load(self.data_dir)
                except ConfigError as exc:
                    now = str(exc)
            return self.call(lambda memory: fn(memory, now, now is not None))

    def _trim_when_idle(self) -> None:
        """Once calls pause: compact the index rows that wait for it (so the next search does
        not pay for them), and return the freed heap that captures and LanceDB writes leave."""
        self._last_call = time.monotonic()
        self._called.set()
        if self._trimmer is None:
            self._trimmer = threading.Thread(
                target=_trim_loop, args=(weakref.ref(self), self._called), name="memrl-trim"
            )
            self._trimmer.daemon = True
            self._trimmer.start()

    def _trim_after_pause(self) -> None:
        while (idle := time.monotonic() - self._last_call) < IDLE_TRIM_SECONDS:
            time.sleep(IDLE_TRIM_SECONDS - idle)
        self._called.clear()
        if not self._lock.acquire(blocking=False):  # a call is running: its end sets it again
            return
        try:
            memory = self._memory
            # Only if this process opened the index (no reason to load LanceDB now), and not
            # once the store was deleted: compaction would write into a folder not its own.
            index: Index | None = None
            if memory is not None and memory.index.opened and not memory.ledger.lost():
                index = memory.index
        except MemrlError:  # a model that cannot load (every call says so): nothing opened
            index = None
        finally:
            self._lock.release()
        if index is not None:
            with self._compacting:
                if not self._closing:
                    self._compact(index)
        if self._lock.acquire(blocking=False):
            try:
                _trim_heap()
            finally:
                self._lock.release()

    def _compact(self, index: Index) -> None:
        """Compact without holding the lock: compaction takes 0.1 s at 10k episodes, up to 5 s
        at 100k when it also retrains the vector index, and a call that arrives meanwhile
        should not wait for it. Searches read the table beside it; a write waits for the
        index's own lock, as it would for another process's compaction. (`memrl-mcp` only
        starts a child process here, which does the work.)"""
        try:
            index.compact_waiting()
        except Exception as exc:  # the next write compacts; never take the server down
            self.log_crash("idle compaction", exc)

    @property
    def data_dir(self) -> Path:
        if self._memory is not None:
            return self._memory.root
        from memrl import config

        return config.data_dir()

    def settings(self) -> Settings:
        """The settings the tools are declared with (`retrieval.limit`, a search's results
        when no limit is given; `capture.max_summary_chars`). A config.toml that does not load
        gives the defaults here: every tool call then says what is wrong with it."""
        from memrl import config

        memory = self._memory
        try:
            return memory.settings if memory is not None else config.load(self.data_dir)
        except MemrlError:
            return config.Settings()

    def finish(self, timeout: float) -> None:
        """Before the process exits: let the warm-up and an idle compaction under way end,
        and start no other. Native threads (ONNX Runtime's, LanceDB's) cut off in the middle
        of their work abort the process as it exits, after every reply was written."""
        deadline = time.monotonic() + timeout
        self._closing = True
        if self._warm_thread is not None:
            self._warm_thread.join(timeout)
        if self._compacting.acquire(timeout=max(0.0, deadline - time.monotonic())):
            self._compacting.release()

    # warm-up ---------------------------------------------------------------------------

    def start_warmup(self) -> None:
        """Load the model and open the index in the background; idempotent, and nothing
        once the server is closing."""
        if self._warm_thread is None and not self._closing:
            self._warm_thread = threading.Thread(target=self.warm, name="memrl-warmup", daemon=True)
            self._warm_thread.start()

    def warm(self) -> None:
        """The model loads outside the lock, behind the embedder's own, so that a call that
        needs no model (memrl_status, memrl_stats) does not wait for it; a search does."""
        try:
            with self.use() as memory:
                embedder = memory.embedder
            embedder.embed_query("warm up")
            if self._closing:  # nobody is left to search: exit without opening LanceDB
                return
            with self.use() as memory:
                if memory.exists():
                    memory.search("warm up", limit=1, log=False)  # opens LanceDB and its indices
        except MemrlError as exc:
            self.warm_error = str(exc)  # every tool call reports it again, with its fix
        except Exception as exc:  # never let the warm-up take the server down
            self.warm_error = f"warm-up failed: {exc}"
            self.log_crash("warm-up", exc)
        finally:
            _trim_heap()

    # unexpected errors -----------------------------------------------------------------

    def log_crash(self, where: str, exc: BaseException) -> Path | None:
        """Append the traceback to logs/mcp.log in the data dir; the server keeps going."""
        return logs.crash(self.data_dir, f"session {self.session_id} {where}", exc)
