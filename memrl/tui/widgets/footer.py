"""The key bar: compact on narrow terminals, so the keys that matter most still fit."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey


class Footer(TextualFooter):
    """Below 110 columns the keys close up; below 100 the palette's key (ctrl+p, also in
    the key help) gives its room to them. A key that does not fit whole is left out,
    never shown cut (a stray `/` of `/ Search` at the edge): `?` lists them all."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < 110
        palette = event.size.width >= 100
        if palette != self.show_command_palette:  # Textual's footer only reads it on compose
            self.show_command_palette = palette
            self.call_after_refresh(self.recompose)
        for key in self.query(FooterKey):
            key.display = True  # all again: wider, more may fit
        self.call_after_refresh(self._leave_out_what_does_not_fit)

    async def recompose(self) -> None:
        await super().recompose()  # the keys of the screen's bindings now
        self.call_after_refresh(self._leave_out_what_does_not_fit)

    def _leave_out_what_does_not_fit(self) -> None:
        keys = list(self.query(FooterKey))
        palette = [k for k in keys if k.has_class("-command-palette") and k.display]
        edge = palette[0].region.x if palette else self.region.right
        for key in keys:
            if key not in palette and key.display and key.region.right > edge:
                key.display = False
