"""The episode store: files on disk, ids and prefixes, archive, and faults that lose nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from memrl import maintenance
from memrl.errors import (
    Ambiguous,
    CorruptFile,
    InvalidInput,
    ModelUnavailable,
    NotFound,
    StoreError,
)
from memrl.store import Filters
from tests.conftest import HashEmbedder, episode


def test_capture_writes_one_json_file_by_day(fast_memory):
    ep = fast_memory.capture(episode(task="Fix login", summary="Fixed the login")).episode
    path = fast_memory.root / "episodes" / ep.created_at.strftime("%Y-%m-%d") / f"{ep.id}.json"
    data = json.loads(path.read_text())
    assert data["summary"] == "Fixed the login" and data["id"] == ep.id
    assert data["schema_version"] == 1
    assert not list(path.parent.glob(".tmp-*"))


def test_project_defaults_to_the_git_repository(fast_memory, tmp_path):
    repo = tmp_path / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = git@github.com:acme/shop.git\n'
    )
    (repo / "src").mkdir()
    ep = fast_memory.capture({"summary": "x"}, cwd=repo / "src").episode
    assert ep.project == "acme/shop"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"summary": ""}, "summary must not be empty"),
        ({"summary": "   "}, "summary must not be empty"),
        (
            {"summary": "x", "outcome": "won"},
            "outcome must be one of success, partial, failure, unknown",
        ),
        ({"summary": "x", "task_type": "yak"}, "task_type must be one of"),
        ({"summary": "x", "colour": "red"}, "colour is not an episode field"),
        ({"summary": "x", "tags": "not-a-list"}, "tags"),
        ({"summary": "bad \udcff utf-8"}, "not valid UTF-8"),
        ({"summary": "x" * 20_001}, "limit is 20,000"),
        ({"summary": "x", "task": "t" * 2_001}, "limit is 2,000"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(fast_memory, data, message):
    fast_memory.capture(episode())
    with pytest.raises(InvalidInput, match=message):
        fast_memory.capture({"project": "p", **data})
    assert fast_memory.count() == 1
    assert len(list((fast_memory.root / "episodes").rglob("*.json"))) == 1


def test_prefixes_resolve_and_ambiguity_lists_matches(fast_memory):
    ids = []
    for n in range(40):
        ids.append(fast_memory.capture(episode(summary=f"episode {n}")).episode.id)
    target = ids[7]
    assert fast_memory.resolve(target[:12]) == target
    assert fast_memory.resolve("latest") == ids[-1]
    with pytest.raises(NotFound, match="at least 4"):
        fast_memory.resolve(target[:3])
    with pytest.raises(NotFound, match="no episode matches"):
        fast_memory.resolve("ffffffffffff")
    # two episodes whose ids share a prefix
    a = fast_memory.capture(episode(id="abcd" + "0" * 28, summary="a")).episode.id
    b = fast_memory.capture(episode(id="abcd" + "1" * 28, summary="b")).episode.id
    with pytest.raises(Ambiguous) as exc:
        fast_memory.resolve("abcd")
    assert f"({b[:8]}, {a[:8]})" in str(exc.value)  # short ids, as every view shows them


def test_an_ambiguous_prefix_counts_every_match_and_tells_the_shown_ones_apart(fast_memory):
    """Ids imported from elsewhere may share far more than 8 characters."""
    for n in range(60):
        fast_memory.capture(episode(id=f"{n:032x}", summary=f"imported {n}"))
    with pytest.raises(Ambiguous) as exc:
        fast_memory.resolve("00000000")
    message = str(exc.value)
    assert message.startswith("'00000000' matches 60 episodes (") and "and 50 more" in message
    shown = message.split("(", 1)[1].split(" and ")[0].split(", ")
    assert len(shown) == 10 == len(set(shown)) and all(len(s) == 32 for s in shown)


def test_archive_and_restore_lose_no_field(fast_memory):
    ep = fast_memory.capture(
        episode(
            task="t",
            summary="s",
            what_worked=["w"],
            what_failed=["f"],
            files=["a.py"],
            commands=["pytest"],
            tags=["x"],
            errors_resolved=[{"error": "E1", "resolution": "R1"}],
        )
    ).episode
    before = ep.model_dump()
    fast_memory.archive([ep.id[:8]])
    assert fast_memory.count() == 0
    assert (fast_memory.root / "archive" / ep.day() / f"{ep.id}.json").exists()
    with pytest.raises(NotFound, match="archived"):
        fast_memory.resolve(ep.id[:8])
    fast_memory.restore([ep.id[:8]])
    assert fast_memory.get(ep.id).episode.model_dump() == before


def test_corrupt_file_is_reported_skipped_and_never_crashes(fast_memory):
    good = fast_memory.capture(episode(summary="fine episode about caching")).episode
    bad = fast_memory.capture(episode(summary="soon broken episode about caching")).episode
    path = fast_memory.root / "episodes" / bad.day() / f"{bad.id}.json"
    path.write_text('{"summary": "half a fi')
    st = maintenance.status(fast_memory)
    assert [p for p, _e in st.disk.corrupt] == [f"episodes/{bad.day()}/{bad.id}.json"]
    assert "not valid JSON" in st.disk.corrupt[0][1]
    assert maintenance.corrupt_files(fast_memory) == st.disk.corrupt  # remembered, cheap to ask
    with pytest.raises(CorruptFile, match="fix the file"):
        fast_memory.get(bad.id)
    result = fast_memory.search("caching episode", with_episodes=True)
    assert [h.id for h in result.hits] == [good.id]
    assert any(bad.id[:8] in w for w in result.warnings)
    maintenance.sync_index(fast_memory)  # reconciling leaves the broken file alone
    assert path.read_text() == '{"summary": "half a fi'
    path.write_text(bad.to_json())  # mended by hand
    maintenance.status(fast_memory)
    assert maintenance.corrupt_files(fast_memory) == []


def test_files_copied_with_new_times_are_not_changes_and_are_read_once(fast_memory, monkeypatch):
    """A store copied or restored without its file times (cp -r, some backups): status
    must not call every episode changed, nor read every file again on each run."""
    eps = [fast_memory.capture(episode(summary=f"episode {n}")).episode for n in range(3)]
    paths = sorted((fast_memory.root / "episodes").rglob("*.json"))
    for path in paths:
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    edited = fast_memory.store.load(eps[0].id).model_copy(update={"summary": "edited by hand"})
    next(p for p in paths if eps[0].id in p.name).write_text(edited.to_json())
    st = maintenance.status(fast_memory)
    assert st.disk.changed == [eps[0].id] and not st.disk.new and not st.disk.corrupt
    reads = []
    load = type(fast_memory.store).load_path
    monkeypatch.setattr(
        type(fast_memory.store), "load_path", lambda s, p: reads.append(p) or load(s, p)
    )
    assert maintenance.status(fast_memory).disk.changed == [eps[0].id]
    assert [p.name for p in reads] == [f"{eps[0].id}.json"]  # the touched ones are not read


def test_a_write_during_the_scan_keeps_its_own_catalog_row(fast_memory, monkeypatch):
    """status refreshes a touched file's times only where no write came in meanwhile."""
    ep = fast_memory.capture(episode(summary="touched while scanned")).episode
    path = next((fast_memory.root / "episodes").rglob(f"{ep.id}.json"))
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    ledger = fast_memory.ledger
    newer = replace(ledger.catalog(ep.id), summary="written by another process", updated_at=1.0)
    load = type(fast_memory.store).load_path

    def load_then_another_write(store, p):
        loaded = load(store, p)
        ledger.upsert_catalog([newer])  # lands between this scan's read and its refresh
        return loaded

    monkeypatch.setattr(type(fast_memory.store), "load_path", load_then_another_write)
    maintenance.status(fast_memory)
    assert ledger.catalog(ep.id) == newer


