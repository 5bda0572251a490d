"""Each learning mechanism visibly changes what search returns first (real model, real index)."""

from __future__ import annotations

import json

import pytest

from memrl.errors import InvalidInput, NotFound
from memrl.learning.rules import DAY
from tests.conftest import episode

FLAKY = {
    "A": episode(
        task="Fix flaky login test",
        summary="Fixed the flaky login test by waiting for the session cookie",
    ),
    "B": episode(
        task="Flaky login test fix", summary="Stabilised the login test by mocking the clock"
    ),
    "C": episode(
        task="Login test timing",
        summary="Made the login end-to-end test wait for the redirect instead of sleeping",
    ),
    "D": episode(
        task="Flaky signup test",
        summary="Fixed the flaky signup test by seeding the random generator",
    ),
}
QUERY = "the login test is flaky"


CREATED = "2026-09-20T10:00:00+00:00"


class Clock:
    def __init__(self, start: float = 1_789_898_400.0) -> None:  # CREATED
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, days: float) -> None:
        self.t += days * DAY


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def flaky(data_dir, clock):
    from memrl.memory import Memory

    memory = Memory(data_dir, clock=clock)
    ids = {}
    for key, data in FLAKY.items():
        ids[key] = memory.capture({**data, "created_at": CREATED}).episode.id
    yield memory, ids
    memory.close()


def order(memory, ids, query=QUERY, **kw):
    names = {v: k for k, v in ids.items()}
    hits = memory.search(query, limit=10, log=False, **kw).hits
    return [names[h.id] for h in hits if h.id in names]


def test_helpful_feedback_lifts_an_episode_above_a_closer_match(flaky):
    memory, ids = flaky
    assert order(memory, ids)[:2] == ["A", "B"]
    changes = []
    for _ in range(8):  # A gains too, from its likeness to B: propagation
        changes += memory.learning.feedback([ids["B"]], helpful=True)
    first = next(c for c in changes if c.cause == "feedback")
    assert first.before == pytest.approx(0.5) and first.after == pytest.approx(0.55)
    assert order(memory, ids)[:2] == ["B", "A"]
    row = memory.rows([ids["B"]])[ids["B"]]
    assert row.learned.helpful == 8 and row.learned.confidence == pytest.approx(8 / 10)


def test_unhelpful_feedback_sinks_an_episode(flaky):
    memory, ids = flaky
    assert order(memory, ids)[0] == "A"
    for _ in range(8):
        memory.learning.feedback([ids["A"]], helpful=False)
    assert order(memory, ids)[:2] == ["B", "A"]
    assert memory.rows([ids["A"]])[ids["A"]].learned.utility < 0.3


NEIGHBOURS = {
    "B": episode(
        task="Flaky login test", summary="Fixed the flaky login test by mocking the clock"
    ),
    "C": episode(
        task="Login test flakiness",
        summary="Mocked the clock in the login tests so they stop flaking",
    ),
    "R": episode(
        task="Flaky checkout test",
        summary="Fixed the flaky checkout test by seeding the random generator",
    ),
}


@pytest.fixture
def neighbours(data_dir, clock):
    from memrl.memory import Memory

    memory = Memory(data_dir, clock=clock)
    ids = {
        k: memory.capture({**d, "created_at": CREATED}).episode.id for k, d in NEIGHBOURS.items()
    }
    yield memory, ids
    memory.close()


def test_value_propagates_to_similar_episodes_and_changes_their_rank(neighbours):
    memory, ids = neighbours
    assert order(memory, ids, "flaky test")[0] == "R"
    changes = []
    for _ in range(8):  # a neighbour passes on value as far as its evidence is sure
        changes += memory.learning.feedback([ids["B"]], helpful=True)
    assert any(
        c.id == ids["C"] and c.cause == "propagation" and c.after > c.before for c in changes
    )
    c_row = memory.rows([ids["C"]])[ids["C"]]
    assert c_row.learned.p > 0 and c_row.learned.q == 0.5 and c_row.learned.helpful == 0
    # C was never rated, yet it now ranks above R, which is not similar to B.
    assert order(memory, ids, "flaky test") == ["B", "C", "R"]


