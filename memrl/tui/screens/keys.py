"""? : every key of the screen it opens over, in a list that the keys scroll.

Textual's help panel is cut off at the foot of a normal terminal and cannot be scrolled
from the keyboard; the README promises that `?` lists every key."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

SIDEWAYS = frozenset({"scroll_left", "scroll_right", "page_left", "page_right"})


def key_table(screen: Screen) -> Table:
    """The screen's keys as they stand (its focused widget's, its own, the app's), each
    action once with all its keys; not Textual's system keys, nor its sideways scrolling
    where nothing scrolls sideways."""
    keys: dict[tuple[str, str], list[str]] = {}
    for node, binding, _enabled, _tooltip in screen.active_bindings.values():
        if not binding.description or binding.system:
            continue
        if binding.action in SIDEWAYS and not getattr(node, "allow_horizontal_scroll", True):
            continue  # Textual's scrolling sideways, on a list that never scrolls sideways
        shown = keys.setdefault((binding.action, binding.description), [])
        display = screen.app.get_key_display(binding)
        if display not in shown:
            shown.append(display)
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column()
    for (_action, description), displays in keys.items():
        table.add_row(" ".join(displays), Text(description))
    return table


class KeysScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark", "dismiss", "Close")]
    AUTO_FOCUS = "#keys-scroll"  # up, down, page up and down, home and end scroll it

    def __init__(self, table: Table) -> None:
        super().__init__()
        self.table = table

    def compose(self):
        with VerticalScroll(id="keys-scroll"):
            yield Static(self.table, id="keys-list")

    def on_mount(self) -> None:
        scroll = self.query_one("#keys-scroll")
        scroll.border_title = "keys"
        scroll.border_subtitle = "↑↓ scroll · ? or escape closes"
