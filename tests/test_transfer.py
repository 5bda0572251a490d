"""Export and import: a lossless round trip, and one batched write for a large import."""

from __future__ import annotations

import json

import pytest

from benchmarks import synthetic
from memrl.store import Filters
from tests.conftest import HashEmbedder, episode


def test_export_import_round_trip_is_lossless(fast_memory, tmp_path):
    from memrl.memory import Memory

    a = fast_memory.capture(
        episode(
            task="t1",
            summary="first",
            what_worked=["w"],
            tags=["x"],
            errors_resolved=[{"error": "E", "resolution": "R"}],
        )
    ).episode
    b = fast_memory.capture(episode(task="t2", summary="second", session_id="s9")).episode
    c = fast_memory.capture(episode(task="t1", summary="first", what_worked=["w"])).episode
    # What capture would fill in, left empty by an edit: the import must not fill it either.
    bare = {"task": "", "project": "", "task_type": "unknown", "tags": []}
    d = fast_memory.update(fast_memory.capture(episode(summary="third")).episode.id, bare)
    assert all(getattr(d, k) == v for k, v in bare.items())
    fast_memory.learning.feedback([a.id], helpful=True)
    fast_memory.learning.feedback([c.id], helpful=False)  # its neighbour a is pulled down
    fast_memory.set_pinned([b.id], True)
    fast_memory.archive([b.id])
    lines = [json.dumps(item) for item in fast_memory.export()]
    assert len(lines) == 4
    assert any(json.loads(line)["learning"]["p"] < 0 for line in lines)

    other = Memory(tmp_path / "other", embedder=HashEmbedder())
    result = other.import_(lines)
    assert result.imported == 4 and not result.errors
    for original in (a.id, b.id, c.id, d.id):
        mine, theirs = fast_memory.get(original), other.get(original)
        assert mine.episode.model_dump() == theirs.episode.model_dump()
        assert mine.archived == theirs.archived
        assert mine.learned.helpful == theirs.learned.helpful
        assert mine.learned.q == pytest.approx(theirs.learned.q)
        history = [e[1:] for e in fast_memory.ledger.events(original)]
        assert history == [e[1:] for e in other.ledger.events(original)]
    assert [json.dumps(item) for item in other.export()] == lines
    other.close()


def test_an_imported_history_keeps_which_ratings_were_undone(fast_memory, tmp_path):
    """An import numbers events anew; the undone rating stays undone, and only the one
    standing can be taken back."""
    from memrl.errors import InvalidInput
    from memrl.memory import Memory

    a = fast_memory.capture(episode(task="cors", summary="Added an OPTIONS handler")).episode
    b = fast_memory.capture(episode(task="tls", summary="Renewed certs with certbot")).episode
    fast_memory.learning.feedback([b.id], helpful=True)  # events before a's shift a's numbers
    fast_memory.learning.feedback([a.id], helpful=True)
    fast_memory.learning.undo_feedback(a.id)
    fast_memory.learning.feedback([a.id], helpful=True)
    lines = [json.dumps(item) for item in fast_memory.export()]

    other = Memory(tmp_path / "other", embedder=HashEmbedder())
    mine = other.capture(episode(task="dns", summary="Lowered the TTL")).episode
    for _ in range(3):  # its events come first: the imported ones are numbered after them
        other.learning.feedback([mine.id], helpful=True)
    other.import_(lines)
    other.learning.undo_feedback(a.id)
    with pytest.raises(InvalidInput, match="no rating left to undo"):
        other.learning.undo_feedback(a.id)
    learned = other.rows([a.id])[a.id].learned
    assert (learned.helpful, learned.evidence) == (0, 0) and learned.q == pytest.approx(0.5)
    other.close()