def test_propagation_is_a_fixed_point(flaky):
    memory, ids = flaky
    memory.learning.feedback([ids["A"]], helpful=True)
    memory.learning.feedback([ids["D"]], helpful=False)
    first = memory.learning.propagate()
    second = memory.learning.propagate()
    assert first.sources == 2 and first.edges > 0
    assert second.changes == []
    utilities = {k: memory.rows([v])[v].learned.utility for k, v in ids.items()}
    memory.learning.propagate()
    assert utilities == {k: memory.rows([v])[v].learned.utility for k, v in ids.items()}


def test_the_graph_kept_up_as_episodes_arrive_is_what_a_full_propagation_computes(flaky):
    memory, ids = flaky
    memory.learning.cfg.max_neighbours = 2  # so that new episodes push weaker edges out
    memory.learning.feedback([ids["A"]], helpful=True)
    memory.learning.feedback([ids["D"]], helpful=False)
    memory.learning.propagate()
    for text in ("Flaky login test again", "Login test flaky on CI", "Signup test flaky again"):
        memory.capture({"task": text, "summary": f"{text}: waited for the cookie"})
    # Each of them was in reach of a rated episode; a full propagation finds the same graph.
    memory.learning.feedback([ids["B"]], helpful=True)
    assert memory.learning.propagate(dry_run=True).changes == []
    # Leaving the graph (archive) or moving in it (an edit) frees a slot for the next nearest.
    memory.archive([ids["C"]])
    memory.update(ids["A"], {"summary": "Fixed the flaky signup test by seeding the generator"})
    assert memory.learning.propagate(dry_run=True).changes == []


def test_dry_run_changes_nothing(flaky):
    memory, ids = flaky
    memory.learning.feedback([ids["A"]], helpful=True)
    memory.learning.propagate()
    with memory.ledger.write() as c:
        c.execute("UPDATE state SET p = 0")
    report = memory.learning.propagate(dry_run=True)
    assert report.changes
    assert all(memory.rows([v])[v].learned.p == 0 for v in ids.values())


def test_temporal_credit_rewards_what_was_retrieved_before_a_success(neighbours, clock):
    memory, ids = neighbours
    assert order(memory, ids, "fix a flaky test")[0] == "R"
    for n in range(4):
        session = f"s-{n}"
        hits = memory.search("login test mocking the clock", limit=1, session_id=session)
        assert hits.hits[0].id == ids["B"]
        clock.advance(0.01)
        result = memory.capture(
            episode(
                summary=f"Stabilised another login test ({n})",
                session_id=session,
                outcome="success",
            )
        )
        credited = {c.id: c for c in result.credit}
        assert credited[ids["B"]].after > credited[ids["B"]].before
        # credit is given once: a second capture in the session finds nothing left to credit
        assert memory.capture(episode(summary="follow-up", session_id=session)).credit == []
    assert memory.rows([ids["B"]])[ids["B"]].learned.helpful == 0  # credit, not ratings
    assert order(memory, ids, "fix a flaky test")[0] == "B"


def test_credit_is_shared_more_for_later_retrievals(flaky, clock):
    memory, ids = flaky
    memory.search("signup test seeding", limit=1, session_id="s-2")
    clock.advance(0.001)
    memory.search("waiting for the session cookie", limit=1, session_id="s-2")
    clock.advance(0.001)
    result = memory.capture(episode(summary="done", session_id="s-2", outcome="success"))
    gain = {c.id: c.after - c.before for c in result.credit}
    assert gain[ids["A"]] > gain[ids["D"]] > 0


