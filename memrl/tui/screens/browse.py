"""Browse (home): the episode table, filters, a detail pane, and notices about the store."""

from __future__ import annotations

from dataclasses import replace

from textual import on, work
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Header, Input, Markdown, Static

from memrl.errors import MemrlError
from memrl.store import Filters
from memrl.tui.messages import EpisodeChosen, EpisodeHighlighted, FiltersChanged, StoreChanged
from memrl.tui.screens.base import EpisodeActions
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.episode_table import EpisodeTable
from memrl.tui.widgets.filter_bar import FilterBar
from memrl.tui.widgets.footer import Footer
from memrl.views import plural

EMPTY = """\
# Nothing remembered yet

memrl learns from **episodes**: short records of a piece of work — what was asked, what
was done, what worked and what failed. Claude Code captures them for you once memrl is
connected, and this screen fills in live as they arrive.

- **Connect Claude Code:** `memrl setup claude` gives Claude the memory tools and hooks.
- **Capture one by hand:** `memrl capture --task "Fix the flaky login test" --summary "Waited for the session cookie instead of sleeping" --outcome success`
- **Look around first:** `memrl tui --demo` opens a store full of realistic episodes.

Press **?** for the keys, **ctrl+p** for every command, **q** to quit.
"""

ALL_ARCHIVED = """\
# Every episode is archived

{archived} kept on disk, left out of search and of this list. Press **A** to list
them; there **a** restores the one under the cursor (space marks several), and **u** takes
it back. In a shell, `memrl list --archived` lists them and `memrl restore <id>` restores one.

Press **?** for the keys, **ctrl+p** for every command, **q** to quit.
"""


ON_EPISODES = frozenset(
    {"rate", "refuse_rate", "pin", "archive", "edit", "edit_external", "curve", "graph", "merge"}
)