def test_large_import_is_one_batched_operation(fast_memory, monkeypatch):
    calls = {"embed": 0, "upsert": 0}
    embed, upsert = fast_memory.embedder.embed, fast_memory.index.upsert

    def counting_embed(texts):
        calls["embed"] += 1
        return embed(texts)

    def counting_upsert(*args, **kwargs):
        calls["upsert"] += 1
        return upsert(*args, **kwargs)

    monkeypatch.setattr(fast_memory.embedder, "embed", counting_embed)
    monkeypatch.setattr(fast_memory.index, "upsert", counting_upsert)
    progress = []
    result = fast_memory.import_(
        synthetic.jsonl(3000), progress=lambda d, t: progress.append((d, t))
    )
    assert result.imported == 3000
    assert calls["embed"] == 12 and calls["upsert"] == 2  # 256-text batches, 2048-row appends
    assert progress[-1] == (3000, 3000)
    assert fast_memory.count() == 3000
    assert fast_memory.index.health().rows == 3000
    stats = fast_memory.index.table().stats()
    assert stats["fragment_stats"]["num_fragments"] <= 2


def test_import_skips_what_is_already_there(fast_memory):
    lines = list(synthetic.jsonl(20))
    assert fast_memory.import_(lines).imported == 20
    again = fast_memory.import_(lines)
    assert again.imported == 0 and again.skipped_existing == 20


def test_an_interrupted_import_keeps_whole_chunks_and_finishes_when_run_again(
    fast_memory, monkeypatch
):
    import memrl.transfer

    monkeypatch.setattr(memrl.transfer, "CHUNK", 10)
    lines = list(synthetic.jsonl(35))
    embed, calls = fast_memory.embedder.embed, []

    def failing_embed(texts):
        calls.append(len(texts))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return embed(texts)

    monkeypatch.setattr(fast_memory.embedder, "embed", failing_embed)
    with pytest.raises(RuntimeError):
        fast_memory.import_(lines)
    assert fast_memory.count() == 20  # two whole chunks: files, catalog and index agree
    assert fast_memory.index.health().rows == 20
    again = fast_memory.import_(lines)
    assert again.imported == 15 and again.skipped_existing == 20
    assert fast_memory.count() == 35 and fast_memory.index.health().rows == 35


def test_import_reports_every_bad_line_and_writes_nothing(fast_memory):
    lines = [
        json.dumps({"summary": "fine", "project": "p"}),
        "{",
        json.dumps({"summary": ""}),
        json.dumps([1]),
        b"\xff\xfe",
        json.dumps({"summary": "dup", "id": "a" * 32}),
        json.dumps({"summary": "dup", "id": "a" * 32}),
        json.dumps({"summary": "edited", "learning": {"q": 7, "helpful": -3}}),
        json.dumps({"summary": "later", "created_at": "2099-01-01T00:00:00Z"}),
        json.dumps({"summary": "odd", "learning": {"history": [{"cause": "feedback"}]}}),
        json.dumps({"summary": "never", "learning": {"last_used_at": float("inf")}}),
        json.dumps({"summary": "far", "learning": {"last_used_at": 1e300}}),
        json.dumps({"summary": "before 1970", "learning": {"last_used_at": -1e12}}),
        json.dumps(
            {
                "summary": "odd",
                "learning": {
                    "history": [{"ts": 1e300, "cause": "feedback", "before": 0.5, "after": 0.6}]
                },
            }
        ),
    ]
    result = fast_memory.import_(lines)
    assert result.imported == 0
    text = "\n".join(result.errors)
    for n in (2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14):
        assert f"line {n}" in text
    assert "invalid learning: q " in text and "; helpful " in text and "in the future" in text
    assert fast_memory.count() == 0
    assert fast_memory.count(Filters(archived=True)) == 0


def test_import_redacts_secrets(fast_memory):
    token = "ghp_" + "a1B2c3D4" * 4 + "e5F6"
    result = fast_memory.import_([json.dumps({"summary": f"used {token} to push", "project": "p"})])
    assert result.imported == 1
    ep = fast_memory.get("latest").episode
    assert token not in ep.summary and ep.redactions


def test_a_stream_of_lines_without_ids_is_imported_once_each(fast_memory, monkeypatch):
    """Like `memrl import -` from a pipe: read once; the ids given when checking are kept."""
    import memrl.transfer

    monkeypatch.setattr(memrl.transfer, "CHUNK", 10)
    lines = (
        json.dumps({"summary": f"streamed lesson {n}", "project": "pipe", "tags": ["s"]})
        for n in range(25)
    )
    result = fast_memory.import_(lines)
    assert result.imported == 25 and not result.errors
    rows = fast_memory.list(Filters(project="pipe"), limit=None)
    assert sorted(r.summary for r in rows) == sorted(f"streamed lesson {n}" for n in range(25))
    assert fast_memory.index.health().rows == 25
    assert all(fast_memory.get(r.id).episode.id == r.id for r in rows)
    assert not list(fast_memory.root.glob("**/tmp*"))  # the checked lines left no file behind