def test_credit_too_small_to_matter_is_no_evidence(data_dir, clock):
    from memrl.memory import Memory

    memory = Memory(data_dir, clock=clock)
    for n in range(24):
        memory.capture(
            episode(task=f"Fix flaky test number {n}", summary=f"Flaky test {n} fixed by a retry")
        )
    shown = memory.search("fix the flaky test", limit=24, session_id="s-long").hits
    assert len(shown) == 24
    clock.advance(0.01)
    credit = memory.capture(episode(summary="done", session_id="s-long", outcome="success")).credit
    # λ = 0.8: the 21st share is 0.8^20 ≈ 0.0115, the 22nd 0.0092, below the 0.01 floor
    assert [c.id for c in credit] == [h.id for h in shown[:21]]
    rows = memory.rows([h.id for h in shown])
    assert [rows[h.id].learned.evidence for h in shown] == [1] * 21 + [0] * 3
    assert (
        memory.capture(episode(summary="again", session_id="s-long", outcome="success")).credit
        == []
    )
    memory.close()


def test_failure_outcome_gives_negative_credit_and_no_session_uses_project_window(flaky, clock):
    memory, ids = flaky
    memory.search("signup test seeding", limit=1)  # no session: CLI-style
    clock.advance(0.01)
    result = memory.capture(episode(summary="gave up", outcome="failure"))
    assert [c.id for c in result.credit] == [ids["D"]]
    assert result.credit[0].after < result.credit[0].before
    memory.search("signup test seeding", limit=1)
    clock.advance(0.01)
    backfill = episode(summary="gave up back then", outcome="failure", created_at="2026-06-01")
    assert memory.capture(backfill).credit == []  # work done long ago: not today's searches


def test_decay_lowers_unused_episodes_and_pinning_protects(flaky, clock):
    memory, ids = flaky
    assert order(memory, ids)[0] == "A"
    clock.advance(120)
    memory.search("Stabilised the login test by mocking the clock", limit=1)  # a use of B
    row_a = memory.rows([ids["A"]])[ids["A"]]
    assert row_a.learned.decay == pytest.approx(0.99**120, rel=1e-6)
    assert order(memory, ids)[0] == "B"
    memory.set_pinned([ids["A"]], True)
    assert memory.rows([ids["A"]])[ids["A"]].learned.decay == 1.0
    assert order(memory, ids)[0] == "A"


def test_an_episode_captured_with_an_old_date_decays_from_when_it_arrived(data_dir, clock):
    """Work from last year, captured today, has been unused only since today: it neither
    starts out decayed nor is it pruned or reviewed as long unused at once."""
    from memrl.memory import Memory

    memory = Memory(data_dir, clock=clock)
    year_ago = clock() - 400 * DAY
    old = memory.capture(episode(task="Pinned the TLS library", created_at=year_ago)).episode.id
    new = memory.capture(episode(task="Rotated the staging certificates")).episode.id
    for id_ in (old, new):
        assert memory.get(id_).learned.utility == pytest.approx(0.5)
        assert memory.get(id_).learned.arrived_at == pytest.approx(clock())
    assert memory.curation.prune_plan() == []
    review = memory.curation.review()
    assert review.stale == [] and review.unused == []

    clock.advance(30)
    rows = memory.list(sort="utility")
    assert {r.id: round(r.learned.decay, 6) for r in rows} == {
        old: round(0.99**30, 6),
        new: round(0.99**30, 6),
    }
    review = memory.curation.review()
    assert [r.id for r in review.unused] == [old, new] and review.days == {old: 30, new: 30}
    from memrl import insights

    curve = insights.history(memory, old).curve  # flat from when it was made to its arrival,
    assert curve[0] == (year_ago, 0.5) and (year_ago + 400 * DAY, 0.5) in curve
    for ts, value in curve:  # then decaying as a curve, not a chord, to its value now
        assert value == pytest.approx(0.5 * 0.99 ** max(0, (ts - year_ago) / DAY - 400))
    assert len(curve) > 10 and curve[-1] == (clock(), pytest.approx(0.5 * 0.99**30))
    memory.close()


