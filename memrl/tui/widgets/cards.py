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

    _at = 0  # the card stepped to last

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

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget in self.children:  # a click, Tab, or a screen focusing its first
            self._at = list(self.children).index(event.widget)

    def action_step(self, step: int) -> None:
        # counted here, not read from the focus: focusing takes effect a moment later, and
        # three quick presses must step three cards, not the same one three times
        cards = list(self.children)
        if not cards:
            return
        self._at = max(0, min(len(cards) - 1, self._at + step))
        card = cards[self._at]
        card.focus(scroll_visible=False)
        # into view; stacked (narrow), its top at the top: a card is taller than a glimpse
        self.scroll_to_widget(card, animate=False, top=True)
