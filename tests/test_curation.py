"""Prune, merge and review: plans first, nothing lost, everything restorable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memrl.errors import InvalidInput, NotFound
from memrl.learning.rules import DAY
from memrl.store import Filters
from tests.conftest import HashEmbedder, episode
from tests.test_learning import CREATED, Clock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def mem(data_dir, clock):
    from memrl.memory import Memory

    m = Memory(data_dir, clock=clock)
    yield m
    m.close()


def test_prune_plan_explains_and_spares_pinned_and_helpful(mem, clock):
    old = [
        mem.capture(episode(summary=f"old note {n} about caching", created_at=CREATED)).episode.id
        for n in range(4)
    ]
    mem.set_pinned([old[0]], True)
    mem.learning.feedback([old[1]], helpful=True)
    mem.learning.feedback([old[2]], helpful=False)
    clock.advance(150)
    fresh = mem.capture(episode(summary="fresh note")).episode.id
    kept: dict[str, int] = {}
    plan = mem.curation.prune_plan(kept=kept)
    ids = [c.row.id for c in plan]
    assert set(ids) == {old[2], old[3]}
    assert mem.curation.kept_text(kept) == "1 rated helpful"  # said, not hidden (pinned: no decay)
    assert fresh not in ids and old[0] not in ids and old[1] not in ids
    reasons = {c.row.id: c.reason for c in plan}
    assert "rated unhelpful 1×" in reasons[old[2]] and "unused for 150 days" in reasons[old[2]]
    assert "never retrieved" in reasons[old[3]]
    assert mem.count() == 5  # a plan changes nothing
    mem.curation.prune(ids)
    assert mem.count() == 3
    assert mem.curation.prune_plan() == []


def test_pruned_episode_restores_with_every_field(mem, clock):
    full = episode(
        task="t",
        summary="old and forgotten",
        what_worked=["w"],
        what_failed=["f"],
        files=["a.py"],
        commands=["make"],
        tags=["x"],
        created_at=CREATED,
        errors_resolved=[{"error": "E", "resolution": "R"}],
    )
    ep = mem.capture(full).episode
    clock.advance(365)
    mem.curation.prune([c.row.id for c in mem.curation.prune_plan()])
    assert mem.count() == 0
    mem.restore([ep.id[:8]])
    assert mem.get(ep.id).episode.model_dump() == ep.model_dump()
    # restored by hand: not offered for pruning again until unused for the prune's days
    assert mem.curation.prune_plan() == []
    clock.advance(91)
    assert [c.row.id for c in mem.curation.prune_plan()] == [ep.id]


def test_restoring_an_episode_merged_away_is_pointed_out(data_dir):
    from typer.testing import CliRunner

    from memrl.cli import app

    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result

    ids = [
        json.loads(run("capture", "--summary", s, "--json").stdout)["id"]
        for s in ("Retry the webhook with backoff", "Retry the webhook with jitter")
    ]
    merged = json.loads(run("merge", *ids, "--json").stdout)["id"]
    rated = run("feedback", "helpful", ids[1][:8])  # an id shown before the merge
    said = " ".join(rated.output.split())
    assert f"{ids[1][:8]} was merged into {merged[:8]}: {merged[:8]} was rated in its place" in said
    out = run("restore", ids[0][:8]).output
    assert f"{ids[0][:8]} was merged into {merged[:8]}, which is still live" in out


def test_show_names_the_episode_a_merged_away_one_went_into(fast_memory):
    """`memrl show` of an archived episode said only "archived"; merged away, it names the
    episode that holds what it knew (as retrieve does), and the detail pane of the TUI too."""
    from rich.console import Console
    from typer.testing import CliRunner

    from memrl.cli import app
    from memrl.tui.format import episode_text

    mem = fast_memory
    ids = [
        mem.capture(episode(summary=s)).episode.id
        for s in ("Retry the webhook with backoff", "Retry the webhook with jitter", "Other")
    ]
    merged = mem.curation.merge(mem.curation.merge_plan(ids[:2])).id
    mem.archive([ids[2]])
    runner = CliRunner()
    shown = runner.invoke(app, ["show", ids[0][:8]])
    assert f"archived · merged into {merged[:8]}" in shown.output, shown.output
    data = json.loads(runner.invoke(app, ["show", ids[0][:8], "--json"]).stdout)
    assert data["archived"] and data["merged_into"] == merged
    data = json.loads(runner.invoke(app, ["show", ids[2][:8], "--json"]).stdout)
    assert data["archived"] and data["merged_into"] is None  # archived by hand
    text = Console(width=100, record=True)
    text.print(episode_text(mem.get(ids[0]), mem.now()))
    assert f"archived · merged into {merged[:8]}" in text.export_text()


def test_restoring_a_merge_whose_originals_are_live_is_pointed_out(data_dir):
    """A merge taken back (its originals live again, the merge archived), then the merge
    restored by hand: every memory it holds is now found twice, and restore says so."""
    from typer.testing import CliRunner

    from memrl.cli import app

    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result

    def said(*args):
        return " ".join(run(*args).output.split())

    ids = [
        json.loads(run("capture", "--summary", s, "--json").stdout)["id"]
        for s in ("Retry the webhook with backoff", "Retry the webhook with jitter")
    ]
    merged = json.loads(run("merge", *ids, "--json").stdout)["id"]
    run("archive", merged[:8])
    assert "twice" not in said("restore", *(i[:8] for i in ids))  # the merge is archived
    assert (
        f"{merged[:8]} merges {ids[0][:8]}, {ids[1][:8]}, and they are live too: searches "
        f"now find what they knew twice (archive {merged[:8]}, or them, to undo that)"
    ) in said("restore", merged[:8])
    run("archive", ids[1][:8], merged[:8])
    assert f"{merged[:8]} merges {ids[0][:8]}, and it is live too" in said("restore", merged[:8])


def test_an_episode_merged_twice_points_to_the_one_holding_it_now(data_dir):
    """A and B into AB, then AB and C into ABC: rating A rates ABC, and says so."""
    from typer.testing import CliRunner

    from memrl.cli import app

    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    a, b, c = (
        json.loads(run("capture", "--summary", s, "--json").stdout)["id"]
        for s in (
            "Retry the webhook with backoff",
            "Retry the webhook with jitter",
            "Retry the webhook with a cap",
        )
    )
    ab = json.loads(run("merge", a, b, "--json").stdout)["id"]
    abc = json.loads(run("merge", ab, c, "--json").stdout)["id"]
    rated = " ".join(run("feedback", "helpful", a[:8], ab[:8], abc[:8]).output.split())
    assert f"{a[:8]}, {ab[:8]} were merged into {abc[:8]}: {abc[:8]} was rated in their place" in (
        rated
    )
    shown = json.loads(run("show", abc[:8], "--json").stdout)
    assert shown["learning"]["helpful"] == 1  # once, however many of the ids it holds
    undone = runner.invoke(app, ["feedback", "undo", a[:8]])  # an undo names what it undoes
    assert undone.exit_code == 3 and f"{a[:8]} was merged into {abc[:8]}" in undone.output


def test_ids_named_together_each_follow_their_own_merges(mem):
    """A and B into AB, AB and C into ABC: named with AB, A still leads through AB to ABC."""
    from memrl.refs import live_ids

    a, b, c = (
        mem.capture(episode(summary=f"Retry the webhook with {s}")).episode.id
        for s in ("backoff", "jitter", "a cap")
    )
    ab = mem.curation.merge(mem.curation.merge_plan([a, b])).id
    abc = mem.curation.merge(mem.curation.merge_plan([ab, c])).id
    assert mem.ledger.merged_into([a, ab, b]) == {a: abc, ab: abc, b: abc}
    with pytest.raises(NotFound) as refused:
        live_ids(mem, [a, ab], use="rate", last=False, ask="")
    said = str(refused.value)
    assert f"{a[:8]} and {ab[:8]} were merged into {abc[:8]}" in said
    assert "is archived" not in said


def test_credit_owed_to_episodes_merged_meanwhile_goes_to_the_merged_one(mem, clock):
    a, b = (
        mem.capture(episode(task="Webhook retries", summary=s, session_id="other")).episode.id
        for s in ("Retry the webhook with backoff", "Retry the webhook with jitter")
    )
    found = mem.search("retry the webhook", session_id="s9")
    assert {h.id for h in found.hits if not h.weak} == {a, b}
    merged = mem.curation.merge(mem.curation.merge_plan([a, b]))  # in another terminal, say
    clock.advance(0.01)
    done = mem.capture(episode(summary="webhooks retried", outcome="success", session_id="s9"))
    assert [c.id for c in done.credit] == [merged.id]
    assert done.credit[0].after > done.credit[0].before
    rated = mem.learning.feedback(["last"], True, session_id="s9")  # its hits were merged
    assert [(c.id, set(c.instead_of)) for c in rated if c.cause == "feedback"] == [
        (merged.id, {a, b})
    ]


def test_merging_work_captured_with_old_dates_keeps_it_as_fresh_as_it_arrived(mem, clock):
    a, b = (
        mem.capture(episode(task="Webhook retries", summary=s, created_at=CREATED)).episode.id
        for s in ("Retry the webhook with backoff", "Retry the webhook with jitter")
    )
    clock.advance(400)  # both made long ago, captured today (below)
    c, d = (
        mem.capture(episode(task="CSV export", summary=s, created_at=CREATED)).episode.id
        for s in ("Stream the CSV export", "Stream the CSV export in chunks")
    )
    merged = mem.curation.merge(mem.curation.merge_plan([c, d]))
    assert merged.created_at.timestamp() == clock() - 400 * 86400  # the work's own date
    assert mem.get(merged.id).learned.decay == pytest.approx(1.0)  # but it arrived today
    older = mem.curation.merge(mem.curation.merge_plan([a, b]))  # these arrived long ago
    assert mem.get(older.id).learned.decay == pytest.approx(0.99**400, rel=1e-6)


def test_merge_keeps_the_union_and_combined_evidence(mem):
    a = mem.capture(
        episode(
            task="Fix flaky upload test",
            summary="Raised the upload timeout",
            what_worked=["raise timeout"],
            files=["up.py"],
            tags=["ci"],
            errors_resolved=[{"error": "TimeoutError", "resolution": "timeout"}],
        )
    ).episode
    b = mem.capture(
        episode(
            task="Flaky upload test again",
            summary="Mocked the storage client",
            what_worked=["mock storage"],
            what_failed=["retry"],
            files=["up.py", "st.py"],
            tags=["tests"],
        )
    ).episode
    for _ in range(3):
        mem.learning.feedback([a.id], helpful=True)
    mem.learning.feedback([b.id], helpful=False)
    plan = mem.curation.merge_plan(
        [a.id[:8], b.id[:8]], summary="Upload tests: mock storage, raise timeout"
    )
    merged = mem.curation.merge(plan)
    assert merged.summary == "Upload tests: mock storage, raise timeout"
    assert merged.what_worked == ["raise timeout", "mock storage"]
    assert merged.what_failed == ["retry"]
    assert merged.files == ["up.py", "st.py"] and set(merged.tags) == {"ci", "tests"}
    assert [e.error for e in merged.errors_resolved] == ["TimeoutError"]
    assert merged.merged_from == [a.id, b.id]
    row = mem.rows([merged.id])[merged.id]
    assert row.learned.helpful == 3 and row.learned.unhelpful == 1 and row.learned.evidence == 4
    # as if one episode had had all four ratings: b's (never a use) first, then a's
    q = 0.5
    for reward in (0, 1, 1, 1):
        q += 0.1 * (reward - q)
    assert row.learned.q == pytest.approx(q)
    assert mem.count() == 1
    assert {r.id for r in mem.list(Filters(archived=True))} == {a.id, b.id}
    from memrl import insights

    assert [e.cause for e in insights.history(mem, merged.id).events] == ["merge", "merge"]
    mem.restore([a.id])  # originals come back untouched
    assert mem.get(a.id).episode.model_dump() == a.model_dump()


def test_merging_duplicates_rated_helpful_keeps_their_ratings_worth(mem):
    """Five helpful ratings over three duplicates are worth what five on one episode are:
    the merge does not leave it below each of them."""
    ids = [
        mem.capture(
            episode(task=f"Fix flaky upload test {n}", summary="Raised the timeout")
        ).episode.id
        for n in range(3)
    ]
    for episode_id, times in zip(ids, (2, 1, 2), strict=True):
        for _ in range(times):
            mem.learning.feedback([episode_id], helpful=True)
    before = mem.rows(ids)
    merged = mem.curation.merge(mem.curation.merge_plan([i[:8] for i in ids]))
    after = mem.rows([merged.id])[merged.id].learned
    assert after.q == pytest.approx(1 - 0.5 * 0.9**5) and after.helpful == 5
    assert after.utility > max(r.learned.utility for r in before.values())


def test_merge_refuses_one_id_and_asks_about_projects(mem):
    a = mem.capture(episode(summary="one", project="p1")).episode
    b = mem.capture(episode(summary="two", project="p2")).episode
    with pytest.raises(InvalidInput, match="at least two"):
        mem.curation.merge_plan([a.id])
    with pytest.raises(InvalidInput, match="at least two"):
        mem.curation.merge_plan([a.id, a.id[:8]])
    with pytest.raises(InvalidInput, match=r"different projects \(p1, p2\).*--project"):
        mem.curation.merge_plan([a.id, b.id])
    plan = mem.curation.merge_plan([a.id, b.id], project="p2")
    assert plan.episode.project == "p2" and plan.moved_from == ["p1"]
    assert plan.notes[0] == "the merged episode goes to project 'p2': episodes from 'p1' move there"
    assert mem.count() == 2


def test_a_merge_keeps_every_fix_of_an_error_and_moves_only_when_asked(mem):
    a = mem.capture(
        episode(
            summary="Raised the timeout",
            project="p1",
            errors_resolved=[{"error": "TimeoutError", "resolution": "raise the timeout"}],
        )
    ).episode
    b = mem.capture(
        episode(
            summary="Mocked the client",
            project="p1",
            errors_resolved=[
                {"error": "TimeoutError", "resolution": "mock the storage client"},
                {"error": "TimeoutError", "resolution": ""},  # says less than either fix
                {"error": "ConnectionReset", "resolution": ""},
            ],
        )
    ).episode
    plan = mem.curation.merge_plan([a.id, b.id])
    assert [(e.error, e.resolution) for e in plan.episode.errors_resolved] == [
        ("TimeoutError", "raise the timeout"),
        ("TimeoutError", "mock the storage client"),
        ("ConnectionReset", ""),
    ]
    assert plan.episode.project == "p1" and plan.moved_from == [] and plan.notes == []
    moved = mem.curation.merge_plan([a.id, b.id], project="p2")  # named: both move
    assert moved.moved_from == ["p1"] and "goes to project 'p2'" in moved.notes[0]


def test_a_merge_summary_over_the_limit_is_refused_not_replaced(mem):
    a = mem.capture(episode(summary="first take on the cache")).episode.id
    b = mem.capture(episode(summary="second take on the cache")).episode.id
    with pytest.raises(InvalidInput, match="the limit is 20,000"):
        mem.curation.merge_plan([a, b], summary="x" * 20_001)
    assert mem.count() == 2


def test_review_finds_duplicates_stale_and_unused(mem, clock):
    dup1 = mem.capture(
        episode(
            task="Fix CORS for the new frontend",
            summary="Added the frontend origin to the API CORS allow list",
            created_at=CREATED,
        )
    ).episode.id
    dup2 = mem.capture(
        episode(
            task="Fix CORS for the new frontend domain",
            summary="Added the frontend origin to the CORS allow list of the API",
            created_at=CREATED,
        )
    ).episode.id
    other = mem.capture(
        episode(task="Speed up docker builds", summary="Cached pip downloads", created_at=CREATED)
    ).episode.id
    mem.search("docker build cache", limit=1)
    clock.advance(90)
    review = mem.curation.review()
    assert [sorted(c.ids) for c in review.clusters] == [sorted([dup1, dup2])]
    assert {r.id for r in review.unused} == {dup1, dup2}
    assert [r.id for r in review.stale] == [other]
    assert set(review.days) == {dup1, dup2, other}
    assert all(d >= 90 for d in review.days.values())
    assert any("memrl merge" in s for s in review.suggestions())
    # a person says they are distinct: review stops grouping them, and can be told again
    mem.curation.keep_apart([dup1, dup2])
    assert mem.curation.review().clusters == []
    mem.curation.keep_apart([dup2, dup1], apart=False)
    assert [sorted(c.ids) for c in mem.curation.review().clusters] == [sorted([dup1, dup2])]


def test_review_lists_dead_weight_once_not_also_as_stale_or_unused(mem, clock):
    helpful, unhelpful, never = (
        mem.capture(episode(summary=f"old note {n} about caching", created_at=CREATED)).episode.id
        for n in range(3)
    )
    assert len(mem.search("old note about caching", limit=3).hits) == 3
    mem.learning.feedback([helpful], helpful=True)
    mem.learning.feedback([unhelpful], helpful=False)
    clock.advance(150)
    review = mem.curation.review()
    assert {c.row.id for c in review.prune} == {unhelpful, never}
    assert {r.id for r in review.stale} == {helpful, unhelpful, never}  # all, for the TUI
    assert [r.id for r in review.only_stale] == [helpful]
    assert review.unused == review.only_unused == []
    assert any(s.startswith("1 episode has not been used") for s in review.suggestions())


def test_review_without_an_index_says_duplicates_cannot_be_checked(data_dir):
    """Not "no duplicates": nothing was compared. A store with nothing to compare needs no
    index, and what needs none (dead weight) is still planned."""
    import shutil

    from memrl.errors import IndexUnavailable
    from memrl.memory import Memory

    m = Memory(data_dir, embedder=HashEmbedder())
    try:
        m.capture(episode(summary="Cached pip downloads in the docker build"))
        shutil.rmtree(data_dir / "vectors")
        assert m.curation.review().clusters == []  # one episode per project: nothing to compare
        m.capture(episode(summary="Cached pip downloads in the docker build", task="again"))
        with pytest.raises(IndexUnavailable, match="run `memrl index`"):
            m.curation.review()
        assert m.curation.review(project="elsewhere").clusters == []
        assert m.curation.prune_plan() == []
    finally:
        m.close()


@pytest.mark.slow
def test_four_processes_rating_one_episode_keep_exact_counts(mem):
    target = mem.capture(episode(summary="rated by everyone")).episode.id
    env = os.environ.copy()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.feedback_worker",
                target,
                "25",
                "yes" if n % 2 == 0 else "no",
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    row = mem.rows([target])[target]
    assert row.learned.helpful == 50 and row.learned.unhelpful == 50
    assert row.learned.evidence == 100
    n_events = mem.ledger.conn.execute(
        "SELECT COUNT(*) FROM events WHERE episode_id = ? AND cause = 'feedback'", (target,)
    ).fetchone()[0]
    assert n_events == 100
    assert 0.0 < row.learned.q < 1.0


def test_two_merges_of_the_same_episodes_make_one_and_keep_a_rating_given_meanwhile(mem):
    """Two processes merging the same pair: the second finds them merged and changes nothing;
    a rating given between a merge's plan and its commit is carried into the merged episode."""
    a = mem.capture(episode(task="Fix flaky upload test", summary="Raised the timeout")).episode
    b = mem.capture(episode(task="Flaky upload again", summary="Mocked the storage")).episode
    first = mem.curation.merge_plan([a.id, b.id])
    second = mem.curation.merge_plan([a.id, b.id])
    mem.learning.feedback([a.id], helpful=True)  # after both plans were made
    merged = mem.curation.merge(first)
    assert mem.ledger.state(merged.id).helpful == 1
    with pytest.raises(NotFound, match="archived meanwhile.*Nothing was changed"):
        mem.curation.merge(second)
    assert [r.id for r in mem.list()] == [merged.id]


