"""The detail pane: one episode (`format.episode_text`), or why it cannot be shown.

It follows the table cursor, so it must be cheap to change: the episode is rendered by
Rich once per episode (and per width) into lines, and the pane only hands out the lines on
screen — no widget per block, and no re-measuring of a text widget on every move."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType
from rich.markdown import Markdown
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from memrl.errors import InvalidInput, MemrlError, NotFound
from memrl.memory import Memory
from memrl.tui.format import episode_text

GONE = (
    "## This episode is gone\n\n```\n{error}\n```\n\n"
    "Another process may have archived or deleted it. "
    "Press **ctrl+r** to refresh the list, or `memrl index` in a shell to bring the catalog "
    "up to date."
)
CORRUPT = (
    "## ⚠ This episode file cannot be read\n\n```\n{error}\n```\n\n"
    "Fix the JSON by hand (it is plain text) or restore it from a backup; then press "
    "**ctrl+r**. `memrl status` lists every unreadable file."
)


class EpisodeDetail(ScrollView, can_focus=True):
    """Shows `memory.get(id)`; remembers which episode it shows so a refresh can re-read it."""

    def __init__(self, memory: Memory, clock: Callable[[], float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.memory = memory
        self.clock = clock
        self.episode_id: str | None = None
        self.problem: str | None = None
        self.content: RenderableType | None = None  # what is shown
        self._lines: list[Strip] = []
        self._width = 0  # the width the lines were rendered at

    def show(self, episode_id: str | None, problem: str | None = None) -> str | None:
        """Render an episode; returns the error text when it cannot be read. The same
        episode shown again (rated, edited, changed elsewhere) keeps its scroll position."""
        top = self.scroll_y if episode_id is not None and episode_id == self.episode_id else 0
        self.episode_id = episode_id
        self.problem = None
        if problem and episode_id is None:
            self.problem = problem
            self._set(Markdown(CORRUPT.format(error=problem)))
            return problem
        if episode_id is None:
            self._set(None)
            return None
        try:
            view = self.memory.get(episode_id)
        except NotFound as exc:
            self.problem = str(exc)
            self._set(Markdown(GONE.format(error=exc)))
            return self.problem
        except (InvalidInput, MemrlError) as exc:
            self.problem = str(exc)
            self._set(Markdown(CORRUPT.format(error=exc)))
            return self.problem
        self._set(episode_text(view, self.clock()), top)
        return None

    def refresh_episode(self) -> None:
        if self.episode_id:
            self.show(self.episode_id)

    # rendering ----------------------------------------------------------------------

    def _set(self, content: RenderableType | None, top: float = 0) -> None:
        self.content = content
        self._width = 0
        self._layout_lines()
        self.scroll_to(y=top, animate=False, immediate=True)

    def _layout_lines(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._width:
            return  # not laid out yet (on_resize comes), or already done
        self._width = width
        if self.content is not None:
            console = self.app.console
            options = console.options.update(width=width, highlight=False)
            lines = console.render_lines(self.content, options, pad=False)
            self._lines = [Strip(line) for line in lines]
        else:
            self._lines = []
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def on_resize(self) -> None:
        self._layout_lines()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        style = self.rich_style
        index = round(self.scroll_y) + y
        if index >= len(self._lines):
            return Strip.blank(width, style)
        return self._lines[index].apply_style(style).crop_extend(0, width, style)