def test_a_file_moved_by_hand_is_put_back_by_memrl_index(fast_memory):
    ep = fast_memory.capture(episode(summary="filed under the wrong day")).episode
    home = next((fast_memory.root / "episodes").rglob(f"{ep.id}.json"))
    stray = fast_memory.root / "episodes" / "2020-01-01" / home.name
    stray.parent.mkdir()
    home.rename(stray)
    assert maintenance.status(fast_memory).disk.changed == [ep.id]
    maintenance.sync_index(fast_memory)
    assert home.is_file() and not stray.exists()
    assert fast_memory.get(ep.id[:8]).episode.summary == "filed under the wrong day"
    fast_memory.update(ep.id, {"tags": ["found"]})  # and it is written where it is read
    assert [p.name for p in fast_memory.root.rglob(f"{ep.id}.json")] == [home.name]


def test_a_second_copy_of_an_episode_is_reported_and_left_alone(fast_memory):
    ep = fast_memory.capture(episode(summary="copied by hand")).episode
    home = next((fast_memory.root / "episodes").rglob(f"{ep.id}.json"))
    copy = fast_memory.root / "episodes" / "2020-01-01" / home.name
    copy.parent.mkdir()
    copy.write_bytes(home.read_bytes())
    _disk, _report = maintenance.sync_index(fast_memory)
    [(path, why)] = maintenance.corrupt_files(fast_memory)
    assert path == f"episodes/2020-01-01/{home.name}" and "second copy" in why
    assert home.is_file() and copy.is_file()
    assert fast_memory.get(ep.id[:8]).episode.summary == "copied by hand"