def test_lines_without_ids_imported_again_add_nothing(fast_memory):
    """A hand-written file (no ids, no dates) imported twice, or with a line repeated, is
    one episode a distinct line: its id is made from what the line holds."""
    lines = [
        json.dumps({"task": "ws", "summary": "Fixed the nginx websocket upgrade"}),
        json.dumps({"task": "redis", "summary": "Tuned the redis cache ttl"}),
        json.dumps({"task": "ws", "summary": "Fixed the nginx websocket upgrade"}),
    ]
    first = fast_memory.import_(lines)
    assert (first.imported, first.skipped_existing, first.errors) == (2, 1, [])
    again = fast_memory.import_(lines)
    assert (again.imported, again.skipped_existing, again.differing) == (0, 3, [])
    assert fast_memory.count() == 2 and fast_memory.index.health().rows == 2
    # a line that differs in anything is another episode, its learning and archived too;
    # an id given as null or "" is no id
    ws = {"task": "ws", "summary": "Fixed the nginx websocket upgrade"}
    other = fast_memory.import_(
        [
            json.dumps({"task": "ws", "summary": "Fixed the websocket"}),
            json.dumps({**ws, "learning": {"q": 0.9, "evidence": 2, "helpful": 2}}),
            json.dumps({**ws, "archived": True}),
            json.dumps({**ws, "id": None}),
            json.dumps({**ws, "id": ""}),
        ]
    )
    assert (other.imported, other.skipped_existing) == (3, 2)
    assert fast_memory.count() == 4 and fast_memory.count(Filters(archived=True)) == 1
    assert max(r.learned.q for r in fast_memory.list(limit=None)) == pytest.approx(0.9)


def test_the_index_keeps_up_with_captures_one_at_a_time(fast_memory):
    """Single appends are folded into the indices every few writes, so keyword scores stay
    comparable and searches do not slow down under a pile of one-row fragments."""
    from memrl.index import OPTIMIZE_EVERY, STATS_EVERY

    assert fast_memory.import_(synthetic.jsonl(900)).imported == 900
    lags = []
    for ep in synthetic.episodes(3 * OPTIMIZE_EVERY, seed=5):
        ep.pop("id")
        fast_memory.capture(ep)
        lags.append(fast_memory.index.table().index_stats("text_idx").num_unindexed_rows)
    assert max(lags) <= OPTIMIZE_EVERY + STATS_EVERY - 1
    assert lags.count(0) >= 2  # compacted more than once
    assert fast_memory.index.health().rows == 900 + 3 * OPTIMIZE_EVERY


def test_rows_waiting_for_compaction_are_compacted_on_request(fast_memory):
    """A process about to sit idle folds the rows that wait for compaction into the indices,
    so the next search does not pay for them; it never waits for another writer."""
    from filelock import FileLock

    from memrl.index import Index
    from memrl.maintenance import sync_index

    assert fast_memory.import_(synthetic.jsonl(300)).imported == 300
    index = fast_memory.index
    assert index.compact_waiting() == 0  # nothing waits after an import
    for ep in synthetic.episodes(3, seed=8):
        ep.pop("id")
        fast_memory.capture(ep)
    stats = index.table().index_stats("text_idx")
    assert stats.num_unindexed_rows == 3  # too few to compact on the write path

    with FileLock(str(index.folder / ".write.lock")):  # another process is writing
        assert Index(index.folder, index.model_id, 384).compact_waiting() == 0
    assert index.table().index_stats("text_idx").num_unindexed_rows == 3

    assert index.compact_waiting() == 3
    assert index.table().index_stats("text_idx").num_unindexed_rows == 0
    assert index.compact_waiting() == 0

    ep = next(synthetic.episodes(1, seed=10))
    ep.pop("id")
    fast_memory.capture(ep)
    _disk, report = sync_index(fast_memory)  # `memrl index` with nothing to repair
    assert report.embedded == 0
    assert index.table().index_stats("text_idx").num_unindexed_rows == 0
    latest = fast_memory.get("latest").episode
    assert fast_memory.search(latest.summary, limit=1).hits[0].id == latest.id
    assert index.health().rows == 304


