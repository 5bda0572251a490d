"""Overview: totals, the utility histogram, captures per day and the projects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual import work
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.widgets import DataTable, Header, Static

from memrl import insights
from memrl.errors import MemrlError
from memrl.tui.format import plain
from memrl.tui.screens.base import MemrlScreen
from memrl.tui.widgets.bar_plot import BarPlot
from memrl.tui.widgets.footer import Footer
from memrl.views import pct, plural

DAYS = 30


class OverviewScreen(MemrlScreen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self):
        yield Header()
        yield Static("counting…", id="overview-totals")
        with Container(id="overview-plots"):
            yield BarPlot(id="histogram")
            yield BarPlot(id="per-day")
        yield DataTable(id="overview-projects", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "overview"
        self.query_one(DataTable).add_columns(
            "project", "episodes", "mean utility", "helpful", "unhelpful"
        )
        self.load()

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def load(self) -> None:
        try:
            stats = insights.stats(self.app.memory)
        except MemrlError as exc:
            self.app.call_from_thread(self._totals, Content(f"✗ {exc}"))
            return
        self.app.call_from_thread(self._show, stats)

    def _totals(self, text: str | Content) -> None:
        self.query_one("#overview-totals", Static).update(text)  # markup: numbers only

    def _show(self, s: insights.Stats) -> None:
        self._totals(
            f"[b]{s.episodes:,}[/] live {'episode' if s.episodes == 1 else 'episodes'} "
            f"({s.archived:,} archived) · [b]{s.retrievals:,}[/] "
            f"{'retrieval' if s.retrievals == 1 else 'retrievals'} · "
            f"[green]{s.helpful:,} helpful[/] / [red]{s.unhelpful:,} unhelpful[/] "
            f"ratings on {plural(s.rated_episodes, 'episode')} · {plural(len(s.projects), 'project')}"
        )
        labels = [f"{10 * i}" for i in range(10)]
        self.query_one("#histogram", BarPlot).show(
            "episodes by utility (%)", labels, s.utility_histogram, "green"
        )
        end = datetime.fromtimestamp(self.app.clock(), UTC).date()
        per_day = dict(s.captures_per_day)
        days = [end - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
        self.query_one("#per-day", BarPlot).show(
            f"captures a day, {DAYS} days",
            [d.strftime("%d") for d in days],
            [per_day.get(d.isoformat(), 0) for d in days],
            "blue",
        )
        table = self.query_one(DataTable)
        table.clear()
        for p in s.projects:
            table.add_row(
                plain(p.project),
                str(p.episodes),
                pct(p.mean_utility),
                str(p.helpful),
                str(p.unhelpful),
            )
