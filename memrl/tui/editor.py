"""Edit an episode in $EDITOR (see memrl.editing) with the app suspended."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from textual.app import App, SuspendNotSupported

from memrl.editing import drop_unsaved, edit_text, give_up, given_up, keep_unsaved, unsaved
from memrl.errors import MemrlError

if TYPE_CHECKING:
    from memrl.tui.app import MemrlApp

GOES_ON = "press E to go on editing it, or empty it there to discard it"

EDITABLE = (
    "project",
    "task",
    "summary",
    "outcome",
    "task_type",
    "what_worked",
    "what_failed",
    "errors_resolved",
    "files",
    "commands",
    "tags",
)


def editable(data: dict) -> dict:
    return {k: data[k] for k in EDITABLE}


def changes_from(base: dict, text: str) -> dict:
    """What the person changed from `base`, or raise ValueError naming what is wrong with
    the JSON. Fields left as they were may be there or not (a text kept by `memrl edit`
    holds them all)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the edited text must stay one JSON object")
    changes = {k: v for k, v in data.items() if v != base.get(k)}
    if set(changes) - set(EDITABLE):
        raise ValueError(f"only these fields can be edited here: {', '.join(EDITABLE)}")
    return changes


def check(app: MemrlApp, episode_id: str, changes: dict) -> None:
    """Raise what a save would: a value the episode cannot hold, or an episode archived
    meanwhile (by another process)."""
    memory = app.memory
    memory.edited(memory.get(episode_id, archived=False), changes, "the edited episode")


@contextmanager
def _suspended(app: App) -> Iterator[None]:
    """`app.suspend()`, which resumes the app only when its block ends without an error:
    an error inside (no editor to run) is held until the app is back, then raised."""
    failure: BaseException | None = None
    with app.suspend():
        try:
            yield
        except BaseException as exc:
            failure = exc
    if failure is not None:
        raise failure


def edit_in_editor(app: MemrlApp, episode_id: str) -> None:
    """E: the episode as JSON in $EDITOR. Only what the person changed is written, never
    over another process's change unasked; a text that cannot be saved is kept privately
    under the data directory (memrl.editing), with the version it was made from, and the
    next E (or `memrl edit`) goes on with it; emptied in the editor, it is given up."""
    from memrl.tui.screens.edit import save_edit

    memory = app.memory
    try:
        episode = memory.get(episode_id).episode
    except MemrlError as exc:
        app.notify(str(exc), severity="error")
        return
    kept = unsaved(memory.root, episode.id)
    base, text = kept or (
        episode,
        json.dumps(editable(episode.model_dump(mode="json")), indent=2, ensure_ascii=False) + "\n",
    )
    try:
        status, edited = edit_text(
            text, prefix=f"memrl-{episode.short_id}-", around=lambda: _suspended(app)
        )
    except SuspendNotSupported:
        app.notify("this terminal cannot hand over to an editor; use e instead", severity="error")
        return
    except MemrlError as exc:  # no editor to run
        app.notify(str(exc), severity="error", timeout=10)
        return
    if status != 0:
        app.notify(f"the editor exited with status {status}; nothing was saved", severity="error")
        return
    if given_up(edited):
        app.notify(give_up(memory.root, episode, kept=kept is not None))
        return

    def keep() -> str | None:
        """Keep the text until it is saved; what went wrong if it cannot be kept."""
        try:
            keep_unsaved(memory.root, base, edited)
        except MemrlError as exc:
            return str(exc)
        return None

    try:
        changes = changes_from(base.model_dump(mode="json"), edited)
        check(app, episode_id, changes)
    except (ValueError, MemrlError) as exc:
        problem = keep()
        then = (
            f"Your text could not be kept: {problem}"
            if problem
            else f"Your text is kept: {GOES_ON}"
        )
        app.notify(f"not saved: {exc}. {then}", severity="error", timeout=15)
        return
    if not changes:
        drop_unsaved(memory.root, episode.id)
        app.notify("no changes")
        return
    if problem := keep():
        app.notify(f"nothing was saved: {problem}", severity="error", timeout=15)
        return

    def done(ok: bool) -> None:
        if ok:
            drop_unsaved(memory.root, episode.id)

    save_edit(app, episode_id, base, changes, done, f"is kept: {GOES_ON}")