def test_a_backdated_episode_keeps_its_decay_clock_through_export_and_import(data_dir, clock):
    from memrl.memory import Memory

    source = Memory(data_dir / "a", clock=clock)
    made = clock() - 400 * DAY
    episode_id = source.capture(episode(task="Pinned the TLS library", created_at=made)).episode.id
    (line,) = [json.dumps(data) for data in source.export()]
    clock.advance(50)
    copy = Memory(data_dir / "b", clock=clock)
    copy.import_([line])
    assert copy.get(episode_id).learned.decay == pytest.approx(0.99**50, rel=1e-6)
    assert copy.get(episode_id).learned.decay == source.get(episode_id).learned.decay
    # an export from before episodes had an arrival time: they arrived when they were made
    data = json.loads(line)
    del data["learning"]["added_at"]
    copy.import_([json.dumps({**data, "id": "f" * 32})])
    assert copy.get("f" * 32).learned.decay == pytest.approx(0.99**450, rel=1e-6)
    source.close()
    copy.close()


def test_a_faded_episode_rated_unhelpful_in_a_search_does_not_come_back_up(flaky, clock):
    """Being returned by a search restarts the decay clock; a search found unhelpful was
    not a use, so the clock goes back, and the rating lowers the episode from where it was."""
    memory, ids = flaky
    clock.advance(200)
    faded = memory.get(ids["A"]).learned
    assert faded.utility == pytest.approx(0.5 * 0.99**200, rel=1e-6)
    searched_at = clock()
    (hit,) = memory.search(QUERY, limit=1).hits
    assert hit.id == ids["A"] and not hit.weak
    assert memory.get(ids["A"]).learned.utility == pytest.approx(0.5)  # shown: a use
    clock.advance(0.01)
    (rated,) = [ch for ch in memory.learning.feedback(["last"], helpful=False) if ch.id == hit.id]
    after = memory.get(ids["A"]).learned
    assert after.utility < faded.utility and after.last_used_at is None
    # reported, and kept in history, from where the search found it, as the search showed it
    assert hit.row.learned.utility == pytest.approx(faded.utility)
    assert rated.before == pytest.approx(faded.utility, rel=1e-3) and rated.after == after.utility
    from memrl import insights

    history = insights.history(memory, ids["A"])
    assert history.events[-1].before == pytest.approx(faded.utility, rel=1e-3)
    since = [u for t, u in history.curve if t >= searched_at]
    assert since and max(since) <= faded.utility * 1.001  # no spike back up for the search
    memory.learning.undo_feedback(ids["A"])  # exactly as before the rating: shown, a use
    assert memory.get(ids["A"]).learned.utility == pytest.approx(0.5, rel=1e-3)
    since = [u for t, u in insights.history(memory, ids["A"]).curve if t >= searched_at]
    assert max(since) == pytest.approx(0.5, rel=1e-3)  # the search counts again
    # a helpful episode's clock is its rating, not a search: unhelpful later leaves it
    memory.learning.feedback([ids["B"]], helpful=True)
    clock.advance(10)
    memory.learning.feedback([ids["B"]], helpful=False)
    assert memory.get(ids["B"]).learned.decay == pytest.approx(0.99**10, rel=1e-6)


def test_a_rating_reports_its_own_change_and_what_came_through_neighbours(neighbours):
    """The report names the episode a propagation came from as the one just rated, not the
    neighbour that sends the most, and splits the rated episode's change as history does."""
    memory, ids = neighbours
    for _ in range(3):
        memory.learning.feedback([ids["B"]], helpful=True)
    changes = memory.learning.feedback([ids["C"]], helpful=False)
    rated = next(ch for ch in changes if ch.id == ids["C"])
    events = memory.ledger.events(ids["C"])[-2:]  # the rating, then its neighbours' part
    assert [e[2] for e in events] == ["feedback", "propagation"]
    assert rated.delta - rated.neighbours == pytest.approx(events[0][5] - events[0][4])
    assert rated.neighbours == pytest.approx(events[1][5] - events[1][4]) != 0
    # R hears from B (rated helpful three times) more than from C, but C is what changed
    spread = next(ch for ch in changes if ch.id == ids["R"])
    assert spread.cause == "propagation" and spread.other_id == ids["C"]


