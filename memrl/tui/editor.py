"""Edit an episode in $EDITOR (see memrl.editing) with the app suspended."""

from __future__ import annotations

import json

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


def edit_in_editor(app: App, episode_id: str) -> None:
    try:
        episode = app.memory.get(episode_id).episode  # type: ignore[attr-defined]
    except MemrlError as exc:
        app.notify(str(exc), severity="error")
        return
    original = editable(episode.model_dump(mode="json"))
    try:
        status, text = edit_text(
            json.dumps(original, indent=2, ensure_ascii=False) + "\n",
            prefix=f"memrl-{episode.short_id}-",
            around=app.suspend,
        )
    except SuspendNotSupported:
        app.notify("this terminal cannot hand over to an editor; use e instead", severity="error")
        return
    if status != 0:
        app.notify(f"the editor exited with status {status}; nothing was saved", severity="error")
        return
    try:
        changes = changes_from(original, text)
    except ValueError as exc:
        app.notify(f"not saved: {exc}", severity="error", timeout=10)
        return
    if not changes:
        app.notify("no changes")
        return
    before = {k: original[k] for k in changes}
    app.write(curator.edit(episode_id, changes, before))  # type: ignore[attr-defined]
