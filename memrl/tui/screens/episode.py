"""One episode: its details, its utility curve and its propagation neighbourhood."""

from __future__ import annotations

from textual import on, work
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from memrl import insights
from memrl.errors import MemrlError
from memrl.tui.format import clip, one_line, plain, pts
from memrl.tui.messages import StoreChanged
from memrl.tui.screens.base import EpisodeActions
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.footer import Footer
from memrl.tui.widgets.neighbour_graph import NeighbourGraph
from memrl.tui.widgets.utility_curve import UtilityCurve
from memrl.views import age, moved, pct


class EpisodeScreen(EpisodeActions):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('details')", "Details", show=False),
        Binding("2", "tab('utility')", "Utility", show=False),
        Binding("3", "tab('graph')", "Graph", show=False),
    ]
    # what takes the keys when a tab is opened with 1, 2, 3, c or g
    TAB_FOCUS = {"details": "EpisodeDetail", "utility": "#events", "graph": "#neighbours"}
    FIXED = 8 + 4 * 4 + 6 * 2 + 1  # id and four numbers, cell padding, the scrollbar

    def __init__(self, episode_id: str, tab: str = "details") -> None:
        super().__init__()
        self.episode_id = episode_id
        self.tab = tab
        self.gone = False
        self.archived = False
        self.found: list[insights.Neighbour] = []
        self.heading = ("", "", "")  # the title line: id, task, its state in full

    def compose(self):
        yield Header()
        yield Static(id="episode-title")
        with TabbedContent(initial=self.tab, id="episode-tabs"):
            with TabPane("Details [1]", id="details"):
                yield EpisodeDetail(self.app.memory, self.app.clock)
            with TabPane("Utility [2]", id="utility"):
                yield UtilityCurve()
                yield Static(id="curve-legend")
                yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
            with TabPane("Graph [3]", id="graph"), Container(id="graph-main"):
                yield NeighbourGraph()
                with Vertical():
                    yield DataTable(id="neighbours", cursor_type="row")
                    yield Static(id="graph-note")
        yield Footer()

    def on_mount(self) -> None:
        events = self.query_one("#events", DataTable)
        events.add_columns("when", "cause", "utility", "change", "detail")
        nbs = self.query_one("#neighbours", DataTable)
        nbs.add_columns("id", "sim", "in", "out", "util", "task")
        self.reload()
        self.action_tab(self.tab)

    def selected_ids(self) -> list[str]:
        return [] if self.gone else [self.episode_id]

    def selection_archived(self) -> bool:
        return self.archived  # as last read: the footer asks at every refresh

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.call_after_refresh(lambda: self.query_one(self.TAB_FOCUS[tab]).focus())

    @on(TabbedContent.TabActivated)
    def _tab_shown(self) -> None:
        self.call_after_refresh(self._fill_neighbours)  # titles fit the table's width

    def on_resize(self) -> None:
        self.call_after_refresh(self._fill_neighbours)
        self.call_after_refresh(self._fit_title)

    def _title(self, short_id: str, text: str, state: str = "") -> None:
        self.heading = (short_id, text, state)
        self._fit_title()

    def _fit_title(self) -> None:
        """The state (archived, merged into which episode, what restores it) is shown whole:
        a long task is cut short before it, never the state."""
        short_id, text, state = self.heading
        width = self.query_one("#episode-title", Static).content_region.width
        if width:
            text = clip(text, max(8, width - len(short_id) - 2 - len(state)))
        self.query_one("#episode-title", Static).update(plain(f"{short_id}  {text}{state}"))

    @on(StoreChanged)
    def reload(self) -> None:
        error = self.query_one(EpisodeDetail).show(self.episode_id)
        self.gone = error is not None
        if error:
            self._title(self.episode_id[:8], "— cannot be shown")
            self.sub_title = "gone"
            return
        try:
            history: insights.History | None = insights.history(self.memory, self.episode_id)
        except MemrlError:
            history = None
        # the history read the row: the title comes from it, not from a second read
        row = history.row if history else self.memory.rows([self.episode_id]).get(self.episode_id)
        if row is None:
            return
        into = self.memory.merged_into([row.id]).get(row.id) if row.archived else None
        state = f"merged into {into[:8]}" if into else "archived" if row.archived else ""
        if row.archived != self.archived:
            self.archived = row.archived
            self.refresh_bindings()  # a archives, or restores
        self.sub_title = f"{row.short_id} · {one_line(row.project)}" + (
            f" · {state}" if state else ""
        )
        held = f"archived, {state}" if into else state
        self._title(row.short_id, row.title, f"  ({held}: a restores it)" if held else "")
        if history is not None:
            self._history(history)
        self.load_neighbours()

    def _history(self, history: insights.History) -> None:
        now = self.app.clock()
        self.query_one("#curve-legend", Static).update(
            self.query_one(UtilityCurve).show(history, now)
        )
        table = self.query_one("#events", DataTable)
        table.clear()
        for e in reversed(history.events):
            cause = e.cause + (f" ← {e.other_id[:8]}" if e.other_id else "")
            table.add_row(age(e.ts, now), plain(cause), *moved(e.before, e.after), plain(e.detail))

    @work(thread=True, exclusive=True, group="neighbours", exit_on_error=False)
    def load_neighbours(self) -> None:
        try:
            found = insights.neighbours(self.memory, self.episode_id)
        except MemrlError:
            found = []
        row = self.memory.rows([self.episode_id]).get(self.episode_id)
        self.app.call_from_thread(self._show_neighbours, row, found)

    def _show_neighbours(self, row, found: list[insights.Neighbour]) -> None:
        if row is None:
            return
        self.found = found
        threshold = self.memory.settings.learning.propagation_threshold
        self.query_one(NeighbourGraph).show(row, found, threshold)
        self._fill_neighbours()
        self.query_one("#graph-note", Static).update(
            "Nearer means more similar; node colour is utility (green high, red low); "
            "edge colour is the value flowing. in: points of utility this episode receives "
            "from the neighbour; out: what it gives. enter opens the highlighted neighbour; "
            "escape comes back."
            if found
            else "Value spreads only between episodes at least "
            f"{threshold:.0%} alike; none are that close yet."
        )

    def _fill_neighbours(self) -> None:
        table = self.query_one("#neighbours", DataTable)
        width = table.size.width or (self.size.width // 2 if self.size.width >= 110 else 80)
        task = max(12, width - self.FIXED)
        cursor = table.cursor_row
        table.clear()
        for nb in self.found:
            table.add_row(
                nb.row.short_id,
                pct(nb.similarity),
                pts(nb.inflow, unit=False),
                pts(nb.outflow, unit=False),
                pct(nb.row.learned.utility),
                plain(clip(nb.row.title, task)),
                key=nb.row.id,
            )
        if self.found:
            table.move_cursor(row=min(cursor, len(self.found) - 1), animate=False)

    @on(DataTable.RowSelected, "#neighbours")
    def _jump(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(EpisodeScreen(str(event.row_key.value), tab="graph"))
