"""A round trip through the person's editor ($VISUAL, then $EDITOR, then vi).

The CLI's `memrl edit` and the TUI's `E` both hand an episode to the editor this way;
the TUI wraps the editor run in `App.suspend` through `around`. An edit that could not be
saved is kept (`keep_unsaved`) with the version it was made from, in the data directory and
readable by its owner alone, so going on with it later changes only what the person changed.
Emptying the text in the editor gives the edit up (`given_up`), a kept one too: the way out
of an edit that an editor offers everywhere, where a broken text would be kept and offered
again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from memrl.episode import Episode, parse
from memrl.errors import InvalidInput

UNSAVED = "unsaved"  # the data directory's folder of edits kept for later


def editor() -> str:
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


def edit_text(
    text: str,
    *,
    prefix: str,
    around: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> tuple[int, str]:
    """The editor's exit status and the text it left (bytes it could not decode kept as
    surrogates, for the caller's validation to name). The temporary file is removed."""
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", prefix=prefix, delete=False, encoding="utf-8"
    ) as fh:
        fh.write(text)
        path = Path(fh.name)
    try:
        with around():
            try:
                status = subprocess.call([*shlex.split(editor()), str(path)])
            except (OSError, ValueError) as exc:  # not found, not executable, bad quoting
                raise InvalidInput(
                    f"cannot run the editor {editor()!r} ({getattr(exc, 'strerror', exc)}); "
                    "set $EDITOR (or $VISUAL) to an editor on PATH. Nothing was changed."
                ) from None
        return status, path.read_text(encoding="utf-8", errors="surrogateescape")
    finally:
        path.unlink(missing_ok=True)


def _unsaved_path(root: Path, episode_id: str) -> Path:
    return root / UNSAVED / f"{episode_id}.json"


def keep_unsaved(root: Path, base: Episode, text: str) -> Path:
    """Keep an edited text that was not saved, with the episode as it was when the edit
    began: written atomically, 0600, in a folder only its owner can write into. Raises
    StoreError if the store cannot be written."""
    from memrl.store import files

    path = _unsaved_path(root, base.id)
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        with files.replacing(path) as fh:  # a new file is made 0600
            json.dump({"base": base.model_dump(mode="json"), "text": text}, fh)
    except OSError as exc:  # a read-only or full store: the caller says the text is lost
        raise files.explain(exc, path.parent) from None
    return path


def unsaved(root: Path, episode_id: str) -> tuple[Episode, str] | None:
    """The kept edit of an episode: (the version it was made from, its text), if any."""
    try:
        kept = json.loads(_unsaved_path(root, episode_id).read_text(encoding="utf-8"))
        return parse(kept["base"]), str(kept["text"])
    except (OSError, ValueError, KeyError, TypeError, InvalidInput):
        return None  # none kept, or unreadable: as if none were kept


def drop_unsaved(root: Path, episode_id: str) -> None:
    _unsaved_path(root, episode_id).unlink(missing_ok=True)


def given_up(text: str) -> bool:
    """Did the person empty the text in the editor, giving the edit up?"""
    return not text.strip()


def give_up(root: Path, episode: Episode, *, kept: bool) -> str:
    """Discard the kept edit of `episode`, if any, and say what became of the edit: nothing
    is saved, and a text kept from an earlier edit (`kept`) is gone."""
    drop_unsaved(root, episode.id)
    return f"the text was emptied: {episode.short_id} is unchanged" + (
        "; your text kept from before is discarded" if kept else ""
    )