def test_a_merge_stopped_before_archiving_is_finished_by_running_it_again(mem, monkeypatch):
    a = mem.capture(episode(task="Fix flaky upload test", summary="Raised the timeout")).episode
    b = mem.capture(episode(task="Flaky upload again", summary="Mocked the storage")).episode
    mem.learning.feedback([a.id], helpful=True)

    def killed(_refs):
        raise KeyboardInterrupt  # the process dies between saving and archiving

    monkeypatch.setattr(mem, "archive", killed)
    with pytest.raises(KeyboardInterrupt):
        mem.curation.merge(mem.curation.merge_plan([a.id, b.id]))
    monkeypatch.undo()
    [merged] = [r.id for r in mem.list() if r.id not in (a.id, b.id)]
    again = mem.curation.merge(mem.curation.merge_plan([a.id, b.id]))
    assert again.id == merged
    assert [r.id for r in mem.list()] == [merged]
    state = mem.ledger.state(merged)
    assert (state.helpful, state.evidence) == (1, 1)  # counted once


# prune and undo, on the learning graph ---------------------------------------------

DEPLOY = "deploy pipeline staging docker build cache step"


@pytest.fixture
def hmem(data_dir, clock):
    """Bag-of-words vectors: which episodes are neighbours, and how near, is plain to see."""
    from memrl.memory import Memory

    m = Memory(data_dir, clock=clock, embedder=HashEmbedder())
    yield m
    m.close()