def test_memrl_index_removes_stale_temp_files_but_not_a_write_in_progress(fast_memory):
    ep = fast_memory.capture(episode(summary="beside two temp files")).episode
    day = next((fast_memory.root / "episodes").rglob(f"{ep.id}.json")).parent
    stale, live = day / ".tmp-killed", day / ".tmp-writing"
    stale.write_text("{half")
    live.write_text("{being written")
    os.utime(stale, (1_700_000_000, 1_700_000_000))
    assert maintenance.status(fast_memory).disk.leftovers == 1
    maintenance.sync_index(fast_memory)
    assert not stale.exists() and live.exists()  # another process may be about to rename it


@pytest.mark.parametrize("code", ["EROFS", "EACCES"])
def test_read_only_data_dir_gives_a_clear_error_and_keeps_data(fast_memory, monkeypatch, code):
    import errno

    from memrl.store import files

    fast_memory.capture(episode())

    def refuse(*_args, **_kwargs):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    unlink = Path.unlink

    def refuse_episodes(path: Path, *args, **kwargs):  # a read-only mount: even a missing file
        if files.EPISODES in path.parts:
            refuse()
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(Path, "unlink", refuse_episodes)
    with pytest.raises(StoreError, match="read-only"):
        fast_memory.capture(episode(summary="another"))
    monkeypatch.undo()
    assert fast_memory.count() == 1
    assert fast_memory.get("latest").episode.summary == "a summary of the work"


def test_full_disk_is_reported_clearly(fast_memory, monkeypatch):
    import errno

    from memrl.store import files

    real = os.fdopen

    def full(*args, **kwargs):
        fh = real(*args, **kwargs)

        def write(_data):
            raise OSError(errno.ENOSPC, "No space left on device")

        fh.write = write
        return fh

    monkeypatch.setattr(files.os, "fdopen", full)
    with pytest.raises(StoreError, match="no space left"):
        fast_memory.capture(episode())
    monkeypatch.undo()
    assert fast_memory.count() == 0
    assert not list((fast_memory.root / "episodes").rglob(".tmp-*"))


def test_list_filters(fast_memory):
    fast_memory.capture(episode(summary="a", project="p1", tags=["db"], outcome="failure"))
    fast_memory.capture(episode(summary="b", project="p2", tags=["ui"]))
    assert [r.summary for r in fast_memory.list(Filters(project="p1"))] == ["a"]
    assert [r.summary for r in fast_memory.list(Filters(tag="ui"))] == ["b"]
    assert [r.summary for r in fast_memory.list(Filters(outcome="failure"))] == ["a"]
    assert fast_memory.count() == 2
    odd = "CPU at 100% in snake_case_job"
    fast_memory.capture(episode(summary=odd, tags=["x_y"]))
    for text, found in (("%", [odd]), ("_", [odd]), ("a_b", []), ("1%0", [])):  # not wildcards
        assert [r.summary for r in fast_memory.list(Filters(text=text))] == found, text
    assert fast_memory.list(Filters(tag="x%")) == [] and fast_memory.list(Filters(tag="x_")) == []
    assert len(fast_memory.list(Filters(tag="x_y"))) == 1


