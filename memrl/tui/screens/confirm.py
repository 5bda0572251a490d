"""A yes/no question that answers through `dismiss`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import App
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from memrl.tui.format import clip
from memrl.views import Row, plural


class ConfirmScreen(ModalScreen[bool]):
    AUTO_FOCUS = "#yes"  # not the detail's scroll, which tab reaches
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes = yes

    def compose(self):
        with Vertical(id="confirm"):
            yield Static(Content(self.question), id="confirm-question")  # text, not markup
            if self.detail:  # a long one scrolls: the question and the buttons stay in sight
                with VerticalScroll(id="confirm-scroll"):
                    yield Static(Content(self.detail), id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


LISTED = 12  # episodes a confirmation names; the rest are counted


def confirm_archive(app: App, rows: Sequence[Row], archive: Callable[[], None]) -> None:
    """Ask before archiving `rows`, the first LISTED of them by name; `archive` runs on yes."""
    listing = "\n".join(f"  {r.short_id}  {clip(r.title, 60)}" for r in rows[:LISTED])
    if len(rows) > LISTED:
        listing += f"\n  … and {plural(len(rows) - LISTED, 'more episode')}"
    it = "it" if len(rows) == 1 else "them"

    def answered(yes: bool | None) -> None:
        if yes:
            archive()

    app.push_screen(
        ConfirmScreen(
            f"Archive {plural(len(rows), 'episode')}?",
            f"Archived episodes leave search; u or `memrl restore` brings {it} back.\n\n{listing}",
            yes="Archive",
        ),
        answered,
    )