def test_feedback_on_bad_ids_changes_nothing(flaky):
    memory, ids = flaky
    with pytest.raises(NotFound, match="ffffffff"):
        memory.learning.feedback([ids["A"], "ffffffff"], helpful=True)
    memory.archive([ids["D"]])
    with pytest.raises(NotFound, match="archived"):
        memory.learning.feedback([ids["A"], ids["D"][:8]], helpful=True)
    assert memory.rows([ids["A"]])[ids["A"]].learned.helpful == 0
    assert memory.ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_feedback_last_rates_the_latest_retrieval(flaky):
    memory, _ids = flaky
    with pytest.raises(InvalidInput, match="nothing has been retrieved"):
        memory.learning.feedback(["last"], helpful=True)
    hits = memory.search(QUERY, limit=2)
    changes = memory.learning.feedback(["last"], helpful=True)
    assert {c.id for c in changes if c.cause == "feedback"} == {h.id for h in hits.hits}


def test_history_records_every_change_with_its_cause(flaky, clock):
    from memrl import insights

    memory, ids = flaky
    memory.learning.feedback([ids["B"]], helpful=True)
    clock.advance(1)
    memory.search("signup test seeding", limit=1, session_id="s")
    memory.capture(episode(summary="ok", session_id="s", outcome="success"))
    causes = [e.cause for e in insights.history(memory, ids["B"]).events]
    assert causes[0] == "feedback"
    a_events = insights.history(memory, ids["A"]).events
    assert any(e.cause == "propagation" and e.other_id == ids["B"] for e in a_events)
    d_events = insights.history(memory, ids["D"]).events
    assert any(e.cause == "credit" for e in d_events)
    curve = insights.history(memory, ids["B"]).curve
    assert curve[0][0] <= curve[-1][0] and max(u for _t, u in curve) > 0.5


def test_a_rating_can_be_undone_exactly(flaky):
    memory, ids = flaky
    before = memory.rows(list(ids.values()))
    memory.learning.feedback([ids["B"]], helpful=True)
    memory.learning.feedback([ids["B"]], helpful=False)
    undo = memory.learning.undo_feedback(ids["B"])
    assert undo[0].cause == "undo"
    memory.learning.undo_feedback(ids["B"])
    after = memory.rows(list(ids.values()))
    for i in ids.values():
        assert after[i].learned.q == pytest.approx(before[i].learned.q)
        assert after[i].learned.p == pytest.approx(before[i].learned.p, abs=1e-12)
        assert after[i].learned.helpful == before[i].learned.helpful == 0
    with pytest.raises(InvalidInput, match="no rating left"):
        memory.learning.undo_feedback(ids["B"])


def test_undo_gives_back_the_utility_before_the_rating_after_the_learning_rate_changed(flaky):
    """The rating is taken back as it was made: with the α it was made with, not today's."""
    memory, ids = flaky
    before = memory.rows([ids["B"]])[ids["B"]].learned
    memory.learning.feedback([ids["B"]], helpful=True)
    memory.learning.feedback([ids["B"]], helpful=True)
    memory.settings.learning.learning_rate = 0.5
    memory.learning.undo_feedback(ids["B"])
    memory.learning.undo_feedback(ids["B"])
    after = memory.rows([ids["B"]])[ids["B"]].learned
    assert after.q == pytest.approx(before.q) and after.evidence == 0


def test_a_rating_followed_by_credit_cannot_be_undone(flaky, clock):
    memory, ids = flaky
    memory.learning.feedback([ids["D"]], helpful=True)
    memory.search("signup test seeding", limit=1, session_id="s")
    clock.advance(0.01)
    memory.capture(episode(summary="done", session_id="s", outcome="success"))
    with pytest.raises(InvalidInput, match="has had credit since its last rating"):
        memory.learning.undo_feedback(ids["D"])


def test_undo_names_its_rating_and_restores_the_decay_clock(flaky, clock):
    memory, ids = flaky
    clock.advance(30)
    before = memory.rows([ids["C"]])[ids["C"]].learned
    first = memory.learning.feedback([ids["C"]], helpful=True)[0]
    second = memory.learning.feedback([ids["C"]], helpful=True)[0]
    assert first.seq is not None and second.seq is not None and second.seq > first.seq
    with pytest.raises(InvalidInput, match="rated again since"):
        memory.learning.undo_feedback(ids["C"], first.seq)
    memory.learning.undo_feedback(ids["C"], second.seq)
    memory.learning.undo_feedback(ids["C"], first.seq)
    after = memory.rows([ids["C"]])[ids["C"]].learned
    assert after.utility == pytest.approx(before.utility)  # decayed exactly as before
    assert after.last_used_at == before.last_used_at