def _line(n: int, created: float, learning: dict, pinned: bool = False) -> str:
    return json.dumps(
        {
            "id": f"{n:032x}",
            "task": f"{DEPLOY} w{n}",
            "summary": f"{DEPLOY} note {n}",
            "outcome": "success",
            "project": "acme/app",
            "created_at": created,
            "pinned": pinned,
            "learning": learning,
        }
    )


def _old_store(m, clock) -> tuple[list[str], str]:
    """Ten old, alike episodes imported from a hand-written file that says no neighbour
    added anything (p 0): five rated unhelpful (each a source, with its own q), four never
    rated, one pinned at 60 %. Returns the ids and the pinned one's."""
    created = clock()
    used = created + 10 * DAY
    lines = []
    for n in range(9):
        rated = n % 2 == 0
        learning = {"q": 0.05 + 0.05 * n, "evidence": 2, "unhelpful": 2} if rated else {}
        lines.append(_line(n, created, {**learning, "p": 0, "last_used_at": used}))
    lines.append(_line(9, created, {"q": 0.6, "evidence": 1, "helpful": 1, "p": 0}, True))
    assert not m.import_(lines).errors
    clock.advance(400)
    return [f"{n:032x}" for n in range(10)], f"{9:032x}"


def _captured_store(m, clock) -> tuple[list[str], str]:
    """The same store made here: captured long ago, five rated unhelpful one to three times,
    one rated helpful and pinned."""
    ids = [
        m.capture(episode(task=f"{DEPLOY} w{n}", summary=f"{DEPLOY} note {n}")).episode.id
        for n in range(10)
    ]
    for n in range(0, 9, 2):
        for _ in range(1 + n % 3):
            m.learning.feedback([ids[n]], helpful=False)
    m.learning.feedback([ids[9]], helpful=True)
    m.set_pinned([ids[9]], True)
    clock.advance(400)
    return ids, ids[9]


