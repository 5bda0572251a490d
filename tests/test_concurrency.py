"""Several processes share one store as a matter of course: nothing is lost, nothing is half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memrl import maintenance

pytestmark = pytest.mark.slow
WORKER = [sys.executable, "-m", "tests.capture_worker"]
ROOT = Path(__file__).resolve().parent.parent


def _spawn(worker: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [*WORKER, worker, str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def test_four_processes_capturing_at_once_lose_nothing(memory):
    procs = [_spawn(str(w), 100) for w in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    files = list((memory.root / "episodes").rglob("*.json"))
    assert len(files) == 400
    assert memory.count() == 400
    st = maintenance.status(memory)
    assert st.index.health.rows == 400
    assert st.index.fresh and not st.disk.corrupt and not st.disk.new
    for w in range(4):
        assert len(memory.search(f"worker {w} task 42", project=f"proj-{w}").hits) >= 1


def test_sigkill_mid_capture_leaves_no_partial_file_and_index_reconciles(memory):
    proc = _spawn("k", 10_000)
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 120
    while seen < 15 and time.monotonic() < deadline:
        if proc.stdout.readline():
            seen += 1
    time.sleep(0.013)  # land somewhere inside the next capture
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert seen >= 15
    files = list((memory.root / "episodes").rglob("*.json"))
    for f in files:
        assert not f.name.startswith(".tmp-")
        memory.store.load_path(f)  # every file is a whole, valid episode
    a_while_ago = time.time() - 120  # what the killed writer left is stale by the next index
    for tmp in (memory.root / "episodes").rglob(".tmp-*"):
        os.utime(tmp, (a_while_ago, a_while_ago))
    disk, report = maintenance.sync_index(memory)
    assert not disk.corrupt
    assert memory.count() == len(files)
    assert report.fresh and report.health.rows == len(files)
    assert not list((memory.root / "episodes").rglob(".tmp-*"))


def test_two_edits_of_one_episode_at_once_keep_both_changes(data_dir):
    """An edit reads the episode, changes it and writes it back. A second writer (another
    process: its own Memory) that edits while the first has read must not be overwritten."""
    import threading

    from memrl.memory import Memory
    from tests.conftest import HashEmbedder, episode

    first = Memory(data_dir, embedder=HashEmbedder())
    second = Memory(data_dir, embedder=HashEmbedder())
    ep = first.capture(episode(summary="one episode, two editors")).episode
    has_read, second_done = threading.Event(), threading.Event()
    get = first.get

    def get_then_wait(ref, **kw):
        view = get(ref, **kw)
        has_read.set()
        second_done.wait(timeout=1.0)  # the other editor writes now, if nothing stops it
        return view

    first.get = get_then_wait  # type: ignore[method-assign]
    editor = threading.Thread(target=first.update, args=(ep.id, {"tags": ["from-first"]}))
    editor.start()
    assert has_read.wait(timeout=5)
    second.update(ep.id, {"what_failed": ["from the second"]})
    second_done.set()
    editor.join(timeout=10)
    stored = Memory(data_dir, embedder=HashEmbedder()).get(ep.id).episode
    assert stored.tags == ["from-first"] and stored.what_failed == ["from the second"]


def test_two_edits_at_once_leave_the_index_with_the_later_text(data_dir):
    """Each edit embeds its text after saving it. The slower of two edits must not write
    its older text over the newer one's row: the index ends as the file reads."""
    import threading

    from memrl.memory import Memory
    from tests.conftest import HashEmbedder, episode

    slow = Memory(data_dir, embedder=HashEmbedder())
    fast = Memory(data_dir, embedder=HashEmbedder())
    ep = slow.capture(episode(summary="first wording of the fix")).episode
    saved, fast_done = threading.Event(), threading.Event()
    embed = slow.embedder.embed

    def embed_late(texts):
        saved.set()  # the slow edit has saved its file: the fast one edits now
        fast_done.wait(timeout=5)
        return embed(texts)

    slow.embedder.embed = embed_late  # type: ignore[method-assign]
    editor = threading.Thread(target=slow.update, args=(ep.id, {"summary": "older wording zq1"}))
    editor.start()
    assert saved.wait(timeout=5)
    fast.update(ep.id, {"summary": "newer wording zq2"})
    fast_done.set()
    editor.join(timeout=10)

    reader = Memory(data_dir, embedder=HashEmbedder())
    assert reader.get(ep.id).episode.summary == "newer wording zq2"
    assert maintenance.index_report(reader).fresh
    assert reader.search("zq2").hits[0].id == ep.id


def test_an_edit_that_changes_nothing_writes_nothing(fast_memory):
    from tests.conftest import episode

    ep = fast_memory.capture(episode()).episode
    same = fast_memory.update(ep.id, {"outcome": ep.outcome.value, "tags": list(ep.tags)})
    assert same.updated_at == ep.updated_at
    assert fast_memory.get(ep.id).episode.updated_at == ep.updated_at


KILLED_IMPORT = """
import os, sys
from memrl.memory import Memory
from memrl.store.ledger import Ledger
from tests.conftest import HashEmbedder

setattr(Ledger, sys.argv[1], lambda *args, **kwargs: os._exit(137))
Memory(embedder=HashEmbedder()).import_(open(sys.argv[2], encoding="utf-8"))
"""


@pytest.mark.parametrize("dies_in", ["upsert_catalog", "put_states"])
def test_an_import_killed_in_its_ledger_write_loses_no_learning(data_dir, tmp_path, dies_in):
    """SIGKILL once the files are written: `memrl index` catalogues what is on disk, and
    the same import run again gives every episode what the export learned about it."""
    import json

    from memrl.memory import Memory
    from tests.conftest import HashEmbedder, episode

    source = Memory(tmp_path / "source", embedder=HashEmbedder())
    ids = [source.capture(episode(summary=f"lesson {n}")).episode.id for n in range(4)]
    source.learning.feedback(ids[:3], helpful=True)
    dump = tmp_path / "all.jsonl"
    dump.write_text("".join(json.dumps(item) + "\n" for item in source.export()))

    proc = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, dies_in, str(dump)],
        cwd=ROOT,
        capture_output=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert proc.returncode == 137, proc.stderr[-2000:]
    memory = Memory(data_dir, embedder=HashEmbedder())
    assert len(list((data_dir / "episodes").rglob("*.json"))) == 4
    maintenance.sync_index(memory)  # `memrl index`
    assert memory.import_(dump.read_text().splitlines()).skipped_existing == 4
    for i in ids:
        assert memory.ledger.state(i) == source.ledger.state(i)
        assert [e[1:] for e in memory.ledger.events(i)] == [e[1:] for e in source.ledger.events(i)]
    assert memory.search("lesson", limit=4).hits