def test_a_logged_use_is_a_retrieval_in_the_given_order(flaky):
    memory, ids = flaky
    rows = memory.rows([ids[k] for k in list(ids)[:2]])
    listed = list(rows.values())
    seq = memory.learning.log_use("shown", listed, "s1", None, "context")
    assert memory.learning.last_retrieved("s1") == [r.id for r in listed]
    stored = memory.ledger.conn.execute(
        "SELECT project FROM retrievals WHERE seq = ?", (seq,)
    ).fetchone()
    assert stored[0] == listed[0].project
    after = memory.rows([r.id for r in listed])
    assert all(after[r.id].learned.retrievals == r.learned.retrievals for r in listed)  # shown
    memory.learning.log_use("read", listed, "s1", None, "tui")
    after = memory.rows([r.id for r in listed])
    assert all(after[r.id].learned.retrievals == r.learned.retrievals + 1 for r in listed)


def test_propagating_one_project_agrees_with_propagating_them_all(fast_memory):
    """Value that reaches an episode from another project still counts in a project's run,
    and that run leaves the other projects' edges and values as the whole run set them."""
    m = fast_memory
    a = m.capture(episode(summary="Retry the payment webhook with backoff", project="p1"))
    b = m.capture(episode(summary="Retry the payment webhook with backoff!", project="p2"))
    m.learning.feedback([a.episode.id], helpful=True)
    m.learning.propagate()
    whole = m.get(b.episode.id).learned.utility
    edges = m.ledger.conn.execute("SELECT COUNT(*) FROM edges").fetchone()[0]
    assert whole > 0.5 and edges
    for project in ("p2", "p1", "p2"):
        assert m.learning.propagate(project=project).changes == []
        assert m.get(b.episode.id).learned.utility == pytest.approx(whole)
        assert m.ledger.conn.execute("SELECT COUNT(*) FROM edges").fetchone()[0] == edges


def test_pinning_and_unpinning_are_in_history_and_the_curve(flaky, clock):
    from memrl import insights

    memory, ids = flaky
    episode_id = next(iter(ids.values()))
    clock.advance(100)
    decayed = memory.get(episode_id).learned.utility
    memory.set_pinned([episode_id], True)
    memory.set_pinned([episode_id], True)  # already pinned: nothing more to record
    clock.advance(10)
    memory.set_pinned([episode_id], False)
    unpinned = memory.get(episode_id).learned.utility  # decay since the last use counts again
    assert unpinned < decayed
    h = insights.history(memory, episode_id)
    pins = [(e.cause, round(e.before, 3), round(e.after, 3)) for e in h.events]
    assert pins == [("pin", round(decayed, 3), 0.5), ("unpin", 0.5, round(unpinned, 3))]
    values = [round(u, 3) for _t, u in h.curve]
    assert values[0] == 0.5 and 0.5 in values[2:] and values[-1] == round(unpinned, 3)
    memory.update(episode_id, {"pinned": True})  # `memrl edit --set pinned=true`, the TUI form
    assert insights.history(memory, episode_id).events[-1].cause == "pin"


def test_a_weak_match_is_shown_but_not_used(flaky, clock):
    """It does not restart the decay clock, count as retrieved, take credit or join 'last'."""
    memory, ids = flaky
    clock.advance(60)
    result = memory.search("test seeding", limit=10, session_id="s1")
    assert [(h.id, h.weak) for h in result.hits] == [(ids["D"], False), (ids["B"], True)]
    b = memory.rows([ids["B"]])[ids["B"]].learned
    assert b.decay == pytest.approx(0.99**60, rel=1e-6) and b.retrievals == 0
    assert memory.rows([ids["D"]])[ids["D"]].learned.decay == 1.0  # a use
    assert memory.learning.last_retrieved("s1") == [ids["D"]]
    clock.advance(0.01)
    done = memory.capture(episode(summary="seeded it", outcome="success", session_id="s1"))
    assert [c.id for c in done.credit] == [ids["D"]]