def test_a_large_table_gets_a_quantised_vector_index_whose_answers_stay_exact(
    fast_memory, monkeypatch
):
    """Past QUANTISED_MIN_ROWS the vector index keeps 8-bit vectors (a quarter of the memory);
    queries re-score their candidates with the exact vectors, so similarities and
    neighbours are what an exhaustive search gives."""
    import numpy as np

    from memrl import index as ix

    monkeypatch.setattr(ix, "QUANTISED_MIN_ROWS", 2100)
    assert fast_memory.import_(synthetic.jsonl(2200)).imported == 2200
    index = fast_memory.index

    def kind():
        return {i.name: i.index_type for i in index.table().list_indices()}["vector_idx"]

    assert kind() == "IvfSq"
    ids, matrix = index.vectors()
    found = exact = 0
    for row in range(0, 2200, 110):
        hits = index.search_vector(matrix[row], 10)
        sims = matrix @ matrix[row]
        for episode_id, similarity in hits:
            assert similarity == pytest.approx(float(sims[ids.index(episode_id)]), abs=1e-5)
        best = {ids[i] for i in np.argsort(-sims)[:10]}
        found += len(best & {i for i, _s in hits})
        exact += len(best)
    assert found / exact >= 0.95

    # Another process's retraining is seen within KIND_TTL.
    from memrl.memory import Memory

    other = Memory(fast_memory.root, embedder=HashEmbedder()).index
    assert other._refine() == ix.REFINE
    monkeypatch.setattr(ix, "QUANTISED_MIN_ROWS", 10_000)  # the table is now "small" again
    index.optimize(whole=True)
    assert kind() == "IvfFlat"
    assert index._refine() is None
    monkeypatch.setattr(ix, "KIND_TTL", 0.0)
    assert other._refine() is None


def test_the_same_file_imported_twice_at_once_is_stored_once(fast_memory, tmp_path):
    """A second import that runs while the first is embedding finds its episodes stored."""
    from memrl.memory import Memory

    for n in range(3):
        ep = fast_memory.capture(episode(task=f"t{n}", summary=f"work {n}")).episode
        fast_memory.learning.feedback([ep.id], helpful=True)
    lines = [json.dumps(item) for item in fast_memory.export()]
    first = Memory(tmp_path / "other", embedder=HashEmbedder())
    second = Memory(tmp_path / "other", embedder=HashEmbedder())
    raced = []

    def meanwhile(done: int, total: int) -> None:
        if not raced:  # the first import has embedded, not yet written: the second runs whole
            raced.append(second.import_(lines))

    result = first.import_(lines, progress=meanwhile)
    assert raced[0].imported == 3 and result.imported == 0 and result.skipped_existing == 3
    for item in fast_memory.export():
        assert len(first.ledger.events(item["id"])) == len(item["learning"]["history"])
    assert first.count() == 3


def _taught_store(fast_memory):
    """Three episodes, two with feedback; their export lines."""
    ids = [
        fast_memory.capture(episode(task=f"t{n}", summary=f"work {n}")).episode.id for n in range(3)
    ]
    fast_memory.learning.feedback(ids[:2], helpful=True)
    fast_memory.learning.feedback(ids[:1], helpful=False)
    return ids, [json.dumps(item) for item in fast_memory.export()]


def _learning(memory, episode_id):
    return memory.ledger.state(episode_id), [e[1:] for e in memory.ledger.events(episode_id)]


def test_an_import_stopped_between_catalog_and_learning_leaves_neither(
    fast_memory, tmp_path, monkeypatch
):
    """Catalog rows and learning are one transaction: a kill between them cannot leave
    episodes that look imported but forgot what was learned."""
    from memrl.memory import Memory

    ids, lines = _taught_store(fast_memory)
    other = Memory(tmp_path / "other", embedder=HashEmbedder())

    def killed(conn, rows):
        raise RuntimeError("killed")

    monkeypatch.setattr(other.ledger, "put_states", killed)
    with pytest.raises(RuntimeError):
        other.import_(lines)
    assert other.count() == 0  # not catalogued without its learning
    monkeypatch.undo()
    assert other.import_(lines).imported == 3
    for i in ids:
        assert _learning(other, i) == _learning(fast_memory, i)
    other.close()


