"""A feedback session: each episode that was retrieved but never rated, with the query
that retrieved it; y helpful, n unhelpful, s skip."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Header, Markdown, Static

from memrl.tui import curator
from memrl.tui.screens.base import MemrlScreen
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
        self.steps: list[tuple[int, bool]] = []  # (position, rated) of each answer, for u

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
        self.query_one("#session-progress", Static).update(
            f"{self.position + (0 if done else 1)} of {len(self.queue)} · {remaining} remain"
            f" · {self.rated} rated · {self.skipped} skipped     y helpful · n unhelpful · s skip"
            " · u undo"
        )
        if item is None:
            later = " Skipped ones come back next time." if self.skipped else ""
            counts = f"{self.rated} rated, {self.skipped} skipped."
            text = DONE.format(counts=counts, later=later) if self.queue else NOTHING
            self.query_one("#session-done", Markdown).update(text)
            return
        episode_id, query, ts = item
        self.query_one("#session-query", Static).update(
            f"Retrieved {ago(ts, self.app.clock())} for:  “{query}”\n"
            "Did this memory help with that?"
        )
        error = self.query_one(EpisodeDetail).show(episode_id)
        if error:
            self.position += 1
            self.show_current()

    def action_rate(self, helpful: bool) -> None:
        item = self.current
        if item is None:
            self.notify("nothing left to rate; escape goes back")
            return
        self.app.write(curator.rate([item[0]], helpful))
        self.steps.append((self.position, True))
        self.rated += 1
        self.position += 1
        self.show_current()

    def action_skip(self) -> None:
        if self.current is None:
            self.notify("nothing left to rate; escape goes back")
            return
        self.steps.append((self.position, False))
        self.skipped += 1
        self.position += 1
        self.show_current()

    def action_undo(self) -> None:
        """Step back one card: a rating is taken back, a skip forgotten. Only this
        session's answers: what was done before it is undone from the other screens."""
        if not self.steps:
            self.notify("nothing to undo in this session", severity="warning")
            return
        self.position, rated = self.steps.pop()
        if rated:
            self.app.action_undo()
            self.rated -= 1
        else:
            self.skipped -= 1
        self.show_current()