class BrowseScreen(EpisodeActions):
    BINDINGS = [
        Binding("m", "merge", "Merge", show=False),
        Binding("escape", "clear_marks", "Back / clear marks", show=False),
        Binding("tab", "app.focus_next", "Next pane", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False),
        Binding("x", "clear_filters", "Clear filters", show=False),
        Binding("A", "toggle_archived", "Archived episodes", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._detail_timer: Timer | None = None
        self._pending: tuple[str | None, str | None] = (None, None)
        self._notices = {"index": "", "corrupt": ""}  # the banner's lines
        self._projects: list[tuple[str, int]] = []
        self._total = 0  # live episodes, whatever the filters
        self._archived = 0  # archived episodes, counted only when none is live
        self.empty = False  # nothing live in the store: the page says how to fill it
        self.show_archived = False  # A: the archived episodes listed, not the live ones

    def compose(self):
        self._projects = self.memory.projects()
        yield Header()
        yield Static("", id="banner")
        yield FilterBar(self._projects, self.app.project, id="filters")
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
        filters = self.query_one(FilterBar).filters
        self.table.load(filters)
        unfiltered = filters == Filters()
        self._total = self.table.total if unfiltered else self.memory.count(Filters())
        self._archived = self._count_archived(self._total)
        self._show_corrupt()
        self.table.focus()
        self.call_after_refresh(self.check_store)  # a disk scan: after the first paint

    def selected_ids(self) -> list[str]:
        return self.table.selected_ids()

    def selection_archived(self) -> bool:
        return self.show_archived  # the list holds only the one kind

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On an empty store the keys that act on an episode are not offered: there is
        none to act on, and the page in their place says how to get one."""
        if self.empty and action in ON_EPISODES | {"restore"}:
            return False
        return super().check_action(action, parameters)

    def _viewed(self, filters: Filters) -> Filters:
        """The filter bar's filters, on the live episodes or (A) the archived ones."""
        return replace(filters, archived=self.show_archived)

    def action_toggle_archived(self) -> None:
        """A: list the archived episodes (a restores them), or the live ones again."""
        self.show_archived = not self.show_archived
        self.table.marked.clear()
        self.table.reload(self._viewed(self.query_one(FilterBar).filters), reset=True)
        self.refresh_bindings()
        self._update_counts()
        self.table.focus()

    def action_clear_filters(self) -> None:
        self.query_one(FilterBar).clear()
        self.table.focus()

    def _update_counts(self) -> None:
        total = self._total
        empty = total == 0 and not self.table.errors and not self.show_archived
        if empty != self.empty:
            self.empty = empty
            self.refresh_bindings()
        if empty:
            self.query_one("#empty", Markdown).update(
                ALL_ARCHIVED.format(
                    archived=plural(self._archived, "archived episode is", "archived episodes are")
                )
                if self._archived
                else EMPTY
            )
        self.query_one("#empty").display = empty
        self.query_one("#browse-main").display = not empty
        self.query_one(FilterBar).set_class(empty, "hidden")  # -short hides it too (CSS)
        shown = len(self.table)
        # in the tag box x is a letter: from there, the way out comes first
        clear = "escape, then x clears them" if isinstance(self.focused, Input) else "x clears them"
        if self.show_archived:
            self.sub_title = (
                f"{plural(shown, 'archived episode')}"
                + (" · a restores" if shown else "")
                + " · A lists the live ones"
                + (f" · {len(self.table.marked)} marked" if self.table.marked else "")
            )
            return
        self.sub_title = (
            f"{plural(total, 'episode')} · {plural(len(self._projects), 'project')}"
            if shown == total
            else f"{shown:,} of {total:,} episodes"
            + (f" · none matches the filters: {clear}" if not shown else "")
        ) + (f" · {len(self.table.marked)} marked (m merges)" if self.table.marked else "")

    # the store -------------------------------------------------------------------------

    def _show_corrupt(self) -> None:
        """Unreadable files as the ledger last recorded them: no file is read."""
        from memrl.maintenance import corrupt_files

        corrupt = corrupt_files(self.memory)
        self.table.set_errors(corrupt)
        n = len(corrupt)
        self._banner(
            "corrupt",
            f"⚠ {n} episode file{'s' if n > 1 else ''} cannot be read (marked ⚠ in the list)."
            if n
            else "",
        )
        self._update_counts()

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def check_store(self) -> None:
        """The index's health, from the core's status; its disk scan also refreshes the
        ledger's record of unreadable files, read again when it is done."""
        from memrl.maintenance import status

        try:
            report = status(self.memory)
        except MemrlError:
            report = None  # the table and its error rows stand on their own
        self.app.call_from_thread(self._show_status, report)

    def _show_status(self, report) -> None:
        self.app.freeze_heap("started")  # the first check loaded the index's libraries
        if report is None:
            return
        index = report.index
        text = ""
        if report.episodes and index.health.problem:
            text = f"⚠ {index.health.problem}  Press I to rebuild it here."
        elif report.episodes and (index.missing or index.stale):
            n = len(index.missing) + len(index.stale)
            text = (
                f"⚠ {plural(n, 'episode')} {'is' if n == 1 else 'are'} not up to date in the "
                "search index. Press I to update it."
            )
        self._banner("index", text)
        self._show_corrupt()

    def _banner(self, kind: str, text: str) -> None:
        self._notices[kind] = text
        banner = self.query_one("#banner", Static)
        shown = "\n".join(t for t in self._notices.values() if t)
        banner.update(Content(shown))  # paths and errors: text
        banner.display = bool(shown)

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self.table.reload()
        self.query_one(EpisodeDetail).refresh_episode()
        self._show_corrupt()  # `memrl status` or `memrl index` may have found more
        if any(self._notices.values()):
            self.check_store()  # was a problem fixed meanwhile?

    def on_screen_resume(self) -> None:
        self._store_changed()

    # events ------------------------------------------------------------------------------

    @on(FiltersChanged)
    def _filters(self, event: FiltersChanged) -> None:
        self.table.reload(self._viewed(event.filters), reset=True, busy="filtering…")

    @on(EpisodeTable.Reloaded)
    def _reloaded(self) -> None:
        self._count()

    @work(thread=True, exclusive=True, group="projects", exit_on_error=False)
    def _count(self) -> None:
        """The projects and the total, counted off the UI thread (100k rows: ~50 ms)."""
        projects, total = self.memory.projects(), self.memory.count(Filters())
        self.app.call_from_thread(self._counted, projects, total, self._count_archived(total))

    def _count_archived(self, live: int) -> int:
        """The archived episodes, said only when none is live (the list is empty)."""
        return self.memory.count(Filters(archived=True)) if live == 0 else 0

    def _counted(self, projects: list[tuple[str, int]], total: int, archived: int) -> None:
        self._projects, self._total, self._archived = projects, total, archived
        self.query_one(FilterBar).set_projects(projects)
        self._update_counts()

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

    def on_descendant_focus(self) -> None:
        self._update_counts()

    @on(EpisodeTable.MarksChanged)
    def _marks_changed(self) -> None:
        self._update_counts()

    def action_sort(self) -> None:
        self.table.action_sort()

    def action_clear_marks(self) -> None:
        """escape: out of the filters back to the list, as escape leaves a box elsewhere;
        in the list, the marks go."""
        if self.query_one(FilterBar).has_focus_within:
            self.table.focus()
            return
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
