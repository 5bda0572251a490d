"""Episode cards side by side (merge's originals, a review's look-alikes), stepped through
with ← and →; on a narrow terminal one above the other in one scrolling column."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.geometry import Size

MIN_WIDTH = 36  # columns a card needs beside the others (as memrl.tcss says)


class Cards(ScrollableContainer, can_focus=False):
    """Cards share the width while each gets MIN_WIDTH columns or more; past that they
    scroll, as many whole cards side by side as fit MIN_WIDTH or a little more (three on
    120 columns), not one card the width of the screen. ← and → move to the card before
    or after the one with the focus, while some card is out of sight."""

    BINDINGS = [
        Binding("left", "step(-1)", "Cards", show=False, priority=True),
        Binding("right", "step(1)", "Cards", key_display="← →", priority=True),
    ]

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def watch_virtual_size(self, size: Size) -> None:
        # cards laid out anew (a resize, stacked or side by side; a card's text changed):
        # the card with the focus stays in sight
        self.call_after_refresh(self._focus_in_sight)

    def fit(self) -> None:
        """Size the cards for the room there is; call after cards are mounted or removed."""
        cards, room = list(self.children), self.size.width
        stacked = self.styles.layout is not None and self.styles.layout.name == "vertical"
        over = not stacked and len(cards) * MIN_WIDTH > room
        # as many whole cards as fit, sharing the room: None leaves it to the stylesheet
        width = room // max(1, room // MIN_WIDTH) if over else None
        for card in cards:
            card.styles.width = width
        self.refresh_bindings()

    def _focus_in_sight(self) -> None:
        cards = list(self.children)
        if self.screen.focused in cards[1:]:
            self.scroll_to_widget(self.screen.focused, animate=False, top=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step":  # offered only while some card is out of sight
            return self.max_scroll_x > 0 or self.max_scroll_y > 0
        return True

    def action_step(self, step: int) -> None:
        cards = list(self.children)
        if self.screen.focused not in cards:
            return  # the focus is elsewhere: the key is not ours
        at = cards.index(self.screen.focused)
        card = cards[max(0, min(len(cards) - 1, at + step))]
        # focused at once (focus() takes effect a moment later: three quick presses would
        # step from the same card), and stacked, its top at the top: taller than a glimpse
        self.screen.set_focus(card, scroll_visible=False)
        self.scroll_to_widget(card, animate=False, top=True)