def test_a_lost_index_is_not_restarted_with_one_episode(fast_memory):
    import shutil

    fast_memory.capture(episode(summary="first"))
    fast_memory.capture(episode(summary="second"))
    shutil.rmtree(fast_memory.root / "vectors")
    result = fast_memory.capture(episode(summary="third"))
    assert any("memrl index" in w for w in result.warnings)
    assert not fast_memory.index.exists()  # a one-row index would hide the other two
    _disk, report = maintenance.sync_index(fast_memory)
    assert report.fresh and report.health.rows == 3


class UnloadableModel(HashEmbedder):
    def embed(self, texts):
        raise ModelUnavailable("the embedding model could not be loaded (model.onnx is corrupt).")


def test_a_capture_whose_model_cannot_load_keeps_the_episode_for_memrl_index(fast_memory):
    from memrl.memory import Memory

    fast_memory.capture(episode(summary="an earlier episode"))
    broken = Memory(fast_memory.root, embedder=UnloadableModel())
    with pytest.raises(ModelUnavailable, match=r"corrupt\)\. The episode itself is saved as"):
        broken.capture(episode(summary="quokka migration notes"))
    assert fast_memory.count() == 2  # nothing typed is lost
    saved = next(r for r in fast_memory.list() if r.summary == "quokka migration notes")
    _disk, report = maintenance.sync_index(fast_memory)
    assert report.fresh and report.health.rows == 2
    assert fast_memory.search("quokka migration", limit=1).hits[0].id == saved.id


def test_a_capture_the_ledger_cannot_record_leaves_no_file_so_its_retry_stores_it_once(
    fast_memory, monkeypatch
):
    """The error asks for a retry: an episode file left behind would be a second copy."""
    fast_memory.capture(episode(summary="an earlier episode"))

    def locked(rows):
        raise StoreError("memrl.db stayed locked by another memrl process for 30 s; retry")

    with monkeypatch.context() as mp:
        mp.setattr(fast_memory.ledger, "upsert_catalog", locked)
        with pytest.raises(StoreError, match="retry"):
            fast_memory.capture(episode(summary="quokka migration notes"))
    assert len(list(fast_memory.root.glob("episodes/*/*.json"))) == 1
    fast_memory.capture(episode(summary="quokka migration notes"))  # the retry
    assert len(list(fast_memory.root.glob("episodes/*/*.json"))) == fast_memory.count() == 2
    assert maintenance.index_report(fast_memory).fresh


def test_oversized_summary_names_the_summary_limit(fast_memory):
    with pytest.raises(InvalidInput, match="summary is 1,500,000 characters; the limit is 20,000"):
        fast_memory.capture(episode(summary="x" * 1_500_000))


def test_an_edit_over_the_summary_limit_is_refused_and_keeps_the_episode(fast_memory):
    ep = fast_memory.capture(episode(summary="short")).episode
    with pytest.raises(InvalidInput, match="the limit is 20,000"):
        fast_memory.update(ep.id, {"summary": "x" * 20_001})
    assert fast_memory.get(ep.id).episode.summary == "short"


def test_capturing_an_existing_id_is_refused(fast_memory):
    ep = fast_memory.capture(episode(summary="original")).episode
    with pytest.raises(InvalidInput, match="already exists"):
        fast_memory.capture(episode(summary="impostor", id=ep.id))


def test_session_episodes_filter_by_source_and_archive_in_creation_order(fast_memory):
    def add(task, source, at, session="s1"):
        data = episode(task=task, source=source, session_id=session, created_at=at)
        return fast_memory.capture(data).episode.id

    hook = add("hook", "hook", 1_700_000_000)
    first = add("first", "mcp", 1_700_000_100)
    second = add("second", "mcp", 1_700_000_200)
    add("elsewhere", "mcp", 1_700_000_300, session="s2")
    fast_memory.archive([second])
    ledger = fast_memory.ledger
    assert [r.id for r in ledger.session_episodes("s1")] == [hook, first, second]
    assert [r.id for r in ledger.session_episodes("s1", source="mcp", newest_first=True)] == [
        second,
        first,
    ]
    assert [r.id for r in ledger.session_episodes("s1", source="mcp", archived=False)] == [first]
    assert ledger.session_episodes("s3") == []


