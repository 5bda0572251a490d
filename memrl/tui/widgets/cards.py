"""Episode cards side by side (merge's originals, a review's look-alikes), stepped through
with ← and →; on a narrow terminal one above the other in one scrolling column."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.containers import ScrollableContainer

MIN_WIDTH = 36  # columns a card needs beside the others (as memrl.tcss says)


class Cards(ScrollableContainer, can_focus=False):
    """Cards share the width while each gets MIN_WIDTH columns or more; past that each keeps
    a width of its own and they scroll (class `-overflowing`), so a cluster of twenty shows
    three whole cards at a time, not one card the width of the screen. ← and → move to the
    card before or after the one with the focus, while some card is out of sight."""

    BINDINGS = [
        Binding("left", "step(-1)", "Cards", show=False, priority=True),
        Binding("right", "step(1)", "Cards", key_display="← →", priority=True),
    ]

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Call after cards are mounted or removed."""
        cards = len(self.children)
        self.set_class(cards * MIN_WIDTH > self.size.width, "-overflowing")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step":  # offered only while some card is out of sight
            return self.max_scroll_x > 0 or self.max_scroll_y > 0
        return True

    def action_step(self, step: int) -> None:
        cards = list(self.children)
        if self.screen.focused in cards:  # the focus is in here, or the key is not ours
            at = cards.index(self.screen.focused)
            cards[max(0, min(len(cards) - 1, at + step))].focus()  # scrolls it into view