def test_an_unhelpful_rating_never_lifts_a_faded_episode(flaky, clock):
    memory, ids = flaky
    clock.advance(200)
    faded = memory.rows([ids["C"]])[ids["C"]].learned.utility
    down = memory.learning.feedback([ids["C"]], helpful=False)[0]
    assert down.id == ids["C"] and down.before == pytest.approx(faded) and down.after < faded
    up = memory.learning.feedback([ids["C"]], helpful=True)[0]
    assert up.after > 0.5  # a helpful rating is a use: the clock restarts


def test_a_rating_given_in_the_session_is_not_overruled_by_its_outcome(flaky, clock):
    memory, ids = flaky
    hits = memory.search("login test mocking the clock", limit=2, session_id="s1").hits
    assert hits[0].id == ids["B"] and not hits[0].weak
    clock.advance(0.001)
    memory.learning.feedback([ids["B"]], helpful=False)  # tried it: it did not help
    clock.advance(0.01)
    done = memory.capture(
        episode(summary="fixed it another way", outcome="success", session_id="s1")
    )
    assert ids["B"] not in {c.id for c in done.credit} and done.credit  # the others still are
    assert "credit" not in [e[2] for e in memory.ledger.events(ids["B"])]


# the graph, kept as `propagate` has it -------------------------------------------

ALIKE = "deploy pipeline staging docker build cache step"


def test_undoing_an_only_rating_takes_the_episode_out_of_its_neighbours_average(fast_memory):
    """Only an episode with evidence sends value: once its only rating is undone, it no
    longer counts in what its neighbours average, as `propagate` would have it."""
    a, b, c = (
        fast_memory.capture(episode(task=f"{ALIKE} {k}", summary=ALIKE)).episode.id for k in "abc"
    )
    fast_memory.learning.feedback([c], helpful=False)
    alone = fast_memory.ledger.state(b).p  # what c alone says about b
    assert alone < 0
    fast_memory.learning.feedback([a], helpful=True)
    own, *moved = fast_memory.learning.undo_feedback(a)
    assert own.id == a and {ch.id for ch in moved} == {b, c}
    # what moved them came from a's undone rating, and says so
    assert {ch.other_id for ch in moved} == {a}
    _seq, _ts, cause, other, *_values, detail, _prev, _q = fast_memory.ledger.events(b)[-1]
    assert (cause, other) == ("propagation", a) and detail.endswith("1 no longer rated")
    assert fast_memory.ledger.conn.execute(
        "SELECT COUNT(*) FROM edges WHERE src = ?", (a,)
    ).fetchone() == (0,)
    assert fast_memory.ledger.state(b).p == pytest.approx(alone)
    assert fast_memory.learning.propagate(dry_run=True).changes == []


def test_a_move_of_p_that_leaves_the_utility_as_it_was_writes_no_history(fast_memory):
    """An episode at 0 % (no value of its own, and its neighbours take away more) does not
    move when a neighbour is rated lower still: no row pads its history, and the rating's
    reply does not list it."""
    source, low = f"{1:032x}", f"{2:032x}"
    lines = [
        json.dumps(
            {
                "id": i,
                "task": f"{ALIKE} {i[-1]}",
                "summary": ALIKE,
                "learning": {"q": q, "evidence": n, "unhelpful": n},
            }
        )
        for i, q, n in ((source, 0.3, 2), (low, 0.0, 1))
    ]
    assert fast_memory.import_(lines).imported == 2
    assert fast_memory.get(low).learned.utility == 0
    rows, p = len(fast_memory.ledger.events(low)), fast_memory.ledger.state(low).p
    changes = fast_memory.learning.feedback([source], helpful=False)
    assert fast_memory.ledger.state(low).p < p - 0.001  # its neighbour pulls it lower…
    assert fast_memory.get(low).learned.utility == 0  # …below what can be shown
    assert len(fast_memory.ledger.events(low)) == rows
    assert low not in [ch.id for ch in changes]
