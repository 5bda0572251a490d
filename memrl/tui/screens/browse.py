"""Browse (home): the episode table, filters, a detail pane, and notices about the store."""

from __future__ import annotations

from textual import on, work
from textual.binding import Binding
from textual.containers import Container
from textual.timer import Timer
from textual.widgets import Footer, Header, Markdown, Static

from memrl.store import Filters
from memrl.tui.messages import EpisodeChosen, EpisodeHighlighted, FiltersChanged, StoreChanged
from memrl.tui.screens.base import EpisodeActions
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.episode_table import EpisodeTable
from memrl.tui.widgets.filter_bar import FilterBar

EMPTY = """\
# Nothing remembered yet

memrl learns from **episodes**: short records of a piece of work — what was asked, what
was done, what worked and what failed. Claude Code captures them for you once memrl is
connected, and this screen fills in live as they arrive.

- **Connect Claude Code:** `claude mcp add memrl -- memrl-mcp` gives Claude the memory tools.
- **Capture one by hand:** `memrl capture --task "Fix the flaky login test" --summary "Waited for the session cookie instead of sleeping" --outcome success`
- **Look around first:** `memrl tui --demo` opens a store full of realistic episodes.

Press **?** for the keys, **ctrl+p** for every command, **q** to quit.
"""


class BrowseScreen(EpisodeActions):
    BINDINGS = [
        Binding("m", "merge", "Merge"),
        Binding("escape", "clear_marks", "Clear marks", show=False),
        Binding("tab", "focus_next", "Next pane", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._detail_timer: Timer | None = None
        self._pending: tuple[str | None, str | None] = (None, None)

    def compose(self):
        yield Header()
        yield Static("", id="banner")
        yield FilterBar(self.memory.projects(), self.app.project, id="filters")
        with Container(id="browse-main"):
            yield EpisodeTable(self.memory, self.app.clock, id="table")
            yield EpisodeDetail(self.memory, self.app.clock, id="detail")
        yield Markdown(EMPTY, id="empty")
        yield Footer()

    @property
    def table(self) -> EpisodeTable:
        return self.query_one(EpisodeTable)

    def on_mount(self) -> None:
        self.query_one("#banner").display = False
        self.table.load(self.query_one(FilterBar).filters)
        self._update_counts()
        self.table.focus()
        self.call_after_refresh(self.check_store)  # a disk scan: after the first paint

    def selected_ids(self) -> list[str]:
        return self.table.selected_ids()

    def _update_counts(self, projects: list[tuple[str, int]] | None = None) -> None:
        total = self.memory.count(Filters())
        empty = total == 0 and not self.table.errors
        self.query_one("#empty").display = empty
        self.query_one("#browse-main").display = not empty
        self.query_one(FilterBar).display = not empty
        shown = len(self.table)
        n_projects = len(projects if projects is not None else self.memory.projects())
        self.sub_title = (
            f"{total:,} episodes · {n_projects} projects"
            if shown == total
            else f"{shown:,} of {total:,} episodes"
        ) + (f" · {len(self.table.marked)} marked" if self.table.marked else "")

    # the store -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def check_store(self) -> None:
        """Unreadable files and index problems, from the core's status (a disk scan)."""
        from memrl.maintenance import status

        report = status(self.memory)
        self.app.call_from_thread(self._show_status, report)

    def _show_status(self, report) -> None:
        self.table.set_errors(report.disk.corrupt)
        index = report.index
        banner = self.query_one("#banner", Static)
        text = ""
        if report.episodes and index.health.problem:
            text = f"⚠ {index.health.problem}  Press I to rebuild it here."
        elif report.episodes and (index.missing or index.stale):
            n = len(index.missing) + len(index.stale)
            text = f"⚠ {n} episodes are not up to date in the search index. Press I to update it."
        if report.disk.corrupt:
            n = len(report.disk.corrupt)
            text += ("\n" if text else "") + (
                f"⚠ {n} episode file{'s' if n > 1 else ''} cannot be read (marked ⚠ in the list)."
            )
        banner.update(text)
        banner.display = bool(text)
        self._update_counts()

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self.table.reload()
        self.query_one(EpisodeDetail).refresh_episode()
        if self.query_one("#banner").display:
            self.check_store()  # was a problem fixed meanwhile?

    def on_screen_resume(self) -> None:
        self._store_changed()

    # events ------------------------------------------------------------------------------

    @on(FiltersChanged)
    def _filters(self, event: FiltersChanged) -> None:
        self.table.reload(event.filters, reset=True)

    @on(EpisodeTable.Reloaded)
    def _reloaded(self) -> None:
        projects = self.memory.projects()
        self.query_one(FilterBar).set_projects(projects)
        self._update_counts(projects)

    @on(EpisodeHighlighted)
    def _highlighted(self, event: EpisodeHighlighted) -> None:
        self._pending = (event.episode_id, event.problem)
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(0.1, self._show_detail)

    def _show_detail(self) -> None:
        episode_id, problem = self._pending
        detail = self.query_one(EpisodeDetail)
        if episode_id == detail.episode_id and problem is None and detail.problem is None:
            return
        error = detail.show(episode_id, problem)
        if error and episode_id:
            self.table.mark_bad(episode_id, error)

    @on(EpisodeChosen)
    def _chosen(self, event: EpisodeChosen) -> None:
        from memrl.tui.screens.episode import EpisodeScreen

        self.app.push_screen(EpisodeScreen(event.episode_id))

    # actions -----------------------------------------------------------------------------

    def action_mark(self) -> None:
        self.table.action_mark()
        self._update_counts()

    def action_sort(self) -> None:
        self.table.action_sort()

    def action_clear_marks(self) -> None:
        self.table.marked.clear()
        self.table.refresh()
        self._update_counts()

    def action_focus_filters(self) -> None:
        self.query_one("#filter-project").focus()

    def action_merge(self) -> None:
        from memrl.tui.screens.merge import MergeScreen

        ids = list(self.table.marked)
        if len(ids) < 2:
            self.notify("mark two or more episodes with space first, then press m")
            return

        def merged(done: bool | None) -> None:
            if done:
                self.action_clear_marks()

        self.app.push_screen(MergeScreen(ids), merged)
