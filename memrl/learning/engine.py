"""Learning over the store: feedback, temporal credit and Bellman propagation.

`Engine` is what `Memory.learning` returns; each part lives in its own module: `graph`
(propagation, which the others build on: both end by spreading value), `feedback`
(ratings, the retrieval log, undo) and `credit` (temporal credit). The pure rules they
apply are in `rules`.
"""

from __future__ import annotations

from memrl.learning.base import CONTEXT
from memrl.learning.credit import Credit
from memrl.learning.feedback import Feedback
from memrl.learning.graph import PropagationReport

__all__ = ["CONTEXT", "Engine", "PropagationReport"]


class Engine(Feedback, Credit):
    """Feedback, credit and propagation over one Memory."""
