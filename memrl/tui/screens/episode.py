"""One episode: its details, its utility curve and its propagation neighbourhood."""

from __future__ import annotations

from textual import on, work
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from memrl import insights
from memrl.errors import MemrlError
from memrl.tui.format import ago, pct
from memrl.tui.messages import StoreChanged
from memrl.tui.screens.base import EpisodeActions
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.neighbour_graph import NeighbourGraph
from memrl.tui.widgets.utility_curve import UtilityCurve


class EpisodeScreen(EpisodeActions):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('details')", "Details", show=False),
        Binding("2", "tab('utility')", "Utility", show=False),
        Binding("3", "tab('graph')", "Graph", show=False),
    ]

    def __init__(self, episode_id: str, tab: str = "details") -> None:
        super().__init__()
        self.episode_id = episode_id
        self.tab = tab
        self.gone = False

    def compose(self):
        yield Header()
        yield Static(id="episode-title")
        with TabbedContent(initial=self.tab, id="episode-tabs"):
            with TabPane("Details [1]", id="details"):
                yield EpisodeDetail(self.app.memory, self.app.clock)
            with TabPane("Utility [2]", id="utility"):
                yield UtilityCurve()
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
        nbs.add_columns("id", "similar", "in", "out", "utility", "task")
        self.reload()

    def selected_ids(self) -> list[str]:
        return [] if self.gone else [self.episode_id]

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @on(StoreChanged)
    def reload(self) -> None:
        error = self.query_one(EpisodeDetail).show(self.episode_id)
        title = self.query_one("#episode-title", Static)
        self.gone = error is not None
        if error:
            title.update(f"{self.episode_id[:8]} — cannot be shown")
            self.sub_title = "gone"
            return
        row = self.memory.rows([self.episode_id]).get(self.episode_id)
        if row is None:
            return
        self.sub_title = f"{row.short_id} · {row.project}"
        title.update(f"{row.short_id}  {row.title}" + ("  (archived)" if row.archived else ""))
        self._history()
        self.load_neighbours()

    def _history(self) -> None:
        try:
            history = insights.history(self.memory, self.episode_id)
        except MemrlError:
            return
        now = self.app.clock()
        self.query_one(UtilityCurve).show(history, now)
        table = self.query_one("#events", DataTable)
        table.clear()
        for e in reversed(history.events):
            delta = e.after - e.before
            cause = e.cause + (f" ← {e.other_id[:8]}" if e.other_id else "")
            table.add_row(
                ago(e.ts, now),
                cause,
                f"{pct(e.before)} → {pct(e.after)}",
                f"{delta * 100:+.1f} pts",
                e.detail,
            )

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
        threshold = self.memory.settings.learning.propagation_threshold
        self.query_one(NeighbourGraph).show(row, found, threshold)
        table = self.query_one("#neighbours", DataTable)
        table.clear()
        for nb in found:
            table.add_row(
                nb.row.short_id,
                pct(nb.similarity),
                f"{nb.inflow * 100:+.1f}",
                f"{nb.outflow * 100:+.1f}",
                pct(nb.row.learned.utility),
                nb.row.title[:40],
                key=nb.row.id,
            )
        self.query_one("#graph-note", Static).update(
            "Nearer means more similar; node colour is utility (green high, red low); "
            "edge colour is the value flowing. in: points of utility this episode receives "
            "from the neighbour; out: what it gives. enter opens a neighbour."
            if found
            else "Value spreads only between episodes at least "
            f"{threshold:.0%} alike; none are that close yet."
        )

    @on(DataTable.RowSelected, "#neighbours")
    def _jump(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(EpisodeScreen(str(event.row_key.value), tab="graph"))
