"""What every screen that shows episodes can do to them: rate, pin, archive, edit, inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.binding import ActiveBinding, Binding
from textual.keys import REPLACED_KEYS, key_to_character
from textual.screen import Screen
from textual.widgets import Input, TextArea

from memrl.tui import curator

if TYPE_CHECKING:
    from textual import getters

    from memrl.tui.app import MemrlApp
    from memrl.views import Row

ResultT = TypeVar("ResultT")


def _typed(key: str) -> bool:
    """Is this key a character, which a text box takes as text ("plus", "a", "space")?
    (Textual's own filter misses "plus", "minus" and "slash": `key_to_character` looks
    them up under their short names, which are no Unicode names.)"""
    character = key_to_character(REPLACED_KEYS.get(key, key))
    return character is not None and character.isprintable()


class MemrlScreen(Screen[ResultT]):
    """A screen of memrl's app, so `self.app` is known to be the MemrlApp."""

    if TYPE_CHECKING:
        app = getters.app(MemrlApp)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys that act here, as the footer and the keys list show them. Where the
        person types (a text box has the focus), a key that is a character types it: its
        binding, the screen's or the app's, does not act there and is not offered."""
        bindings = super().active_bindings
        if not isinstance(self.focused, Input | TextArea):
            return bindings
        return {key: active for key, active in bindings.items() if not _typed(key)}

    @property
    def on_stack(self) -> bool:
        """Still on the app's stack? (A change saved on a worker may answer after it closed.)"""
        return self in self.app.screen_stack


class FormScreen(MemrlScreen[bool]):
    """A screen where the person types: ctrl+s applies it, escape asks before throwing
    away what was typed, and the app's letter keys rest (`MemrlApp.check_action`)."""

    APP_ACTIONS_OFF = frozenset(
        {"search", "feedback_session", "review", "prune", "overview", "undo"}
        | {"rebuild_index", "leave"}
    )

    def unsaved(self) -> bool:
        """Does the form hold changes that were not applied? (Escape and quitting ask.)"""
        return False

    def action_cancel(self) -> None:
        from memrl.tui.screens.confirm import ConfirmScreen

        if not self.unsaved():
            self.dismiss(False)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(False)

        self.app.push_screen(ConfirmScreen("Discard your changes?", yes="Discard"), answered)


def _listed(rows: list[Row]) -> str:
    return ", ".join(r.short_id for r in rows[:3]) + (" and more" if len(rows) > 3 else "")


def archived_notice(app: MemrlApp, row: Row, then: str = "then it can be edited") -> str:
    """Why an archived episode cannot be changed, and what brings it back: `u` only when
    undoing the last change here restores it (not when another process archived it)."""
    last = app.undo_stack.peek()
    undo = "u (undo) or " if last is not None and row.id in last.restores else ""
    return f"{row.short_id} is archived: {undo}a (restore) brings it back, {then}"