def _learned(m, ids):
    return {i: (s.q, s.p) for i, s in m.ledger.states(ids).items()}


def _edges(m):
    return {(s, d): sim for s, d, sim in m.ledger.conn.execute("SELECT src, dst, sim FROM edges")}


@pytest.mark.parametrize("build", [_old_store, _captured_store], ids=["imported", "captured"])
def test_undoing_a_prune_gives_back_the_utilities_and_graph_it_took(hmem, clock, build):
    """Archiving takes sources out of the graph, so what their neighbours add changes; the
    prune's undo restores them, and with them exactly the values and edges there were, one
    history row for each neighbour moved back (not one for each episode restored)."""
    ids, pinned = build(hmem, clock)
    plan = [c.row.id for c in hmem.curation.prune_plan()]
    assert set(plan) == set(ids) - {pinned}
    kept = [ids[0], ids[2]]  # two sources deselected
    pruned = [i for i in plan if i not in kept]
    before, shown, edges = _learned(hmem, ids), hmem.rows(ids), _edges(hmem)
    rows_before = {i: len(hmem.ledger.events(i)) for i in ids}

    moved = [e.id for e in hmem.curation.prune(pruned)]
    assert sorted(moved) == sorted(pruned)
    [row] = hmem.ledger.events(pinned)[rows_before[pinned] :]
    cause, source, detail = row[2], row[3], row[6]
    assert cause == "propagation"
    assert source in pruned  # the value it lost came from an archived source, not a kept one
    assert detail == "2 neighbours, 3 archived"

    hmem.restore(moved, undo=True)
    after = _learned(hmem, ids)
    for i in ids:
        assert after[i] == pytest.approx(before[i], abs=1e-6)  # float32 similarities
        assert hmem.rows([i])[i].learned.utility == pytest.approx(shown[i].learned.utility)
    assert _edges(hmem).keys() == edges.keys()  # no edges from an episode that sends nothing
    assert hmem.learning.propagate(dry_run=True).changes == []
    for i in ids:  # the prune moved it once at most, and its undo moved it back once
        added = hmem.ledger.events(i)[rows_before[i] :]
        assert len(added) in (0, 2), added
        assert all(abs(e[5] - e[4]) > 1e-6 for e in added)  # no row that changes nothing


