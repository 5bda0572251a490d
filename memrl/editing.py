"""A round trip through the person's editor ($VISUAL, then $EDITOR, then vi).

The CLI's `memrl edit` and the TUI's `E` both hand an episode to the editor this way;
the TUI wraps the editor run in `App.suspend` through `around`. An edit that could not be
saved is kept (`keep_unsaved`) with the version it was made from, in the data directory and
readable by its owner alone, so going on with it later changes only what the person changed.
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
    began; written atomically, private to the user, never through a planted link. Raises
    StoreError if the store cannot be written."""
    from memrl.store.files import explain

    folder = root / UNSAVED
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")  # mode 0600
    except OSError as exc:  # a read-only or full store: the caller says the text is lost
        raise explain(exc, folder) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            json.dump({"base": base.model_dump(mode="json"), "text": text}, fh)
        path = _unsaved_path(root, base.id)
        os.replace(tmp, path)  # replaces a link itself, never what it points to
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise explain(exc, folder) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def unsaved(root: Path, episode_id: str) -> tuple[Episode, str] | None:
    """The kept edit of an episode: (the version it was made from, its text), if any."""
    path = _unsaved_path(root, episode_id)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # none kept, or not a plain file of ours
        return None
    try:
        with os.fdopen(fd, encoding="utf-8", errors="surrogateescape") as fh:
            kept = json.load(fh)
        return parse(kept["base"]), str(kept["text"])
    except (ValueError, KeyError, TypeError, InvalidInput):
        return None  # unreadable: as if none were kept


def drop_unsaved(root: Path, episode_id: str) -> None:
    _unsaved_path(root, episode_id).unlink(missing_ok=True)
