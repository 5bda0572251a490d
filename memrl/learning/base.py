"""What every part of learning shares: settings, the ledger, and reading learned state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from memrl.learning.rules import Inflow, decay_factor, propagated, utility
from memrl.store.ledger import StateRow

if TYPE_CHECKING:
    from memrl.memory import Memory

# Smaller moves of p are not changes: similarities come back from LanceDB and from numpy
# as float32, which agree to about 1e-7, and no one reads a utility to eight digits.
EPS = 1e-6
CONTEXT = "context"  # the origin of retrievals made to give a session its opening context


def standing(events: Iterable[tuple[int, str]]) -> list[int]:
    """The seqs of an episode's ratings not taken back, oldest first, from its (seq, cause)
    'feedback' and 'undo' events in order. An undo takes back the latest rating still
    standing, so undos and ratings pair as a stack: by their order, which an import keeps,
    not by seq, which it renumbers (an undo's detail names only the kind of rating)."""
    stack: list[int] = []
    for seq, cause in events:
        if cause == "feedback":
            stack.append(seq)
        elif cause == "undo" and stack:
            stack.pop()
    return stack


class LearningBase:
    def __init__(self, memory: Memory) -> None:
        self.m = memory

    @property
    def cfg(self):
        return self.m.settings.learning

    @property
    def ledger(self):
        return self.m.ledger

    def _backup(self, inflows: Sequence[Inflow], evidence: int) -> float:
        return propagated(
            inflows, self.cfg.discount_factor, evidence, self.cfg.propagation_threshold
        )

    def _shown(self, state: StateRow, created: float, pinned: bool) -> float:
        """The utility a person sees: decayed for the time since last use."""
        factor = decay_factor(state.idle_since(created), self.m.now(), self.cfg.decay_rate, pinned)
        return utility(state.q, state.p, factor)

    def _meta(self, ids: Sequence[str]) -> dict[str, tuple[float, bool, str]]:
        cats = self.ledger.catalog_many(ids)
        return {
            i: (c.created_at, bool(c.pinned), (c.task or c.summary).splitlines()[0][:80])
            for i, c in cats.items()
        }