def test_a_pinned_episode_keeps_what_its_neighbours_add_through_a_prune_and_its_undo(hmem, clock):
    """Pinning stops decay and pruning; the pinned episode's utility still follows the
    evidence around it, and an undone prune gives it back exactly."""
    _ids, pinned = _old_store(hmem, clock)
    was = hmem.rows([pinned])[pinned].learned.utility
    assert was < 0.6  # its rated neighbours pull it down, as propagation says they do
    pruned = [c.row.id for c in hmem.curation.prune_plan()]
    hmem.curation.prune(pruned)
    assert hmem.rows([pinned])[pinned].learned.utility == pytest.approx(0.6)  # no one left
    hmem.restore(pruned, undo=True)
    assert hmem.rows([pinned])[pinned].learned.utility == pytest.approx(was)


def test_a_merged_episode_counts_each_search_that_found_its_originals_once(mem):
    a = mem.capture(episode(summary="Fixed the flaky login test by waiting for the cookie"))
    b = mem.capture(episode(summary="Fixed the flaky login test by mocking the clock"))
    ids = [a.episode.id, b.episode.id]
    for _ in range(3):
        found = mem.search("flaky login test fix", limit=5)
        assert {h.id for h in found.hits if not h.weak} >= set(ids)
    mem.search("waiting for the session cookie", limit=1)  # one more, of one of them
    counts = {i: mem.get(i).learned.retrievals for i in ids}
    plan = mem.curation.merge_plan(ids)
    assert plan.state.retrievals == 4  # not sum(counts), which counts 3 searches twice
    merged = mem.curation.merge(plan)
    assert mem.get(merged.id).learned.retrievals == 4 and sum(counts.values()) == 7


