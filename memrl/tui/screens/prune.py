"""Prune: the core's candidates with the reason for each; deselect any, confirm, archive."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Header, SelectionList, Static
from textual.widgets.selection_list import Selection

from memrl.curation import PruneCandidate
from memrl.errors import MemrlError
from memrl.tui import curator
from memrl.tui.format import one_line
from memrl.tui.messages import StoreChanged
from memrl.tui.screens.base import MemrlScreen
from memrl.tui.widgets.footer import Footer
from memrl.views import pct, plural


def _shown(plan: list[PruneCandidate]) -> list[tuple[str, ...]]:
    return [(c.row.id, c.reason, c.row.title, c.row.project) for c in plan]


def _label(cand: PruneCandidate) -> Content:
    return Content.assemble(  # the reason first: it is what the person judges by
        (cand.row.short_id, "bold"),
        "  ",
        (cand.reason, "italic ansi_yellow"),
        "  ",
        one_line(cand.row.title),
        "  ",
        (one_line(cand.row.project), "dim"),
    )


class PruneScreen(MemrlScreen[bool]):
    BINDINGS = [
        Binding("ctrl+s,enter", "prune", "Archive selected", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.candidates: list[PruneCandidate] = []
        self.shown = False  # a plan has been listed

    def compose(self):
        yield Header()
        yield Static("finding prune candidates…", id="prune-help")
        yield SelectionList[str](id="prune-list")
        yield Static("", id="prune-why")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "prune"
        self._why(None)
        self.load()

    @work(thread=True, exclusive=True, group="prune-plan", exit_on_error=False)
    def load(self) -> None:
        try:
            kept: dict[str, int] = {}
            plan = self.app.memory.curation.prune_plan(kept=kept)
        except MemrlError as exc:
            self.app.call_from_thread(self._help, f"✗ {exc}")
            return
        self.app.call_from_thread(self._show, plan, kept)

    def _help(self, text: str) -> None:
        self.query_one("#prune-help", Static).update(Content(text))  # errors: text

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self.load()  # an undo, or another process, may have changed who qualifies

    def _show(self, plan: list[PruneCandidate], kept: dict[str, int] | None = None) -> None:
        """List the plan. Every write anywhere reads it again (on a 10k store, ~10k
        candidates): when it is the same, the list is left as it is; else it is built
        in one batch, since one option at a time stalls the UI for seconds."""
        if self.shown and _shown(plan) == _shown(self.candidates):
            return  # (utilities move with time; what the list shows of them, seldom)
        self.shown = True
        selections = self.query_one(SelectionList)
        # what the person deselected stays deselected when the list is read again
        off = {c.row.id for c in self.candidates} - set(selections.selected)
        self.candidates = plan
        highlighted = selections.highlighted or 0
        selections.clear_options()
        cfg = self.app.memory.settings.prune
        if not plan:
            self._why(None)
            selections.display = False
            self.refresh_bindings()
            limits = (
                f"below {pct(cfg.min_utility)} utility and unused for {cfg.older_than_days} days"
            )
            self._help(
                f"Nothing to prune: {plural(sum(kept.values()), 'episode is', 'episodes are')} "
                f"{limits}, but kept ({self.app.memory.curation.kept_text(kept)}). "
                "Press escape to go back."
                if kept
                else f"Nothing to prune: no episode is both {limits}. Press escape to go back."
            )
            return
        selections.display = True
        self.refresh_bindings()
        self._help(
            f"{plural(len(plan), 'episode')} below {pct(cfg.min_utility)} utility and unused for "
            f"{cfg.older_than_days}+ days (never pinned, never rated helpful). "
            "space deselects; enter archives the selected ones — nothing is deleted, u undoes."
        )
        selections.add_options(
            Selection(_label(cand), cand.row.id, cand.row.id not in off) for cand in plan
        )
        selections.highlighted = min(highlighted, len(plan) - 1)
        self._why(selections.highlighted)
        selections.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With nothing listed, enter has nothing to archive: it is not offered."""
        return action != "prune" or bool(self.candidates)

    @on(SelectionList.SelectionHighlighted, "#prune-list")
    def _highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        self._why(event.selection_index)

    def _why(self, index: int | None) -> None:
        """The highlighted candidate in full, wrapped: a row may be cut at its edge."""
        why = self.query_one("#prune-why", Static)
        why.display = index is not None and 0 <= index < len(self.candidates)
        if index is None or not why.display:
            return
        cand = self.candidates[index]
        why.update(
            Text.assemble(
                (cand.row.short_id, "bold"),
                f"  {one_line(cand.row.title)}  ",
                (one_line(cand.row.project), "dim"),
                "\n",
                (cand.reason, "italic yellow"),
            )
        )

    def action_prune(self) -> None:
        from memrl.tui.screens.confirm import confirm_archive

        chosen = list(self.query_one(SelectionList).selected)
        if not chosen:
            self.notify("nothing selected", severity="warning")
            return

        def archive() -> None:
            self.app.write(curator.prune(chosen))
            self.dismiss(True)

        rows = {c.row.id: c.row for c in self.candidates}
        confirm_archive(self.app, [rows[i] for i in chosen], archive)

    def action_cancel(self) -> None:
        self.dismiss(False)