class EpisodeActions(MemrlScreen[None]):
    """A screen with a notion of 'the selected episodes' (`selected_ids`)."""

    BINDINGS = [
        Binding("plus", "rate(True)", "Helpful", key_display="+"),
        Binding("minus", "rate(False)", "Unhelpful", key_display="-"),
        # on archived episodes + and - are not offered, and pressed, say what restores them
        Binding("plus", "refuse_rate(True)", show=False),
        Binding("minus", "refuse_rate(False)", show=False),
        Binding("p", "pin", "Pin", show=False),
        Binding("a", "archive", "Archive"),
        Binding("a", "restore", "Restore"),  # on archived episodes, in archive's place
        Binding("e", "edit", "Edit"),
        Binding("E", "edit_external", "$EDITOR", show=False),
        Binding("c", "curve", "Curve", show=False),
        Binding("g", "graph", "Graph", show=False),
    ]

    @property
    def memory(self):
        return self.app.memory

    def selected_ids(self) -> list[str]:
        """The episodes an action applies to; screens that show episodes say which."""
        return []

    _archived_seen: tuple[tuple[str, ...], bool] | None = None  # a selection, and the answer

    def selection_archived(self) -> bool:
        """Are the selected episodes archived (every one)? Then `a` restores them.

        Asked once for each binding the footer weighs: the store is read once for a
        selection, and again after `refresh_bindings` (which every change here calls)."""
        ids = tuple(self.selected_ids())
        if self._archived_seen is None or self._archived_seen[0] != ids:
            rows = self.memory.rows(list(ids)) if ids else {}
            self._archived_seen = (ids, bool(rows) and all(r.archived for r in rows.values()))
        return self._archived_seen[1]

    def refresh_bindings(self) -> None:
        self._archived_seen = None
        super().refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`a` archives live episodes and restores archived ones: the footer offers the one
        that acts on the selection. An archived episode cannot be rated: + and - are not
        offered for it."""
        if action in ("archive", "restore"):
            return self.selection_archived() == (action == "restore")
        if action in ("rate", "refuse_rate"):
            return self.selection_archived() == (action == "refuse_rate")
        return True

    def _ids(self) -> list[str]:
        ids = self.selected_ids()
        if not ids:
            self.notify("select an episode first", severity="warning")
        return ids

    def _live_ids(self, then: str) -> list[str]:
        """The selection, unless some of it is archived (then said so, and what restores it)."""
        ids = self._ids()
        gone = [r for r in self.memory.rows(ids).values() if r.archived]
        if gone:
            self.notify(archived_notice(self.app, gone[0], then), severity="warning")
            return []
        return ids

    def action_rate(self, helpful: bool) -> None:
        if ids := self._live_ids("then it can be rated"):
            self.app.write(curator.rate(ids, helpful))

    def action_refuse_rate(self, helpful: bool) -> None:
        self.action_rate(helpful)  # refused, with what restores it

    def action_pin(self) -> None:
        if ids := self._live_ids("then it can be pinned"):
            rows = self.memory.rows(ids)
            pinned = not all(r.pinned for r in rows.values())
            self.app.write(curator.pin(ids, pinned))

    def action_restore(self) -> None:
        """a on archived episodes: back into the store and search (u archives them again)."""
        ids = self._ids()
        rows = self.memory.rows(ids)
        archived = [r.id for r in rows.values() if r.archived]
        if not archived:
            self.notify(f"{_listed(list(rows.values()))} not archived: nothing to restore")
            return
        self.app.write(curator.restore(archived), lambda _ok, _undo: self.refresh_bindings())

    def action_archive(self) -> None:
        from memrl.tui.screens.confirm import confirm_archive

        ids = self._ids()
        if not ids:
            return
        rows = self.memory.rows(ids)
        gone = [r for r in rows.values() if r.archived]  # by another process, since shown
        if gone:
            self.notify(
                f"{_listed(gone)} {'is' if len(gone) == 1 else 'are'} archived already"
                + ("; nothing to archive" if len(gone) == len(rows) else ""),
                severity="warning",
            )
        live = [r for r in rows.values() if not r.archived]
        if not live:
            return
        confirm_archive(
            self.app,
            live,
            lambda: self.app.write(
                curator.archive([r.id for r in live]), lambda _ok, _undo: self.refresh_bindings()
            ),
        )

    def _editable(self) -> str | None:
        """The episode to edit: the first selected, unless it is archived (said so)."""
        ids = self._ids()
        if not ids:
            return None
        row = self.memory.rows(ids[:1]).get(ids[0])
        if row is not None and row.archived:
            self.notify(archived_notice(self.app, row), severity="warning")
            return None
        return ids[0]

    def action_edit(self) -> None:
        from memrl.tui.screens.edit import EditScreen

        if episode_id := self._editable():
            self.app.push_screen(EditScreen(episode_id))

    def action_edit_external(self) -> None:
        from memrl.tui.editor import edit_in_editor

        if episode_id := self._editable():
            edit_in_editor(self.app, episode_id)

    def action_curve(self) -> None:
        self._open("utility")

    def action_graph(self) -> None:
        self._open("graph")

    def _open(self, tab: str) -> None:
        from memrl.tui.screens.episode import EpisodeScreen

        if not (ids := self._ids()):
            return
        if isinstance(self, EpisodeScreen) and self.episode_id == ids[0]:
            self.action_tab(tab)  # the same episode: another tab, not another screen
            return
        self.app.push_screen(EpisodeScreen(ids[0], tab=tab))