def test_merging_a_merge_with_one_of_its_restored_originals_repeats_no_paragraph(mem):
    a = mem.capture(episode(summary="Replaced time.sleep with a fake clock")).episode.id
    b = mem.capture(episode(summary="Waited for the session cookie")).episode.id
    merged = mem.curation.merge(mem.curation.merge_plan([a, b]))
    assert (
        merged.summary == "Replaced time.sleep with a fake clock\n\nWaited for the session cookie"
    )
    mem.restore([a])
    again = mem.curation.merge_plan([merged.id, a]).episode
    assert again.summary == merged.summary


def test_merging_a_merge_with_a_restored_original_counts_its_ratings_once(mem, clock):
    """The merged episode holds what the original learned before it was merged; only the
    rating given since it was restored is new."""
    a = mem.capture(episode(summary="Set NODE_OPTIONS max-old-space-size")).episode.id
    b = mem.capture(episode(summary="Increased node heap with max-old-space-size")).episode.id
    mem.learning.feedback([a], helpful=True)
    mem.learning.feedback([a], helpful=True)
    mem.learning.feedback([b], helpful=True)
    merged = mem.curation.merge(mem.curation.merge_plan([a, b]))
    mem.restore([a])
    clock.advance(0.01)
    mem.learning.feedback([a], helpful=True)  # its fourth rating, and the only new one
    again = mem.curation.merge(mem.curation.merge_plan([merged.id, a]))
    learned = mem.get(again.id).learned
    assert (learned.evidence, learned.helpful) == (4, 4)
    assert learned.q == pytest.approx(1 - 0.5 * 0.9**4)  # four helpful ratings on one episode


