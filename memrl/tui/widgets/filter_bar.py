"""Filters for the browse table: project, outcome and tag."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select

from memrl.store import Filters
from memrl.tui.format import plain
from memrl.tui.messages import FiltersChanged
from memrl.vocab import Outcome


def _options(projects: list[tuple[str, int]]) -> list[tuple[Text, str]]:
    """A project to choose for each name. Episodes saved with none (possible from
    `memrl edit --set project=`) get no entry: the core's filter reads an empty project
    as no filter at all, so choosing it would show every episode."""
    return [(plain(f"{p} ({n})"), p) for p, n in projects if p]


class FilterBar(Horizontal):
    def __init__(self, projects: list[tuple[str, int]], project: str | None = None, **kw) -> None:
        super().__init__(**kw)
        self.projects = projects
        self.initial_project = project

    def compose(self):
        yield Label("filter", classes="filter-label")
        yield Select(
            _options(self.projects),
            prompt="all projects",
            id="filter-project",
            value=self.initial_project
            if self.initial_project in {p for p, _n in self.projects}
            else Select.NULL,
        )
        yield Select(
            [(o.value, o.value) for o in Outcome], prompt="any outcome", id="filter-outcome"
        )
        yield Input(placeholder="tag", id="filter-tag")

    def set_projects(self, projects: list[tuple[str, int]]) -> None:
        if projects == self.projects:
            return
        self.projects = projects
        select = self.query_one("#filter-project", Select)
        current = select.value
        select.set_options(_options(projects))
        if current != Select.NULL and current in {p for p, _n in projects}:
            select.value = current

    def clear(self) -> None:
        """Every filter back to 'all' (each change reloads the table once more)."""
        self.query_one("#filter-project", Select).clear()
        self.query_one("#filter-outcome", Select).clear()
        self.query_one("#filter-tag", Input).value = ""

    @property
    def filters(self) -> Filters:
        project = self.query_one("#filter-project", Select).value
        outcome = self.query_one("#filter-outcome", Select).value
        tag = self.query_one("#filter-tag", Input).value.strip()
        return Filters(
            project=None if project == Select.NULL else str(project),
            outcome=None if outcome == Select.NULL else str(outcome),
            tag=tag or None,
        )

    @on(Select.Changed)
    @on(Input.Changed, "#filter-tag")
    def _changed(self, event) -> None:
        event.stop()
        self.post_message(FiltersChanged(self.filters))
