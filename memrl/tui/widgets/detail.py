"""The detail pane: one episode rendered as markdown, or why it cannot be shown.

Rendered with Rich's markdown into one Static rather than Textual's Markdown widget (a
widget per block): the pane follows the table cursor, and one widget keeps that cheap."""

from __future__ import annotations

from collections.abc import Callable

from rich.markdown import Markdown
from textual.containers import VerticalScroll
from textual.widgets import Static

from memrl.errors import InvalidInput, MemrlError, NotFound
from memrl.memory import Memory
from memrl.tui.format import episode_markdown

GONE = (
    "## This episode is gone\n\n{error}\n\nAnother process may have archived or deleted it. "
    "Press **ctrl+r** to refresh the list, or `memrl index` in a shell to bring the catalog "
    "up to date."
)
CORRUPT = (
    "## ⚠ This episode file cannot be read\n\n```\n{error}\n```\n\n"
    "Fix the JSON by hand (it is plain text) or restore it from a backup; then press "
    "**ctrl+r**. `memrl status` lists every unreadable file."
)


class EpisodeDetail(VerticalScroll, can_focus=True):
    """Shows `memory.get(id)`; remembers which episode it shows so a refresh can re-read it."""

    def __init__(self, memory: Memory, clock: Callable[[], float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.memory = memory
        self.clock = clock
        self.episode_id: str | None = None
        self.problem: str | None = None

    def compose(self):
        yield Static(id="detail-md")

    def show(self, episode_id: str | None, problem: str | None = None) -> str | None:
        """Render an episode; returns the error text when it cannot be read."""
        self.episode_id = episode_id
        static = self.query_one("#detail-md", Static)

        def md(text: str) -> None:
            static.update(Markdown(text) if text else "")

        if problem and episode_id is None:
            self.problem = problem
            md(CORRUPT.format(error=problem))
            return problem
        if episode_id is None:
            self.problem = None
            md("")
            return None
        try:
            view = self.memory.get(episode_id)
        except NotFound as exc:
            self.problem = str(exc)
            md(GONE.format(error=exc))
            return self.problem
        except (InvalidInput, MemrlError) as exc:
            self.problem = str(exc)
            md(CORRUPT.format(error=exc))
            return self.problem
        self.problem = None
        md(episode_markdown(view, self.clock()))
        self.scroll_home(animate=False)
        return None

    def refresh_episode(self) -> None:
        if self.episode_id:
            self.show(self.episode_id)
