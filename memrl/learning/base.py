"""What every part of learning shares: settings, the ledger, and reading learned state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memrl.learning.rules import Inflow, decay_factor, propagated, utility
from memrl.store.ledger import StateRow

if TYPE_CHECKING:
    from memrl.memory import Memory

# Smaller moves of p are not changes: similarities come back from LanceDB and from numpy
# as float32, which agree to about 1e-7, and no one reads a utility to eight digits.
EPS = 1e-6
CONTEXT = "context"  # the origin of retrievals made to give a session its opening context


def undo_detail(word: str, seq: int) -> str:
    """An undo event's detail: the rating it took back ("helpful #29")."""
    return f"{word} #{seq}"


def undone_seq(detail: str) -> int:
    """The seq of the rating an undo event took back, read from its detail."""
    return int(detail.rsplit("#", 1)[1])


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
