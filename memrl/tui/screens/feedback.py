"""A feedback session: each episode that was retrieved but never rated, with the query
that retrieved it; y helpful, n unhelpful, s skip."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual import on
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Header, Markdown, Static

from memrl.tui import curator
from memrl.tui.format import one_line
from memrl.tui.messages import StoreChanged
from memrl.tui.screens.base import MemrlScreen
from memrl.tui.undo import Undo
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.footer import Footer
from memrl.views import ago

NOTHING = """\
## Nothing to rate

No episode is waiting for feedback: each one Claude retrieves shows up here until it is
rated. Ratings teach memrl which memories help: helpful ones rise in search, unhelpful
ones fade, and their neighbours follow.

Press **escape** to go back.
"""

DONE = """\
## Session done

{counts}{later} Ratings teach memrl which memories help: helpful ones rise in search,
unhelpful ones fade, and their neighbours follow.

Press **escape** to go back.
"""


@dataclass(slots=True, eq=False)
class Answer:
    """One card answered, for u to step back over."""

    position: int
    rated: bool  # False: skipped
    saving: bool = False  # the rating is on its way to the store
    undo: Undo | None = None  # the rating's, once saved
    taken_back: bool = False  # u came before it was saved: undo it when it is


class FeedbackScreen(MemrlScreen[None]):
    BINDINGS = [
        Binding("y", "rate(True)", "Helpful"),
        Binding("n", "rate(False)", "Unhelpful"),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("escape", "app.pop_screen", "Done"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[tuple[str, str, float]] = []
        self.position = 0
        self.rated = 0
        self.skipped = 0
        self.steps: list[Answer] = []

    def compose(self):
        yield Header()
        yield Static(id="session-progress")
        yield Static(id="session-query")
        yield EpisodeDetail(self.app.memory, self.app.clock, id="session-episode")
        yield Markdown(id="session-done")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "feedback session"
        self.queue = self.app.memory.learning.unrated()
        self.show_current()

    @property
    def current(self) -> tuple[str, str, float] | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    def show_current(self) -> None:
        item = self.current
        done = item is None
        self.query_one("#session-done").display = done
        for name in ("#session-query", "#session-episode"):
            self.query_one(name).display = not done
        remaining = len(self.queue) - self.position
        counts = f"{self.rated} rated · {self.skipped} skipped"
        self.query_one("#session-progress", Static).update(
            f"{self.position + 1} of {len(self.queue)} · {remaining} remain · {counts}"
            "     y helpful · n unhelpful · s skip · u undo"
            if not done
            else f"done · {counts}" + ("     u undo · escape back" if self.steps else "")
        )
        self.refresh_bindings()  # y, n and s leave the footer once nothing is left
        if item is None:
            later = " Skipped ones come back next time." if self.skipped else ""
            counts = f"{self.rated} rated, {self.skipped} skipped."
            text = DONE.format(counts=counts, later=later) if self.queue else NOTHING
            self.query_one("#session-done", Markdown).update(text)
            return
        episode_id, query, ts = item
        self.query_one("#session-query", Static).update(
            Content(  # the query is the person's text, never markup
                f"Retrieved {ago(ts, self.app.clock())} for:  “{one_line(query)}”\n"
                "Did this memory help with that?"
            )
        )
        error = self.query_one(EpisodeDetail).show(episode_id)
        if error:
            self.position += 1
            self.show_current()

    @on(StoreChanged)
    def _store_changed(self) -> None:
        """A rating or its undo lands after the card is shown (it runs on a worker), and
        other processes write too: show the card's episode as it is now."""
        if self.current is not None:
            self.query_one(EpisodeDetail).refresh_episode()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """When every card is answered, y, n and s are no longer offered (u steps back)."""
        return action not in ("rate", "skip") or self.current is not None

    def action_rate(self, helpful: bool) -> None:
        item = self.current
        if item is None:
            self.notify("nothing left to rate; escape goes back")
            return
        answer = Answer(self.position, rated=True, saving=True)
        self.steps.append(answer)
        self.rated += 1
        self.position += 1
        self.show_current()
        self.app.write(curator.rate([item[0]], helpful), partial(self._saved, answer))

    def _saved(self, answer: Answer, ok: bool, undo: Undo | None) -> None:
        answer.saving, answer.undo = False, undo
        if answer.taken_back:
            self._take_back(answer)
        elif not ok and answer in self.steps:  # not rated (the app says why): not counted
            self.steps.remove(answer)
            self.rated -= 1
            if self.on_stack:
                self.show_current()

    def _take_back(self, answer: Answer) -> None:
        """Undo this answer's rating: this one, whatever else was done since."""
        if answer.undo is not None and self.app.undo_stack.remove(answer.undo):
            self.app.write(curator.undo(answer.undo))

    def action_skip(self) -> None:
        if self.current is None:
            self.notify("nothing left to rate; escape goes back")
            return
        self.steps.append(Answer(self.position, rated=False))
        self.skipped += 1
        self.position += 1
        self.show_current()

    def action_undo(self) -> None:
        """Step back one card: a rating is taken back, a skip forgotten. Only this
        session's answers: what was done before it is undone from the other screens."""
        if not self.steps:
            self.notify("nothing to undo in this session", severity="warning")
            return
        answer = self.steps.pop()
        self.position = answer.position
        if answer.rated:
            self.rated -= 1
            answer.taken_back = True
            if not answer.saving:
                self._take_back(answer)
        else:
            self.skipped -= 1
        self.show_current()