def test_a_ledger_from_an_earlier_version_gains_the_sources_index_and_keeps_its_rows(fast_memory):
    from memrl.store.ledger import Ledger

    fast_memory.capture(episode(summary="kept"))
    fast_memory.learning.feedback(["latest"], True)
    path = fast_memory.ledger.path
    fast_memory.ledger.conn.execute("DROP INDEX state_sources")  # as an earlier memrl left it
    fast_memory.close()

    ledger = Ledger(path)
    ask = "SELECT 1 FROM state WHERE evidence > 0 LIMIT 1"
    plan = " ".join(str(r) for r in ledger.conn.execute("EXPLAIN QUERY PLAN " + ask))
    assert "state_sources" in plan  # "has any episode evidence?" no longer scans every row
    assert ledger.conn.execute(ask).fetchone() == (1,)
    assert [r.summary for r in ledger.all_catalog().values()] == ["kept"]


def test_a_ledger_from_before_arrival_times_is_read_alike_writable_or_not(data_dir, monkeypatch):
    from memrl.memory import Memory
    from memrl.store import ledger as ledger_module

    made = time.time() - 100 * 86400
    first = Memory(data_dir, embedder=HashEmbedder())
    episode_id = first.capture(episode(created_at=made)).episode.id
    first.ledger.conn.execute("ALTER TABLE state DROP COLUMN added_at")  # as an earlier memrl
    first.close()

    def cannot_write(_conn):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    with monkeypatch.context() as patched:  # a read-only mount: nothing can be migrated
        patched.setattr(ledger_module, "_settings", cannot_write)
        read_only = Memory(data_dir, embedder=HashEmbedder())
        (row,) = read_only.list(sort="utility")
        assert row.learned.decay == pytest.approx(0.99**100, rel=1e-3)  # arrived when made
        read_only.close()
    writable = Memory(data_dir, embedder=HashEmbedder())
    assert writable.get(episode_id).learned.decay == pytest.approx(0.99**100, rel=1e-3)
    fresh = writable.capture(episode(summary="today, about last year", created_at=made))
    assert writable.get(fresh.episode.id).learned.decay == pytest.approx(1.0)
    writable.close()


def test_a_tag_is_one_line_lower_case_without_its_hash():
    from memrl.episode import parse

    ep = parse({"summary": "s", "tags": ["Auth", "x\ny", "#hash", "  two   words ", "AUTH"]})
    assert ep.tags == ["auth", "x y", "hash", "two words"]


def test_an_error_and_its_resolution_may_be_written_as_one_line():
    from memrl.episode import parse

    ep = parse(
        {"summary": "s", "errors_resolved": ["ImportError: numpy => pinned numpy<2", "flaky"]}
    )
    assert [(e.error, e.resolution) for e in ep.errors_resolved] == [
        ("ImportError: numpy", "pinned numpy<2"),
        ("flaky", ""),
    ]


def test_an_episode_captured_during_a_rebuild_is_searchable_after_it(fast_memory):
    """The rebuild swaps in a table built from a snapshot; what was captured meanwhile went
    to the table it replaced, and is added after the swap."""
    from memrl import maintenance
    from tests.conftest import episode

    for n in range(3):
        fast_memory.capture(episode(summary=f"Earlier work number {n}"))
    batches = maintenance._embedded_batches
    late: list[str] = []

    def capture_midway(*args, **kwargs):
        for batch in batches(*args, **kwargs):
            if not late:
                late.append(fast_memory.capture(episode(summary="Captured mid-rebuild")).episode.id)
            yield batch

    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(maintenance, "_embedded_batches", capture_midway)
        _disk, report = maintenance.sync_index(fast_memory, rebuild=True)
    assert report.rebuilt and report.fresh and not report.missing
    assert late[0] in fast_memory.index.hashes()