def test_an_import_killed_before_its_ledger_write_restores_learning_when_run_again(
    fast_memory, tmp_path, monkeypatch
):
    """The files were written, then the process died; `memrl index` catalogued them as new
    episodes that learned nothing. The same import, run again, gives them what the file
    knows, and leaves alone an episode that has learned something since."""
    from memrl import maintenance
    from memrl.memory import Memory

    ids, lines = _taught_store(fast_memory)
    other = Memory(tmp_path / "other", embedder=HashEmbedder())

    def killed(rows):
        raise RuntimeError("killed")

    monkeypatch.setattr(other.ledger, "upsert_catalog", killed)
    with pytest.raises(RuntimeError):
        other.import_(lines)
    monkeypatch.undo()
    assert len(list((other.root / "episodes").rglob("*.json"))) == 3
    maintenance.sync_index(other)  # `memrl index`: catalogued with nothing learned
    assert other.count() == 3 and not other.ledger.events(ids[0])
    other.learning.feedback([ids[1]], helpful=False)  # learned here since: kept
    own = _learning(other, ids[1])

    again = other.import_(lines)
    assert _learning(other, ids[0]) == _learning(fast_memory, ids[0])
    assert _learning(other, ids[1]) == own
    assert again.imported == 0 and again.skipped_existing == 3
    # ids[2] learned nothing, but when it arrived is its decay's clock: that is given back
    assert again.restored == 2
    assert other.ledger.state(ids[2]).added_at == fast_memory.ledger.state(ids[2]).added_at
    assert other.import_(lines).restored == 0
    other.close()


def test_an_export_with_episodes_dated_ahead_imports_and_keeps_their_dates(fast_memory, tmp_path):
    """A store whose clock ran ahead keeps what it captured; its export must restore."""
    import time

    from memrl.memory import Memory

    ahead = Memory(fast_memory.root, embedder=HashEmbedder(), clock=lambda: time.time() + 9e5)
    later = ahead.capture(episode(summary="captured while the clock ran ten days ahead")).episode
    fast_memory.capture(episode(summary="captured on time"))
    lines = [json.dumps(item) for item in fast_memory.export()]

    other = Memory(tmp_path / "other", embedder=HashEmbedder())
    result = other.import_(lines)
    assert result.imported == 2 and not result.errors and result.dated_ahead == 1
    assert other.get(later.id).episode.created_at == later.created_at
    other.close()


class OtherModel(HashEmbedder):
    model_id = "someone/else"


