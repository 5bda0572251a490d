"""The key bar: compact on narrow terminals, so the keys that matter most still fit."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """Below 110 columns the keys close up; below 100 the palette's key (ctrl+p, also in
    the key help) gives its room to them."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < 110
        self.show_command_palette = event.size.width >= 100