def test_an_episode_indexed_twice_is_reported_counted_once_and_repaired(fast_memory):
    """A capture and an index run may both add the same new episode; nothing may break."""
    from memrl.index import IndexRow

    a = fast_memory.capture(episode(summary="Retried the payment webhook with backoff")).episode
    b = fast_memory.capture(episode(summary="Retried the payment webhook with jitter")).episode
    vector = fast_memory.embedder.embed([a.embedding_text()])[0]
    # a blind second add, as a capture would make if it did not look
    fast_memory.write_index([IndexRow.of(a, vector)], unseen_at=fast_memory.index.version())
    report = maintenance.index_report(fast_memory)
    assert report.doubled == [a.id] and not report.fresh
    changes = fast_memory.learning.feedback([b.id], helpful=True)  # spreads to a once
    assert [c.id for c in changes if c.cause != "feedback"] == [a.id]
    assert fast_memory.learning.propagate().changes == []
    _disk, report = maintenance.sync_index(fast_memory)
    assert report.fresh and report.health.rows == 2 and report.embedded == 1
    assert [h.id for h in fast_memory.search("payment webhook", limit=5).hits].count(a.id) == 1


def test_an_episode_indexed_by_memrl_index_during_its_capture_gets_one_row(
    fast_memory, monkeypatch
):
    """`memrl index` may catch up on a capture's new file before the capture indexes it."""
    fast_memory.capture(episode(summary="An episode so that the index exists"))
    save = fast_memory.store.save

    def save_then_catch_up(episodes):
        save(episodes)
        assert maintenance.index_live(fast_memory, [episodes[0].id]) == 1  # another process

    monkeypatch.setattr(fast_memory.store, "save", save_then_catch_up)
    ep = fast_memory.capture(episode(summary="Retried the payment webhook with backoff")).episode
    report = maintenance.index_report(fast_memory)
    assert report.fresh and report.doubled == [] and report.health.rows == 2
    assert [h.id for h in fast_memory.search("payment webhook", limit=5).hits].count(ep.id) == 1


def test_update_refuses_an_archived_episode_unless_asked(fast_memory):
    ep = fast_memory.capture(episode(summary="Kept for the record")).episode
    fast_memory.archive([ep.id])
    with pytest.raises(NotFound, match="archived: `memrl restore` brings it back"):
        fast_memory.update(ep.id, {"task": "changed"})
    assert fast_memory.update(ep.id, {"task": "changed"}, archived=True).task == "changed"


def test_an_edit_from_an_older_version_writes_only_its_own_changes(fast_memory):
    """An editor that read the episode a while ago: what another process changed since in
    other fields stays, and a change to the same field is refused, not overwritten."""
    from memrl.errors import Conflict

    m = fast_memory
    base = m.capture(episode(summary="Fixed the redirect", tags=["auth"])).episode
    m.update(base.id, {"tags": ["auth", "security"]})  # another process, meanwhile
    edited = base.model_copy(update={"summary": "Fixed the open redirect after login"})
    saved = m.update(base.id, edited, base=base)
    assert saved.summary == "Fixed the open redirect after login"
    assert saved.tags == ["auth", "security"]  # not reverted to the editor's old copy

    m.update(base.id, {"outcome": "failure"})  # another process changes the same field
    with pytest.raises(Conflict, match=r"changed elsewhere while you edited it \(outcome\)"):
        m.update(base.id, {"outcome": "partial"}, base=saved)
    assert m.get(base.id).episode.outcome.value == "failure"  # nothing was saved
    # the same change made twice is no conflict; forcing writes the editor's value
    assert m.update(base.id, {"outcome": "failure"}, base=saved).outcome.value == "failure"
    forced = m.update(base.id, {"outcome": "partial"}, base=saved, force=True)
    assert forced.outcome.value == "partial" and forced.tags == ["auth", "security"]