def test_a_rating_carried_into_a_merge_cannot_be_undone_on_the_restored_original(mem):
    from memrl.errors import InvalidInput

    a = mem.capture(episode(summary="Used the tmp_path fixture instead of /tmp")).episode.id
    b = mem.capture(episode(summary="Switched to pytest's tmp_path per test")).episode.id
    mem.learning.feedback([a], helpful=False)
    merged = mem.curation.merge(mem.curation.merge_plan([a, b]))
    mem.restore([a])
    with pytest.raises(InvalidInput, match=f"merged into {merged.id[:8]} since its last rating"):
        mem.learning.undo_feedback(a)
    assert mem.get(a).learned.unhelpful == 1


def test_undoing_a_rating_on_a_merged_episode_says_its_ratings_came_with_the_merge(mem):
    from memrl.errors import InvalidInput

    ids = [
        mem.capture(episode(summary=f"Raised the redis maxmemory {n}")).episode.id for n in (1, 2)
    ]
    mem.learning.feedback(ids, helpful=True)
    merged = mem.curation.merge(mem.curation.merge_plan(ids))
    with pytest.raises(InvalidInput, match="its ratings came with the episodes merged into it"):
        mem.learning.undo_feedback(merged.id)
    assert mem.get(merged.id).learned.helpful == 2


def test_a_merge_plan_gives_the_utility_the_merged_episode_will_have(mem, clock):
    """Decayed from the originals' latest use, as `memrl show` gives it once merged."""
    ids = [
        mem.capture(
            episode(task=f"Fix flaky upload test {n}", summary="Raised the timeout")
        ).episode.id
        for n in range(2)
    ]
    mem.learning.feedback(ids, helpful=True)
    clock.advance(150)  # days unused
    plan = mem.curation.merge_plan([i[:8] for i in ids])
    planned = mem.curation.planned(plan)
    assert planned.utility < plan.state.q * 0.3  # 0.99^150 ≈ 0.22
    merged = mem.curation.merge(plan)
    assert mem.rows([merged.id])[merged.id].learned.utility == pytest.approx(planned.utility)


def test_a_prune_bound_out_of_range_is_named_alone(fast_memory):
    with pytest.raises(InvalidInput, match=r"^--older-than must be 0 days or more, not -1$"):
        fast_memory.curation.prune_plan(older_than_days=-1)
    with pytest.raises(InvalidInput, match=r"^--min-utility must be between 0 and 1 .*not 2"):
        fast_memory.curation.prune_plan(min_utility=2)
