"""The learning rules as pure functions."""

from __future__ import annotations

import pytest

from memrl.learning import rules
from memrl.learning.rules import Candidate, Inflow


def test_feedback_update_moves_towards_the_reward():
    assert rules.reward_update(0.5, 1.0, 0.1) == pytest.approx(0.55)
    assert rules.reward_update(0.5, 0.0, 0.1) == pytest.approx(0.45)
    q = 0.5
    for _ in range(200):
        q = rules.reward_update(q, 1.0, 0.1)
    assert 0.999 < q <= 1.0


def test_credit_share_is_a_weighted_update():
    assert rules.reward_update(0.5, 1.0, 0.1, weight=0.8) == pytest.approx(0.54)
    assert rules.credit_weights(4, 0.8) == pytest.approx([1.0, 0.8, 0.64, 0.512])


def test_decay_is_one_percent_a_day_since_last_use():
    day = rules.DAY
    assert rules.decay_factor(0, 30 * day, 0.01) == pytest.approx(0.99**30)
    assert rules.decay_factor(0, 30 * day, 0.01, pinned=True) == 1.0
    assert rules.decay_factor(10 * day, 10 * day, 0.01) == 1.0
    assert rules.utility(0.8, 0.0, rules.decay_factor(0, 10 * day, 0.01)) == pytest.approx(
        0.8 * 0.99**10
    )


def test_outcome_rewards():
    assert rules.outcome_reward("success") == 1.0
    assert rules.outcome_reward("failure") == 0.0
    assert rules.outcome_reward("partial") == 0.5
    assert rules.outcome_reward("unknown") is None


def test_propagation_is_a_bounded_discounted_average():
    one = [Inflow("a", 0.8, 0.9, 2)]
    weight = (0.8 - 0.5) / (1 - 0.5) * 0.5  # edge weight × the source's confidence (2 signals)
    assert rules.propagated(one, 0.9, 0) == pytest.approx(0.9 * weight * 0.4)
    many = [Inflow(str(i), 0.9, 1.0, 8) for i in range(50)]
    assert rules.propagated(many, 0.9, 0) == pytest.approx(0.9 * 0.5)
    assert rules.propagated([Inflow("a", 0.8, 0.5, 3)], 0.9, 0) == 0.0
    mixed = [Inflow("a", 0.8, 1.0, 3), Inflow("b", 0.8, 0.0, 3)]
    assert rules.propagated(mixed, 0.9, 0) == pytest.approx(0.0)


def test_a_neighbour_pulls_as_hard_as_its_evidence_is_sure():
    """One rating does not outweigh nine: a near-duplicate rated helpful once does not drag
    down an episode that a well-rated one lifts (it lifts it a little more)."""
    q_nine = 1 - 0.5 * 0.9**9  # nine helpful ratings at α = 0.1
    lifted = rules.propagated([Inflow("a", 0.96, q_nine, 9)], 0.9, 0)
    both = rules.propagated([Inflow("a", 0.96, q_nine, 9), Inflow("b", 0.96, 0.55, 1)], 0.9, 0)
    assert lifted > 0.15 and both >= lifted
    assert rules.propagated([Inflow("a", 0.96, 1.0, 0)], 0.9, 0) == 0.0  # no evidence, no pull


def test_edge_weight_is_zero_at_the_threshold_and_one_for_duplicates():
    assert rules.edge_weight(0.5, 0.5) == 0.0
    assert rules.edge_weight(1.0, 0.5) == 1.0
    assert rules.edge_weight(0.75, 0.5) == pytest.approx(0.5)
    assert rules.propagated([Inflow("a", 0.5, 1.0, 4)], 0.9, 0) == 0.0


def test_own_evidence_damps_what_neighbours_say():
    pull = [Inflow("a", 0.9, 0.1, 6)]
    fresh = rules.propagated(pull, 0.9, own_evidence=0)
    seasoned = rules.propagated(pull, 0.9, own_evidence=10)
    assert fresh < seasoned < 0
    assert abs(seasoned) < abs(fresh) / 5


def test_flows_sum_to_the_backup():
    pull = [Inflow("a", 0.9, 0.8, 3), Inflow("b", 0.6, 0.3, 1), Inflow("c", 0.7, 0.6, 2)]
    assert sum(rules.flows(pull, 0.9, 1).values()) == pytest.approx(rules.propagated(pull, 0.9, 1))


def test_rank_drops_irrelevant_candidates_and_blends_utility():
    cands = [
        Candidate("near", 0.70, utility=0.5),
        Candidate("useful", 0.62, utility=0.95),
        Candidate("far", 0.10, utility=1.0),
    ]
    plain = rules.rank(
        [Candidate(c.id, c.similarity, utility=c.utility) for c in cands],
        min_similarity=0.25,
        utility_weight=0.0,
        keyword_weight=0.25,
    )
    assert [c.id for c in plain] == ["near", "useful"]
    learned = rules.rank(cands, min_similarity=0.25, utility_weight=0.3, keyword_weight=0.25)
    assert [c.id for c in learned] == ["useful", "near"]


def test_keyword_match_rescues_a_low_similarity_candidate():
    cands = [Candidate("semantic", 0.40), Candidate("exact", 0.20, keyword=1.0)]
    ranked = rules.rank(cands, min_similarity=0.25, utility_weight=0.3, keyword_weight=0.25)
    assert [c.id for c in ranked] == ["exact", "semantic"]


def test_a_weak_match_never_ranks_above_a_close_one():
    """A faint match with a high utility would otherwise fill a small limit, and the close
    match below it would not be seen; one holding the query's identifiers is not faint."""
    cands = [
        Candidate("close", 0.62, utility=0.2),
        Candidate("faint but useful", 0.40, utility=1.0),
        Candidate("exact name", 0.30, keyword=1.0, exact=True, utility=0.5),
    ]
    ranked = rules.rank(
        cands, min_similarity=0.25, utility_weight=0.4, keyword_weight=0.25, weak_below=0.5
    )
    assert [(c.id, c.weak) for c in ranked] == [
        ("exact name", False),
        ("close", False),
        ("faint but useful", True),
    ]
    assert ranked[2].score > ranked[1].score  # by score alone it would have come second


def test_confidence_grows_with_evidence():
    assert rules.confidence(0) == 0.0
    assert rules.confidence(2) == 0.5
    assert rules.confidence(1) < rules.confidence(5) < rules.confidence(50) < 1


def test_histogram_bins_by_the_percentage_shown():
    from memrl.learning.rules import histogram

    # a new episode that decayed a hair below 0.5 shows as 50%: it belongs with 50–60
    assert histogram([0.4999999, 0.5, 0.0, 1.0, 0.449]) == [1, 0, 0, 0, 1, 2, 0, 0, 0, 1]
