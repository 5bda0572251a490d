"""Edit an episode in $EDITOR (see memrl.editing) with the app suspended."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.app import App, SuspendNotSupported

from memrl.editing import edit_text
from memrl.errors import MemrlError
from memrl.tui import curator

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


def changes_from(original: dict, text: str) -> dict:
    """What the person changed, or raise ValueError naming what is wrong with the JSON."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the edited text must stay one JSON object")
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValueError(f"only these fields can be edited here: {', '.join(EDITABLE)}")
    return {k: v for k, v in data.items() if v != original.get(k)}


def check(app: App, episode_id: str, changes: dict) -> None:
    """Raise what a save would: a value the episode cannot hold, or an episode archived
    meanwhile (by another process)."""
    memory = app.memory  # type: ignore[attr-defined]
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


def edit_in_editor(app: App, episode_id: str) -> None:
    try:
        episode = app.memory.get(episode_id).episode  # type: ignore[attr-defined]
    except MemrlError as exc:
        app.notify(str(exc), severity="error")
        return
    original = editable(episode.model_dump(mode="json"))
    unsaved = _unsaved(episode.short_id)
    # An edit that could not be saved (broken JSON, a bad value) is kept: the next E goes on.
    resumed = unsaved.read_text(encoding="utf-8") if unsaved.is_file() else None
    text = resumed or json.dumps(original, indent=2, ensure_ascii=False) + "\n"
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
    try:
        changes = changes_from(original, edited)
        check(app, episode_id, changes)
    except (ValueError, MemrlError) as exc:
        unsaved.write_text(edited, encoding="utf-8")
        app.notify(
            f"not saved: {exc}. Your text is kept: press E to go on editing it",
            severity="error",
            timeout=15,
        )
        return
    unsaved.unlink(missing_ok=True)
    if not changes:
        app.notify("no changes")
        return
    before = {k: original[k] for k in changes}
    app.write(curator.edit(episode_id, changes, before))  # type: ignore[attr-defined]


def _unsaved(short_id: str) -> Path:
    """Where an edit that could not be applied waits for the person to go on with it."""
    return Path(tempfile.gettempdir()) / f"memrl-{short_id}-unsaved.json"