def test_an_episode_archived_while_it_is_being_indexed_leaves_no_row(fast_memory, monkeypatch):
    """The hooks index in the background: an archive landing meanwhile must stick."""
    m = fast_memory
    ep = m.capture(episode(summary="Checkpointed by a hook")).episode
    embed = m.embedder.embed

    def archived_meanwhile(texts):
        m.archive([ep.id])  # `memrl archive latest` while the model works
        return embed(texts)

    monkeypatch.setattr(m.embedder, "embed", archived_meanwhile)
    assert m.index_episode(ep.id) is False
    assert ep.id not in m.index.hashes()
    assert maintenance.index_report(m).orphans == []


def test_a_full_ledger_says_the_disk_is_full_and_keeps_what_was_stored(fast_memory):
    """SQLite rolls a failed COMMIT back itself: the error names the cause, nothing else."""
    kept = fast_memory.capture(episode()).episode
    conn = fast_memory.ledger._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # as if the disk had just filled up
    with pytest.raises(StoreError, match="the disk is full"), fast_memory.ledger.write() as c:
        c.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [(f"filler-{n}", "x" * 1000) for n in range(2_000)],
        )
    assert fast_memory.get(kept.id).episode.summary == kept.summary
    assert not conn.in_transaction


def test_a_ledger_that_cannot_be_written_for_a_full_disk_says_so(data_dir, monkeypatch):
    from memrl.memory import Memory
    from memrl.store import ledger

    first = Memory(data_dir, embedder=HashEmbedder())
    first.capture(episode())
    first.close()

    def no_wal(_conn):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ledger, "_settings", no_wal)
    monkeypatch.setattr(ledger, "_disk_full", lambda _folder: True)
    m = Memory(data_dir, embedder=HashEmbedder())
    assert m.count() == 1  # reading still works
    with pytest.raises(StoreError, match="the disk is full"):
        m.learning.feedback(["latest"], helpful=True)


def test_an_archive_the_ledger_refuses_leaves_the_episode_where_it_was(fast_memory, monkeypatch):
    ep = fast_memory.capture(episode()).episode
    path = fast_memory.root / fast_memory.ledger.catalog(ep.id).path

    def refuse(_rows):
        raise StoreError("cannot write memrl.db: the disk is full; free some space and retry")

    monkeypatch.setattr(fast_memory.ledger, "upsert_catalog", refuse)
    with pytest.raises(StoreError, match="disk is full"):
        fast_memory.archive([ep.id])
    monkeypatch.undo()
    assert path.is_file() and not fast_memory.ledger.catalog(ep.id).archived
    assert fast_memory.get(ep.id).episode.summary == ep.summary


@pytest.mark.parametrize(
    "garbage",
    [b"SQLite format 3\x00" + b"\x07" * 84, bytes(range(256)) * 16],
    ids=["truncated", "random"],
)
def test_a_broken_ledger_file_is_named_with_what_to_do(data_dir, garbage):
    from memrl.memory import Memory

    first = Memory(data_dir, embedder=HashEmbedder())
    first.capture(episode())
    first.close()
    for extra in data_dir.glob("memrl.db-*"):
        extra.unlink()
    (data_dir / "memrl.db").write_bytes(garbage)
    with pytest.raises(StoreError, match="not a usable memrl ledger.*Move it aside"):
        Memory(data_dir, embedder=HashEmbedder()).count()


def test_an_oversized_episode_names_its_size_and_where_it_is(fast_memory):
    big = {
        "summary": "Ported the importer",
        "outcome": "success",
        "what_worked": [f"{n}: " + "x" * 1900 for n in range(200)],
        "what_failed": [f"{n}: " + "y" * 900 for n in range(200)],
    }
    with pytest.raises(InvalidInput, match=r"is 5\d\d KB; at most 512 KB \(most of it in what_wo"):
        fast_memory.capture(big)
    assert fast_memory.count() == 0


def test_replacing_writes_through_a_fifo_and_leaves_it_a_fifo(tmp_path):
    """`-o /dev/stdout`, `-o >(gzip …)`: a file put in a pipe's place would reach nobody."""
    import threading

    from memrl.store import files

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    with files.replacing(fifo) as fh:
        fh.write("line\n")
    reader.join(5)
    assert got == ["line\n"] and fifo.is_fifo()