def test_an_import_into_an_index_of_another_model_stores_everything_and_says_what_to_run(
    fast_memory, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    import memrl.transfer
    from memrl.cli import app
    from memrl.memory import Memory

    monkeypatch.setattr(memrl.transfer, "CHUNK", 2)
    ids, lines = _taught_store(fast_memory)
    theirs = tmp_path / "theirs"
    Memory(theirs, embedder=OtherModel()).capture(episode(summary="indexed by another model"))
    other = Memory(theirs, embedder=HashEmbedder())
    embed, embedded = other.embedder.embed, []
    monkeypatch.setattr(other.embedder, "embed", lambda t: embedded.append(len(t)) or embed(t))

    result = other.import_(lines)
    assert result.imported == 3 and "memrl index --rebuild" in (result.index_problem or "")
    # The second chunk is embedded while the first is stored; nothing once the index is
    # known to refuse the vectors.
    assert embedded == [2, 1]
    assert other.count() == 4
    assert _learning(other, ids[0]) == _learning(fast_memory, ids[0])

    dump = tmp_path / "all.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("MEMRL_DATA_DIR", str(tmp_path / "third"))
    Memory(tmp_path / "third", embedder=OtherModel()).capture(episode(summary="foreign index"))
    cli = CliRunner().invoke(app, ["import", str(dump)])
    assert cli.exit_code == 5, cli.output
    assert "imported 3 episodes, with what was learned, but not searchable" in cli.output
    assert "importing again is not needed" in cli.output and "memrl index --rebuild" in cli.output


def test_export_to_dash_writes_stdout_and_a_full_disk_there_says_so(
    fast_memory, tmp_path, monkeypatch
):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from typer.testing import CliRunner

    from memrl.cli import app

    fast_memory.capture(episode(summary="one to export"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"] == "one to export"
    assert not (tmp_path / "-").exists()
    if not Path("/dev/full").exists():
        return
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "memrl"), "export"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
    assert proc.returncode == 4 and "No space left" in proc.stderr, proc.stderr
    assert "incomplete" in proc.stderr and "Traceback" not in proc.stderr


def test_a_first_import_stopped_before_its_index_write_is_not_an_empty_memory(
    fast_memory, tmp_path, monkeypatch
):
    """Episodes catalogued without an index: search says to run `memrl index`, which builds it."""
    from memrl import maintenance
    from memrl.errors import IndexUnavailable
    from memrl.memory import Memory

    _ids, lines = _taught_store(fast_memory)
    other = Memory(tmp_path / "other", embedder=HashEmbedder())

    def killed(rows, new=False):
        raise RuntimeError("killed")

    monkeypatch.setattr(other, "write_index", killed)
    with pytest.raises(RuntimeError):
        other.import_(lines)
    monkeypatch.undo()
    assert other.count() == 3 and not other.index.exists()
    with pytest.raises(IndexUnavailable, match="run `memrl index`"):
        other.search("work", limit=3)
    status = maintenance.status(other)
    assert not status.index.empty and not status.index_current
    _disk, report = maintenance.sync_index(other)
    assert report.fresh and report.health.rows == 3
    assert len(other.search("work", limit=3).hits) == 3
    other.close()


def test_an_import_killed_before_its_index_write_indexes_them_when_run_again(
    fast_memory, tmp_path, monkeypatch
):
    """Catalogued with their learning, then the process died before the index write: the
    same import, run again, skips them as present and makes them searchable."""
    from memrl.memory import Memory

    ids, lines = _taught_store(fast_memory)
    other = Memory(tmp_path / "other", embedder=HashEmbedder())
    other.import_([lines[0]])  # an index exists, as in any store used before

    def killed(rows, **_kw):
        raise RuntimeError("killed")

    monkeypatch.setattr(other, "write_index", killed)
    with pytest.raises(RuntimeError):
        other.import_(lines)
    monkeypatch.undo()
    assert other.count() == 3 and len(other.index.hashes()) == 1
    again = other.import_(lines)
    assert again.imported == 0 and again.indexed_present == 2
    assert set(other.index.hashes()) == set(ids)
    assert other.import_(lines).indexed_present == 0
    other.close()


def test_a_line_nested_too_deeply_is_a_bad_line_and_nothing_is_imported(tmp_path):
    from memrl.memory import Memory

    fresh = Memory(tmp_path / "new-store", embedder=HashEmbedder())
    deep = '{"summary": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = fresh.import_(['{"summary": "fine"}', deep])
    assert result.errors == ["line 2: not valid JSON (nested too deeply)"]
    assert result.imported == 0 and not (tmp_path / "new-store").exists()


def test_an_imported_store_learns_as_the_store_it_came_from(memory, tmp_path):
    """The copy has the original's similarity graph, so the same rating moves the same
    utilities: an imported episode keeps what its neighbours add when it is rated."""
    from memrl.memory import Memory

    rated = memory.capture(
        episode(task="Fix CORS for the new frontend", summary="Added the origin to the allow list.")
    ).episode.id
    near = memory.capture(
        episode(task="Fix CORS for the admin frontend", summary="Allowed the admin origin.")
    ).episode.id
    memory.capture(episode(task="Speed up the CI", summary="Cached pip downloads in CI."))
    for _ in range(3):
        memory.learning.feedback([rated], helpful=True)
    assert memory.get(near).learned.p > 0  # value spread to the similar episode
    copy = Memory(tmp_path / "copy")
    copy.import_(json.dumps(data) for data in memory.export())
    for store in (memory, copy):
        store.learning.feedback([near], helpful=True)
    for episode_id in (rated, near):
        original, imported = memory.get(episode_id).learned, copy.get(episode_id).learned
        assert (imported.q, imported.p) == pytest.approx((original.q, original.p))
    assert copy.get(near).learned.p > 0
    copy.close()


def test_learning_dates_may_be_written_as_the_episode_dates_are(fast_memory):
    """An export writes moments as seconds; a person editing one may write ISO 8601."""
    line = {
        **episode(summary="Rated once, by hand"),
        "id": "a" * 32,
        "created_at": "2026-03-01T09:00:00Z",
        "learning": {
            "q": 0.55,
            "evidence": 1,
            "helpful": 1,
            "last_used_at": "2026-03-02T10:30:00+00:00",
            "history": [
                {"ts": "2026-03-02T10:30:00", "cause": "feedback", "before": 0.5, "after": 0.55}
            ],
        },
    }
    fast_memory.import_([json.dumps(line)])
    learned = fast_memory.get("a" * 32).learned
    assert learned.last_used_at == 1_772_447_400.0 and learned.helpful == 1
    assert fast_memory.ledger.events("a" * 32)[0][1] == 1_772_447_400.0  # naive: UTC
    bad = {**line, "id": "b" * 32, "learning": {"last_used_at": "yesterday"}}
    (error,) = fast_memory.import_([json.dumps(bad)]).errors
    assert "last_used_at" in error and fast_memory.count() == 1


def test_an_import_sets_what_neighbours_add_by_this_stores_graph(fast_memory):
    """A file's `p` that this store's graph does not give (here written by hand: 0 beside a
    rated look-alike) is set right by the import and recorded there, so no later prune or
    rating near it moves it under the name of a neighbour that did nothing."""
    text = "deploy pipeline staging docker build cache step"
    rated, near = f"{1:032x}", f"{2:032x}"
    lines = [
        json.dumps(
            {
                "id": i,
                "task": f"{text} {i[-1]}",
                "summary": text,
                "learning": {"q": q, "p": 0, "evidence": evidence, "unhelpful": evidence},
            }
        )
        for i, q, evidence in ((rated, 0.2, 2), (near, 0.5, 0))
    ]
    assert fast_memory.import_(lines).imported == 2
    assert fast_memory.ledger.state(near).p < -0.1
    assert fast_memory.learning.propagate(dry_run=True).changes == []  # a fixed point already
    [row] = fast_memory.ledger.events(near)
    assert (row[2], row[3]) == ("propagation", rated)
    assert row[4] == pytest.approx(0.5)  # from what the file said


def test_a_whole_export_imported_again_records_no_propagation(fast_memory, tmp_path):
    """The graph an export's values came from is the one its import builds: nothing moves."""
    from memrl.memory import Memory

    for n in range(3):
        fast_memory.capture(episode(task=f"deploy pipeline staging docker {n}", summary="cache"))
    first = fast_memory.list()[0].id
    fast_memory.learning.feedback([first], helpful=False)
    copy = Memory(tmp_path / "copy", embedder=HashEmbedder())
    copy.import_(json.dumps(data) for data in fast_memory.export())
    for row in fast_memory.list():
        events = [e[1:] for e in fast_memory.ledger.events(row.id)]
        assert [e[1:] for e in copy.ledger.events(row.id)] == events
        assert copy.ledger.state(row.id).p == pytest.approx(fast_memory.ledger.state(row.id).p)
    copy.close()


def test_while_a_first_import_runs_search_and_status_say_to_wait_not_to_index(tmp_path):
    """Before its first chunk is stored there is no index: that is the import's doing, and
    `memrl index` beside it would only embed everything a second time."""
    from memrl.errors import IndexUnavailable
    from memrl.memory import Memory
    from memrl.store import files

    importer = Memory(tmp_path / "store", embedder=HashEmbedder())
    watcher = Memory(tmp_path / "store", embedder=HashEmbedder())  # another process's view
    seen = []

    def meanwhile(done: int, total: int) -> None:
        if not seen:  # embedded, nothing stored yet
            seen.append(watcher.index.health().problem)
            with pytest.raises(IndexUnavailable) as refused:
                watcher.index.table()
            seen.append(str(refused.value))
            searched.extend(watcher.search("redis cache").warnings)

    searched: list[str] = []
    importer.import_(synthetic.jsonl(20), progress=meanwhile)
    assert len(seen) == 2 and all("a `memrl import` under way builds it" in t for t in seen)
    assert searched == [
        "nothing is stored yet: a `memrl import` under way stores its first episodes within a "
        "minute; search again then"
    ]
    assert not files.import_running(tmp_path / "store")  # it ended: no longer under way
    assert watcher.index.health().problem is None
    alone = Memory(tmp_path / "none", embedder=HashEmbedder()).index.health().problem
    assert alone == "the search index does not exist; run `memrl index`."


def test_a_line_last_used_in_the_future_is_counted_as_dated_ahead(tmp_path):
    """It would not decay until then: the import says so, as for a creation date ahead."""
    from memrl.memory import Memory

    memory = Memory(tmp_path / "store", embedder=HashEmbedder())
    line = {"summary": "x", "learning": {"q": 0.7, "evidence": 1, "helpful": 1}}
    soon = {**line, "summary": "y", "learning": {**line["learning"], "last_used_at": 1_000}}
    later = {**line, "learning": {**line["learning"], "last_used_at": 1_990_000_000}}
    result = memory.import_([json.dumps(soon), json.dumps(later)])
    assert result.imported == 2 and result.dated_ahead == 1
    memory.close()


def test_an_import_names_episodes_present_whose_archived_state_differs(fast_memory, tmp_path):
    """Two episodes imported, then merged where they came from: importing that store again
    keeps the live originals, and names them as archived in the file."""
    from memrl.memory import Memory

    a, b = (
        fast_memory.capture(episode(summary=f"Fixed the cache invalidation in {name}")).episode.id
        for name in ("alpha", "beta")
    )
    before = [json.dumps(item) for item in fast_memory.export()]
    fast_memory.curation.merge(fast_memory.curation.merge_plan([a, b]))
    after = [json.dumps(item) for item in fast_memory.export()]

    other = Memory(tmp_path / "other", embedder=HashEmbedder())
    other.import_(before)
    again = other.import_(after)
    assert again.imported == 1 and sorted(again.archived_in_file) == sorted([a, b])
    assert again.differing == []
    assert other.count() == 3  # the stored copies are kept, and said to differ
    # archived in both, but edited here: it differs; it is not "live here"
    other.archive([a, b])
    other.update(a, {"summary": "Edited here after archiving"}, archived=True)
    last = other.import_(after)
    assert last.archived_in_file == [] and last.differing == [a]
    other.close()


def test_each_imported_episode_gets_its_own_texts_vector(memory, monkeypatch):
    """Embedding runs in the background, partly while the file is still checked: whichever
    way a vector was made, it is the model's vector of that episode's text alone."""
    import numpy as np

    import memrl.transfer

    monkeypatch.setattr(memrl.transfer, "EMBED_BATCH", 4)  # started while checking: 12
    monkeypatch.setattr(memrl.transfer, "AHEAD", 12)
    monkeypatch.setattr(memrl.transfer, "CHUNK", 10)  # the rest: chunk by chunk
    lines = list(synthetic.jsonl(45))
    archived = json.loads(lines[7]) | {"archived": True}  # stored, never embedded
    lines[7] = json.dumps(archived)
    progress: list[tuple[int, int]] = []
    result = memory.import_(lines, progress=lambda done, total: progress.append((done, total)))
    assert result.imported == 45 and not result.errors
    ids, matrix = memory.index.vectors()
    assert len(ids) == 44 and archived["id"] not in ids
    for episode_id, vector in zip(ids, matrix, strict=True):
        text = memory.store.load(episode_id).embedding_text()
        assert float(vector @ memory.embedder.embed_query(text)) == pytest.approx(1.0, abs=1e-5)
    assert progress[-1] == (44, 44)
    assert [done for done, _t in progress] == sorted(done for done, _t in progress)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


def test_import_progress_counts_the_lines_checked_then_the_episodes_stored(fast_memory):
    progress: list[tuple[int, int]] = []
    fast_memory.import_(synthetic.jsonl(1200), progress=lambda d, t: progress.append((d, t)))
    checked = [done for done, total in progress if not total]
    stored = [(done, total) for done, total in progress if total]
    assert checked == [500, 1000]  # lines, before anything is stored
    assert progress.index(stored[0]) > progress.index((1000, 0))
    assert stored[-1] == (1200, 1200) and all(total == 1200 for _d, total in stored)
