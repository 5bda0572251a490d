"""The search index's faults: a damaged table, a full disk, rebuilds that overlap or die."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from memrl.errors import IndexUnavailable, StoreError
from tests.conftest import episode


@pytest.fixture
def stocked(fast_memory):
    for n in range(6):
        fast_memory.capture(episode(summary=f"Fixed redirect bug number {n}"))
    fast_memory.index.optimize()
    return fast_memory


def newest_data_file(memory):
    data = memory.root / "vectors" / "episodes.lance" / "data"
    return max(data.glob("*.lance"), key=os.path.getmtime)


def test_a_damaged_table_is_an_error_naming_the_rebuild(stocked):
    os.truncate(newest_data_file(stocked), 100)
    with pytest.raises(
        IndexUnavailable, match=r"damaged \(.*failed to fill.*`memrl index --rebuild`"
    ):
        stocked.search("redirect")
    with pytest.raises(IndexUnavailable, match="damaged") as caught:
        stocked.index.hashes()
    assert "/rustc/" not in str(caught.value)


def test_a_full_disk_while_indexing_is_named_with_what_to_do(stocked, monkeypatch):
    from memrl.index import IndexRow

    ep = stocked.store.load(stocked.resolve("latest"))
    row = IndexRow.of(ep, stocked.embedder.embed([ep.embedding_text()])[0])

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(stocked.index.table()), "merge_insert", full)
    with pytest.raises(StoreError, match="the disk is full.*`memrl index`"):
        stocked.index.upsert([row], stocked.embedder.dim, create_if_missing=False)


def test_two_rebuilds_at_once_both_finish_and_leave_one_whole_index(stocked):
    from memrl import maintenance

    errors = []

    def rebuild():
        try:
            maintenance.sync_index(stocked, rebuild=True)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=rebuild) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stocked.index.hashes()) == 6
    assert sorted(p.name for p in stocked.root.iterdir() if p.name.startswith("vectors")) == [
        "vectors"
    ]


def test_what_a_killed_rebuild_left_behind_is_cleared_by_the_next(stocked):
    dead = 2**22 + 12345  # above the default pid_max: no such process
    leftover = stocked.root / f"vectors.rebuild-{dead}-abc"
    (leftover / "episodes.lance").mkdir(parents=True)
    running = stocked.root / f"vectors.rebuild-{os.getppid()}-def"  # a process that is alive
    running.mkdir()
    from memrl import maintenance

    maintenance.sync_index(stocked, rebuild=True)
    assert not leftover.exists() and running.exists()
    assert len(stocked.index.hashes()) == 6


def test_a_capture_the_full_disk_stops_after_saving_says_it_is_saved(stocked, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(stocked.index.table()), "add", full)
    with pytest.raises(StoreError, match=r"disk is full.*saved as (\w{8}).*`memrl index`") as e:
        stocked.capture(episode(summary="Captured as the disk filled up"))
    saved = e.value.args[0].split("saved as ")[1][:8]
    assert stocked.get(saved).episode.summary == "Captured as the disk filled up"


def test_a_damaged_table_is_reported_by_status_and_repaired_by_a_rebuild(stocked):
    from memrl import maintenance

    os.truncate(newest_data_file(stocked), 100)
    assert "damaged" in (maintenance.status(stocked).index.health.problem or "")
    _disk, report = maintenance.sync_index(stocked, rebuild=True)
    assert report.rebuilt and report.fresh
    assert len(stocked.index.hashes()) == 6
    assert stocked.search("redirect bug").hits


def test_a_damaged_full_text_index_is_said_not_silently_dropped(stocked):
    """Keyword matching must not quietly stop: a search says the index needs rebuilding,
    `status` says so before any search, and a plain `memrl index` repairs it."""
    from memrl import maintenance

    indices = stocked.root / "vectors" / "episodes.lance" / "_indices"
    parts = list(indices.rglob("*invert*.lance"))
    assert parts
    for part in parts:
        os.truncate(part, 50)
    with pytest.raises(IndexUnavailable, match="damaged.*`memrl index --rebuild`"):
        stocked.search("redirect bug")
    assert "damaged" in (maintenance.status(stocked).index.health.problem or "")
    _disk, report = maintenance.sync_index(stocked)
    assert report.rebuilt and report.fresh
    assert maintenance.status(stocked).index.health.problem is None
    assert stocked.search("redirect bug number 3").hits[0].row.summary.endswith("3")


def test_a_process_that_compacts_in_a_child_leaves_the_work_to_it(stocked, monkeypatch):
    """The MCP server lives for a whole session: its writes and pauses start
    `memrl.compactor` rather than compact (and keep the memory that takes), and the
    rows that waited are folded in all the same."""
    import time

    import memrl.index as index_module
    from memrl.index import OPTIMIZE_EVERY, Index

    def not_here(*args, **kwargs):
        raise AssertionError("compacted in this process")

    monkeypatch.setattr(index_module, "_compact_in_child", True)
    monkeypatch.setattr(Index, "_optimize", not_here)
    ids = [
        stocked.capture(episode(summary=f"Tuned the cache for route {n}")).episode.id
        for n in range(OPTIMIZE_EVERY + 1)
    ]

    def waiting() -> int:  # read apart from this process's table, as another process would
        index = Index(stocked.index.folder, stocked.model_id, 384)
        return index.table().index_stats("text_idx").num_unindexed_rows

    deadline = time.monotonic() + 60
    while waiting() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert waiting() == 0
    assert stocked.index.compact_waiting() == 0  # nothing left for a pause to start
    assert set(ids) <= set(stocked.index.hashes())
    assert stocked.index.health().rows == 6 + OPTIMIZE_EVERY + 1


def test_the_compactor_is_told_which_index_and_makes_no_folder_that_is_gone(capsys, tmp_path):
    from memrl import compactor

    assert compactor.main([]) == 2
    assert "usage: python -m memrl.compactor <index folder>" in capsys.readouterr().err
    assert compactor.main([str(tmp_path / "deleted-store" / "vectors")]) == 0
    assert not (tmp_path / "deleted-store").exists()


def test_compactors_are_reaped_rerun_for_what_was_asked_meanwhile_and_not_rerun_after_failing(
    tmp_path, monkeypatch
):
    """No finished child lingers as a zombie; a request while one runs starts another once
    it ends (rows came after it looked); after one that found the index unwritable (exit
    status UNDONE), the next request waits RETRY_AFTER instead of starting another."""
    import subprocess
    import sys
    import time

    from memrl import background, compactor

    started: list[subprocess.Popen[bytes]] = []

    def child(status: int, seconds: float = 0.0):
        code = f"import time; time.sleep({seconds}); raise SystemExit({status})"

        def detached(*_args):
            started.append(subprocess.Popen([sys.executable, "-c", code]))
            return started[-1]

        return detached

    def settled(folder, count: int) -> compactor._Child:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with compactor._lock:
                last = compactor._children[folder]
                if len(started) == count and last.ended is not None:
                    return last
            time.sleep(0.02)
        raise AssertionError(f"{len(started)} children started, the last not ended")

    folder = tmp_path / "vectors"
    monkeypatch.setattr(compactor, "_children", {})
    monkeypatch.setattr(background, "detached", child(0, seconds=0.5))
    assert compactor.request(folder)
    assert not compactor.request(folder)  # it runs: kept for when it ends
    assert not compactor.request(folder)  # kept once
    last = settled(folder, 2)  # the second ran after the first by itself
    assert last.process.returncode == 0  # waited for: not a zombie
    assert all(p.returncode == 0 for p in started)
    monkeypatch.setattr(background, "detached", child(compactor.UNDONE))
    assert compactor.request(folder)
    assert settled(folder, 3).process.returncode == compactor.UNDONE
    assert not compactor.request(folder)  # read-only, say: not again straight away
    monkeypatch.setattr(compactor, "RETRY_AFTER", 0.0)
    assert compactor.request(folder)
    settled(folder, 4)


def test_the_compactor_says_when_rows_wait_that_it_could_not_compact(stocked, monkeypatch):
    from memrl import compactor
    from memrl.index import Index

    monkeypatch.setattr(Index, "_optimize", lambda *a, **k: None)  # leave a row waiting
    stocked.capture(episode(summary="Raised the upload timeout for the bucket"))
    monkeypatch.undo()
    assert stocked.index.waiting() == 1
    monkeypatch.setattr(compactor, "LOCK_WAIT", 0.2)
    with stocked.index._lock():  # another writer holds the index throughout
        assert compactor.main([str(stocked.index.folder)]) == compactor.UNDONE
    assert compactor.main([str(stocked.index.folder)]) == 0
    assert stocked.index.waiting() == 0


def test_a_compactor_that_cannot_start_fails_no_write(stocked, monkeypatch):
    import memrl.index as index_module
    from memrl import background

    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(index_module, "_compact_in_child", True)
    monkeypatch.setattr(background, "detached", no_process)
    saved = stocked.capture(episode(summary="Raised the upload timeout for the bucket"))
    assert saved.warnings == []  # not "saved, but not searchable yet"
    assert saved.episode.id in stocked.index.hashes()
    assert stocked.index.compact_waiting() == 0  # nothing started; the rows wait, searchable
    assert [h.id for h in stocked.search("upload timeout", limit=1).hits] == [saved.episode.id]


def test_a_compaction_that_finds_its_store_deleted_makes_nothing_again(stocked, monkeypatch):
    """rm -rf of the data dir between a compaction's look at what waits and its lock: it
    compacts nothing, and no empty `vectors/` folder brings the store back."""
    import shutil

    from memrl.index import Index

    index = Index(stocked.index.folder, stocked.model_id, 384)
    monkeypatch.setattr(Index, "waiting", lambda self: 3)  # what it saw before the rm -rf
    shutil.rmtree(stocked.root)
    assert index.compact_waiting() == 0
    assert not stocked.root.exists()


def test_a_capture_that_waits_too_long_for_the_index_is_saved_and_says_what_to_run(
    stocked, monkeypatch
):
    """Another process holds the index's write lock past LOCK_WAIT (a long rebuild): the
    episode is kept, the capture says so and names `memrl index`, which indexes it later."""
    from filelock import FileLock

    import memrl.index as index_module
    from memrl import maintenance

    monkeypatch.setattr(index_module, "LOCK_WAIT", 0.2)
    stocked.index._file_lock = None  # made again with the short wait
    with FileLock(str(stocked.index.folder / ".write.lock")):  # another process's, as it were
        saved = stocked.capture(episode(summary="Raised the upload timeout for the bucket"))
    (warning,) = saved.warnings
    assert warning.startswith("saved, but not searchable yet: the search index in ")
    assert "is busy" in warning and "`memrl index`" in warning
    assert stocked.get(saved.episode.id[:8]).episode.summary.startswith("Raised the upload")
    assert saved.episode.id not in stocked.index.hashes()
    maintenance.sync_index(stocked)
    assert saved.episode.id in stocked.index.hashes()