def test_replacing_follows_a_symlink_and_keeps_the_link_and_its_target_mode(tmp_path):
    from memrl.store import files

    target = tmp_path / "dotfiles" / "real.txt"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o644)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    files.atomic_write_text(link, "new\n")
    assert link.is_symlink() and target.read_text() == "new\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert not list(tmp_path.rglob(".tmp-*"))


def test_an_episode_file_nested_too_deeply_is_unreadable_like_any_broken_file(fast_memory):
    from memrl.errors import MemrlError

    ep = fast_memory.capture(episode(summary="kept")).episode
    path = fast_memory.store.path_for(ep)
    path.write_text('{"summary": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(MemrlError, match="nested too deeply") as caught:
        fast_memory.get(ep.id)
    assert caught.value.exit_code == 1 and "restore it from a backup" in str(caught.value)
    with pytest.raises(MemrlError, match="nested too deeply"):
        fast_memory.store.raw(ep.id)
    [(rel, why)] = maintenance.status(fast_memory).disk.corrupt
    assert rel.endswith(f"{ep.id}.json") and "nested too deeply" in why


def test_text_loses_terminal_controls_on_the_way_in_and_when_a_file_holds_them(fast_memory):
    """Colour codes from shell output, a screen clear, a window title, a bell: none may
    reach the terminal that shows the episode later (CLI, TUI, session-start context)."""
    ep = fast_memory.capture(
        episode(
            task="esc \x1b[2J\x1b]0;pwned\x07 title",
            summary="red \x1b[31mRED\x1b[0m done\r\nctl \x01\x07 bell\tend",
            what_worked=["\x1b(Bplain"],
        )
    ).episode
    assert ep.task == "esc  title" and ep.what_worked == ["plain"]
    assert ep.summary == "red RED done\nctl  bell\tend"
    path = fast_memory.store.path_for(ep)
    path.write_text(path.read_text().replace("done", "done \\u001b[5mblink\\u0007"))
    assert fast_memory.get(ep.id).episode.summary == "red RED done blink\nctl  bell\tend"


def test_a_catalog_written_before_controls_were_dropped_loses_them_once(data_dir):
    """A store from an earlier memrl keeps the raw text in its catalog, which `list` and
    every table print: opening it drops the controls there, as loading a file does."""
    from memrl.memory import Memory

    m = Memory(data_dir, embedder=HashEmbedder())
    ep = m.capture(episode(task="Release notes", project="acme/web")).episode
    with m.ledger.write() as c:  # as the earlier memrl left it
        c.execute(
            "UPDATE episodes SET task = ?, summary = ?", ("old \x1b]0;pwned\x07 title", "a\x1b[2Jb")
        )
        c.execute("DELETE FROM meta WHERE key = 'controls_dropped'")
    m.close()
    again = Memory(data_dir, embedder=HashEmbedder())
    [row] = again.list()
    assert (row.id, row.task, row.summary, row.project) == (ep.id, "old  title", "ab", "acme/web")


def test_several_bad_refs_are_named_in_one_sentence_each(fast_memory):
    from memrl.errors import NotFound

    with pytest.raises(NotFound) as refused:
        fast_memory.set_pinned(["ffff1", "eeee2"], True)
    assert str(refused.value) == (
        "no episode matches 'ffff1'; no episode matches 'eeee2'. Nothing was changed."
    )
    with pytest.raises(NotFound) as refused:
        fast_memory.archive(["ffff1", "eeee2"])
    assert ".;" not in str(refused.value) and str(refused.value).endswith(". Nothing was changed.")


def test_a_new_episode_gets_an_id_no_other_shares_the_first_eight_characters_of(
    fast_memory, monkeypatch
):
    """Ids are shown by their first 8 characters: at 100k random ids two would likely share
    them, so a capture draws again rather than take a taken prefix."""
    import memrl.intake

    first = fast_memory.capture(episode(summary="first")).episode.id
    drawn = iter([first[:8] + "0" * 24, first[:8] + "1" * 24, "abcdef12" + "0" * 24])
    monkeypatch.setattr(memrl.intake, "new_id", lambda: next(drawn))
    second = fast_memory.capture(episode(summary="second")).episode.id
    assert second == "abcdef12" + "0" * 24
