"""Merge marked episodes: the originals side by side, the merged summary to edit, confirm."""

from __future__ import annotations

from textual import work
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Header, Select, Static, TextArea

from memrl.curation import MergePlan
from memrl.errors import MemrlError
from memrl.tui import curator
from memrl.tui.format import one_line, plain
from memrl.tui.screens.base import FormScreen
from memrl.tui.undo import Undo
from memrl.tui.widgets.cards import Cards
from memrl.tui.widgets.detail import EpisodeDetail
from memrl.tui.widgets.footer import Footer
from memrl.views import pct, plural


class MergeScreen(FormScreen):
    BINDINGS = [
        Binding("ctrl+s", "merge", "Merge"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, ids: list[str]) -> None:
        super().__init__()
        self.ids = ids
        self.plan: MergePlan | None = None
        self.project: str | None = None
        self.merging = False  # applied, not saved yet
        self.undo: Undo | None = None  # once merged: what takes it back

    def compose(self):
        yield Header()
        with Cards(id="merge-sources"):
            for episode_id in self.ids:
                yield EpisodeDetail(self.app.memory, self.app.clock, id=f"src-{episode_id}")
        yield Static(id="merge-notes")
        rows = self.app.memory.rows(self.ids)
        projects = sorted({r.project for r in rows.values()})
        if len(projects) > 1:
            best = max(rows.values(), key=lambda r: r.learned.utility)
            self.project = best.project
            yield Select(
                [(plain(f"merge into {p}"), p) for p in projects],
                value=best.project,
                allow_blank=False,
                id="merge-project",
            )
        yield Static(
            "merged summary — edit it, then ctrl+s merges (the originals are archived; u undoes)",
            id="merge-summary-label",
        )
        yield TextArea(id="merge-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"merge {len(self.ids)} episodes"
        for n, episode_id in enumerate(self.ids, 1):
            detail = self.query_one(f"#src-{episode_id}", EpisodeDetail)
            detail.show(episode_id)
            detail.border_title = f"{n} of {len(self.ids)}"  # stacked when narrow: how many
        self._plan()
        self.query_one(TextArea).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.project = str(event.value)
        self._plan(keep_summary=True)

    def _plan(self, keep_summary: bool = False) -> None:
        try:
            self.plan = self.app.memory.curation.merge_plan(self.ids, project=self.project)
        except MemrlError as exc:
            self.plan = None
            self.query_one("#merge-notes", Static).update(Content(f"✗ {exc}"))
            return
        plan = self.plan
        if not keep_summary:
            self.query_one(TextArea).text = plan.episode.summary
        learned = self.app.memory.curation.planned(plan)
        why = f"own evidence {pct(learned.q)}" + (
            f" × decay {learned.decay:.2f}" if learned.decay < 0.995 else ""
        )
        notes = [
            f"merged: utility {pct(learned.utility)} ({why}, "
            f"{plural(plan.state.evidence, 'signal')}) · "
            f"{len(plan.episode.what_worked)} worked · "
            f"{plural(len(plan.episode.errors_resolved), 'error')} · "
            f"{plural(len(plan.episode.files), 'file')} · "
            f"tags {one_line(', '.join(plan.episode.tags)) or '—'}",
            *plan.notes,
        ]
        self.query_one("#merge-notes", Static).update(Content("\n".join(notes)))  # tags: text

    def action_merge(self) -> None:
        from memrl.tui.screens.confirm import ConfirmScreen

        if self.merging:
            return
        if self.plan is None:
            self.notify("there is no merge plan to apply", severity="error")
            return
        summary = self.query_one(TextArea).text.strip()
        if not summary:
            self.notify("the merged summary cannot be empty", severity="error")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._merge(summary)

        listing = ", ".join(i[:8] for i in self.ids)
        self.app.push_screen(
            ConfirmScreen(
                f"Merge {len(self.ids)} episodes into one?",
                f"{listing} will be archived; the merged episode keeps what they all knew.",
                yes="Merge",
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="merge-plan", exit_on_error=False)
    def _merge(self, summary: str) -> None:
        try:
            plan = self.app.memory.curation.merge_plan(
                self.ids, summary=summary, project=self.project
            )
        except MemrlError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._apply, plan)

    def _apply(self, plan: MergePlan) -> None:
        self.merging = True
        self.app.write(curator.merge(plan), self._merged)

    def _merged(self, ok: bool, undo: Undo | None) -> None:
        """Closes once merged; when the merge fails (the app says why) the summary stays."""
        self.merging = False
        if ok and self.is_active:
            self.undo = undo
            self.dismiss(True)

    def unsaved(self) -> bool:
        """Has the person written a summary of their own? (Escape and quitting ask first.)"""
        written = self.query_one(TextArea).text.strip()
        return bool(written) and (self.plan is None or written != self.plan.episode.summary.strip())

    def action_cancel(self) -> None:
        if not self.merging:  # leaving now would not stop the merge
            super().action_cancel()
