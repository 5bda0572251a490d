"""The memrl TUI: where a person sees what Claude remembers and shapes it.

The app owns the Memory facade, the undo stack and the live refresh; screens show and
ask, and every change goes through a job in `curator` run on a thread worker.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from memrl.errors import MemrlError
from memrl.memory import Memory
from memrl.tui import commands, curator
from memrl.tui.messages import StoreChanged
from memrl.tui.undo import Undo, UndoStack
from memrl.views import plural

if TYPE_CHECKING:
    from memrl.tui.screens.search import SearchScreen

COMPACT_AFTER = 2.0  # seconds without a change before the index rows changes left are folded in
BUSY_AFTER = 0.3  # seconds a change runs before the header says it is under way

Done = Callable[[bool, Undo | None], None]  # was a change saved, and its undo


class MemrlApp(App[None]):
    CSS_PATH = "memrl.tcss"
    TITLE = "memrl"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (20, "-tall")]  # -short: only what matters most
    BINDINGS = [  # each named as in the command palette (commands.ENTRIES), or part of it
        Binding("slash", "search", "Search", key_display="/"),
        Binding("f", "feedback_session", "Feedback session", show=False),
        Binding("r", "review", "Review", show=False),
        Binding("P", "prune", "Prune", show=False),
        Binding("o", "overview", "Overview", show=False),
        Binding("u", "undo", "Undo"),
        Binding("ctrl+r", "refresh", "Refresh", show=False),
        Binding("I", "rebuild_index", "Update the search index", show=False),
        Binding("question_mark", "keys", "Keys", key_display="?"),
        Binding("q", "leave", "Quit"),
    ]

    def __init__(
        self,
        memory: Memory | None = None,
        *,
        clock: Callable[[], float] | None = None,
        project: str | None = None,
        start: str = "browse",
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.memory = memory or Memory()
        self.clock = clock or self.memory.now
        self.project = project
        self.farewell = ""  # a line for the shell once the app has closed
        self.start = start
        self.poll_interval = poll_interval
        self.undo_stack = UndoStack()
        self._write_lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._frozen: set[str] = set()
        self._pending: list[curator.Job] = []  # changes on their way to the store, oldest first
        self._undo_waiting = 0  # u pressed while they ran
        self._compactor: Timer | None = None
        self._typing_to: SearchScreen | None = None  # / opened it: the keys after it are its
        self._typed_on: dict[int, Screen] = {}  # a key (its id) → the screen it came in on

    def on_mount(self) -> None:
        from memrl.tui.screens.browse import BrowseScreen
        from memrl.tui.screens.review import ReviewScreen

        if self.start == "review":  # `memrl review`: done with it, back to the shell
            self.push_screen(ReviewScreen(self.project, ends_app=True))
        else:
            self.push_screen(BrowseScreen())
        self._version = self.memory.version()
        if self.poll_interval:
            self.set_interval(self.poll_interval, self.poll)

    def freeze_heap(self, moment: str) -> None:
        """Once the app has started (or loaded the model), move what is alive out of the
        garbage collector's sight: a full collection over every module, style and widget
        stalls a keypress by 100 ms or more, and none of it is ever garbage."""
        if moment not in self._frozen:
            self._frozen.add(moment)
            gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()  # hand it back, for whoever runs on in this process (tests)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast is plain text, whatever the caller asks (a widget's notify asks for
        markup): most name the person's episodes or quote an error about their text, and
        markup would take `[/api/users]` for a closing tag and the app down with it."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        """ctrl+c: say how to quit (Textual's own says it in markup, which toasts here are not)."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(f"Press {key} to quit the app", title="Do you want to quit?")
                return

    # live refresh ------------------------------------------------------------------

    def poll(self) -> None:
        """Notice writes by any process (MCP servers, the CLI, this app) and refresh."""
        try:
            version = self.memory.version()
        except MemrlError:
            return
        if version != self._version:
            self._version = version
            self.refresh_screens()

    def refresh_screens(self) -> None:
        for screen in self.screen_stack:
            screen.post_message(StoreChanged())

    # writes ------------------------------------------------------------------------

    def write(self, job: curator.Job, done: Done | None = None) -> None:
        """Run a change on a thread worker; report it, remember its undo, refresh. `done`
        hears whether it was saved, and its undo: screens that step through answers count
        only what was saved, and step back through their own undos."""
        self._pending.append(job)
        self.set_timer(BUSY_AFTER, partial(self._still_busy, job))
        self.run_worker(partial(self._run_job, job, done), thread=True, group="write")

    def _run_job(self, job: curator.Job, done: Done | None) -> None:
        with self._write_lock:
            try:
                text, undo = job.run(self.memory)
            except MemrlError as exc:
                self.call_from_thread(self._job_done, job, str(exc), None, True, done)
                return
        self.call_from_thread(self._job_done, job, text, undo, False, done)

    def _job_done(
        self, job: curator.Job, text: str, undo: Undo | None, error: bool, done: Done | None
    ) -> None:
        self._pending.remove(job)
        if self.title != self.TITLE:
            self._show_busy()  # the next change under way, or none
        if undo is not None:
            self.undo_stack.push(undo)
        self.notify(text, severity="error" if error else "information", timeout=6)
        if done is not None:
            done(not error, undo)
        self.poll()
        if error and self._undo_waiting:  # u was meant for this change: undo no other
            self._undo_waiting = 0
            self._show_busy()
            self.notify(
                "nothing was undone: the change u waited for was not saved", severity="warning"
            )
        if self._undo_waiting and not self._pending:
            self._undo_waiting -= 1
            self.action_undo()
        self._compact_later()

    @property
    def pending(self) -> tuple[curator.Job, ...]:
        """The changes on their way to the store, oldest first."""
        return tuple(self._pending)

    def _still_busy(self, job: curator.Job) -> None:
        if job in self._pending:
            self._show_busy()

    def _show_busy(self) -> None:
        """Say in the header which change is under way, and that an undo waits for it: the
        screens show the store as it was until the change is saved (seconds, for a prune of
        thousands), and a `u` that seemed to do nothing would take back what lands then."""
        if not self._pending:
            self.title = self.TITLE
            return
        more, undos = len(self._pending) - 1, self._undo_waiting
        self.title = (
            f"{self.TITLE} · {self._pending[0].doing}…"
            + (f" and {plural(more, 'more change')}" if more else "")
            + (f", then {'undo' if undos == 1 else plural(undos, 'undo')}" if undos else "")
        )

    def _compact_later(self) -> None:
        """Once changes pause, fold the index rows they appended into LanceDB's indices, as
        an MCP server does between calls: until then every search, in any process, scans
        those rows apart from the indices (5–10 ms more)."""
        if self._compactor is not None:
            self._compactor.stop()
        self._compactor = self.set_timer(COMPACT_AFTER, self._compact)

    def _compact(self) -> None:
        if not self._pending and self.memory.index.opened:  # a running change re-arms it
            self.run_worker(self._compact_index, thread=True, group="compact", exclusive=True)

    def _compact_index(self) -> None:
        try:
            self.memory.index.compact_waiting()
        except Exception:  # the next write compacts: never take the app down for it
            pass

    # actions -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """In a form the letters are the person's text: the app's letter keys rest there,
        even when the focus is on a dropdown or on the form itself (ctrl+q still quits)."""
        from memrl.tui.screens.base import FormScreen

        screen = self.screen_stack[-1] if self.screen_stack else None
        return not (isinstance(screen, FormScreen) and action in screen.APP_ACTIONS_OFF)

    async def action_leave(self) -> None:
        """q: quit, as ctrl+q does (but not from a form: see check_action)."""
        await self.action_quit()

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q), asking first while a form holds changes not saved."""
        from memrl.tui.screens.confirm import ConfirmScreen

        if not any(getattr(s, "unsaved", lambda: False)() for s in self.screen_stack):
            await super().action_quit()
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.exit()

        if not isinstance(self.screen, ConfirmScreen):
            self.push_screen(
                ConfirmScreen("Quit and lose the changes not saved?", yes="Quit"), answered
            )

    def action_undo(self) -> None:
        if self._pending:  # u right after a change undoes that change, once it is saved
            self._undo_waiting += 1
            self._show_busy()
            self.notify(f"undo waits until {self._pending[-1].doing} is done")
            return
        item = self.undo_stack.pop()
        if item is None:
            self.notify("nothing to undo", severity="warning")
            return
        self.write(curator.undo(item))

    async def on_event(self, event: events.Event) -> None:
        """Note the screen each key reached the app on (see `_on_key`)."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self.screen is self._typing_to:
                self._typing_to = None  # the search has the keys itself now
            if len(self._typed_on) > 100:  # keys a widget took never come back up
                self._typed_on.clear()
            self._typed_on[id(event)] = self.screen
        await super().on_event(event)

    async def _on_key(self, event: events.Key) -> None:
        """Keys typed in the same burst as `/` (`/redis` typed fast, or sent by a script)
        reach the app before the search has opened, and go to the screen they were typed
        on; they come back up here after `/` has opened it, and its query box never saw
        them. Such a character goes into the query, where the person meant it to go, and
        runs no shortcut of the screen it was typed on. (Any other key goes on to
        App._on_key, next in the MRO: its bindings.)"""
        typed_on = self._typed_on.pop(id(event), None)
        search = self._typing_to
        if search is not None and search not in self.screen_stack:  # closed since
            search = self._typing_to = None
        if event.is_printable and search is not None and typed_on is not search:
            event.stop()
            event.prevent_default()  # App._on_key would run a binding on it
            search.type_ahead(event.character or "")

    def action_search(self) -> None:
        from memrl.tui.screens.search import SearchScreen

        self._push_unique(SearchScreen)
        # the screen it opened (or went back to): it takes the characters typed after `/`
        self._typing_to = next(
            s for s in reversed(self.screen_stack) if isinstance(s, SearchScreen)
        )

    def action_feedback_session(self) -> None:
        from memrl.tui.screens.feedback import FeedbackScreen

        self._push_unique(FeedbackScreen)

    def action_review(self) -> None:
        from memrl.tui.screens.review import ReviewScreen

        self._push_unique(ReviewScreen, self.project)

    def action_prune(self) -> None:
        from memrl.tui.screens.prune import PruneScreen

        self._push_unique(PruneScreen)

    def action_overview(self) -> None:
        from memrl.tui.screens.overview import OverviewScreen

        self._push_unique(OverviewScreen)

    def action_rebuild_index(self, everything: bool = False) -> None:
        """I: embed what the index lacks (all of it, when damaged); from the palette, with
        `everything`, re-embed every episode from scratch (`memrl index --rebuild`)."""
        from memrl.tui.screens.rebuild import RebuildScreen

        self.push_screen(RebuildScreen(everything), lambda _ok: self.refresh_screens())

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen, once the palette that asked for it has closed."""
        self.set_timer(0.1, partial(self.save_screenshot_somewhere, filename, path))

    def screenshot_folders(self) -> list[Path]:
        """Where a screenshot goes: ~/Downloads when there is one, else the folder the app
        was started in, else the data directory."""
        from platformdirs import user_downloads_path

        downloads = user_downloads_path()
        return [*([downloads] if downloads.is_dir() else []), Path.cwd(), self.memory.root]

    def save_screenshot_somewhere(self, filename: str | None, path: str | None) -> Path | None:
        """Save it in the first folder that takes it and say where; or say why none did."""
        from textual._files import generate_datetime_filename

        svg = self.export_screenshot()
        name = filename or generate_datetime_filename(self.TITLE, ".svg")
        why = []
        for folder in [Path(path)] if path else self.screenshot_folders():
            target = folder.expanduser() / name
            try:
                target.write_text(svg, encoding="utf-8")
            except OSError as exc:
                why.append(f"{folder}: {exc.strerror or exc}")
                continue
            self.notify(f"saved a screenshot to {target}", title="Screenshot")
            return target
        self.notify(
            "could not save the screenshot: " + "; ".join(why), title="Screenshot", severity="error"
        )
        return None

    def action_refresh(self) -> None:
        self.refresh_screens()

    def action_keys(self) -> None:
        from memrl.tui.screens.keys import KeysScreen, key_table

        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen(key_table(self.screen)))

    def _push_unique(self, kind: type[Screen], *args) -> None:
        """Open a screen, or go back to it if it is open already, not one more on the stack."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, kind):
                if screen is not self.screen:
                    screen.pop_until_active()
                return
        self.push_screen(kind(*args))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's fails when ~/Downloads is missing
                command = SystemCommand(
                    "Screenshot",
                    "Save an SVG picture of the screen (in ~/Downloads, else the current "
                    "folder) and say where",
                    self.action_screenshot,
                )
            yield command
        for title, help_text, action in commands.entries(screen):
            yield SystemCommand(title, help_text, partial(self._run_command, screen, action))

    async def _run_command(self, screen: Screen, action: str) -> None:
        await self.run_action(action, screen)
