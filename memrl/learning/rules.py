"""The learning rules, as pure functions. Nothing here touches disk or the model.

An episode's learned state has two parts:

* `q`, its own evidence: an exponential moving average of rewards from feedback
  (helpful = 1, unhelpful = 0) and temporal credit. 0.5 means "no evidence".
* `p`, what its neighbours' evidence says about it: one Bellman backup over the
  similarity graph. `p` is recomputed from the neighbours' `q`, never from their
  current utility, so propagation is a fixed point: running it again with no new
  evidence changes nothing.

Utility = clip(q + p) × (1 − decay_rate)^(days since last use), shown as a percentage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NEUTRAL = 0.5
DAY = 86_400.0


def clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def reward_update(q: float, reward: float, alpha: float, weight: float = 1.0) -> float:
    """u ← u + α·w·(r − u): feedback (w = 1) or a share of temporal credit (w = λ^k)."""
    return clip(q + alpha * weight * (reward - q))


def decay_factor(last_used: float, now: float, rate: float, pinned: bool = False) -> float:
    """(1 − rate)^days since last use; pinned episodes do not decay."""
    if pinned or rate <= 0:
        return 1.0
    days = max(0.0, (now - last_used) / DAY)
    return (1.0 - rate) ** days


def confidence(evidence: int) -> float:
    """How much the utility rests on: 0 with no feedback, ½ after 2 pieces, → 1."""
    return evidence / (evidence + 2.0) if evidence > 0 else 0.0


def utility(q: float, p: float, factor: float = 1.0) -> float:
    return clip(q + p) * factor


def credit_weights(count: int, lam: float) -> list[float]:
    """λ^k for the retrievals before an outcome, most recent first (k = 0)."""
    return [lam**k for k in range(count)]


def outcome_reward(outcome: str) -> float | None:
    return {"success": 1.0, "partial": 0.5, "failure": 0.0}.get(outcome)


@dataclass(frozen=True, slots=True)
class Inflow:
    """One neighbour's pull on an episode: similarity and the neighbour's own evidence."""

    src: str
    sim: float
    q: float
    evidence: int


def edge_weight(sim: float, threshold: float) -> float:
    """How strongly two episodes are linked: 0 at the propagation threshold, 1 when identical.

    Raw cosine would let any neighbour just above the threshold pass on most of its value;
    rescaling keeps near-duplicates close in utility while mere look-alikes stay independent.
    """
    return clip((sim - threshold) / max(1e-6, 1.0 - threshold))


def propagated(
    inflows: Sequence[Inflow], gamma: float, own_evidence: int, threshold: float = 0.5
) -> float:
    """The Bellman backup p = γ·Σ w·(q − ½) / max(1, Σ w), damped by the episode's own confidence.

    w is each neighbour's edge weight times its confidence: a neighbour pulls as hard as its
    own evidence is sure, so one rating does not outweigh nine, and one with none sends
    nothing. Averaging (rather than summing) keeps p bounded however many neighbours an
    episode has, and the damping lets an episode's own feedback outweigh what its neighbours
    suggest.
    """
    return sum(flows(inflows, gamma, own_evidence, threshold).values())


def flows(
    inflows: Sequence[Inflow], gamma: float, own_evidence: int, threshold: float = 0.5
) -> dict[str, float]:
    """Each neighbour's share of `propagated`, for explaining and drawing the graph."""
    if not inflows:
        return {}
    weights = {f.src: edge_weight(f.sim, threshold) * confidence(f.evidence) for f in inflows}
    total = max(1.0, sum(weights.values()))
    damp = gamma * (1.0 - confidence(own_evidence))
    return {f.src: damp * weights[f.src] * (f.q - NEUTRAL) / total for f in inflows}


# ranking ----------------------------------------------------------------------------


@dataclass(slots=True)
class Candidate:
    id: str
    similarity: float  # cosine, -1..1
    keyword: float = 0.0  # BM25 relative to the best keyword hit, 0..1
    exact: bool = False  # it holds every identifier of the query (a path, a name…) whole
    utility: float = NEUTRAL
    evidence: int = 0
    relevance: float = 0.0
    normalised: float = 0.0
    score: float = 0.0
    weak: bool = False  # relevant enough to show, not enough to count as used


def relevance(similarity: float, keyword: float, keyword_weight: float) -> float:
    """Phase one: semantic similarity, raised by an exact keyword match."""
    return similarity + keyword_weight * keyword


def normalise(rel: float, floor: float) -> float:
    """Map relevance onto 0..1 with the minimum similarity at 0 and a perfect match at 1."""
    span = max(1e-6, 1.0 - floor)
    return clip((rel - floor) / span)


def rank(
    candidates: Iterable[Candidate],
    *,
    min_similarity: float,
    utility_weight: float,
    keyword_weight: float,
    weak_below: float = 0.0,
) -> list[Candidate]:
    """Two phases, as in MemRL: keep what is relevant enough, then blend in learned utility.

    Hits that hold the query's identifiers whole (a path, a name) come first: a look-alike
    that reads closer does not hide the episode that touched the very file asked about. A
    hit under `weak_below` without them is weak: it comes after every other, whatever its
    utility, so a well-rated faint match never hides a close one below a small limit."""
    kept = []
    for c in candidates:
        c.relevance = relevance(c.similarity, c.keyword, keyword_weight)
        if c.relevance < min_similarity:
            continue
        c.normalised = normalise(c.relevance, min_similarity)
        c.score = (1.0 - utility_weight) * c.normalised + utility_weight * c.utility
        c.weak = c.relevance < weak_below and not c.exact
        kept.append(c)
    kept.sort(key=lambda c: (c.weak, not c.exact, -c.score, -c.relevance, c.id))
    return kept


def histogram(values: Iterable[float], bins: int = 10) -> list[int]:
    """Counts per equal bin of [0, 1], by the whole percentage shown (49.999… is 50 %)."""
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, math.floor(round(v * 100) * bins / 100)))] += 1
    return counts
