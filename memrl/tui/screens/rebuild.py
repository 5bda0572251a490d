"""Bring the search index up to date with the episode files (I), or rebuild it from scratch
(the palette's Rebuild), with progress."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from memrl.errors import MemrlError
from memrl.views import plural

if TYPE_CHECKING:
    from textual import getters

    from memrl.tui.app import MemrlApp


class RebuildScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape,enter", "close", "Close")]

    if TYPE_CHECKING:
        app = getters.app(MemrlApp)

    def __init__(self, everything: bool = False) -> None:
        super().__init__()
        self.everything = everything  # re-embed every episode, not only what changed
        self.finished = False

    def compose(self):
        with Vertical(id="rebuild"):
            yield Static("Checking the search index…", id="rebuild-title")
            yield ProgressBar(id="rebuild-progress", show_eta=False)
            yield Static("", id="rebuild-result")

    def on_mount(self) -> None:
        self.run_sync()

    @work(thread=True, exclusive=True, group="rebuild", exit_on_error=False)
    def run_sync(self) -> None:
        from memrl.maintenance import sync_index

        memory = self.app.memory
        rebuild = self.everything or memory.index.health().problem is not None
        title = (
            "Rebuilding the search index… (embedding every episode)"
            if rebuild
            else "Updating the search index… (embedding what it lacks or what changed)"
        )
        self.app.call_from_thread(self._title, title)

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._progress, done, total)

        try:
            disk, report = sync_index(memory, rebuild=rebuild, progress=progress)
        except MemrlError as exc:
            self.app.call_from_thread(self._finish, f"✗ {exc}", False)
            return
        done = (
            f"✓ done: {plural(report.embedded, 'episode')} embedded"
            if report.embedded or rebuild
            else "✓ done: the index was up to date, nothing to embed"
        )
        text = (
            done
            + (f", {plural(len(disk.corrupt), 'unreadable file')} skipped" if disk.corrupt else "")
            + ". Press enter to close."
        )
        self.app.call_from_thread(self._finish, text, True)

    def _title(self, text: str) -> None:
        self.query_one("#rebuild-title", Static).update(Content(text))

    def _progress(self, done: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=total, progress=done)

    def _finish(self, text: str, ok: bool) -> None:
        self.finished = True
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=1)
        self.query_one("#rebuild-result", Static).update(Content(text))  # errors: text

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(True)
        else:
            self.notify("the index is being rebuilt; it closes when done")
